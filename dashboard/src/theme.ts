import { createTheme } from '@mantine/core';

/** Mantine's default theme: its CSS variables also ship in default-css-variables.css. */
export const theme = createTheme({});

/**
 * Mantine writes a few <style> elements (layout media queries, responsive props). When the
 * server's CSP allows styles by nonce rather than 'unsafe-inline', it puts the nonce in
 * <meta name="csp-nonce" content="..."> of index.html and Mantine tags its styles with it.
 */
export function styleNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? '';
}

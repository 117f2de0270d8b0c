import { createTheme } from '@mantine/core';

/**
 * Mantine's default theme (its CSS variables also ship in default-css-variables.css), with
 * accessible names where Mantine leaves an icon-only control unnamed.
 */
export const theme = createTheme({
  components: {
    // A plain object rather than Modal.extend, which would pull Modal into the first load.
    Modal: { defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } },
  },
});

/**
 * Mantine writes a few <style> elements (layout media queries, responsive props). When the
 * server's CSP allows styles by nonce rather than 'unsafe-inline', it puts the nonce in
 * <meta name="csp-nonce" content="..."> of index.html and Mantine tags its styles with it.
 */
export function styleNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? '';
}

declare global {
  // Read by get-nonce, which Mantine's Modal and Drawer use (through react-remove-scroll) for
  // the <style> element that locks page scrolling while they are open.
  var __webpack_nonce__: string | undefined;
}

/** Gives the CSP nonce to every library that writes <style> elements. */
export function shareStyleNonce(): void {
  const nonce = styleNonce();
  if (nonce) globalThis.__webpack_nonce__ = nonce;
}

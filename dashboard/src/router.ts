import { useSyncExternalStore } from 'react';

/**
 * Hash-based routing: `#/sessions`, `#/chats?session=...`. The server serves one page at
 * /dashboard, so the route lives after the `#` and reloads never reach the server.
 */
export interface Route {
  /** The path after `#`, e.g. `/sessions`; `/` when empty. */
  path: string;
  /** Query parameters after the path, e.g. `#/chats?session=abc`. */
  params: URLSearchParams;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

const currentHash = (): string => window.location.hash;

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?', 2);
  return { path: path.startsWith('/') ? path : `/${path}`, params: new URLSearchParams(query) };
}

/** The current route; re-renders on every hash change. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, currentHash);
  return parseHash(hash);
}

/** A link target for a route, for `href` attributes. */
export function href(path: string, params?: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) if (value !== undefined) query.set(key, value);
  const q = query.toString();
  return `#${path}${q ? `?${q}` : ''}`;
}

/** Goes to a route (adds a history entry, like following a link). */
export function navigate(path: string, params?: Record<string, string | undefined>): void {
  window.location.hash = href(path, params).slice(1);
}

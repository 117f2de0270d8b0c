import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { RouteInfo } from '../../src/app.js';
import type { Role } from '../../src/modules/auth/auth.schema.js';
import type { TestApp } from './app.js';

/** What to send to one route: path params, query, body, extra headers. */
export interface RouteSample {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** `"METHOD /api/v1/path/:param"`, exactly as the route was declared. */
export type RouteKey = string;

export const routeKey = (r: Pick<RouteInfo, 'method' | 'url'>): RouteKey => `${r.method} ${r.url}`;

const ROLES_BELOW: Record<Role, Role[]> = { viewer: [], operator: ['viewer'], admin: ['viewer', 'operator'] };

/** Fills `:param` segments (and a trailing `*`) so the URL reaches the route. */
export function fillPath(url: string, params: Record<string, string> = {}): string {
  return url
    .replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => encodeURIComponent(params[name] ?? `dummy-${name}`))
    .replace(/\*$/, 'dummy');
}

export function requestFor(route: RouteInfo, sample: RouteSample = {}, auth: Record<string, string> = {}) {
  const options: InjectOptions = {
    method: route.method as InjectOptions['method'],
    url: fillPath(route.url, sample.params),
    query: sample.query,
    headers: { ...sample.headers, ...auth },
  };
  if (sample.body !== undefined) options.payload = sample.body as InjectOptions['payload'];
  return options;
}

/** The routes the shared checks cover: every `/api/v1` route, as the app recorded them. */
export function apiRoutes(t: TestApp): RouteInfo[] {
  return t.app.services.routes.filter((r) => r.url.startsWith('/api/v1'));
}

function describe(route: RouteInfo, res: LightMyRequestResponse): string {
  return `${routeKey(route)} answered ${res.statusCode} ${res.body.slice(0, 200)}`;
}

function assertErrorEnvelope(route: RouteInfo, res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, describe(route, res));
  const body = res.json() as { success?: unknown; error?: { code?: unknown; requestId?: unknown } };
  assert.equal(body.success, false, describe(route, res));
  assert.equal(body.error?.code, code, describe(route, res));
  assert.equal(typeof body.error?.requestId, 'string', describe(route, res));
}

export interface RouteAuthOptions {
  /** Which routes to check (default: all /api/v1 routes). */
  only?: (route: RouteInfo) => boolean;
  /** Params, query or body per route; dummy values otherwise (auth is checked before validation). */
  samples?: Record<RouteKey, RouteSample>;
}

/**
 * For every protected route: no credentials and an unknown credential -> 401 UNAUTHORIZED; a key
 * whose role is below the route's minRole -> 403 FORBIDDEN. Returns the routes it checked.
 * Auth runs in onRequest, before body parsing and the handler, so no route does any work here.
 */
export async function assertRouteAuth(t: TestApp, options: RouteAuthOptions = {}): Promise<RouteInfo[]> {
  const routes = apiRoutes(t).filter((r) => !r.public && (options.only?.(r) ?? true));
  const keys: Partial<Record<Role, string>> = {};
  for (const role of ['viewer', 'operator'] as const) keys[role] = await t.keyFor(role);

  for (const route of routes) {
    const sample = options.samples?.[routeKey(route)] ?? {};
    const anonymous = await t.app.inject(requestFor(route, sample));
    assertErrorEnvelope(route, anonymous, 401, 'UNAUTHORIZED');

    const unknown = await t.app.inject(
      requestFor(route, sample, { 'x-api-key': 'tf_not_a_real_key_at_all' }),
    );
    assertErrorEnvelope(route, unknown, 401, 'UNAUTHORIZED');

    for (const role of ROLES_BELOW[route.minRole]) {
      const res = await t.app.inject(requestFor(route, sample, { 'x-api-key': keys[role]! }));
      assertErrorEnvelope(route, res, 403, 'FORBIDDEN');
    }
  }
  return routes;
}

export interface SessionIsolationOptions {
  /**
   * Routes (matched by predicate) that must all have a sample, so a new route that takes a
   * session cannot skip the check by accident.
   */
  mustCover?: (route: RouteInfo) => boolean;
  /** The role of the limited key (default admin, so only the session limit can refuse). */
  role?: Role;
}

/**
 * For every sample: a key limited to another session gets 404 as if the session did not exist.
 * The samples name real sessions (created by the module's test) in their params, query or body.
 * Module tests call this with one sample per route that takes a session id.
 */
export async function assertSessionIsolation(
  t: TestApp,
  samples: Record<RouteKey, RouteSample>,
  options: SessionIsolationOptions = {},
): Promise<void> {
  const routes = apiRoutes(t);
  const byKey = new Map(routes.map((r) => [routeKey(r), r]));
  for (const key of Object.keys(samples)) assert.ok(byKey.has(key), `no route ${key}`);
  if (options.mustCover) {
    const uncovered = routes.filter((r) => options.mustCover!(r) && !(routeKey(r) in samples));
    assert.deepEqual(uncovered.map(routeKey), [], 'routes without a session isolation sample');
  }
  const limitedKey = await t.keyFor(options.role ?? 'admin', ['sess_belongs_to_someone_else']);
  for (const [key, sample] of Object.entries(samples)) {
    const route = byKey.get(key)!;
    const res = await t.app.inject(requestFor(route, sample, { 'x-api-key': limitedKey }));
    assert.equal(res.statusCode, 404, describe(route, res));
    assert.equal(
      (res.json() as { error?: { code?: string } }).error?.code,
      'SESSION_NOT_FOUND',
      describe(route, res),
    );
  }
}

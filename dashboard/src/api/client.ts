import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

/** Shapes of the API, generated from TeleFlow's OpenAPI document (`npm run dashboard:api`). */
export type Schemas = components['schemas'];
export type Session = Schemas['Session'];
export type Chat = Schemas['Chat'];
export type Message = Schemas['Message'];
export type Me = Schemas['Me'];
export type Role = Me['role'];
export type TeleFlowEvent = Schemas['Event'];
export type EventType = Schemas['EventType'];

/** An error answer of the API (the contract's envelope), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** The JWT sent as `Authorization: Bearer` on every call (null: none). */
export function setToken(value: string | null): void {
  token = value;
}
export function currentToken(): string | null {
  return token;
}

/** Called when any call answers 401 (expired or revoked credential): the app signs out. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response, request }) {
    // A 401 from the login itself is a wrong key, not an ended session.
    if (response.status === 401 && !request.url.endsWith('/api/v1/auth/login')) onUnauthorized?.();
    return response;
  },
};

/** The typed client: same origin as the dashboard (TeleFlow serves both). */
export const client = createClient<paths>({ baseUrl: window.location.origin });
client.use(auth);

type ErrorBody = Schemas['Error'];
interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function toApiError(status: number, body: unknown): ApiError {
  const error = (body as Partial<ErrorBody> | undefined)?.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(status, error.code, error.message ?? error.code, error.requestId, error.details);
  }
  return new ApiError(status, 'HTTP_ERROR', `The server answered ${status}`);
}

/** Awaits a call; resolves to the body of a 2xx answer or throws an ApiError with the error's code. */
export async function apiBody<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, 'NETWORK_ERROR', cause instanceof Error ? cause.message : 'Network error');
  }
  if (!result.response.ok || result.data === undefined)
    throw toApiError(result.response.status, result.error);
  return result.data;
}

type Envelope<T> = { data: Payload<T>; meta?: { nextCursor?: string | null } };

/**
 * Awaits a client call and unwraps the contract's envelope: resolves to `data` or throws an
 * ApiError carrying the error's code and message.
 *
 *   const sessions = await api(client.GET('/api/v1/sessions'));
 */
export async function api<T>(call: Promise<FetchResult<T>>): Promise<Payload<T>> {
  return ((await apiBody(call)) as Envelope<T>).data;
}

/** Like `api`, for paged lists: the payload and the cursor of the next page (null: no more). */
export async function apiPage<T>(
  call: Promise<FetchResult<T>>,
): Promise<{ items: Payload<T>; nextCursor: string | null }> {
  const body = (await apiBody(call)) as Envelope<T>;
  return { items: body.data, nextCursor: body.meta?.nextCursor ?? null };
}

/** The `data` of a success envelope. */
export type Payload<T> = T extends { data: infer D } ? D : never;

/** A readable one-line description of any error, for alerts and notifications. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

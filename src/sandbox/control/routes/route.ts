/**
 * What every control route is made of: the Route record `GET /` lists, the error a handler throws
 * for a 4xx answer, the body fields several resources share, and Bot-API-style chat ids.
 */
import { z } from 'zod';
import type { PeerKey } from '../../world/state.js';
import { parsePeerKey } from '../../world/tl.js';

export class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RouteInput {
  params: Record<string, string>;
  query: URLSearchParams;
  body: any;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | string;
  path: string;
  description: string;
  /** A human-readable sketch of the body for `GET /`. */
  bodyDoc?: string;
  body?: z.ZodType;
  /** Largest JSON body accepted (default 1 MB). */
  maxBody?: number;
  handler(
    input: RouteInput,
  ): { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>;
}

export const phone = z.string().regex(/^\+?[\d\s()-]{5,20}$/, 'a phone number (digits)');
export const target = z.union([z.string().min(1), z.number().int()]);
export const emoji = z.string().min(1).max(16);

export function toBotApiId(key: PeerKey): string {
  const { kind, id } = parsePeerKey(key);
  return kind === 'u' ? String(id) : kind === 'c' ? `-${id}` : `-100${id}`;
}

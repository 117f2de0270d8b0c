/** Control routes for trouble on purpose: RPC fault rules, dropped and refused connections. */
import { z } from 'zod';
import type { World } from '../../world/world.js';
import type { FaultInjector } from '../../world/faults.js';
import { lookupsFor } from './lookups.js';
import { phone } from './route.js';
import type { Route } from './route.js';

export function faultAndConnectionRoutes(world: World, faults: FaultInjector): Route[] {
  const { userOf } = lookupsFor(world);

  return [
    {
      method: 'POST',
      path: '/faults',
      description:
        'The next matching RPC calls fail with this error (420 for FLOOD_WAIT_X, 500 INTERNAL, 401 AUTH_KEY_UNREGISTERED, else 400).',
      bodyDoc:
        '{"error": "FLOOD_WAIT_30", "count"?: 1, "method"?: "messages.sendMessage", "phone"?, "code"?}',
      body: z.object({
        error: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an RPC error name such as FLOOD_WAIT_30'),
        count: z.number().int().positive().max(100000).optional(),
        method: z
          .string()
          .regex(/^[a-zA-Z.]+$/)
          .optional(),
        phone: phone.optional(),
        code: z.number().int().min(300).max(599).optional(),
      }),
      handler: ({ body }) => ({ status: 201, body: faults.add(body) }),
    },
    {
      method: 'GET',
      path: '/faults',
      description: 'Pending fault rules.',
      handler: () => ({ body: { faults: faults.list() } }),
    },
    {
      method: 'DELETE',
      path: '/faults',
      description: 'Clear every pending fault rule.',
      handler: () => {
        faults.clear();
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/connections/drop',
      description: "Close an account's connections (all connections without phone).",
      bodyDoc: '{"phone"?}',
      body: z.object({ phone: phone.optional() }),
      handler: ({ body }) => {
        const sink = world.updateSink;
        if (!sink) return { body: { dropped: 0 } };
        const dropped = body.phone ? sink.drop(world.keysOf(userOf(body.phone).id)) : sink.drop();
        return { body: { dropped } };
      },
    },
    {
      method: 'POST',
      path: '/connections/auth-key-not-found',
      description:
        "Transport error -404 on an account's keys: to the next `count` packets only (the key stays valid, as when Telegram cannot read a packet), or with forget the keys are deleted for good.",
      bodyDoc: '{"phone", "count"?: 1, "forget"?: true}',
      body: z.object({
        phone,
        count: z.number().int().positive().max(1000).optional(),
        forget: z.literal(true).optional(),
      }),
      handler: ({ body }) => {
        const keys = world.keysOf(userOf(body.phone).id);
        if (body.forget) for (const key of keys) world.revokeKey(key, 0);
        else world.updateSink?.answerKeyNotFound?.(keys, body.count ?? 1);
        return { body: { keys: keys.length } };
      },
    },
    {
      method: 'GET',
      path: '/connections/auth-keys',
      description:
        'Per auth key, the most open connections that made calls at the same time since the start (a client must never use one key on two connections at once); `duplicated` lists the keys where that happened.',
      handler: () => {
        const peaks = [...(world.updateSink?.keyCallerPeaks?.() ?? new Map<bigint, number>())].map(
          ([key, peak]) => ({ authKeyId: key.toString(), peak }),
        );
        return { body: { keys: peaks, duplicated: peaks.filter((k) => k.peak > 1).map((k) => k.authKeyId) } };
      },
    },
    {
      method: 'POST',
      path: '/connections/refuse',
      description: 'Refuse new TCP connections for a while (0 lifts it).',
      bodyDoc: '{"ms": number}',
      body: z.object({ ms: z.number().int().min(0).max(3600000) }),
      handler: ({ body }) => {
        world.updateSink?.refuseConnections(body.ms);
        return { body: { refusingForMs: body.ms } };
      },
    },
  ];
}

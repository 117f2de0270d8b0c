import websocket from '@fastify/websocket';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { errorResponses } from '../../lib/schemas.js';
import type { FastifyRequest } from 'fastify';
import { credentialOf, requirePrincipal } from '../../plugins/auth.js';
import { eventEnvelope, streamQuery, type StreamQuery } from './events.schema.js';
import type { EventStreams, StreamCaller } from './streams.js';

const SSE_DESCRIPTION =
  'Server-Sent Events. Each event is sent as `id: <event id>`, `event: <type>` and `data: <envelope JSON>`; ' +
  'a comment line (`: keep-alive`) is sent every 15 s. Reconnecting with `Last-Event-ID` (the eventsource ' +
  'client does this by itself) or `?since=<id>` replays every matching event after that id, then continues ' +
  'live, with nothing lost or repeated in between. A client that cannot keep up (more than the configured ' +
  'buffered bytes) is disconnected and may resume with Last-Event-ID. Viewers may listen; a key limited to ' +
  'some sessions only sees their events. The stream ends within seconds of its credential ending (key deleted, ' +
  'JWT logged out or expired); the reconnect then gets 401.';

const WS_DESCRIPTION =
  'WebSocket upgrade. Each event is one text frame holding the envelope JSON. The server pings every 15 s. ' +
  '`?since=<id>` replays every matching event after that id, then continues live. A client that cannot keep ' +
  'up is disconnected. Authenticate with a header or `?token=`. Errors after the upgrade close the socket with ' +
  '4000 + the HTTP status; when the credential ends (key deleted, JWT logged out or expired) the socket is ' +
  'closed with 4401 within seconds.';

function parseSince(query: StreamQuery, lastEventId: string | string[] | undefined): number | null {
  const header = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  // A reconnecting EventSource keeps its original URL, so the header (newer) wins over ?since=.
  const raw = header?.trim() || query.since;
  if (raw === undefined) return null;
  if (!/^\d{1,18}$/.test(raw)) throw new AppError('VALIDATION_ERROR', 'Last-Event-ID must be an event id');
  return Number(raw);
}

/** The caller and the credential it presented, which the stream checks again while it is open. */
function streamCaller(request: FastifyRequest): StreamCaller {
  const principal = requirePrincipal(request);
  const credential = credentialOf(request, true);
  if (!credential) throw new AppError('UNAUTHORIZED', 'Missing credentials');
  return { principal, credential };
}

/**
 * A stream filtered on a session that does not exist would stay silent forever: 404 instead.
 * Runs after the scope check of filterFor, so a key limited to other sessions learns nothing.
 */
async function assertSessionExists(
  query: StreamQuery,
  existingSessionIds: (ids: string[]) => Promise<string[]>,
): Promise<void> {
  if (query.sessionId === undefined) return;
  if ((await existingSessionIds([query.sessionId])).length === 0)
    throw new AppError('SESSION_NOT_FOUND', `Session ${query.sessionId} not found`, {
      sessionId: query.sessionId,
    });
}

/** SSE at /events and WebSocket at /ws. */
export const eventsRoutes: FastifyPluginAsyncZod<{
  streams: EventStreams;
  existingSessionIds: (ids: string[]) => Promise<string[]>;
}> = async (app, { streams, existingSessionIds }) => {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.get(
    '/events',
    {
      config: { minRole: 'viewer', allowQueryToken: true },
      schema: {
        tags: ['events'],
        summary: 'Event stream (Server-Sent Events), with replay after Last-Event-ID or ?since=',
        description: SSE_DESCRIPTION,
        querystring: streamQuery,
        response: {
          200: {
            description: 'A text/event-stream whose data lines are Event envelopes',
            content: { 'text/event-stream': { schema: eventEnvelope } },
          },
          ...errorResponses(404),
        },
      },
    },
    async (request, reply) => {
      const caller = streamCaller(request);
      const since = parseSince(request.query, request.headers['last-event-id']);
      const filter = streams.filterFor(caller.principal, request.query);
      await assertSessionExists(request.query, existingSessionIds);
      streams.openSse(request, reply, caller, filter, since);
    },
  );

  app.route({
    method: 'GET',
    url: '/ws',
    config: { minRole: 'viewer', allowQueryToken: true },
    schema: {
      tags: ['events'],
      summary: 'Event stream (WebSocket), one envelope per text frame, with replay after ?since=',
      description: WS_DESCRIPTION,
      querystring: streamQuery,
      response: {
        101: z.null().meta({ description: 'Switching protocols; text frames carry Event envelopes' }),
        ...errorResponses(404),
      },
    },
    handler: async () => {
      throw new AppError('BAD_REQUEST', 'This route only answers WebSocket upgrade requests');
    },
    // An upgrade refused before the handler (401, 403, 400) is answered over the raw socket, which
    // the websocket plugin does not close when the auth hook ran before its own: close it here.
    // A successful upgrade is hijacked and never reaches this hook.
    onResponse: async (request) => {
      if (request.headers.upgrade) request.raw.socket?.destroy();
    },
    wsHandler: async (socket, request) => {
      try {
        const caller = streamCaller(request);
        const filter = streams.filterFor(caller.principal, request.query);
        const since = parseSince(request.query, undefined);
        await assertSessionExists(request.query, existingSessionIds);
        if (socket.readyState !== socket.OPEN) return; // the client left meanwhile
        streams.openWebSocket(socket, request, caller, filter, since);
      } catch (err) {
        // The upgrade is done: the error travels as a close frame (4000 + HTTP status).
        const status = err instanceof AppError ? err.statusCode : 500;
        const reason = err instanceof AppError ? `${err.code}: ${err.message}` : 'INTERNAL_ERROR';
        socket.close(4000 + status, reason.slice(0, 120));
      }
    },
  });
};

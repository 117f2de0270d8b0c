import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, ok, okPaged } from '../../lib/schemas.js';
import { sessionScope } from '../../plugins/auth.js';
import {
  createWebhookBody,
  deliveryObject,
  deliveryParams,
  deliveryWithAttempts,
  listDeliveriesQuery,
  redeliverManyBody,
  redeliverManyResult,
  testEventBody,
  updateWebhookBody,
  webhookIdParams,
  webhookObject,
  webhookUpdated,
  webhookWithSecret,
} from './webhooks.schema.js';
import type { WebhooksService } from './webhooks.service.js';

/** Webhook management (admin only): CRUD, delivery log, redelivery and test events. */
export const webhooksRoutes: FastifyPluginAsyncZod<{ webhooks: WebhooksService }> = async (
  app,
  { webhooks },
) => {
  const admin = { minRole: 'admin' as const };

  app.get(
    '/',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'List webhooks (admin); secrets are never shown',
        response: { 200: ok(z.array(webhookObject)), ...errorResponses() },
      },
    },
    async (request) => ({
      success: true as const,
      data: await webhooks.list(sessionScope(request.principal)),
    }),
  );

  app.post(
    '/',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook (admin); the secret is returned once, generated when omitted',
        description:
          'Each matching event is POSTed as the Event envelope (application/json) with X-TeleFlow-Event, ' +
          'X-TeleFlow-Delivery-Id, X-TeleFlow-Signature (hex HMAC-SHA256 of the raw body keyed with the whole ' +
          'secret) and the Standard Webhooks headers webhook-id (the event id, stable across retries: dedupe on it), ' +
          'webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256 of id.timestamp.body keyed with the ' +
          'base64-decoded part after whsec_>). Delivery is at-least-once and in event order per webhook; a non-2xx ' +
          'answer or a timeout is retried after 1 s, 3 s, 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h and 12 h by ' +
          'default (WEBHOOK_RETRY_SCHEDULE; about 23 hours in all), then the delivery is dead. ' +
          'Each sessionIds entry must name an existing session (404 SESSION_NOT_FOUND otherwise). ' +
          'The URL must be http(s). Unless WEBHOOK_ALLOW_PRIVATE=true (the default outside production), a host that ' +
          'resolves to a loopback, private, link-local, unique-local, CGNAT or metadata address is refused, here and ' +
          'again when connecting; redirects are not followed.',
        body: createWebhookBody,
        response: { 201: ok(webhookWithSecret), ...errorResponses() },
      },
    },
    async (request, reply) =>
      reply.status(201).send({
        success: true as const,
        data: await webhooks.create(request.body, sessionScope(request.principal)),
      }),
  );

  app.get(
    '/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Get a webhook (admin)',
        params: webhookIdParams,
        response: { 200: ok(webhookObject), ...errorResponses(404) },
      },
    },
    async (request) => ({
      success: true as const,
      data: await webhooks.get(request.params.id, sessionScope(request.principal)),
    }),
  );

  app.put(
    '/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Change a webhook (admin); fields left out stay as they are',
        params: webhookIdParams,
        body: updateWebhookBody,
        response: { 200: ok(webhookUpdated), ...errorResponses(404) },
      },
    },
    async (request) => ({
      success: true as const,
      data: await webhooks.update(request.params.id, request.body, sessionScope(request.principal)),
    }),
  );

  app.delete(
    '/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook and its delivery log (admin)',
        params: webhookIdParams,
        response: { 200: ok(z.object({ deleted: z.literal(true) })), ...errorResponses(404) },
      },
    },
    async (request) => {
      await webhooks.remove(request.params.id, sessionScope(request.principal));
      return { success: true as const, data: { deleted: true as const } };
    },
  );

  app.get(
    '/:id/deliveries',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Deliveries of a webhook, newest first, paged by meta.nextCursor (admin)',
        params: webhookIdParams,
        querystring: listDeliveriesQuery,
        response: { 200: okPaged(deliveryObject), ...errorResponses(404) },
      },
    },
    async (request) => {
      const page = await webhooks.listDeliveries(
        request.params.id,
        request.query,
        sessionScope(request.principal),
      );
      return { success: true as const, data: page.items, meta: { nextCursor: page.nextCursor } };
    },
  );

  app.get(
    '/:id/deliveries/:deliveryId',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'One delivery with every attempt made (admin)',
        params: deliveryParams,
        response: { 200: ok(deliveryWithAttempts), ...errorResponses(404) },
      },
    },
    async (request) => ({
      success: true as const,
      data: await webhooks.getDelivery(
        request.params.id,
        request.params.deliveryId,
        sessionScope(request.principal),
      ),
    }),
  );

  app.post(
    '/:id/deliveries/:deliveryId/redeliver',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Attempt a delivery again now, whatever its status (admin)',
        params: deliveryParams,
        response: { 202: ok(deliveryObject), ...errorResponses(404) },
      },
    },
    async (request, reply) =>
      reply.status(202).send({
        success: true as const,
        data: await webhooks.redeliver(
          request.params.id,
          request.params.deliveryId,
          sessionScope(request.principal),
        ),
      }),
  );

  app.post(
    '/:id/deliveries/redeliver',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary:
          'Queue again every dead (or failed) delivery, optionally since a time, in event order (admin)',
        description:
          'Dead deliveries get one more attempt each; failed ones have their scheduled retry moved to now. ' +
          'They are sent oldest first, before newer deliveries still waiting. A disabled webhook sends them ' +
          'once it is enabled again.',
        params: webhookIdParams,
        body: redeliverManyBody.nullish(),
        response: { 202: ok(redeliverManyResult), ...errorResponses(404) },
      },
    },
    async (request, reply) =>
      reply.status(202).send({
        success: true as const,
        data: {
          count: await webhooks.redeliverMany(
            request.params.id,
            request.body ?? { status: 'dead' },
            sessionScope(request.principal),
          ),
        },
      }),
  );

  app.post(
    '/:id/test',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Send a test event to this webhook only (admin); it is queued like any delivery',
        description:
          'The body sent is an Event envelope of a real type (default message.received) whose data is a sample ' +
          'matching that type (or the given data, checked against it), with an id starting test_ and sessionId null.',
        params: webhookIdParams,
        body: testEventBody.nullish(),
        response: { 202: ok(deliveryObject), ...errorResponses(404) },
      },
    },
    async (request, reply) =>
      reply.status(202).send({
        success: true as const,
        data: await webhooks.sendTest(request.params.id, request.body ?? {}, sessionScope(request.principal)),
      }),
  );
};

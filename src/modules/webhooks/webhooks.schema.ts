import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';
import type { EventType } from '../../lib/events.js';
import { EVENT_DATA_SCHEMAS, eventPatternList, eventTypeSchema } from '../events/events.schema.js';
import { sessionIdSchema } from '../sessions/sessions.schema.js';

/** `whsec_` + base64 of 24 to 64 random bytes, as Standard Webhooks prescribes. */
export const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

const secretSchema = z
  .string()
  .regex(WEBHOOK_SECRET, 'whsec_ followed by the base64 of 24 to 64 random bytes')
  .refine((s) => {
    const n = Buffer.from(s.slice(6), 'base64').length;
    return n >= 24 && n <= 64;
  }, 'the base64 part must decode to 24 to 64 bytes')
  .meta({
    description: 'Write-only; generated when omitted',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  });

const urlSchema = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .meta({ description: 'http(s) URL the events are POSTed to', example: 'https://example.com/teleflow' });

export const createWebhookBody = z.strictObject({
  url: urlSchema,
  events: eventPatternList,
  secret: secretSchema.optional(),
  sessionIds: z
    .array(sessionIdSchema)
    .min(1, 'an empty list is ambiguous: give null (or leave it out) for all sessions')
    .max(1000)
    .nullable()
    .optional()
    .meta({
      description:
        'Only events of these sessions (each must exist: 404 SESSION_NOT_FOUND otherwise); all sessions when absent or null',
    }),
  enabled: z.boolean().optional().meta({ description: 'Default true' }),
  description: z.string().trim().max(500).nullable().optional(),
});
export type CreateWebhookInput = z.infer<typeof createWebhookBody>;

export const updateWebhookBody = createWebhookBody.partial().meta({
  description:
    'Only the fields given change. A new `secret` is returned once in the answer; `enabled: true` clears an automatic disable.',
});
export type UpdateWebhookInput = z.infer<typeof updateWebhookBody>;

export const webhookObject = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    sessionIds: z.array(z.string()).nullable(),
    enabled: z.boolean(),
    description: z.string().nullable(),
    consecutiveFailures: z
      .number()
      .int()
      .meta({ description: 'Deliveries that died in a row (reset by a success)' }),
    disabledReason: z.string().nullable().meta({
      description: 'Set when TeleFlow disabled the webhook after too many consecutive dead deliveries',
    }),
    disabledAt: isoDate.nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'Webhook', description: 'A webhook; its secret is never shown after creation' });
export type WebhookView = z.infer<typeof webhookObject>;

export const webhookWithSecret = webhookObject
  .extend({ secret: z.string().meta({ description: 'Shown once: store it now to verify signatures' }) })
  .meta({ id: 'WebhookWithSecret' });

export const webhookUpdated = webhookObject
  .extend({
    secret: z.string().optional().meta({ description: 'Present only when this request set a new secret' }),
  })
  .meta({ id: 'WebhookUpdated' });

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const deliveryObject = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    eventId: z
      .string()
      .meta({ description: 'The event id, also sent as webhook-id (test events: test_...)' }),
    eventType: eventTypeSchema,
    status: z.enum(DELIVERY_STATUSES).meta({
      description:
        'pending: not attempted yet; failed: the last attempt failed and another is scheduled at nextAttemptAt; succeeded: a 2xx answer; dead: every attempt failed',
    }),
    attempts: z.number().int(),
    nextAttemptAt: isoDate.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastResponseExcerpt: z.string().nullable().meta({ description: 'At most 1 kB of the last answer body' }),
    lastError: z.string().nullable(),
    lastDurationMs: z.number().int().nullable(),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: 'WebhookDelivery' });
export type DeliveryView = z.infer<typeof deliveryObject>;

export const attemptObject = z
  .object({
    attempt: z.number().int().meta({ description: '1 for the first attempt' }),
    statusCode: z.number().int().nullable(),
    responseExcerpt: z.string().nullable().meta({ description: 'At most 1 kB of the answer body' }),
    error: z.string().nullable(),
    durationMs: z.number().int(),
    at: isoDate,
  })
  .meta({ id: 'WebhookAttempt' });

export const deliveryWithAttempts = deliveryObject
  .extend({ attemptLog: z.array(attemptObject).meta({ description: 'Every attempt, oldest first' }) })
  .meta({ id: 'WebhookDeliveryDetail' });
export type DeliveryDetail = z.infer<typeof deliveryWithAttempts>;

export const webhookIdParams = z.strictObject({ id: z.string().min(1).max(100) });
export const deliveryParams = z.strictObject({
  id: z.string().min(1).max(100),
  deliveryId: z.string().regex(/^\d{1,18}$/, 'a delivery id'),
});

export const listDeliveriesQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(100).optional().meta({ description: 'meta.nextCursor of the previous page' }),
});

/** The deliveries a bulk redelivery queues again. */
export const redeliverManyBody = z
  .strictObject({
    status: z.enum(['dead', 'failed']).default('dead').meta({
      description:
        'dead (default): each gets one more attempt now; failed: its scheduled retry is moved to now',
    }),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Only deliveries created at or after this time (ISO 8601)' }),
  })
  .meta({ description: 'Queues the matching deliveries again; they are sent in event order' });
export type RedeliverManyInput = z.infer<typeof redeliverManyBody>;

export const redeliverManyResult = z
  .object({ count: z.number().int().meta({ description: 'Deliveries queued again' }) })
  .meta({ id: 'WebhookRedeliverResult' });

export const DEFAULT_TEST_EVENT_TYPE = 'message.received' satisfies EventType;

export const testEventBody = z
  .strictObject({
    type: eventTypeSchema
      .optional()
      .meta({ description: `Type to send (default ${DEFAULT_TEST_EVENT_TYPE})` }),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({
        description: "data of the test envelope; must match the type's data schema; a sample when absent",
      }),
  })
  .superRefine((body, ctx) => {
    if (body.data === undefined) return;
    const type = body.type ?? DEFAULT_TEST_EVENT_TYPE;
    const result = EVENT_DATA_SCHEMAS[type].safeParse(body.data);
    if (result.success) return;
    for (const issue of result.error.issues) {
      ctx.addIssue({
        code: 'custom',
        path: ['data', ...issue.path],
        message: `${issue.message} (the data of ${type})`,
      });
    }
  })
  .meta({
    description:
      'A test event is an Event envelope of a real type (id test_..., sessionId null) that goes to this webhook only and is not in the event log',
  });

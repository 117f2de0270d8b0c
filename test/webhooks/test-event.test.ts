import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { EVENT_TYPES } from '../../src/lib/events.js';
import type { EventEnvelope } from '../../src/modules/events/events.schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

// ajv-formats is CommonJS: the plugin is its `default` export.
const addFormats = ajvFormats.default;

/** A validator for the `Event` schema of the app's own OpenAPI document. */
async function eventValidator(t: TestApp) {
  const doc = (await t.app.inject({ url: '/docs/json' })).json() as { components: unknown };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'teleflow-openapi', components: doc.components });
  return ajv.compile<EventEnvelope>({ $ref: 'teleflow-openapi#/components/schemas/Event' });
}

function sendTest(t: TestApp, webhookId: string, payload?: Record<string, unknown>) {
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${webhookId}/test`,
    headers: { 'x-api-key': t.adminKey },
    ...(payload ? { payload } : {}),
  });
}

test('a test delivery is a documented Event: message.received by default, any type on request', async () => {
  const t = await createTestApp();
  const receiver = await startWebhookReceiver();
  try {
    const validate = await eventValidator(t);
    const at = new Date().toISOString();
    const untyped = {
      id: 'test_x',
      type: 'session.connected',
      sessionId: null,
      timestamp: at,
      data: { test: true },
    };
    assert.equal(validate(untyped), false, 'the validator refuses data that does not fit the type');
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { 'x-api-key': t.adminKey },
      payload: { url: receiver.url, events: ['session.*'] },
    });
    const hookId = created.json().data.id as string;

    const plain = await sendTest(t, hookId);
    assert.equal(plain.statusCode, 202, plain.body);
    assert.equal(plain.json().data.eventType, 'message.received');
    const [first] = await receiver.waitFor(1);
    const body = JSON.parse(first!.body) as EventEnvelope;
    assert.ok(validate(body), JSON.stringify(validate.errors));
    assert.equal(body.type, 'message.received', 'the default, whatever the webhook subscribes to');
    assert.match(body.id, /^test_/);
    assert.equal(body.sessionId, null);
    assert.equal(typeof (body.data.message as { text?: unknown }).text, 'string');
    assert.equal(first!.headers['x-teleflow-event'], 'message.received');

    // Every type gets well-formed sample data.
    for (const type of EVENT_TYPES) assert.equal((await sendTest(t, hookId, { type })).statusCode, 202);
    const all = await receiver.waitFor(1 + EVENT_TYPES.length, 10_000);
    const bodies = all.slice(1).map((r) => JSON.parse(r.body) as { type: string });
    assert.deepEqual(
      bodies.map((b) => b.type),
      [...EVENT_TYPES],
    );
    for (const b of bodies) assert.ok(validate(b), `${b.type}: ${JSON.stringify(validate.errors)}`);

    // Given data must fit the type; when it does it is sent as given.
    const wrong = await sendTest(t, hookId, { type: 'user.typing', data: { userId: '1' } });
    assert.equal(wrong.statusCode, 400, wrong.body);
    assert.equal(wrong.json().error.code, 'VALIDATION_ERROR');
    assert.match(JSON.stringify(wrong.json().error.details), /body\.data\.chatId/);
    const defaultType = await sendTest(t, hookId, { data: { test: true } });
    assert.equal(defaultType.statusCode, 400, 'checked against message.received');
    const data = { userId: '1', chatId: '2', action: 'typing' };
    assert.equal((await sendTest(t, hookId, { type: 'user.typing', data })).statusCode, 202);
    const last = await receiver.waitFor(2 + EVENT_TYPES.length);
    const given = JSON.parse(last.at(-1)!.body);
    assert.deepEqual(given.data, data);
    assert.ok(validate(given));
    assert.equal(receiver.requests.length, 2 + EVENT_TYPES.length, 'refused bodies send nothing');
  } finally {
    await receiver.close();
    await t.close();
  }
});

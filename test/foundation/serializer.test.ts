import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { z } from 'zod';
import { createSerializerCompiler, fastSerializer } from '../../src/lib/serializer.js';
import { createTestApp } from '../helpers/app.js';

const zodJson = (schema: z.ZodType, value: unknown) => JSON.stringify(z.encode(schema, value as never));

test('the fast serializer writes what Zod writes: field order, optional and nullable fields, unknown data, extra fields dropped', () => {
  const schema = z.object({
    success: z.literal(true),
    data: z.object({
      id: z.string(),
      // Optional before required: fast-json-stringify on its own would move `name` first.
      createdAt: z.string().optional(),
      note: z.string().nullable().optional(),
      name: z.string(),
      tags: z.array(z.object({ type: z.enum(['a', 'b']), offset: z.number().int() })),
      details: z.unknown().optional(),
      media: z.object({ kind: z.string() }).nullable(),
    }),
  });
  const fast = fastSerializer(schema);
  assert.ok(fast, 'representable in JSON Schema');
  const values = [
    {
      success: true,
      data: { id: 'x', createdAt: '2026-01-01T00:00:00.000Z', note: null, name: 'n', tags: [], media: null },
    },
    {
      success: true,
      data: {
        name: 'line\nbreak "quoted" \u2028 ✓ 😀 lone \ud800 \u0000',
        id: 'y',
        tags: [{ offset: 3, type: 'b', extra: 1 }],
        details: { nested: [1, 'two', null] },
        media: { kind: 'photo', secret: 'not declared' },
        internal: 'not declared either',
      },
    },
  ];
  for (const value of values) assert.equal(fast(value), zodJson(schema, value));
  assert.doesNotMatch(fast(values[1]), /not declared|extra/);
});

test('a schema JSON Schema cannot express keeps Zod: dates, transforms', () => {
  assert.equal(fastSerializer(z.object({ at: z.date() })), null);
  assert.equal(fastSerializer(z.object({ n: z.string().transform((s) => s.length) })), null);
});

test('checked serialization fails on a value that does not match the schema; unchecked is the fast path', async () => {
  const schema = z.object({ success: z.literal(true), data: z.object({ id: z.string() }) });
  const answer = { success: true, data: { id: 42 } };
  for (const checked of [true, false]) {
    const app = Fastify();
    app.setSerializerCompiler(createSerializerCompiler({ checked }));
    app.get('/x', { schema: { response: { 200: schema } } }, async () => answer);
    const res = await app.inject({ url: '/x' });
    if (checked) assert.equal(res.statusCode, 500, 'Zod refuses a number where the schema says string');
    else assert.deepEqual(res.json(), { success: true, data: { id: '42' } });
    await app.close();
  }
});

test('every response schema of the API compiles to the fast serializer', async () => {
  const t = await createTestApp();
  try {
    const slow: string[] = [];
    let count = 0;
    for (const route of t.app.services.routes) {
      for (const [status, schema] of Object.entries(route.responses)) {
        if (!(schema instanceof z.ZodType)) continue;
        count++;
        if (!fastSerializer(schema)) slow.push(`${route.method} ${route.url} ${status}`);
      }
    }
    assert.ok(count > 100, `${count} response schemas seen`);
    assert.deepEqual(slow, []);
  } finally {
    await t.close();
  }
});

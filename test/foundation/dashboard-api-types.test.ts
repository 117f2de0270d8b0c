import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { generateSchemaTypes } from '../../scripts/dashboard-openapi.js';

const COMMITTED = new URL('../../dashboard/src/api/schema.d.ts', import.meta.url);

test("the dashboard's API types match the OpenAPI document the routes publish (npm run dashboard:api)", async () => {
  const generated = await generateSchemaTypes();
  // The generator sees the routes: a broken generator cannot pass by producing nothing.
  assert.match(generated, /'\/api\/v1\/sessions': \{/);
  assert.match(generated, /\n {4}Session: \{/);
  assert.equal(
    readFileSync(COMMITTED, 'utf8'),
    generated,
    'dashboard/src/api/schema.d.ts is out of date: run npm run dashboard:api',
  );
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { envSchema } from '../../src/config.js';
import { ERROR_CODES } from '../../src/lib/errors.js';
import { createTestApp } from '../helpers/app.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('every configuration variable is documented in .env.example and in the README table', () => {
  const example = read('.env.example');
  const readme = read('README.md');
  const variables = Object.keys(envSchema.shape);
  assert.ok(variables.length >= 20);
  const missingExample = variables.filter((v) => !new RegExp(`^#? ?${v}=`, 'm').test(example));
  const missingReadme = variables.filter((v) => !new RegExp(`^\\|\\s*\`${v}\`\\s*\\|`, 'm').test(readme));
  assert.deepEqual(missingExample, [], '.env.example lacks these variables');
  assert.deepEqual(missingReadme, [], 'the README configuration table lacks these variables');
});

test('every error code is listed in the README', () => {
  const readme = read('README.md');
  assert.deepEqual(
    ERROR_CODES.filter((code) => !readme.includes(`\`${code}\``)),
    [],
  );
});

test('the README names every npm script', () => {
  const readme = read('README.md');
  const scripts = Object.keys(
    (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
  );
  assert.deepEqual(
    scripts.filter((s) => !readme.includes(s)),
    [],
  );
});

test('the README names validation fields with the prefixes answers use', async () => {
  const t = await createTestApp();
  try {
    const headers = { 'x-api-key': t.adminKey };
    const answers = await Promise.all([
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/keys',
        headers,
        payload: { name: 1, role: 'viewer' },
      }),
      t.app.inject({ url: '/api/v1/events?since=not-an-id', headers }),
      t.app.inject({ method: 'DELETE', url: `/api/v1/auth/keys/${'k'.repeat(500)}`, headers }),
    ]);
    const prefixes = answers.map((res) => {
      const details = (res.json() as { error: { details?: { field: string }[] } }).error.details ?? [];
      return details[0]?.field.split('.')[0];
    });
    assert.deepEqual(prefixes, ['body', 'querystring', 'params']);
    const readme = read('README.md');
    assert.ok(
      readme.includes(prefixes.map((p) => `\`${p}.x\``).join(', ')),
      'the README lists `body.x`, `querystring.x`, `params.x`',
    );
  } finally {
    await t.close();
  }
});

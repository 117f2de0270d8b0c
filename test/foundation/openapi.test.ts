import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createTestApp } from '../helpers/app.js';

/** The seed's route list, plus the routes API.md adds (key management, webhook deliveries). */
const SEED_ROUTES = `
GET /health
GET /version
POST /api/v1/auth/login
POST /api/v1/auth/logout
GET /api/v1/auth/me
GET /api/v1/sessions
POST /api/v1/sessions
GET /api/v1/sessions/:id
DELETE /api/v1/sessions/:id
POST /api/v1/sessions/:id/connect
POST /api/v1/sessions/:id/disconnect
POST /api/v1/sessions/verify-code
POST /api/v1/sessions/verify-password
POST /api/v1/sessions/import
POST /api/v1/sessions/:id/export
POST /api/v1/messages/send
POST /api/v1/messages/reply
POST /api/v1/messages/edit
POST /api/v1/messages/delete
POST /api/v1/messages/forward
POST /api/v1/messages/react
POST /api/v1/messages/pin
POST /api/v1/messages/unpin
POST /api/v1/messages/read
GET /api/v1/messages/history
GET /api/v1/chats
GET /api/v1/chats/:id
POST /api/v1/chats/join
POST /api/v1/chats/leave
GET /api/v1/chats/:id/members
POST /api/v1/chats/search
GET /api/v1/webhooks
POST /api/v1/webhooks
PUT /api/v1/webhooks/:id
DELETE /api/v1/webhooks/:id
GET /api/v1/events
GET /api/v1/ws
`;
const API_MD_ROUTES = `
GET /api/v1/auth/keys
POST /api/v1/auth/keys
DELETE /api/v1/auth/keys/:id
GET /api/v1/webhooks/:id/deliveries
POST /api/v1/webhooks/:id/deliveries/:deliveryId/redeliver
`;

function parseRoutes(list: string): { method: string; path: string }[] {
  return list
    .trim()
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [method, url] = line.trim().split(' ') as [string, string];
      return { method: method.toLowerCase(), path: url.replace(/:([A-Za-z]+)/g, '{$1}') };
    });
}

type Operation = {
  summary?: string;
  tags?: string[];
  responses?: Record<string, unknown>;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
};

test('GET /docs/json is a valid OpenAPI 3.1 document', async () => {
  const t = await createTestApp();
  try {
    const res = await t.app.inject({ url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as Document;
    assert.match(doc.openapi, /^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
    assert.equal(validator.version, '3.1');
    // Every $ref resolves.
    assert.doesNotThrow(() => validator.resolveRefs());
    assert.deepEqual(Object.keys(doc.components?.securitySchemes ?? {}).sort(), ['apiKey', 'bearer']);
  } finally {
    await t.close();
  }
});

test('/docs/yaml answers with the same document in YAML', async () => {
  const t = await createTestApp();
  try {
    const res = await t.app.inject({ url: '/docs/yaml' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /yaml/);
    assert.match(res.body, /^openapi: 3\.1\.\d/m);
    assert.match(res.body, /\/api\/v1\/auth\/login:/);
  } finally {
    await t.close();
  }
});

test('every route of the seed and of API.md is in the document', async () => {
  const t = await createTestApp();
  try {
    const doc = (await t.app.inject({ url: '/docs/json' })).json() as Document;
    const missing = parseRoutes(SEED_ROUTES + API_MD_ROUTES)
      .filter(({ method, path }) => !doc.paths[path]?.[method])
      .map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    assert.deepEqual(missing, [], 'routes missing from the OpenAPI document');
  } finally {
    await t.close();
  }
});

test('every operation has a summary, a tag, responses, and protected ones list their errors', async () => {
  const t = await createTestApp();
  try {
    const doc = (await t.app.inject({ url: '/docs/json' })).json() as Document;
    const problems: string[] = [];
    let count = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        count++;
        const name = `${method.toUpperCase()} ${path}`;
        if (!op.summary) problems.push(`${name}: no summary`);
        if (!op.tags?.length) problems.push(`${name}: no tag`);
        const statuses = Object.keys(op.responses ?? {});
        if (!statuses.some((s) => s.startsWith('2') || s.startsWith('1')))
          problems.push(`${name}: no success response`);
        const isPublic = Array.isArray(op.security) && op.security.length === 0;
        if (path.startsWith('/api/') && !isPublic) {
          for (const s of ['401', '403'])
            if (!statuses.includes(s)) problems.push(`${name}: no ${s} response`);
        }
        for (const param of path.match(/\{[^}]+\}/g) ?? []) {
          const paramName = param.slice(1, -1);
          if (!op.parameters?.some((p) => p.in === 'path' && p.name === paramName)) {
            problems.push(`${name}: path parameter ${paramName} not described`);
          }
        }
      }
    }
    assert.ok(count >= 10, `only ${count} operations`);
    assert.deepEqual(problems, []);
  } finally {
    await t.close();
  }
});

test('/docs serves Swagger UI from local assets, with nothing from a CDN', async () => {
  const t = await createTestApp();
  try {
    let res = await t.app.inject({ url: '/docs' });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
      res = await t.app.inject({ url: new URL(String(res.headers.location), 'http://local/docs/').pathname });
    }
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/html/);
    const html = res.body;
    assert.match(html, /swagger-ui/i);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length > 0, 'the page loads assets');
    for (const asset of assets) assert.doesNotMatch(asset, /^(https?:)?\/\//, `external asset ${asset}`);
    const script = assets.find((a) => a.endsWith('.js'));
    assert.ok(script, 'a script asset');
    const js = await t.app.inject({ url: new URL(script, 'http://local/docs/').pathname });
    assert.equal(js.statusCode, 200, script);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.ok(js.body.length > 1000);
    const css = assets.find((a) => a.endsWith('.css'));
    if (css)
      assert.equal(
        (await t.app.inject({ url: new URL(css, 'http://local/docs/').pathname })).statusCode,
        200,
      );

    // The initializer points Swagger UI at the local document.
    const init = await t.app.inject({ url: '/docs/static/swagger-initializer.js' });
    assert.equal(init.statusCode, 200);
    assert.match(init.body, /url: resolveUrl\('\.\/json'\)/);
    assert.match(init.body, /validatorUrl: null/, 'no call to the public spec validator');
  } finally {
    await t.close();
  }
});

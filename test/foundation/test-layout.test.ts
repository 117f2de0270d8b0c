/**
 * `npm run test:postgres` (what CI runs on PostgreSQL, after `npm test` on SQLite) names the test
 * directories whose tests reach the database; the others (the sandbox's own tests, the
 * dashboard's browser tests) behave the same on either database and run once, on SQLite. A new
 * test directory must be put on one side or the other.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url);
/** Directories whose tests never depend on the database TeleFlow runs on. */
const DATABASE_INDEPENDENT = ['dashboard', 'helpers', 'sandbox'];

test('every test directory runs on PostgreSQL too, or is declared database-independent', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const listed = /test\/\{([^}]+)\}\/\*\*\/\*\.test\.ts/
    .exec(pkg.scripts['test:postgres'] ?? '')?.[1]
    ?.split(',');
  assert.ok(listed, `test:postgres names its directories: ${pkg.scripts['test:postgres']}`);
  const dirs = readdirSync(new URL('test/', ROOT), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  for (const dir of dirs) {
    assert.ok(
      listed.includes(dir) !== DATABASE_INDEPENDENT.includes(dir),
      `test/${dir}: in test:postgres or declared database-independent, not both or neither`,
    );
  }
  for (const dir of listed)
    assert.ok(dirs.includes(dir), `test:postgres names test/${dir}, which does not exist`);
});

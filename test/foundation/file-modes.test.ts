import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { startSandbox } from '../../src/sandbox/index.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;
const octal = (mode: number) => mode.toString(8);

/** Runs `fn` with a umask that would leave everything world-readable and writable. */
async function withOpenUmask<T>(fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(0);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

test('the SQLite database, its -wal and -shm, and the directories created for it are owner-only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'teleflow-modes-'));
  try {
    const file = join(root, 'data', 'nested', 'teleflow.db');
    await withOpenUmask(async () => {
      const db = openDatabase(`file:${file}`);
      try {
        await sql`create table t (x text)`.execute(db.db);
        await sql`insert into t values ('a message text')`.execute(db.db);
        for (const dir of [join(root, 'data'), join(root, 'data', 'nested')]) {
          assert.equal(octal(modeOf(dir)), '700', dir);
        }
        for (const path of [file, `${file}-wal`, `${file}-shm`]) {
          assert.ok(existsSync(path), `${path} exists`);
          assert.equal(octal(modeOf(path)), '600', path);
        }
      } finally {
        await db.close();
      }
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a database file left world-readable by an earlier version is made owner-only when opened', async () => {
  const root = mkdtempSync(join(tmpdir(), 'teleflow-modes-'));
  try {
    const file = join(root, 'teleflow.db');
    await withOpenUmask(async () => {
      const old = new SQLite(file);
      old.pragma('journal_mode = WAL');
      old.exec('create table t (x text)');
      old.close();
    });
    assert.equal(octal(modeOf(file)), '644', 'SQLite creates files 0644');
    const db = openDatabase(`file:${file}`);
    try {
      for (const path of [file, `${file}-wal`, `${file}-shm`]) assert.equal(octal(modeOf(path)), '600', path);
    } finally {
      await db.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a DATA_DIR created for the development secrets is owner-only, and so is the secrets file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'teleflow-modes-'));
  try {
    const dataDir = join(root, 'var', 'teleflow');
    await withOpenUmask(async () => {
      loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir });
    });
    assert.equal(octal(modeOf(join(root, 'var'))), '700');
    assert.equal(octal(modeOf(dataDir)), '700');
    assert.equal(octal(modeOf(join(dataDir, 'dev-secrets.json'))), '600');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the sandbox's data directory (its auth keys, RSA key and world with message texts) is owner-only", async () => {
  const root = mkdtempSync(join(tmpdir(), 'teleflow-modes-'));
  try {
    const dataDir = join(root, 'data', 'sandbox');
    const sandbox = await withOpenUmask(() => startSandbox({ dataDir }));
    try {
      await sandbox.close();
    } finally {
      assert.equal(octal(modeOf(join(root, 'data'))), '700');
      assert.equal(octal(modeOf(dataDir)), '700');
      assert.equal(octal(modeOf(join(dataDir, 'server-key.pem'))), '600');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

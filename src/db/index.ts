import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { makePrivateDir, makePrivateFiles } from '../lib/files.js';
import type { Database } from './types.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  db: Kysely<Database>;
  dialect: DialectName;
  /** The PostgreSQL schema named by `?schema=`, if any. */
  schema?: string;
  /**
   * The SQLite handle under Kysely, for the few hot paths that run synchronous prepared
   * statements (the event log's writes) while holding Kysely's one connection.
   */
  sqlite?: SQLite.Database;
  /** Round-trips a trivial query; used by /health. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

// 64-bit integers (counts, bigserial ids) come back from pg as strings by default.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

/**
 * Opens the database named by DATABASE_URL: `file:<path>` (or `:memory:`) for SQLite,
 * `postgres://...` for PostgreSQL; `?schema=<name>` on a PostgreSQL URL sets the search path.
 */
export function openDatabase(url: string): Db {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new Error('DATABASE_URL: ?schema= must be a plain identifier (letters, digits, underscores)');
    }
    const pool = new pg.Pool({
      connectionString: parsed.toString(),
      max: 10,
      options: schema ? `-c search_path=${schema}` : undefined,
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return wrap(db, 'postgres', schema);
  }
  const path =
    url === ':memory:' || url === 'file::memory:' ? ':memory:' : resolve(url.replace(/^file:/, ''));
  if (path !== ':memory:') makePrivateDir(dirname(path));
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  if (path !== ':memory:') {
    // The database holds message texts, phone numbers and access hashes: owner only, whatever
    // the umask. A read makes SQLite open the -wal and -shm files, so all three exist here.
    sqlite.prepare('select count(*) from sqlite_master').get();
    makePrivateFiles(path, `${path}-wal`, `${path}-shm`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { ...wrap(db, 'sqlite'), sqlite };
}

/** Statements kept per SQL text; the hot paths use a few dozen. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * better-sqlite3 with its prepared statements reused: Kysely prepares every query afresh, and
 * preparing costs about as much as running a small insert.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (text: string) => {
      const cached = cache.get(text);
      // A statement still iterating cannot run again. Kysely holds the connection for the whole
      // of a stream, so this does not happen today; a fresh statement keeps it harmless if it does.
      if (cached && !cached.busy) return cached;
      const stmt = sqlite.prepare(text);
      if (!cached) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

function wrap(db: Kysely<Database>, dialect: DialectName, schema?: string): Db {
  let closed = false;
  return {
    db,
    dialect,
    schema,
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

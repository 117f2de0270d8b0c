import type SQLite from 'better-sqlite3';
import type { CompiledQuery } from 'kysely';

/** Statements kept prepared per handle; SQL texts beyond this many are prepared for each run. */
const MAX_CACHED = 64;

/**
 * Kysely queries run synchronously on the SQLite handle under Kysely, for the one path that
 * writes inside a transaction without giving up its turn of the event loop (the event log's
 * batch and what its hooks write with it: src/modules/events/events.service.ts). The queries
 * are built and compiled by Kysely as usual; only their execution is synchronous, each SQL
 * text prepared once.
 */
export class SqliteSync {
  private readonly statements = new Map<string, SQLite.Statement>();

  constructor(readonly handle: SQLite.Database) {}

  /** A statement for this SQL text, prepared on first use. */
  prepare(sqlText: string): SQLite.Statement {
    let st = this.statements.get(sqlText);
    if (!st) {
      st = this.handle.prepare(sqlText);
      if (this.statements.size < MAX_CACHED) this.statements.set(sqlText, st);
    }
    return st;
  }

  /** Runs a compiled query: its rows when it returns any (SELECT, RETURNING), else none. */
  execute<R>(query: CompiledQuery<R>): R[] {
    const st = this.prepare(query.sql);
    const params = query.parameters as unknown[];
    if (st.reader) return st.all(...params) as R[];
    st.run(...params);
    return [];
  }
}

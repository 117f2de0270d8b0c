import type { Kysely } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import type { Db, DialectName } from './index.js';
import { migrations } from './migrations/index.js';

/** Migrations get the dialect so the few types that differ (auto ids, json) can be chosen. */
export type MigrationFactory = (dialect: DialectName) => Migration;

/** The migrations of this version, for the given dialect. */
export class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(migrations).map(([name, make]) => [name, make(this.dialect)]));
  }
}

/**
 * Brings the schema up to date; safe to run at every start (and concurrently on PostgreSQL).
 * With `?schema=` the migration bookkeeping lives in that schema too: Kysely otherwise finds
 * another schema's lock table and then fails to use its own.
 */
export async function migrateToLatest({
  db,
  dialect,
  schema,
}: Pick<Db, 'db' | 'dialect' | 'schema'>): Promise<string[]> {
  const migrator = new Migrator({
    db: db as Kysely<any>,
    provider: new StaticProvider(dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

import type { MigrationFactory } from '../migrate.js';
import { auth } from './001_auth.js';

/** Every migration, by name; names sort in the order they run. Add new ones at the end. */
export const migrations: Record<string, MigrationFactory> = {
  '001_auth': auth,
};

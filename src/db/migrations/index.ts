import type { MigrationFactory } from '../migrate.js';
import { auth } from './001_auth.js';
import { sessions } from './010_sessions.js';

/** Every migration, by name; names sort in the order they run. Add new ones at the end. */
export const migrations: Record<string, MigrationFactory> = {
  '001_auth': auth,
  '010_sessions': sessions,
};

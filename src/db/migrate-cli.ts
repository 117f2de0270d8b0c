import { loadConfig, readDotEnv } from '../config.js';
import { openDatabase } from './index.js';
import { migrateToLatest } from './migrate.js';

const config = loadConfig({ ...readDotEnv(), ...process.env });
const database = openDatabase(config.databaseUrl);
try {
  const applied = await migrateToLatest(database);
  console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
} finally {
  await database.close();
}

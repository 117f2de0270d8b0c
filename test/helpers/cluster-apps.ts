/**
 * Several TeleFlow apps (buildApp, each listening on a loopback port) with CLUSTER=true on one
 * PostgreSQL schema, in this process: enough for the event log, webhook queue and shared state
 * tests. PostgreSQL only: `clusterSkip` is the reason to skip on SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDatabaseUrl } from './app.js';
import { startApp, type Started } from './stream-clients.js';

export const clusterSkip = process.env.TEST_DATABASE_URL
  ? false
  : 'cluster coordination needs PostgreSQL: set TEST_DATABASE_URL to run it';

export interface ClusterApps {
  apps: Started[];
  close(): Promise<void>;
}

export async function startClusterApps(
  count: number,
  env: Record<string, string> = {},
): Promise<ClusterApps> {
  const dirs: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-cluster-db-'));
  dirs.push(dir);
  const database = await testDatabaseUrl(dir);
  const apps: Started[] = [];
  const close = async () => {
    await Promise.allSettled(apps.map((a) => a.close({ keepData: true })));
    await database.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= count; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `teleflow-cluster-i${i}-`));
      dirs.push(dataDir);
      apps.push(
        await startApp(
          { CLUSTER: 'true', INSTANCE_ID: `inst${i}`, ...env },
          { reuse: { dataDir, databaseUrl: database.url, drop: database.drop } },
        ),
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { apps, close };
}

/** Creates a webhook for session.* events through `app`'s API; answers its id. */
export async function createSessionWebhook(app: Started, url: string): Promise<string> {
  const created = await app.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: { 'x-api-key': app.adminKey },
    payload: { url, events: ['session.*'] },
  });
  if (created.statusCode !== 201)
    throw new Error(`webhook creation failed: ${created.statusCode} ${created.body}`);
  return (created.json() as { data: { id: string } }).data.id;
}

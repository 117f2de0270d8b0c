import { loadConfig, ConfigError, readDotEnv, DEV_API_ID } from './config.js';
import { buildApp } from './app.js';
import { makePrivateDir } from './lib/files.js';
import { createLogger } from './lib/logger.js';

/** Process entry: config, logger, listen, signals, graceful shutdown. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ ...readDotEnv(), ...process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // The embedded sandbox keeps its state under DATA_DIR: created first, for this user only. (The
  // SQLite database and the development secrets create it so themselves; with PostgreSQL and no
  // sandbox nothing needs it, and a read-only file system must not stop start-up.)
  if (config.telegram.sandbox) makePrivateDir(config.dataDir);
  const app = await buildApp(config, { logger: log });

  if (config.generatedSecrets.length > 0) {
    const reused = config.generatedSecrets.filter((name) => !config.newSecrets.includes(name));
    log.warn(
      {
        ...(config.newSecrets.length > 0 ? { generated: config.newSecrets } : {}),
        ...(reused.length > 0 ? { reused } : {}),
        dataDir: config.dataDir,
      },
      reused.length === 0
        ? 'development secrets generated and kept in the data directory (set them in production)'
        : config.newSecrets.length === 0
          ? 'development secrets reused from the data directory (set them in production)'
          : 'development secrets reused from the data directory, the missing ones generated (set them in production)',
    );
    const secretsFile = `${config.dataDir}/dev-secrets.json`;
    if (config.newSecrets.includes('API_KEY')) {
      // Printed once, when generated, to the terminal (not the log stream) so a newcomer can call the API at once.
      process.stderr.write(`\nAdmin API key (kept in ${secretsFile}): ${config.apiKey}\n\n`);
    } else if (config.generatedSecrets.includes('API_KEY')) {
      process.stderr.write(`\nAdmin API key: see API_KEY in ${secretsFile}\n\n`);
    }
  }

  if (!config.telegram.sandbox && config.telegram.apiId === DEV_API_ID) {
    // A published id is shared by many programs; Telegram may answer API_ID_PUBLISHED_FLOOD
    // to sign-ins made with it (core.telegram.org/api/obtaining_api_id).
    log.warn(
      { apiId: config.telegram.apiId },
      'TELEGRAM_API_ID is the widely published development id, which Telegram may refuse (API_ID_PUBLISHED_FLOOD): get your own api_id and api_hash from my.telegram.org',
    );
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.services.lifecycle.shuttingDown = true;
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  // Printed to the terminal like `npm run sandbox` does: the control URL changes with every
  // start unless SANDBOX_CONTROL_PORT is set.
  const sandbox = app.services.telegram.sandbox;
  if (sandbox) process.stdout.write(`\n${sandbox.banner}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `TeleFlow failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

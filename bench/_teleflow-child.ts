/**
 * Shared by the benchmark helper processes that run TeleFlow alone in a process, pointed at a
 * sandbox: the production config they start from (SQLite in a temp dir, fixed bench secrets).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../src/config.js';

export function sandboxBenchConfig(
  name: string,
  sandbox: { dc: string; pemFile: string },
  extra: Record<string, string>,
): { config: Config; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), `teleflow-bench-${name}-`));
  const config = loadConfig({
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    TELEGRAM_DC: sandbox.dc,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sandbox.pemFile,
    TELEGRAM_API_ID: '12345',
    TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    API_KEY: 'tf_bench_admin_key_0123456789abcdefghijklmn',
    SESSION_ENCRYPTION_KEY: 'bench-encryption-key-0123456789abcdefghijklmnop',
    RATE_LIMIT_MAX: '1000000',
    ...extra,
  });
  return { config, dataDir };
}

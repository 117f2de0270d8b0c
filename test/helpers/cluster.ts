/**
 * A whole TeleFlow cluster in processes of its own, for the end-to-end cluster tests and the
 * `cluster` and `fleet` benchmarks: one standalone sandbox (`src/sandbox/cli.ts`), N TeleFlow
 * processes (`src/server.ts`, CLUSTER=true, INSTANCE_ID inst1..instN) on one PostgreSQL schema,
 * each with a data dir of its own and the same secrets. Any instance can be killed (-9), stopped
 * (SIGTERM) and started again on its port, data dir and INSTANCE_ID.
 *
 * Every child this module starts is remembered and killed with SIGKILL when this process exits,
 * so a failing test cannot leave one behind; `close()` (in `after` hooks) stops them in order and
 * removes the schema and the directories.
 *
 * PostgreSQL: the tests use TEST_DATABASE_URL (`clusterSkip` says why they skip without it);
 * the benchmarks start a throwaway server with `startPostgres` (as .ci/run does).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRETS, testDatabaseUrl } from './app.js';
import { freePort, startServer, stopServer, type ServerProcess } from './server-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;

export const clusterSkip: string | false = process.env.TEST_DATABASE_URL
  ? false
  : 'the cluster tests need PostgreSQL: set TEST_DATABASE_URL=postgres://... to run them (skipped on SQLite)';

// ------------------------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
function remember(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive free loopback ports (the sandbox's five DCs listen on port..port+4). */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

// ------------------------------------------------------------------------------------- sandbox

export interface SandboxProcess {
  child: ChildProcess;
  host: string;
  /** DC 1's port; DCs 2-5 on the next four. */
  port: number;
  /** TELEGRAM_DC for TeleFlow (`host:port` of DC 1). */
  dc: string;
  controlUrl: string;
  /** TELEGRAM_DC_PUBLIC_KEY_FILE for TeleFlow (written by the sandbox into its data dir). */
  pemFile: string;
  dataDir: string;
  /** Calls the control API; throws on a non-2xx answer. */
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  output(): string;
  close(): Promise<void>;
}

/** The standalone sandbox (`src/sandbox/cli.ts`) in its own process, its world in a temp dir. */
export async function startSandboxProcess(env: Record<string, string> = {}): Promise<SandboxProcess> {
  let lastError: unknown;
  // Another process may take one of the ports between the check and the listen: try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'teleflow-sandbox-proc-'));
    try {
      return await trySandbox(dataDir, env);
    } catch (error) {
      lastError = error;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

async function trySandbox(dataDir: string, env: Record<string, string>): Promise<SandboxProcess> {
  const port = await freePortRun(5);
  let controlPort = await freePort();
  while (controlPort >= port && controlPort < port + 5) controlPort = await freePort();
  const host = '127.0.0.1';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/cli.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SANDBOX_HOST: host,
      SANDBOX_PORT: String(port),
      SANDBOX_CONTROL_PORT: String(controlPort),
      SANDBOX_DIR: dataDir,
      SANDBOX_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  remember(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output = (output + String(c)).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + String(c)).slice(-20_000)));
  const controlUrl = `http://${host}:${controlPort}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  // The banner is printed once every listener is up.
  const deadline = Date.now() + 30_000;
  while (!output.includes('Accept a QR')) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`sandbox process did not start: ${output}`);
    }
    await sleep(50);
  }
  return {
    child,
    host,
    port,
    dc: `${host}:${port}`,
    controlUrl,
    pemFile: join(dataDir, 'server-public.pem'),
    dataDir,
    async control(method, path, body) {
      const res = await fetch(`${controlUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`sandbox control ${method} ${path}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as never;
    },
    output: () => output,
    close,
  };
}

let phoneCounter = Math.floor(Math.random() * 9000);
/** A fresh sandbox phone 99966XYYYY (its login code is XXXXX; the control API answers it too). */
export function clusterPhone(): string {
  phoneCounter++;
  return `99966${1 + (phoneCounter % 9)}${String(phoneCounter % 10_000).padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------- PostgreSQL

export interface Postgres {
  url: string;
  stop(): Promise<void>;
}

function newestPgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
  const bin = versions.length ? join(root, versions.at(-1)!, 'bin') : '';
  if (!bin || !existsSync(join(bin, 'initdb')))
    throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin)');
  return bin;
}

/**
 * A throwaway PostgreSQL on loopback (initdb into a temp dir, no fsync), with a database
 * `teleflow`, as .ci/run starts one. `port` 0 picks a free one. Runs as the postgres user when
 * this process is root (initdb refuses root).
 */
export async function startPostgres(port = 0): Promise<Postgres> {
  const bin = newestPgBin();
  const dir = mkdtempSync(join(tmpdir(), 'teleflow-pg-'));
  const root = process.getuid?.() === 0;
  if (root) {
    const pgUser = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const pgGroup = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pgUser.stdout), Number(pgGroup.stdout));
  }
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = root
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const result = spawnSync(file, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
  };
  const chosen = port || (await freePort());
  run('initdb', ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
  run('pg_ctl', [
    '-D',
    `${dir}/data`,
    '-l',
    `${dir}/log`,
    '-w',
    '-t',
    '60',
    '-o',
    `-h 127.0.0.1 -p ${chosen} -k ${dir} -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300`,
    'start',
  ]);
  const stop = async () => {
    try {
      run('pg_ctl', ['-D', `${dir}/data`, '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    run('createdb', ['-h', '127.0.0.1', '-p', String(chosen), '-U', 'postgres', 'teleflow']);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `postgres://postgres@127.0.0.1:${chosen}/teleflow`, stop };
}

// ------------------------------------------------------------------------------------- cluster

export interface Instance {
  /** 1-based, as in INSTANCE_ID inst<index>. */
  index: number;
  id: string;
  port: number;
  url: string;
  dataDir: string;
  server?: ServerProcess;
}

export interface ApiAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface SignedIn {
  id: string;
  phone: string;
  username: string;
}

export interface ClusterOptions {
  instances?: number;
  /** Extra environment for every instance. */
  env?: Record<string, string>;
  /** A database URL to use instead of a fresh schema on TEST_DATABASE_URL (kept on close). */
  databaseUrl?: string;
  /** CLUSTER=false: one plain process per database (the fleet benchmark). */
  cluster?: boolean;
}

export interface Cluster {
  sandbox: SandboxProcess;
  instances: Instance[];
  databaseUrl: string;
  apiKey: string;
  /** Calls instance `i` (1-based) with the admin key. */
  api<T = any>(
    i: number,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiAnswer<T>>;
  running(i: number): boolean;
  /** kill -9 of instance i (waits for the exit). */
  kill(i: number): Promise<void>;
  /** SIGTERM to instance i (waits for the graceful exit). */
  stop(i: number): Promise<void>;
  /** Starts instance i again on its port, data dir and INSTANCE_ID (after kill or stop). */
  start(i: number): Promise<void>;
  /** SIGTERM then start. */
  restart(i: number): Promise<void>;
  /** The sessions instance i says it owns (/health), with their status. */
  owned(i: number): Promise<{ id: string; status: string }[]>;
  /** Which running instance owns session `id` with the status `connected` (0: none). */
  ownerOf(id: string): Promise<number>;
  /**
   * Creates a sandbox user (username `u<phone>`) and signs it in through instance `via`;
   * answers the session id, phone and username.
   */
  signIn(via: number, firstName?: string): Promise<SignedIn>;
  /** Every process output of instance i, for failure messages. */
  output(i: number): string;
  close(): Promise<void>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.instances ?? 3;
  const dirs: string[] = [];
  const sandbox = await startSandboxProcess();
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const instances: Instance[] = [];
  const outputs = new Map<number, string>();

  const envFor = (instance: Instance): Record<string, string> => ({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(instance.port),
    DATA_DIR: instance.dataDir,
    DATABASE_URL: database!.url,
    LOG_LEVEL: process.env.CLUSTER_TEST_DEBUG ? 'info' : 'warn',
    RATE_LIMIT_MAX: '1000000',
    TELEGRAM_DC: sandbox.dc,
    TELEGRAM_DC_PUBLIC_KEY_FILE: sandbox.pemFile,
    SEND_RATE_PER_CHAT: '0',
    ...(options.cluster === false
      ? {}
      : { CLUSTER: 'true', INSTANCE_ID: instance.id, INSTANCE_URL: instance.url }),
    ...TEST_SECRETS,
    ...options.env,
  });

  const at = (i: number): Instance => {
    const instance = instances[i - 1];
    if (!instance) throw new Error(`no instance ${i} (1..${instances.length})`);
    return instance;
  };
  const running = (i: number) => {
    const child = at(i).server?.child;
    return Boolean(child && child.exitCode === null && child.signalCode === null);
  };
  const keepOutput = (instance: Instance) => {
    if (instance.server)
      outputs.set(instance.index, (outputs.get(instance.index) ?? '') + instance.server.output());
  };
  const start = async (i: number) => {
    const instance = at(i);
    if (running(i)) throw new Error(`instance ${i} is running`);
    instance.server = await startServer(envFor(instance));
    remember(instance.server.child);
  };
  const halt = async (i: number, signal: NodeJS.Signals) => {
    const instance = at(i);
    await stopServer(instance.server, signal);
    keepOutput(instance);
    instance.server = undefined;
  };

  const close = async () => {
    await Promise.allSettled(instances.map((instance) => halt(instance.index, 'SIGKILL')));
    await sandbox.close();
    if (!options.databaseUrl) await database?.drop().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (options.databaseUrl) database = { url: options.databaseUrl, drop: async () => {} };
    else {
      const dir = mkdtempSync(join(tmpdir(), 'teleflow-cluster-db-'));
      dirs.push(dir);
      database = await testDatabaseUrl(dir);
    }
    for (let i = 1; i <= count; i++) {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), `teleflow-cluster-inst${i}-`));
      dirs.push(dataDir);
      instances.push({ index: i, id: `inst${i}`, port, url: `http://127.0.0.1:${port}`, dataDir });
    }
    // One after the other: the first one runs the migrations.
    for (let i = 1; i <= count; i++) await start(i);
  } catch (error) {
    await close();
    throw error;
  }

  const api = <T>(
    i: number,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => callApi<T>(at(i).url, method, path, body, headers);

  const owned = async (i: number) => {
    const res = await fetch(`${at(i).url}/health`);
    const body = (await res.json()) as { instance?: { sessions?: { id: string; status: string }[] } };
    return body.instance?.sessions ?? [];
  };

  return {
    sandbox,
    instances,
    databaseUrl: database!.url,
    apiKey: TEST_SECRETS.API_KEY,
    api,
    running,
    kill: (i) => halt(i, 'SIGKILL'),
    stop: (i) => halt(i, 'SIGTERM'),
    start,
    async restart(i) {
      await halt(i, 'SIGTERM');
      await start(i);
    },
    owned,
    async ownerOf(id) {
      for (const instance of instances) {
        if (!running(instance.index)) continue;
        const sessions = await owned(instance.index).catch(() => []);
        if (sessions.some((s) => s.id === id && s.status === 'connected')) return instance.index;
      }
      return 0;
    },
    async signIn(via, firstName = 'Cluster') {
      const phone = clusterPhone();
      const username = `u${phone}`;
      await sandbox.control('POST', '/users', {
        phone,
        username,
        firstName: `${firstName}${phone.slice(-4)}`,
      });
      const created = await api<{ data: { id: string } }>(via, 'POST', '/api/v1/sessions', { phone });
      if (created.status !== 201)
        throw new Error(`POST /sessions: ${created.status} ${JSON.stringify(created.body)}`);
      const { code } = await sandbox.control<{ code: string }>('GET', `/codes?phone=${phone}`);
      const verified = await api<{ data: { status: string } }>(via, 'POST', '/api/v1/sessions/verify-code', {
        sessionId: created.body.data.id,
        code,
      });
      if (verified.status !== 200 || verified.body.data.status !== 'connected')
        throw new Error(`verify-code: ${verified.status} ${JSON.stringify(verified.body)}`);
      return { id: created.body.data.id, phone, username };
    },
    output: (i) => (outputs.get(i) ?? '') + (at(i).server?.output() ?? ''),
    close,
  };
}

/** Calls TeleFlow at `base` with the admin key (JSON in; JSON out when the answer is JSON). */
export async function callApi<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      'x-api-key': TEST_SECRETS.API_KEY,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text as it is
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** CPU time (user + system) process `pid` has used, in ms (from /proc: clock ticks of 10 ms). */
export function cpuTimeMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Polls `probe` until it answers something truthy; throws after `ms` with `what`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

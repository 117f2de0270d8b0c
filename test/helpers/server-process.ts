/**
 * TeleFlow as a real child process (`src/server.ts`), for tests that kill it: started with an
 * environment of its own, ready once /health answers, stopped with a chosen signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output: () => string;
}

/** Starts the server with `env` over this process's environment; `env.PORT` is where it listens. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += String(c)));
  child.stderr!.on('data', (c: Buffer) => (output += String(c)));
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${env.PORT}/health`);
      if (res.status === 200) return { child, output: () => output };
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      child.kill('SIGKILL'); // not left behind when the test gives up on it
      throw new Error(`server did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends `signal` and waits for the exit (nothing to do when it is gone already). */
export async function stopServer(server: ServerProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill(signal);
  await exited;
}

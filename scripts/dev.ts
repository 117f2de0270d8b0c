/**
 * `npm run dev`: TeleFlow from its sources, restarted on change (tsx watch), and the dashboard
 * rebuilt on change into dist/dashboard (vite build --watch), where TeleFlow serves it: reload
 * the page after an edit. Both run until Ctrl+C; when one stops, the other is stopped too.
 * (`npm run dev:dashboard` is vite's own dev server with hot reload instead, proxying the API to
 * a TeleFlow on port 3000.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

const children: ChildProcess[] = [
  spawn(bin('vite'), ['build', '--watch', '--config', 'dashboard/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  }),
  spawn(bin('tsx'), ['watch', 'src/server.ts'], { cwd: root, stdio: 'inherit' }),
];

let stopping = false;
function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}

for (const child of children) child.on('exit', (code) => stopAll(code ?? 1));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(0));

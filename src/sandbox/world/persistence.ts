/**
 * The world on disk: one JSON snapshot written atomically (temp file, fsync, rename), debounced
 * after changes and flushed on close, so a crash loses at most the last debounce window.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorldState } from './state.js';

export const WORLD_FILE = 'world.json';

export function loadWorldState(dataDir: string): WorldState | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dataDir, WORLD_FILE), 'utf8')) as WorldState;
    if (state.version !== 1) throw new Error(`unknown world snapshot version ${String(state.version)}`);
    return state;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function saveWorldState(dataDir: string, state: WorldState): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const target = join(dataDir, WORLD_FILE);
  const temp = `${target}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, target);
}

/** Debounced saver: `schedule()` after each change, `flush()` on shutdown. */
export class SnapshotWriter {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataDir: string,
    private readonly getState: () => WorldState,
    private readonly delayMs = 100,
    private readonly logger?: Logger,
  ) {}

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.delayMs);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.write();
  }

  private write(): void {
    try {
      saveWorldState(this.dataDir, this.getState());
    } catch (error) {
      this.logger?.error({ err: error }, 'sandbox: saving the world failed');
    }
  }
}

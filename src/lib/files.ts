import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Creates `dir` (and missing parents) readable by this user only: the data directory holds
 * message texts, phone numbers and keys. Directories that already exist keep their mode.
 */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // mkdir's mode is cut by the umask; chmod each created directory, from `dir` up to the first.
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, 0o700);
    if (d === first || dirname(d) === d) break;
  }
}

/** Sets these files to owner read/write only: those that exist and belong to this user. */
export function makePrivateFiles(...paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) continue;
    try {
      chmodSync(path, 0o600);
    } catch (error) {
      // Another user's file (a shared volume) keeps the mode its owner chose.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }
}

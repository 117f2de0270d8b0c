/**
 * `npm run bench -- <name> [args]` runs bench/<name>.ts. Without a name it lists the benchmarks.
 * Files ending in `-child.ts` or starting with `_` are helpers of a benchmark, not benchmarks.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('-child.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

const name = process.argv[2];
if (!name || !available.includes(name)) {
  if (name) console.error(`Unknown benchmark "${name}".`);
  console.log(`Usage: npm run bench -- <name>\nAvailable: ${available.join(', ')}`);
  process.exit(name ? 1 : 0);
}
// The benchmark sees its own arguments as if it had been started directly.
process.argv.splice(2, 1);
await import(pathToFileURL(`${dir}/${name}.ts`).href);

/**
 * Writes a brotli (`.br`) and a gzip (`.gz`) copy next to every text asset of the build, at
 * the highest levels once at build time, so TeleFlow sends them as they are (@fastify/static's
 * `preCompressed`) instead of compressing on every request. index.html is left out: TeleFlow
 * rewrites it on every answer (its CSP nonce), and it is small.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin } from 'vite';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const COMPRESSIBLE = /\.(js|mjs|css|svg|json|txt|map|wasm)$/;
/** Below this a compressed copy saves less than a packet. */
const MIN_BYTES = 1024;

export function precompress(): Plugin {
  return {
    name: 'teleflow-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir;
      // `vite build --watch` (npm run dev) rebuilds often on loopback: not worth the time there.
      if (!dir || this.meta.watchMode) return;
      await Promise.all(
        Object.keys(bundle)
          .filter((name) => COMPRESSIBLE.test(name))
          .map(async (name) => {
            const path = join(dir, name);
            const content = await readFile(path);
            if (content.length < MIN_BYTES) return;
            const [br, gz] = await Promise.all([
              brotli(content, {
                params: {
                  [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
                  [constants.BROTLI_PARAM_SIZE_HINT]: content.length,
                },
              }),
              gzipAsync(content, { level: constants.Z_BEST_COMPRESSION }),
            ]);
            await Promise.all([writeFile(`${path}.br`, br), writeFile(`${path}.gz`, gz)]);
          }),
      );
    },
  };
}

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { precompress } from './vite-precompress.js';

// The dev server proxies the API to a running TeleFlow (TELEFLOW_URL, default port 3000), so
// the dashboard talks to the same origin in development as it does when TeleFlow serves it.
const target = process.env.TELEFLOW_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  plugins: [react(), precompress()],
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    // TeleFlow's CSP allows scripts from 'self' only: never inline the module preload helper.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/api': { target, ws: true, changeOrigin: true },
      '/health': { target, changeOrigin: true },
      '/docs': { target, changeOrigin: true },
    },
  },
});

// The dashboard's Vite build: React through Vite's built-in (Oxc) JSX transform, automatic runtime.
// Output: <repo>/dist/dashboard, served by the API at `/`. `npm run dev:dashboard` proxies the API.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../..');
const api = process.env.DASHBOARD_API ?? 'http://127.0.0.1:3311';
const apiPaths = ['/sweeps', '/trials', '/checkpoints', '/workers', '/queues', '/events', '/auth', '/models', '/datasets', '/health'];

export default defineConfig({
  root: here,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: resolve(repoRoot, 'dist/dashboard'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
  },
  server: {
    port: 5173,
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: false }])),
  },
});

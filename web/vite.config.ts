import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The console: built to dist/web, which the api serves at /console/. */
export default defineConfig({
  root,
  base: '/console/',
  plugins: [react()],
  resolve: { alias: { '@': `${root}src` } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The sign-in route's budget is checked by web/scripts/bundle-size.mjs, not by this warning.
    chunkSizeWarningLimit: 2000,
    manifest: true,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev:web` next to `npm run dev`: the api answers /api and /v1.
    proxy: { '/api': 'http://localhost:3000', '/v1': 'http://localhost:3000' },
  },
});

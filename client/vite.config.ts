import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [svelte({ configFile: false })],
  // The server serves the MediaPipe files itself (scripts/assets.ts); nothing to copy.
  publicDir: false,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});

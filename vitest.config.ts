import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Compiles the live page's Svelte components for the component tests (tests/client, jsdom).
  plugins: [svelte({ configFile: false })],
  // Svelte's package serves its server build to the `node` condition; components need the browser build.
  resolve: { conditions: ['browser'] },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['tests/server/demoWorkspace.setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // tfjs-wasm runs one model per process; parallel files would fight over 2 cores.
    fileParallelism: false,
  },
});

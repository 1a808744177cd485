import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // tfjs-wasm runs one model per process; parallel files would fight over 2 cores.
    fileParallelism: false,
  },
});

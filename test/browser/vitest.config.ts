import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The browser scenario: one file, one real server, one Chromium; run by test/browser/run.mjs.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // The steps build on each other: after the first failure the rest would only time out.
    bail: 1,
    reporters: ['default'],
  },
});

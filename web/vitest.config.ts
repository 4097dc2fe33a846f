import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The SPA's unit tests (pure functions and the i18n catalogs); run by test/browser/run.mjs.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    reporters: ['default'],
  },
});

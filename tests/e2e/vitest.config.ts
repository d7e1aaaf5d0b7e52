import { defineConfig } from 'vitest/config';

// End-to-end tests: the real service (actors, ONNX model, Postgres) driven from real headless
// Chromium. Run with `npx vitest run --config tests/e2e/vitest.config.ts` (needs the stack's Postgres
// and Debian's chromium); screenshots land in tests/artifacts/.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.e2e.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});

import { defineConfig } from 'vitest/config';

// Unit tests run in Node; the browser tests (test/e2e) run under Playwright.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**', 'dist/**'],
    environment: 'node',
    // Numerical checks (finite differences, training runs) are CPU-bound: on a busy 2-core machine
    // they can take several times longer than on an idle one.
    testTimeout: 60_000,
  },
});

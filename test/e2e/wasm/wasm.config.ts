// Playwright configuration for the WebAssembly kernel tests alone (`npx playwright test -c
// test/e2e/wasm/wasm.config.ts`): no app server needed. The spec sets its own launch options, so
// it runs the same under the project's playwright.config.ts.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '..',
  testMatch: /wasm-kernels\.spec\.ts$/,
  timeout: 120_000,
  workers: 1,
  reporter: 'list',
});

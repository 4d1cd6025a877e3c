// Playwright configuration for the WebGL backend tests alone (`npx playwright test -c
// test/e2e/webgl.config.ts`). The specs set their own browser launch options, so they run the
// same under the project's playwright.config.ts.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /webgl.*\.spec\.ts$/,
  timeout: 60_000,
  workers: 1,
  reporter: 'list',
});

import { defineConfig } from '@playwright/test';
import { BASE_FLAGS, CHROMIUM_PATH, FAKE_CAMERA_FLAGS, WEBGL_FLAGS } from './scripts/chromium-flags.ts';

// Browser tests run the built app (`npm run build` first; `npm run test:e2e` does both) in
// Debian's Chromium: Playwright's own browser downloads are not available here.
const PORT = Number(process.env.E2E_PORT ?? 4791);
const BASE_URL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.spec.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    trace: 'off',
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      // headless=new comes from `headless: true`; the rest is the shared set.
      args: [...BASE_FLAGS.filter((f) => !f.startsWith('--headless')), ...WEBGL_FLAGS, ...FAKE_CAMERA_FLAGS],
    },
  },
  webServer: {
    // E2E_DIST_DIR: serve another build than dist/ (as the tests' helpers read it).
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort${process.env.E2E_DIST_DIR ? ` --outDir ${JSON.stringify(process.env.E2E_DIST_DIR)}` : ''}`,
    url: BASE_URL,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});

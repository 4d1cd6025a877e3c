// Where WebGL2 is unavailable (the software rasteriser disabled, no GPU), createSession('auto')
// serves from the CPU and says why, in a worker and in a page.
import { expect, test, type Page } from '@playwright/test';
import { callPage, callWorker, openHarness, noWebglLaunch } from './webgl/harness.ts';

test.use({ launchOptions: noWebglLaunch });
test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openHarness(page);
});

test.afterAll(async () => {
  await page.close();
});

for (const where of ['worker', 'page'] as const) {
  test(`no WebGL2 in a ${where}: CPU backend with the reason`, async () => {
    const call = where === 'worker' ? callWorker : callPage;
    const r = await call(page, 'autoBackend', undefined);
    expect(r.webgl2).toBe(false);
    expect(r.backend).toBe('cpu');
    expect(r.reason).toMatch(/WebGL2 is unavailable/);
    expect(r.output).toHaveLength(10);
    expect(Math.abs(r.output.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
  });
}

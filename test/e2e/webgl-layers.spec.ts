// Every layer kind on WebGL2 (SwiftShader, in a dedicated worker) against the CPU backend, on a
// table of shapes: max abs diff ≤ 1e-4.
import { expect, test, type Page } from '@playwright/test';
import { LAYER_CASES } from './webgl/cases.ts';
import { callWorker, openHarness, webglLaunch } from './webgl/harness.ts';

test.use({ launchOptions: webglLaunch });
test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openHarness(page);
  const env = await callWorker(page, 'env', undefined);
  expect(env.inWorker).toBe(true);
  expect(env.webgl2, 'WebGL2 in the worker').toBe(true);
});

test.afterAll(async () => {
  await page.close();
});

for (const c of LAYER_CASES) {
  test(c.name, async () => {
    const r = await callWorker(page, 'layerCase', { name: c.name });
    expect(r.maxRef, `reference values of ${r.outShape} are not all ~0`).toBeGreaterThan(0.05);
    expect(r.maxDiff, r.at).toBeLessThanOrEqual(1e-4);
  });
}

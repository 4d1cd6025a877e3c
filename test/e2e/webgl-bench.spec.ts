// Timing of the WebGL2 backend in a worker (measured and printed, not asserted): batch-1 latency
// with a synchronous readPixels and with a pixel-pack buffer + fence, the CPU backend, batches.
import { expect, test } from '@playwright/test';
import { callWorker, openHarness, webglLaunch } from './webgl/harness.ts';

test.use({ launchOptions: webglLaunch });

test('classic net latency in a worker (measurement)', async ({ page }) => {
  await openHarness(page);
  const r = await callWorker(page, 'bench', { iterations: 300 });
  console.log(JSON.stringify(r, null, 2));
  expect(r.renderFormat).toBe('rgba32f');
});

test('classic net time per pass in a worker (measurement)', async ({ page }) => {
  await openHarness(page);
  const r = await callWorker(page, 'profile', { iterations: 100 });
  for (const p of r) console.log(`${p.name}: median ${p.median.toFixed(2)} ms, min ${p.min.toFixed(2)} ms`);
  expect(r.length).toBeGreaterThan(1);
});

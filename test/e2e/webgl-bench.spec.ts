// Timing of the WebGL2 backend in a worker (measured and printed, not asserted; figures are kept
// in notes/webgl.md): batch-1 latency with a synchronous readPixels and with a pixel-pack buffer
// + fence, the CPU backend, batches, and the time of each pass.
import { expect, test } from '@playwright/test';
import { callWorker, openHarness, webglLaunch } from './webgl/harness.ts';

test.use({ launchOptions: webglLaunch });

test('classic net latency in a worker (measurement)', async ({ page }) => {
  test.setTimeout(120_000);
  await openHarness(page);
  const r = await callWorker(page, 'bench', { iterations: 200 });
  console.log(JSON.stringify(r, null, 2));
  expect(r.renderFormat).toBe('rgba32f');
  const passes = await callWorker(page, 'profile', { iterations: 60 });
  for (const p of passes) console.log(`${p.name}: median ${p.median.toFixed(2)} ms, min ${p.min.toFixed(2)} ms`);
  expect(passes.length).toBeGreaterThan(1);
});

// The classic CIFAR net on WebGL2 against the CPU backend (worker and page), a forced context
// loss mid-stream, and the half-float render path (reported).
import { expect, test, type Page } from '@playwright/test';
import { callPage, callWorker, openHarness, webglLaunch } from './webgl/harness.ts';

test.use({ launchOptions: webglLaunch });
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
  test(`classic CIFAR net in a ${where}: predict, predictBatch and features at every depth match the CPU`, async () => {
    const call = where === 'worker' ? callWorker : callPage;
    const r = await call(page, 'fullNet', { seed: 42, images: where === 'worker' ? 10 : 3 });
    expect(r.renderFormat).toBe('rgba32f');
    expect(r.predict.maxRef).toBeGreaterThan(0.2); // softmax outputs that are not uniform 0.1
    expect(r.predict.maxDiff, r.predict.at).toBeLessThanOrEqual(1e-4);
    expect(r.batch.maxDiff, r.batch.at).toBeLessThanOrEqual(1e-4);
    expect(r.features).toHaveLength(8);
    for (const f of r.features) {
      expect(f.maxRef, `features upTo ${f.upTo}`).toBeGreaterThan(0.05);
      expect(f.maxDiff, f.at).toBeLessThanOrEqual(1e-4);
    }
    console.log(`classic net (${where}, ${r.renderer}): load ${r.loadMs.toFixed(0)} ms, predict max diff ${r.predict.maxDiff.toExponential(2)}`);
  });
}

test('context loss mid-stream: every frame is answered, by the CPU while lost, and WebGL returns after restore', async () => {
  const r = await callWorker(page, 'contextLoss', { loseAt: 8, cpuFrames: 6, webglFramesAfter: 8, maxFrames: 400, frameMs: 4 });
  console.log(`frames ${r.frames}: ${r.served}; changes: ${r.changes.map((c) => `#${c.frame} → ${c.backend} (${c.reason})`).join('; ')}`);
  expect(r.initialReason).toMatch(/WebGL2/);
  expect(r.failures).toEqual([]);
  expect(r.maxDiff).toBeLessThanOrEqual(1e-4);
  expect(r.sameBuffer).toBe(true);
  // webgl for the first 8 frames, then the CPU from the very frame of the loss, then webgl again
  expect(r.served).toMatch(/^webgl×8 cpu×(\d+) webgl×8$/);
  expect(r.lostEventSeen).toBe(true);
  expect(r.changes.map((c) => c.backend)).toEqual(['cpu', 'webgl']);
  expect(r.changes[0].frame).toBe(8);
  expect(r.changes[0].reason).toMatch(/lost/i);
  expect(r.changes[1].reason).toMatch(/restored/i);
});

test('half-float render targets (forced): error against the CPU is reported', async () => {
  const r = await callWorker(page, 'halfFloat', { seed: 42, images: 8 });
  expect(r.renderFormat).toBe('rgba16f');
  console.log(`RGBA16F: probabilities max abs diff ${r.predict.maxDiff.toExponential(2)}, logits ${r.logits.maxDiff.toExponential(2)} (max |logit| ${r.logits.maxRef.toFixed(2)})`);
  // Half floats keep ~3 significant digits: far from exact, but not garbage.
  expect(r.logits.maxDiff).toBeGreaterThan(0);
  expect(r.logits.maxDiff).toBeLessThan(0.05 * r.logits.maxRef);
});

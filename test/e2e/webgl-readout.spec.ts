// Multi-scale readout models on WebGL2 against the CPU backend, in a page and in a dedicated
// worker: predictions, batches and readout features (the model's own and one given per call).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, test } from '@playwright/test';
import { ORIGIN, webglLaunch } from './webgl/harness.ts';
import type { Diff } from './webgl/readout-check.ts';

test.use({ launchOptions: webglLaunch });

async function openHarness(page: import('@playwright/test').Page): Promise<void> {
    const bundled = await build({
      entryPoints: [fileURLToPath(new URL('./webgl/readout-check.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const code = bundled.outputFiles[0].text;
    await page.route(`${ORIGIN}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><script src="/readout.js"></script>' });
      if (path === '/readout.js') return route.fulfill({ contentType: 'text/javascript', body: code });
      return route.fulfill({ status: 404, body: 'not found' });
    });
    await page.goto(`${ORIGIN}/`);
}

for (const where of ['page', 'worker'] as const) {
  test(`readout models in a ${where}: WebGL2 matches the CPU to 1e-4`, async ({ page }) => {
    await openHarness(page);
    const r = (await page.evaluate(([w, a]) => (globalThis as any)[w === 'page' ? 'callPage' : 'callWorker']('readoutCheck', a), [where, { seed: 5, images: 3 }] as const)) as {
      diffs: Diff[];
      renderer: string;
    };
    expect(r.diffs.length).toBeGreaterThan(10);
    for (const d of r.diffs) {
      expect(d.maxRef, d.what).toBeGreaterThan(0.01); // real values, not zeros
      expect(d.maxDiff, d.at).toBeLessThanOrEqual(1e-4);
    }
    const worst = r.diffs.reduce((a, b) => (b.maxDiff > a.maxDiff ? b : a));
    console.log(`readout on WebGL2 (${where}, ${r.renderer}): ${r.diffs.length} comparisons, worst ${worst.maxDiff.toExponential(2)} (${worst.what})`);
  });
}

for (const where of ['page', 'worker'] as const) {
  test(`inside maps in a ${where}: every layer's output of the WebGL2 pass matches the CPU to 1e-4`, async ({ page }) => {
    await openHarness(page);
    const r = (await page.evaluate(([w, a]) => (globalThis as any)[w === 'page' ? 'callPage' : 'callWorker']('insideCheck', a), [where, { seed: 6, images: 2 }] as const)) as {
      diffs: Diff[];
      renderer: string;
      fused: number;
      timed: number;
    };
    // 3 models × 2 images × (answer + every layer + readout + predict after).
    expect(r.diffs.length).toBeGreaterThan(40);
    for (const d of r.diffs) {
      expect(d.maxRef, d.what).toBeGreaterThan(1e-3); // real values, not zeros
      expect(d.maxDiff, d.at).toBeLessThanOrEqual(1e-4);
    }
    // predict's plan fuses pools into convs: their time is the conv's; every pass takes time.
    expect(r.fused).toBeGreaterThan(0);
    expect(r.timed).toBeGreaterThan(0);
    const worst = r.diffs.reduce((a, b) => (b.maxDiff > a.maxDiff ? b : a));
    console.log(`inside maps on WebGL2 (${where}, ${r.renderer}): ${r.diffs.length} comparisons, worst ${worst.maxDiff.toExponential(2)} (${worst.what})`);
  });
}

// The WebAssembly SIMD kernels in real Chromium: they load in a page and in a dedicated worker
// (inline module, no fetch), agree with the TypeScript kernels, and are timed next to the
// TypeScript kernels and TF.js' wasm backend on the same weights (printed, not asserted; figures
// are kept in notes/wasm.md). The in-browser code is bundled with esbuild and served from a
// private origin through request routing, so no server or build is needed.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, test, type Page } from '@playwright/test';
import type { Procedures } from './wasm/procedures.ts';
import { BASE_FLAGS, CHROMIUM_PATH } from '../../scripts/chromium-flags.ts';

const ORIGIN = 'http://wasm-kernels.test';
const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm kernels</title><script src="/harness.js"></script>`;
const TFJS_WASM_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: BASE_FLAGS,
  },
});

async function openHarness(page: Page): Promise<void> {
  const code = (
    await build({
      entryPoints: [fileURLToPath(new URL('./wasm/entry.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
  ).outputFiles[0].text;
  await page.context().route(`${ORIGIN}/**`, async (route) => {
    const p = new URL(route.request().url()).pathname;
    if (p === '/') return route.fulfill({ contentType: 'text/html', body: PAGE });
    if (p === '/harness.js') return route.fulfill({ contentType: 'text/javascript', body: code });
    const wasmFile = /^\/tfjs\/(tfjs-backend-wasm[-a-z]*\.wasm)$/.exec(p);
    if (wasmFile) return route.fulfill({ contentType: 'application/wasm', body: await readFile(path.join(TFJS_WASM_DIR, wasmFile[1])) });
    return route.fulfill({ status: 404, body: 'not found' });
  });
  page.on('pageerror', (e) => console.error('[page error]', e));
  await page.goto(`${ORIGIN}/`);
}

type RunResult = Awaited<ReturnType<Procedures['run']>>;
const ARGS = { rounds: 30, block: 10, batchRounds: 4, tfjsWasmPrefix: `${ORIGIN}/tfjs/` };

function check(r: RunResult, where: string): void {
  console.log(JSON.stringify(r));
  expect(r.where).toBe(where);
  expect(r.simd).toBe(true);
  expect(r.kernelName).toBe('wasm-simd');
  expect(r.maxDiff).toBeLessThan(1e-5);
  expect(r.tfjsDiff).toBeLessThan(1e-4);
  for (const id of ['engine', 'engine-wasm', 'tfjs-wasm']) expect(r.timings[id]?.samples).toBe(ARGS.rounds);
}

test('SIMD kernels in a dedicated worker: agree with the TypeScript kernels; timing', async ({ page }) => {
  test.setTimeout(120_000);
  await openHarness(page);
  check(await page.evaluate((a) => (globalThis as any).callWorker('run', a), ARGS), 'worker');
});

test('SIMD kernels on the page main thread: agree with the TypeScript kernels; timing', async ({ page }) => {
  test.setTimeout(120_000);
  await openHarness(page);
  check(await page.evaluate((a) => (globalThis as any).callPage('run', a), ARGS), 'page');
});

// The built app in real Chromium: the engine answers from its worker with exactly the numbers it
// computes in Node, also runs unchanged on the page's main thread, and the app talks to no other
// origin (and still works offline once the service worker has installed).
import { expect, test, type Page } from '@playwright/test';
import { classicCifarSpec, CpuSession, initParams, type Model } from '../../src/engine/index.ts';
import { syntheticImage } from '../../src/app/synthetic-image.ts';
import { UNTRAINED_DEFAULT_SEED } from '../../src/worker/default-model.ts';
import { ENGINE_GLOBAL, engineScript } from './engine-bundle.ts';

const TOLERANCE = 1e-6;

function referenceModel(): Model {
  const spec = classicCifarSpec();
  return { spec, params: initParams(spec, UNTRAINED_DEFAULT_SEED) };
}

/** The probabilities the engine gives in this (Node) process for the page's test image. */
function nodeProbabilities(): Float32Array {
  return new CpuSession(referenceModel()).predict(syntheticImage(32, 32, 3)).slice();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Probabilities as the page shows them, indexed by class (each row holds the exact value). */
async function shownProbabilities(page: Page): Promise<number[]> {
  const rows = page.locator('tbody tr[data-index]');
  await expect(rows).toHaveCount(classicCifarSpec().labels.length);
  const pairs = await rows.evaluateAll((trs) => trs.map((tr) => [Number((tr as HTMLElement).dataset.index), Number((tr as HTMLElement).dataset.probability)]));
  const out = new Array<number>(pairs.length).fill(NaN);
  for (const [i, p] of pairs) out[i] = p;
  return out;
}

/** Fails the test on page errors and console errors (a CSP violation is logged as one). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

test('the worker classifies the test image with the same probabilities as the engine in Node', async ({ page }) => {
  const errors = watchErrors(page);
  const expected = nodeProbabilities();
  // A uniform output would make the comparison meaningless.
  expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);

  await page.goto('/');
  await expect(page.getByTestId('status')).toHaveText('ready');
  await expect(page.getByTestId('backend')).toHaveText('cpu (in a Web Worker)');
  await expect(page.getByTestId('untrained-notice')).toContainText('untrained');
  expect(page.workers().map((w) => w.url()).some((u) => /engine\.worker-[\w-]+\.js$/.test(u))).toBe(true);

  const shown = await shownProbabilities(page);
  const diff = maxAbsDiff(shown, expected);
  expect(diff, `max |worker − node| = ${diff}`).toBeLessThanOrEqual(TOLERANCE);
  await expect(page.getByTestId('top-label')).toHaveText(classicCifarSpec().labels[argmax(expected)]);
  const ms = Number(await page.getByTestId('inference-ms').textContent());
  expect(ms).toBeGreaterThan(0);

  // A second run reuses the buffer the worker handed back and gives the same answer.
  await page.getByRole('button', { name: 'Classify the test image again' }).click();
  await expect(page.getByTestId('status')).toHaveText('ready');
  expect(maxAbsDiff(await shownProbabilities(page), expected)).toBeLessThanOrEqual(TOLERANCE);
  expect(errors).toEqual([]);
});

test('the engine runs unchanged on the page main thread with the same probabilities as in Node', async ({ page }) => {
  const expected = nodeProbabilities();
  const script = await engineScript();
  await page.goto('/');
  await page.evaluate(script);
  const got = await page.evaluate(
    ({ name, seed, bytes }) => {
      // The bundle's exports, as seen from the page; typed loosely on purpose (plain script).
      const E = (globalThis as unknown as Record<string, typeof import('../../src/engine/index.ts')>)[name];
      const spec = E.classicCifarSpec();
      const session = new E.CpuSession({ spec, params: E.initParams(spec, seed) });
      return { probabilities: Array.from(session.predict(Uint8Array.from(bytes))), isWorker: typeof (globalThis as { document?: unknown }).document === 'undefined' };
    },
    { name: ENGINE_GLOBAL, seed: UNTRAINED_DEFAULT_SEED, bytes: Array.from(syntheticImage(32, 32, 3)) },
  );
  expect(got.isWorker).toBe(false);
  const diff = maxAbsDiff(got.probabilities, expected);
  expect(diff, `max |page − node| = ${diff}`).toBeLessThanOrEqual(TOLERANCE);
});

test('the app requests nothing from other origins and works offline after the first visit', async ({ page, context, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requested: string[] = [];
  context.on('request', (r) => requested.push(r.url()));
  const errors = watchErrors(page);

  await page.goto('/');
  await expect(page.getByTestId('status')).toHaveText('ready');
  const topOnline = await page.getByTestId('top-label').textContent();
  // Wait until the service worker has precached the app shell and controls the page.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }));
    }
  });

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('status')).toHaveText('ready');
  await expect(page.getByTestId('top-label')).toHaveText(topOnline ?? '');
  await context.setOffline(false);

  const local = requested.filter((u) => u.startsWith('data:') || u.startsWith('blob:') || new URL(u).origin === origin);
  expect(requested.filter((u) => !local.includes(u))).toEqual([]);
  // The listener really saw the app's traffic: the document, the worker and the service worker.
  expect(requested.some((u) => /engine\.worker-[\w-]+\.js$/.test(u))).toBe(true);
  expect(requested.some((u) => u.endsWith('/sw.js'))).toBe(true);
  expect(errors).toEqual([]);
});

// The browser part of `npm run bench`: the classic CIFAR net in headless Chromium, inside a
// dedicated worker, on this engine's WebGL2 backend, its CPU backend (WebAssembly SIMD kernels and
// TypeScript kernels) and TF.js 4.22's webgl, wasm and cpu backends, on the weights and images of
// the Node part.
//
// How: the worker (scripts/bench-browser/worker.ts) is bundled with esbuild into a temporary
// directory and served, with TF.js' .wasm files, by a small HTTP server on 127.0.0.1. The server
// sends COOP/COEP headers so the page is cross-origin isolated: performance.now() then has 5 µs
// steps instead of 100 µs, fine enough to time single predictions. Debian's Chromium is driven
// by Playwright with software WebGL2 (SwiftShader; see shared notes on this machine's browser).
//
// Measured, in this order:
// 1. time to the first result of each backend, each in a fresh worker (so no backend inherits
//    another's compiled kernels or shaders): building it (context, compilation, weight upload,
//    warm-up, self-tests) plus its first prediction;
// 2. in one worker: the outputs of all backends compared (batch 1 and batch 32, every pair), then
//    batch-1 latency and batch-32 throughput, the backends taking turns in a rotating order as in
//    the Node part;
// 3. where the engine's WebGL2 frame spends its time (upload, draws per pass, readback).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';
import { BROWSER_BACKENDS, type BrowserBackendId } from './bench-browser/contestants.ts';
import { maxAbsDiff } from './bench-stats.ts';
import { BASE_FLAGS, CHROMIUM_PATH, WEBGL_FLAGS } from './chromium-flags.ts';
import { startStaticServer } from './static-server.ts';
import type { BackendTiming, ColdResult, MainArgs, MainResult, WebglProfile } from './bench-browser/worker.ts';

export const CHROMIUM_ARGS = [...BASE_FLAGS, ...WEBGL_FLAGS];

/** Targets stated for the engine (reported, not asserted): our median ÷ TF.js' median. */
export const TARGETS = [
  { ours: 'engine-webgl', theirs: 'tfjs-webgl', atMost: 0.5 },
  { ours: 'engine-wasm', theirs: 'tfjs-wasm', atMost: 1.0 },
] as const satisfies readonly { ours: BrowserBackendId; theirs: BrowserBackendId; atMost: number }[];

export interface BrowserBenchOptions extends MainArgs {
  maxDiff: number;
  log: (line: string) => void;
  /** Default: $CHROMIUM_PATH or /usr/bin/chromium. */
  executablePath?: string;
}

export type BrowserBackendReport = BackendTiming & {
  first_ms: number;
  load_ms: number;
  first_predict_ms: number;
  /** Batch-1 median with the backend alone in its worker (after its first result, 10 warm-up runs). */
  solo_median_ms: number;
};

export interface BrowserReport {
  browser: string;
  where: 'dedicated worker';
  renderer: string;
  cross_origin_isolated: boolean;
  timer_resolution_ms: number;
  load_average_before: number;
  load_average_after: number;
  settings: MainArgs & { batch: number };
  backends: Record<BrowserBackendId, BrowserBackendReport>;
  targets: { ours: string; theirs: string; ratio: number; at_most: number; met: boolean }[];
  webgl_profile: WebglProfile & { dominant: string };
  max_abs_diff: number;
  max_abs_diff_pair: string;
  diffs: Record<string, number>;
  outputs_agree: boolean;
  /** Wall time of each step, seconds (bundle, launch, first results, then the main worker's steps). */
  seconds: Record<string, number>;
}

/** Batch-1 predictions timed in each cold-start worker after its first result (solo_median_ms). */
const SOLO_PREDICTIONS = 40;

const TFJS_WASM_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

/** The page only starts workers: one per request, ended after its reply. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>engine benchmark</title>
<link rel="icon" href="data:,">
<script>
globalThis.runInWorker = (op, args) => new Promise((resolve, reject) => {
  const worker = new Worker('/worker.js');
  const end = (settle, value) => { worker.terminate(); settle(value); };
  worker.onmessage = (e) => e.data.ok ? end(resolve, e.data.value) : end(reject, new Error('in the worker: ' + e.data.error));
  worker.onerror = (e) => end(reject, new Error('worker error: ' + e.message));
  worker.postMessage({ op, args });
});
</script>
`;

/** Serves `/` and `/worker.js` from `dir` and `/tfjs/*.wasm` from TF.js; nothing else. */
function serve(dir: string): Promise<{ server: Server; origin: string }> {
  return startStaticServer(
    (pathname) => {
      if (pathname === '/') return path.join(dir, 'index.html');
      if (pathname === '/worker.js') return path.join(dir, 'worker.js');
      const m = /^\/tfjs\/(tfjs-backend-wasm[-a-z]*\.wasm)$/.exec(pathname);
      return m ? path.join(TFJS_WASM_DIR, m[1]) : null;
    },
    { isolated: true },
  );
}

export async function runBrowserBench(options: BrowserBenchOptions): Promise<BrowserReport> {
  const { log } = options;
  const seconds: Record<string, number> = {};
  let mark = performance.now();
  const step = (name: string) => {
    const now = performance.now();
    seconds[name] = (now - mark) / 1000;
    mark = now;
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-browser-'));
  let server: Server | null = null;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    await build({
      entryPoints: [fileURLToPath(new URL('./bench-browser/worker.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      target: 'es2022',
      outfile: path.join(dir, 'worker.js'),
      logLevel: 'silent',
    });
    await writeFile(path.join(dir, 'index.html'), PAGE);
    step('bundle');
    const served = await serve(dir);
    server = served.server;

    const executablePath = options.executablePath ?? CHROMIUM_PATH;
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log(`[browser console] ${m.text()}`);
    });
    await page.goto(`${served.origin}/`);
    const call = <T>(op: 'cold' | 'main', args: unknown): Promise<T> =>
      page.evaluate(([o, a]) => (globalThis as unknown as { runInWorker: (op: string, args: unknown) => Promise<unknown> }).runInWorker(o, a), [op, args] as const) as Promise<T>;

    // The GPU process starts with the first WebGL context; start it here so that neither WebGL
    // backend's first result includes it.
    const renderer = await page.evaluate(() => {
      const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
      if (!gl) return null;
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
      gl.getExtension('WEBGL_lose_context')?.loseContext();
      return name;
    });
    if (renderer === null) throw new Error(`no WebGL2 in ${executablePath} with ${CHROMIUM_ARGS.join(' ')}`);
    step('launch');

    const loadBefore = os.loadavg()[0];
    log(`browser: first results, each backend in a fresh worker (load average ${loadBefore.toFixed(2)})…`);
    const cold = new Map<BrowserBackendId, ColdResult>();
    for (const id of BROWSER_BACKENDS) {
      const c = await call<ColdResult>('cold', { id, solo: SOLO_PREDICTIONS });
      log(`  ${id}: first result in ${c.first_ms.toFixed(0)} ms`);
      cold.set(id, c);
    }
    step('first_results');

    const mainArgs: MainArgs = {
      rounds: options.rounds,
      block: options.block,
      batchRounds: options.batchRounds,
      profileIterations: options.profileIterations,
    };
    log(`browser: agreement, then batch 1 (${mainArgs.rounds} rounds × ${mainArgs.block}), batch 32 (${mainArgs.batchRounds} rounds × 2), WebGL2 profile…`);
    const main = await call<MainResult>('main', mainArgs);
    step('main_worker');
    Object.assign(seconds, Object.fromEntries(Object.entries(main.phases).map(([k, v]) => [`main_worker.${k}`, v])));
    const loadAfter = os.loadavg()[0];
    const version = browser.version();

    const diffs: Record<string, number> = { ...main.diffs };
    for (const [id, c] of cold) diffs[`${id} first result vs engine`] = maxAbsDiff(c.first_output, main.reference_first, `${id} first result vs engine`);
    const [worstPair, maxDiff] = Object.entries(diffs).reduce((x, y) => (y[1] > x[1] ? y : x));

    const backends = Object.fromEntries(
      BROWSER_BACKENDS.map((id) => {
        const c = cold.get(id)!;
        return [
          id,
          { ...main.backends[id], first_ms: c.first_ms, load_ms: c.load_ms, first_predict_ms: c.first_predict_ms, solo_median_ms: c.solo_median_ms },
        ];
      }),
    ) as Record<BrowserBackendId, BrowserBackendReport>;
    const targets = TARGETS.map((t) => {
      const ratio = backends[t.ours].median_ms / backends[t.theirs].median_ms;
      return { ours: t.ours, theirs: t.theirs, ratio, at_most: t.atMost, met: ratio <= t.atMost };
    });
    const p = main.webgl;
    const shares: [string, number][] = [
      ['upload', p.upload_ms],
      ['draws', p.draws_ms],
      ['readback', p.readback_ms],
      ['unpack', p.unpack_ms],
    ];
    const dominant = shares.reduce((x, y) => (y[1] > x[1] ? y : x))[0];

    return {
      browser: `Chromium ${version}`,
      where: 'dedicated worker',
      renderer,
      cross_origin_isolated: main.crossOriginIsolated,
      timer_resolution_ms: main.timer_resolution_ms,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      settings: { ...mainArgs, batch: 32 },
      backends,
      targets,
      webgl_profile: { ...p, dominant },
      max_abs_diff: maxDiff,
      max_abs_diff_pair: worstPair,
      diffs,
      outputs_agree: maxDiff <= options.maxDiff,
      seconds,
    };
  } finally {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (v: number, digits: number) => v.toFixed(digits);

/** The browser part as markdown, like the Node part's table. */
export function browserReportLines(r: BrowserReport, maxDiffLimit: number): string[] {
  const p = r.webgl_profile;
  const share = (v: number) => `${fmt((100 * v) / p.predict_ms, 0)} %`;
  return [
    `${r.browser}, ${r.where}, WebGL2 on ${r.renderer}; ` +
      `${r.cross_origin_isolated ? 'cross-origin isolated' : 'not cross-origin isolated'} (timer step ${fmt(r.timer_resolution_ms * 1000, 0)} µs); ` +
      `load average ${fmt(r.load_average_before, 2)} → ${fmt(r.load_average_after, 2)}.`,
    '',
    '| backend | runs on | batch 1 median (ms) | batch 1 p95 (ms) | batch 32 (images/s) | first result (ms) |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...BROWSER_BACKENDS.map((id) => {
      const b = r.backends[id];
      return `| ${id} | ${b.runsOn} | ${fmt(b.median_ms, 3)} | ${fmt(b.p95_ms, 3)} | ${fmt(b.images_per_s, 0)} | ${fmt(b.first_ms, 0)} |`;
    }),
    '',
    `Batch 1: ${r.settings.rounds * r.settings.block} timed predictions per backend (${r.settings.rounds} interleaved rounds of ${r.settings.block}); ` +
      `batch ${r.settings.batch}: ${r.settings.batchRounds * 2} timed batches per backend. First result: a fresh worker builds the backend ` +
      `(context, compilation, weight upload, warm-up, self-tests) and predicts one image.`,
    `Batch-1 median with the backend alone in its worker (${SOLO_PREDICTIONS} predictions after its first result), ms: ` +
      BROWSER_BACKENDS.map((id) => `${id} ${fmt(r.backends[id].solo_median_ms, 3)}`).join(', ') +
      '.',
    ...r.targets.map(
      (t) => `Target: ${t.ours} batch-1 median ÷ ${t.theirs}'s = ${fmt(t.ratio, 2)}× (target ≤ ${fmt(t.at_most, 1)}×: ${t.met ? 'met' : 'not met'}).`,
    ),
    `engine-webgl frame, median ms over ${p.iterations} iterations: predict ${fmt(p.predict_ms, 2)} = upload ${fmt(p.upload_ms, 3)} (${share(p.upload_ms)}) ` +
      `+ draws ${fmt(p.draws_ms, 2)} (${share(p.draws_ms)}; ${p.passes.map((x) => `${x.name} ${fmt(x.ms, 2)}`).join(', ')}) ` +
      `+ readback ${fmt(p.readback_ms, 2)} (${share(p.readback_ms)}; a 1-pixel round trip alone ${fmt(p.round_trip_ms, 2)}) ` +
      `+ unpack ${fmt(p.unpack_ms, 3)}: the ${p.dominant} dominate${p.dominant === 'draws' ? '' : 's'}.`,
    `Outputs agree: largest |difference| between probabilities ${r.max_abs_diff.toExponential(2)} (${r.max_abs_diff_pair}), ` +
      `limit ${maxDiffLimit.toExponential(0)}: ${r.outputs_agree ? 'ok' : 'FAILED'}.`,
  ];
}

// Live-app pipeline benchmark: the built app (vite build) in headless Chromium with Chromium's fake
// camera, measured end to end while frames flow: camera frame → 32×32×3 sampling on the page →
// Comlink worker → prediction → UI update.
//
// The app itself is not instrumented. A probe added to the page before the app loads wraps the
// two places where the page does per-frame work:
//   - requestVideoFrameCallback: the app's frame callback (the frame pump: when no frame is in
//     flight it samples the frame, draws the 32×32 inset and posts it to the worker) is timed;
//   - the engine worker's answers: one message listener added before Comlink's and one added after
//     it. Microtasks run after each listener returns, so the span between the two covers Comlink's
//     handling, the app's answer handling (smoothing, stats), the next frame's sampling and
//     posting when one is waiting, and Svelte's DOM update.
// Main-thread time per frame is the sum of those spans since the previous answer, recorded at each
// answer. Capture-to-result latency runs from the frame's capture time (the video frame metadata
// the app uses too) to the end of that answer's handling; capture-to-display adds the wait for the
// next animation frame. The sampler's canvas calls (drawImage, getImageData on OffscreenCanvas)
// are timed too, to show how much of the main-thread time is reading the camera frame. Frames per second counts answers over the measured window. Style, layout
// and paint of the updated DOM are the browser's own work and are not in main-thread time.
//
// Where the app reads camera frames matters most here: with VideoFrame (Chromium has it) the page
// only wraps the frame on screen in a VideoFrame and transfers it, and the worker reads its pixels;
// without it the page draws the video onto canvases and reads them back. The worker's own time
// reducing a frame (result.sampleMs) is taken from its answers. As a cross-check that no per-frame
// work escapes the probe, Chromium's own count of the page's main-thread task time
// (Performance.getMetrics TaskDuration, over the window: style, layout, paint and timers included)
// is divided by the answers. Setting BENCH_PIPELINE_SAMPLING=app,page also measures each backend
// with VideoFrame hidden from the page (the app's fallback: sampling on the page).
//
// Each backend setting ('cpu': WebAssembly kernels; 'auto': what the app picks, WebGL2 here on
// SwiftShader) runs in a fresh browser context: settings in localStorage, camera started, a
// warm-up, then the measured window. The app's own figures (its answers-per-second and smoothed
// latency read-outs, its frame counters) are read at the end as a cross-check.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type CDPSession, type Page } from '@playwright/test';
import { BASE_FLAGS, CHROMIUM_PATH, FAKE_CAMERA_FLAGS, WEBGL_FLAGS } from './chromium-flags.ts';
import { percentile } from './bench-stats.ts';
import { startStaticServer } from './static-server.ts';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const SETTINGS_KEY = 'edge-classifier.settings.v1';

export const PIPELINE_CHROMIUM_ARGS = [...BASE_FLAGS, ...WEBGL_FLAGS, ...FAKE_CAMERA_FLAGS];

export type PipelineBackend = 'cpu' | 'auto' | 'webgl';
/** 'app': as the app chooses; 'page': VideoFrame hidden from the page, so the app samples there. */
export type PipelineSampling = 'app' | 'page';

export interface PipelineOptions {
  /** Measured window per backend, seconds. */
  seconds: number;
  /** Frames flowing before the window opens, seconds. */
  warmupSeconds: number;
  backends: PipelineBackend[];
  /** Default: $BENCH_PIPELINE_SAMPLING (comma-separated) or ['app']. */
  sampling?: PipelineSampling[];
  /** A built app to serve; default: build one into a temporary folder. */
  dist?: string;
  /** Default: $CHROMIUM_PATH or /usr/bin/chromium. */
  executablePath?: string;
  /** Also measure each backend with the Inside panel open (default true). */
  inside?: boolean;
  log: (line: string) => void;
}

interface Quantiles {
  median: number;
  p95: number;
}

export interface PipelineRun {
  /** The setting asked for. */
  setting: PipelineBackend;
  /** Whether the Inside panel was open (live maps of every layer, a few frames a second). */
  inside: boolean;
  sampling: PipelineSampling;
  /** The backend the app reported using. */
  backend: string;
  /** Answers per second over the window. */
  fps: number;
  latency_ms: Quantiles;
  display_latency_ms: Quantiles;
  main_thread_ms: Quantiles;
  /** The part of main_thread_ms spent in the video frame callbacks (sampling and posting a frame that came while none was in flight). */
  frame_callback_ms: Quantiles;
  /** The rest: answer handling (with the next frame's sampling and posting when one was waiting) and the DOM update. */
  answer_ms: Quantiles;
  /** The part of main_thread_ms in the sampler's canvas calls (drawing the camera frame down to 128² and reading it back). */
  sampling_ms: Quantiles;
  /** The worker's time reducing a camera frame to the input bytes (frames read in the worker only). */
  worker_sampling_ms: Quantiles;
  /** Chromium's main-thread task time of the page over the window, divided by the answers (a mean). */
  main_thread_tasks_ms_per_answer: number;
  /** Answers in the window. */
  frames: number;
  window_s: number;
  /** Camera frames seen in the window (the most answers there could have been). */
  camera_frames: number;
  camera_fps: number;
  /** The app's own read-outs at the end of the window. */
  app: { fps: string; latency: string; inference: string; sent: number; answered: number; superseded: number; max_in_flight: number };
}

export interface PipelineReport {
  browser: string;
  camera: string;
  load_average: { before: number; after: number };
  runs: PipelineRun[];
  /** The first run's figures ('cpu' by default), for a one-line summary. */
  fps: number;
  /** Per setting: answers per second with the Inside panel open ÷ with it closed (goal ≥ 0.9). */
  inside_fps_ratio: Record<string, number>;
  latency_ms: Quantiles;
  main_thread_ms: Quantiles;
  frames: number;
}

/** The page-side probe (added before the app's scripts run). Rings are allocated once. */
const PROBE = `(() => {
  const N = 8192;
  const p = {
    recording: false, n: 0, acc: 0, accFrame: 0, accSample: 0, cameraFrames: 0, lastCapture: NaN, openedAt: 0,
    work: new Float64Array(N), frameWork: new Float64Array(N), sampleWork: new Float64Array(N), workerSample: new Float64Array(N), latency: new Float64Array(N), display: new Float64Array(N),
    captureById: new Map(), answerStart: NaN, answerId: null, answerSampleMs: NaN, paintFor: -1, paintAt: NaN,
  };
  globalThis.__pipelineProbe = p;
  const now = () => performance.now();
  const proto = HTMLVideoElement.prototype;
  const rvfc = proto.requestVideoFrameCallback;
  if (typeof rvfc === 'function') {
    proto.requestVideoFrameCallback = function (cb) {
      return rvfc.call(this, (t, meta) => {
        p.lastCapture = meta.captureTime ?? meta.presentationTime ?? t;
        if (p.recording) p.cameraFrames++;
        const t0 = now();
        try { cb(t, meta); } finally { const d = now() - t0; p.acc += d; p.accFrame += d; }
      });
    };
  }
  // The sampler's canvas calls (it draws on OffscreenCanvases): the share of the work that is
  // getting the camera frame's pixels.
  const ctx2d = globalThis.OffscreenCanvasRenderingContext2D && OffscreenCanvasRenderingContext2D.prototype;
  if (ctx2d) {
    for (const name of ['drawImage', 'getImageData']) {
      const f = ctx2d[name];
      ctx2d[name] = function (...args) {
        const t0 = now();
        try { return f.apply(this, args); } finally { p.accSample += now() - t0; }
      };
    }
  }
  const painted = () => {
    if (p.paintFor >= 0) p.display[p.paintFor] = now() - p.paintAt;
    p.paintFor = -1;
  };
  const NativeWorker = globalThis.Worker;
  const first = (e) => {
    const id = e.data && e.data.id;
    if (id && p.captureById.has(id)) {
      p.answerStart = now();
      p.answerId = id;
      const v = e.data.value;
      p.answerSampleMs = v && typeof v.sampleMs === 'number' ? v.sampleMs : NaN;
    }
  };
  const last = (e) => {
    const id = p.answerId;
    if (id === null || !(e.data && e.data.id === id)) return;
    const end = now();
    p.acc += end - p.answerStart;
    const capture = p.captureById.get(id);
    p.captureById.delete(id);
    p.answerId = null;
    if (p.recording && p.n < N) {
      p.work[p.n] = p.acc;
      p.frameWork[p.n] = p.accFrame;
      p.sampleWork[p.n] = p.accSample;
      p.workerSample[p.n] = p.answerSampleMs;
      p.latency[p.n] = end - capture;
      p.display[p.n] = NaN;
      if (p.paintFor < 0) requestAnimationFrame(painted);
      p.paintFor = p.n;
      p.paintAt = capture;
      p.n++;
    }
    p.acc = 0;
    p.accFrame = 0;
    p.accSample = 0;
  };
  globalThis.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', first);
      this.__lastAdded = false;
    }
  };
  const post = NativeWorker.prototype.postMessage;
  NativeWorker.prototype.postMessage = function (message, transfer) {
    // Comlink adds its listener when it wraps the worker, before its first call: the closing
    // listener goes after it.
    if (this.__lastAdded === false) { this.addEventListener('message', last); this.__lastAdded = true; }
    if (message && message.type === 'APPLY' && Array.isArray(message.path) && (message.path[0] === 'predict' || message.path[0] === 'predictFrame')) {
      p.captureById.set(message.id, p.lastCapture);
    }
    return post.call(this, message, transfer);
  };
})();`;

interface ProbeReading {
  n: number;
  cameraFrames: number;
  window: number;
  work: number[];
  frameWork: number[];
  sampleWork: number[];
  workerSample: number[];
  latency: number[];
  display: number[];
}

function quantiles(values: number[]): Quantiles {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, p95: NaN };
  return { median: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) };
}

/** Serves `dir` on a free localhost port; unknown paths get index.html (as `vite preview` does). */
function serveStatic(dir: string): Promise<{ server: Server; origin: string }> {
  return startStaticServer(async (pathname) => {
    const file = path.join(dir, decodeURIComponent(pathname));
    if (!file.startsWith(dir + path.sep) && file !== dir) return null;
    const s = await stat(file).catch(() => null);
    return !s || s.isDirectory() ? path.join(dir, 'index.html') : file;
  });
}

function buildApp(outDir: string): void {
  const r = spawnSync('npx', ['vite', 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vite build into ${outDir} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
}

/** Page's main-thread task time so far, ms (Chromium's Performance domain). */
async function taskMs(cdp: CDPSession): Promise<number> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  const m = metrics.find((x) => x.name === 'TaskDuration');
  if (!m) throw new Error(`pipeline: Chromium reported no TaskDuration among ${metrics.map((x) => x.name).join(', ')}`);
  return m.value * 1000;
}

async function measure(browser: Browser, origin: string, setting: PipelineBackend, sampling: PipelineSampling, options: PipelineOptions, inside = false): Promise<PipelineRun> {
  // No service worker: its precaching would run during the measurement.
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1000, height: 900 } });
  try {
    const page: Page = await context.newPage();
    page.on('pageerror', (e) => options.log(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') options.log(`[browser console] ${m.text()}`);
    });
    await context.addInitScript(
      ([key, value]) => localStorage.setItem(key, value),
      [SETTINGS_KEY, JSON.stringify({ backend: setting, camera: { kind: 'facing', facing: 'user' }, cameraOn: false })] as const,
    );
    await context.addInitScript(PROBE);
    if (sampling === 'page') await context.addInitScript('delete globalThis.VideoFrame;');
    await page.goto(`${origin}/`);
    await page.getByTestId('app-ready').waitFor({ state: 'visible', timeout: 30_000 });
    await page.getByRole('button', { name: 'Start camera' }).click();
    await page.getByTestId('live-top-label').waitFor({ state: 'visible', timeout: 30_000 });
    if (inside) {
      await page.getByTestId('inside-panel').locator('summary').click();
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="inside-frames"]')?.textContent ?? 0) > 0, undefined, { timeout: 30_000 });
    }
    await page.waitForTimeout(options.warmupSeconds * 1000);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const tasksBefore = await taskMs(cdp);
    await page.evaluate(() => {
      const p = (globalThis as unknown as { __pipelineProbe: { recording: boolean; openedAt: number } }).__pipelineProbe;
      p.openedAt = performance.now();
      p.recording = true;
    });
    await page.waitForTimeout(options.seconds * 1000);
    const reading = await page.evaluate((): ProbeReading => {
      const p = (
        globalThis as unknown as {
          __pipelineProbe: {
            recording: boolean;
            openedAt: number;
            n: number;
            cameraFrames: number;
            work: Float64Array;
            frameWork: Float64Array;
            sampleWork: Float64Array;
            workerSample: Float64Array;
            latency: Float64Array;
            display: Float64Array;
          };
        }
      ).__pipelineProbe;
      p.recording = false;
      const n = p.n;
      return {
        n,
        cameraFrames: p.cameraFrames,
        window: performance.now() - p.openedAt,
        work: Array.from(p.work.subarray(0, n)),
        frameWork: Array.from(p.frameWork.subarray(0, n)),
        sampleWork: Array.from(p.sampleWork.subarray(0, n)),
        workerSample: Array.from(p.workerSample.subarray(0, n)),
        latency: Array.from(p.latency.subarray(0, n)),
        display: Array.from(p.display.subarray(0, n)),
      };
    });
    const tasks = (await taskMs(cdp)) - tasksBefore;
    // Let the stats read-out (refreshed every 500 ms) catch up before reading the app's own figures.
    await page.waitForTimeout(600);
    const text = async (id: string) => ((await page.getByTestId(id).textContent()) ?? '').trim();
    const d = await page.getByTestId('diagnostics').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    const app = {
      fps: await text('live-fps'),
      latency: await text('live-latency'),
      inference: await text('live-inference'),
      sent: Number(d.sent),
      answered: Number(d.answered),
      superseded: Number(d.superseded),
      max_in_flight: Number(d.maxInFlight),
    };
    const backend = await text('live-backend');
    if (reading.n < 2) throw new Error(`pipeline (${setting}): only ${reading.n} answers in ${(reading.window / 1000).toFixed(1)} s of camera frames`);
    const windowS = reading.window / 1000;
    return {
      setting,
      inside,
      sampling,
      backend,
      fps: reading.n / windowS,
      latency_ms: quantiles(reading.latency),
      display_latency_ms: quantiles(reading.display),
      main_thread_ms: quantiles(reading.work),
      frame_callback_ms: quantiles(reading.frameWork),
      answer_ms: quantiles(reading.work.map((w, i) => w - reading.frameWork[i])),
      sampling_ms: quantiles(reading.sampleWork),
      worker_sampling_ms: quantiles(reading.workerSample),
      main_thread_tasks_ms_per_answer: tasks / reading.n,
      frames: reading.n,
      window_s: windowS,
      camera_frames: reading.cameraFrames,
      camera_fps: reading.cameraFrames / windowS,
      app,
    };
  } finally {
    await context.close();
  }
}

function samplingFromEnv(): PipelineSampling[] {
  const raw = process.env.BENCH_PIPELINE_SAMPLING;
  if (!raw) return ['app'];
  const list = raw.split(',').map((x) => x.trim());
  for (const x of list) if (x !== 'app' && x !== 'page') throw new Error(`BENCH_PIPELINE_SAMPLING: "${x}" is neither 'app' nor 'page' (in "${raw}")`);
  return list as PipelineSampling[];
}

export async function runPipelineBench(options: PipelineOptions): Promise<PipelineReport> {
  const { log } = options;
  let scratch: string | null = null;
  let server: Server | null = null;
  let browser: Browser | null = null;
  try {
    let dist = options.dist ? path.resolve(options.dist) : '';
    if (!dist) {
      scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-pipeline-'));
      dist = path.join(scratch, 'dist');
      log('pipeline: building the app (vite build)…');
      buildApp(dist);
    }
    const served = await serveStatic(dist);
    server = served.server;
    const executablePath = options.executablePath ?? CHROMIUM_PATH;
    browser = await chromium.launch({ executablePath, args: PIPELINE_CHROMIUM_ARGS });
    const before = os.loadavg()[0];
    const runs: PipelineRun[] = [];
    const samplings = options.sampling ?? samplingFromEnv();
    for (const sampling of samplings) {
      for (const setting of options.backends) {
        log(`pipeline: backend setting '${setting}', sampling '${sampling}', ${options.warmupSeconds} s warm-up + ${options.seconds} s of fake-camera frames (load average ${os.loadavg()[0].toFixed(2)})…`);
        const run = await measure(browser, served.origin, setting, sampling, options);
        log(
          `  ${run.backend}: ${run.fps.toFixed(1)} answers/s of ${run.camera_fps.toFixed(1)} camera frames/s, latency median ${run.latency_ms.median.toFixed(1)} ms, ` +
            `main thread median ${run.main_thread_ms.median.toFixed(2)} ms (p95 ${run.main_thread_ms.p95.toFixed(2)}), all main-thread tasks ${run.main_thread_tasks_ms_per_answer.toFixed(2)} ms per answer`,
        );
        runs.push(run);
        if (options.inside !== false && sampling === samplings[0]) {
          log(`pipeline: the same with the Inside panel open…`);
          const open = await measure(browser, served.origin, setting, sampling, options, true);
          log(`  ${open.backend}, Inside open: ${open.fps.toFixed(1)} answers/s (${((open.fps / run.fps) * 100).toFixed(0)} % of closed), latency median ${open.latency_ms.median.toFixed(1)} ms`);
          runs.push(open);
        }
      }
    }
    const after = os.loadavg()[0];
    const insideRatios: Record<string, number> = {};
    for (const r of runs.filter((x) => x.inside)) {
      const closed = runs.find((x) => !x.inside && x.setting === r.setting && x.sampling === r.sampling);
      if (closed) insideRatios[r.setting] = r.fps / closed.fps;
    }
    const head = runs[0];
    return {
      browser: `Chromium ${browser.version()}`,
      camera: "Chromium's fake camera (default pattern, --use-fake-device-for-media-stream)",
      load_average: { before, after },
      runs,
      fps: head.fps,
      inside_fps_ratio: insideRatios,
      latency_ms: head.latency_ms,
      main_thread_ms: head.main_thread_ms,
      frames: head.frames,
    };
  } finally {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');

export function pipelineReportLines(r: PipelineReport): string[] {
  return [
    `Live-app pipeline: the built app in headless ${r.browser}, ${r.camera}; camera frame → 32×32×3 sampling → worker → prediction → UI update. ` +
      `Load average ${r.load_average.before.toFixed(2)} → ${r.load_average.after.toFixed(2)}.`,
    '',
    '| setting | sampling | backend | answers/s | camera frames/s | capture→result median / p95 ms | capture→display median / p95 ms | main thread per frame median / p95 ms | of which canvas sampling on the page | all main-thread tasks per answer, mean ms | worker frame reduction median / p95 ms | frames | app shows |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.runs.map(
      (x) =>
        `| ${x.setting}${x.inside ? ', Inside open' : ''} | ${x.sampling} | ${x.backend} | ${f1(x.fps)} | ${f1(x.camera_fps)} | ${f1(x.latency_ms.median)} / ${f1(x.latency_ms.p95)} | ` +
        `${f1(x.display_latency_ms.median)} / ${f1(x.display_latency_ms.p95)} | ${f2(x.main_thread_ms.median)} / ${f2(x.main_thread_ms.p95)} | ${f2(x.sampling_ms.median)} / ${f2(x.sampling_ms.p95)} | ` +
        `${f2(x.main_thread_tasks_ms_per_answer)} | ${f1(x.worker_sampling_ms.median)} / ${f1(x.worker_sampling_ms.p95)} | ${x.frames} | ` +
        `${x.app.fps} /s, ${x.app.latency}, inference ${x.app.inference}, skipped ${x.app.superseded} of ${x.app.sent + x.app.superseded}, max in flight ${x.app.max_in_flight} |`,
    ),
    ...(Object.keys(r.inside_fps_ratio).length
      ? ['', `Inside panel open ÷ closed, answers per second: ${Object.entries(r.inside_fps_ratio).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} (goal ≥ 0.90).`]
      : []),
  ];
}

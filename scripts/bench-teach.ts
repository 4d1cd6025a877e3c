// The teaching part of `npm run bench`: how long teaching takes and how well it works.
//
// Time: the app's engine worker (workers/engine.worker.ts, bundled with esbuild) in headless
// Chromium, one worker per backend ('cpu': WebAssembly SIMD kernels; 'webgl': WebGL2, here on
// SwiftShader), reached through Comlink from a page as the app reaches it, with the default model
// (loadDefault). Each round trains the head on new examples from the CIFAR-10 subset (features
// computed) and then again on the same examples (features from the worker's cache), for 5 classes
// × 20 examples and 10 classes × 100; the backends take turns (scripts/bench-teach/rounds.ts).
// Reported: the time from calling train to holding its answer on the page, and the worker's own
// split (TeachResult.featureMs, trainMs, totalMs), as median and 95th percentile over the rounds.
// The same rounds run in this Node process on EngineHost directly ('cpu'), as a reference.
//
// Accuracy: `npm run cli -- fewshot` in this process, 5-way, 5 and 10 shots, on five classes the
// backbone model never saw (those of the dataset missing from its labels; with a model trained on
// all ten, such as the app's default, the last five, and the report says they were not held out),
// with the features the app trains on (multiscale) against the raw-pixel and colour-histogram
// baselines, over seeds 1…N.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';
import { EngineHost } from '../src/worker/engine-host.ts';
import { VIEW_COUNT } from '../src/worker/teach.ts';
import { loadModelFile } from '../src/node/model-io.ts';
import { BASE_FLAGS, CHROMIUM_PATH, WEBGL_FLAGS } from './chromium-flags.ts';
import { startStaticServer } from './static-server.ts';
import { stats, type Stats } from './bench-stats.ts';
import { runRounds, timeTraining, WORKLOADS, workloadName, type TeachDataset, type TeachSample, type Trainer } from './bench-teach/rounds.ts';
import type { BrowserTeachBackend, PageArgs, PageBackend, PageResult } from './bench-teach/page.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_MODEL_FILE = path.join(ROOT, 'public/models/default.cnn');
export const DEFAULT_TEACH_DATA = path.resolve(ROOT, '../shared/data/cifar10-4k');

/** Target stated for teaching: 5 classes × 20 examples, new examples, end to end. */
export const TARGET_5X20_MS = 300;

export type TeachTrainerId = BrowserTeachBackend | 'node';
export const TEACH_TRAINERS: readonly TeachTrainerId[] = ['cpu', 'webgl', 'node'];

export interface TeachBenchOptions {
  /** Which to time: browser workers on 'cpu' and 'webgl', and EngineHost in this process ('node'). */
  trainers: TeachTrainerId[];
  /** Rounds for 5×20 and for 10×100. */
  repeats: number;
  largeRepeats: number;
  /** The same for 'webgl', whose feature extraction on SwiftShader is some 10× slower. */
  webglRepeats: [number, number];
  seed: number;
  /** Folder with images.u8, labels.u8, meta.json. */
  data: string;
  /** Backbone for the few-shot accuracy (.cnn); seeds 1…fewshotSeeds (0: skip it). */
  fewshotModel: string;
  fewshotSeeds: number;
  log: (line: string) => void;
  executablePath?: string;
}

export interface TeachRow {
  where: 'browser worker' | 'node';
  backend: string;
  runs_on: string;
  workload: string;
  mode: 'fresh' | 'cached';
  end_to_end: Stats;
  features: Stats;
  training: Stats;
  worker_total: Stats;
  /** After the worker's training until the page holds the answer (TeachSample.install_ms). */
  install: Stats;
  /** Median epochs run (early stopping may end sooner) and held-out accuracy of the last round. */
  epochs: number;
  validation_accuracy: number | null;
}

export interface FewshotEntry {
  method: string;
  /** Accuracy per seed, by shots. */
  accuracy: Record<string, number[]>;
  mean: Record<string, number>;
}

export interface FewshotReport {
  model: string;
  model_labels: string[];
  classes: string[];
  /** Whether none of `classes` is among the backbone's training labels. */
  held_out: boolean;
  seeds: number[];
  shots: number[];
  features: string;
  entries: FewshotEntry[];
  seconds: number;
}

export interface TeachReport {
  browser: string | null;
  renderer: string | null;
  cross_origin_isolated: boolean | null;
  load_average_before: number[];
  load_average_after: number[];
  cores: number;
  settings: { repeats: Record<string, number[]>; seed: number; trainers: TeachTrainerId[]; data: string };
  model: string;
  /** loadDefault time and first training (5×20) per trainer. */
  first: Record<string, { load_ms: number; first_training_ms: number; runs_on: string }>;
  rows: TeachRow[];
  target: { workload: string; at_most_ms: number; results: { backend: string; median_ms: number; met: boolean }[] };
  fewshot: FewshotReport | null;
  samples: TeachSample[];
  seconds: Record<string, number>;
}

function loadTeachDataset(dir: string): TeachDataset {
  const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { count: number; height: number; width: number; channels: number; classes: string[] };
  const images = new Uint8Array(readFileSync(path.join(dir, 'images.u8')));
  const labels = new Uint8Array(readFileSync(path.join(dir, 'labels.u8')));
  const imageSize = meta.height * meta.width * meta.channels;
  if (images.length !== meta.count * imageSize || labels.length !== meta.count) {
    throw new Error(`${dir}: ${images.length} image bytes and ${labels.length} labels for ${meta.count} images of ${imageSize} bytes`);
  }
  return { images, labels, count: meta.count, imageSize, classNames: meta.classes };
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>teaching benchmark</title>
<link rel="icon" href="data:,">
<script type="module" src="/page.js"></script>
`;

/** Serves the page, its script, the engine worker, the default model and the dataset's three files. */
function serve(dir: string, dataDir: string): Promise<{ server: Server; origin: string }> {
  const files: Record<string, string> = {
    '/': path.join(dir, 'index.html'),
    '/page.js': path.join(dir, 'page.js'),
    '/engine.worker.js': path.join(dir, 'engine.worker.js'),
    '/models/default.cnn': DEFAULT_MODEL_FILE,
    '/data/images.u8': path.join(dataDir, 'images.u8'),
    '/data/labels.u8': path.join(dataDir, 'labels.u8'),
    '/data/meta.json': path.join(dataDir, 'meta.json'),
  };
  // Cross-origin isolated, as the browser benchmark's page: performance.now() in 5 µs steps.
  return startStaticServer((pathname) => files[pathname] ?? null, { isolated: true });
}

/** The browser workers' rounds. */
async function browserRounds(
  backends: BrowserTeachBackend[],
  args: PageArgs,
  options: TeachBenchOptions,
): Promise<{ result: PageResult; browser: string; renderer: string | null }> {
  const { log } = options;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-teach-'));
  let server: Server | null = null;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'silent' } as const;
    await build({ ...common, entryPoints: [fileURLToPath(new URL('./bench-teach/page.ts', import.meta.url))], outfile: path.join(dir, 'page.js') });
    // The app's worker entry as it is; Vite would set its base URL, here the server's root.
    await build({
      ...common,
      entryPoints: [path.join(ROOT, 'workers/engine.worker.ts')],
      outfile: path.join(dir, 'engine.worker.js'),
      define: { 'import.meta.env.BASE_URL': '"/"' },
    });
    await writeFile(path.join(dir, 'index.html'), PAGE);
    const served = await serve(dir, options.data);
    server = served.server;
    browser = await chromium.launch({
      executablePath: options.executablePath ?? CHROMIUM_PATH,
      args: backends.includes('webgl') ? [...BASE_FLAGS, ...WEBGL_FLAGS] : BASE_FLAGS,
    });
    const page = await browser.newPage();
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log(`[browser console] ${m.text()}`);
      else if (m.type() === 'log') log(`  browser ${m.text()}`);
    });
    await page.goto(`${served.origin}/`);
    await page.waitForFunction(() => 'runTeachBench' in globalThis);
    const renderer = backends.includes('webgl')
      ? await page.evaluate(() => {
          const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
          if (!gl) return null;
          const info = gl.getExtension('WEBGL_debug_renderer_info');
          const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
          gl.getExtension('WEBGL_lose_context')?.loseContext();
          return name;
        })
      : null;
    const result = (await page.evaluate(
      (a) => (globalThis as unknown as { runTeachBench: (a: PageArgs) => Promise<PageResult> }).runTeachBench(a),
      args,
    )) as PageResult;
    return { result, browser: `Chromium ${browser.version()}`, renderer };
  } finally {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The Node reference: EngineHost called directly, the default model on the CPU backend. */
async function nodeRounds(data: TeachDataset, args: PageArgs, log: (line: string) => void): Promise<{ backend: PageBackend; samples: TeachSample[] }> {
  const file = await readFile(DEFAULT_MODEL_FILE);
  const host = new EngineHost({
    defaultModelUrl: 'file:///models/default.cnn',
    fetch: (async () => new Response(file, { headers: { 'content-type': 'application/octet-stream' } })) as typeof fetch,
    frameSampler: {
      sample() {
        throw new Error('the teaching benchmark reads no camera frames');
      },
    },
  });
  const started = performance.now();
  const info = await host.loadDefault('cpu');
  const load_ms = performance.now() - started;
  if (info.model?.source !== 'default-file') throw new Error(`Node: no default model (${info.model?.fallbackReason})`);
  const trainer: Trainer = { id: 'node', train: (classes, examples, onProgress) => host.train(classes, examples, onProgress) };
  const first = await timeTraining(trainer, data, WORKLOADS[0], -1, args.seed, 'fresh');
  log(`  node: default model loaded in ${load_ms.toFixed(0)} ms, first training ${first.end_to_end_ms.toFixed(0)} ms`);
  const samples = await runRounds([trainer], { data, repeats: args.repeats, seed: args.seed, log });
  return { backend: { backend: info.backend, reason: info.backendReason, model: info.model.name, load_ms, first }, samples };
}

/** `fewshot` of scripts/cli.ts, in this process, for the head and both baselines. */
async function fewshotAccuracy(options: TeachBenchOptions): Promise<FewshotReport> {
  const started = performance.now();
  const { main } = await import('./cli.ts');
  const meta = JSON.parse(readFileSync(path.join(options.data, 'meta.json'), 'utf8')) as { classes: string[] };
  const modelLabels = loadModelFile(options.fewshotModel).model.spec.labels;
  const unseen = meta.classes.filter((c) => !modelLabels.includes(c));
  const heldOut = unseen.length >= 5;
  const classes = heldOut ? unseen.slice(0, 5) : meta.classes.slice(-5);
  const seeds = Array.from({ length: options.fewshotSeeds }, (_, i) => i + 1);
  const shots = [5, 10];
  const features = 'multiscale';
  const methods: { method: string; args: string[] }[] = [
    { method: `head on ${features} features`, args: ['--model', options.fewshotModel, '--features', features] },
    { method: 'raw pixels, nearest class mean', args: ['--baseline', 'pixels'] },
    { method: 'colour histogram, nearest class mean', args: ['--baseline', 'colour'] },
  ];
  const entries: FewshotEntry[] = [];
  for (const m of methods) {
    const accuracy: Record<string, number[]> = {};
    for (const k of shots) {
      for (const seed of seeds) {
        let out = '';
        let err = '';
        const argv = ['fewshot', '--data', options.data, '--classes', classes.join(','), '--shots', String(k), '--seed', String(seed), ...m.args];
        const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
        if (code !== 0) throw new Error(`cli ${argv.join(' ')} exited with ${code}: ${err.trim()}`);
        (accuracy[k] ??= []).push((JSON.parse(out) as { accuracy: number }).accuracy);
      }
    }
    const mean = Object.fromEntries(Object.entries(accuracy).map(([k, v]) => [k, v.reduce((s, x) => s + x, 0) / v.length]));
    options.log(`  fewshot ${m.method}: ${shots.map((k) => `${k}-shot ${(100 * mean[k]).toFixed(1)} %`).join(', ')}`);
    entries.push({ method: m.method, accuracy, mean });
  }
  return {
    model: path.relative(ROOT, path.resolve(options.fewshotModel)) || options.fewshotModel,
    model_labels: [...modelLabels],
    classes,
    held_out: heldOut,
    seeds,
    shots,
    features,
    entries,
    seconds: (performance.now() - started) / 1000,
  };
}

function summarise(samples: TeachSample[], first: Record<string, PageBackend>): TeachRow[] {
  const rows: TeachRow[] = [];
  for (const [id, b] of Object.entries(first)) {
    for (const w of WORKLOADS) {
      for (const mode of ['fresh', 'cached'] as const) {
        const mine = samples.filter((s) => s.trainer === id && s.workload === workloadName(w) && s.mode === mode);
        if (!mine.length) continue;
        const epochs = stats(mine.map((s) => s.epochs)).median_ms;
        rows.push({
          where: id === 'node' ? 'node' : 'browser worker',
          backend: id === 'node' ? 'cpu' : id,
          runs_on: b.reason,
          workload: workloadName(w),
          mode,
          end_to_end: stats(mine.map((s) => s.end_to_end_ms)),
          features: stats(mine.map((s) => s.feature_ms)),
          training: stats(mine.map((s) => s.train_ms)),
          worker_total: stats(mine.map((s) => s.total_ms)),
          install: stats(mine.map((s) => s.install_ms)),
          epochs,
          validation_accuracy: mine[mine.length - 1].validation_accuracy,
        });
      }
    }
  }
  return rows;
}

export async function runTeachBench(options: TeachBenchOptions): Promise<TeachReport> {
  const { log } = options;
  const seconds: Record<string, number> = {};
  let mark = performance.now();
  const step = (name: string) => {
    const now = performance.now();
    seconds[name] = (now - mark) / 1000;
    mark = now;
  };
  const loadBefore = os.loadavg();
  const args: PageArgs = {
    backends: options.trainers.filter((t): t is BrowserTeachBackend => t !== 'node'),
    repeats: Object.fromEntries(options.trainers.map((t) => [t, t === 'webgl' ? [...options.webglRepeats] : [options.repeats, options.largeRepeats]])),
    seed: options.seed,
  };
  const data = loadTeachDataset(options.data);
  // Read now, so that a wrong path fails before minutes of timing rather than after.
  if (options.fewshotSeeds > 0) loadModelFile(options.fewshotModel);
  const first: Record<string, PageBackend> = {};
  const samples: TeachSample[] = [];
  let browserName: string | null = null;
  let renderer: string | null = null;
  let isolated: boolean | null = null;
  const plan = (ids: string[]) => ids.map((id) => `${id}: ` + WORKLOADS.map((w, i) => `${workloadName(w)} × ${args.repeats[id][i]}`).join(', ')).join('; ');
  if (args.backends.length) {
    log(`teach: browser workers, rounds of new then cached examples (${plan(args.backends)}; load average ${loadBefore[0].toFixed(2)})…`);
    const b = await browserRounds(args.backends, args, options);
    Object.assign(first, b.result.backends);
    samples.push(...b.result.samples);
    browserName = b.browser;
    renderer = b.renderer;
    isolated = b.result.crossOriginIsolated;
    step('browser');
  }
  if (options.trainers.includes('node')) {
    log(`teach: Node reference (EngineHost, cpu; ${plan(['node'])})…`);
    const n = await nodeRounds(data, args, log);
    first.node = n.backend;
    samples.push(...n.samples);
    step('node');
  }
  let fewshot: FewshotReport | null = null;
  if (options.fewshotSeeds > 0) {
    log(`teach: few-shot accuracy (cli fewshot, ${options.fewshotModel}, seeds 1–${options.fewshotSeeds})…`);
    fewshot = await fewshotAccuracy(options);
    step('fewshot');
  }
  const rows = summarise(samples, first);
  const small = workloadName(WORKLOADS[0]);
  return {
    browser: browserName,
    renderer,
    cross_origin_isolated: isolated,
    load_average_before: loadBefore,
    load_average_after: os.loadavg(),
    cores: os.cpus().length,
    settings: { repeats: args.repeats, seed: options.seed, trainers: options.trainers, data: options.data },
    model: Object.values(first)[0]?.model ?? '',
    first: Object.fromEntries(Object.entries(first).map(([id, b]) => [id, { load_ms: b.load_ms, first_training_ms: b.first.end_to_end_ms, runs_on: b.reason }])),
    rows,
    target: {
      workload: small,
      at_most_ms: TARGET_5X20_MS,
      results: rows
        .filter((r) => r.workload === small && r.mode === 'fresh')
        .map((r) => ({ backend: r.where === 'node' ? 'node' : r.backend, median_ms: r.end_to_end.median_ms, met: r.end_to_end.median_ms <= TARGET_5X20_MS })),
    },
    fewshot,
    samples,
    seconds,
  };
}

const ms = (s: Stats) => `${s.median_ms.toFixed(0)} / ${s.p95_ms.toFixed(0)}`;
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const loads = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ');

/** The teaching part as markdown. */
export function teachReportLines(r: TeachReport): string[] {
  const lines: string[] = [];
  if (r.rows.length) {
    const where = r.browser ? `${r.browser}, one dedicated engine worker per backend, reached through Comlink${r.renderer ? `; WebGL2 on ${r.renderer}` : ''}` : 'Node only';
    lines.push(
      `Teaching (${r.model}): ${where}; load average (1, 5, 15 min) ${loads(r.load_average_before)} → ${loads(r.load_average_after)} on ${r.cores} cores.`,
      '',
      '| where | backend | classes × examples | features | end to end (ms) | feature extraction (ms) | head training (ms) | taught model installed (ms) | epochs | runs |',
      '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...r.rows.map(
        (x) =>
          `| ${x.where} | ${x.backend} | ${x.workload} | ${x.mode === 'fresh' ? 'computed' : 'cached'} | ${ms(x.end_to_end)} | ${ms(x.features)} | ${ms(x.training)} | ${ms(x.install)} | ${x.epochs} | ${x.end_to_end.samples} |`,
      ),
      '',
      'Median / 95th percentile. End to end: from calling train to holding its answer (the page, through Comlink; in Node, EngineHost directly); ' +
        "feature extraction and head training: the worker's own split (TeachResult.featureMs, trainMs); taught model installed: the rest of the " +
        'end-to-end time (a session for the taught model on the backend, its file, the messages). Computed: examples new to the worker ' +
        `(${VIEW_COUNT} views each through the backbone); cached: the same examples trained again at once (features from the worker's cache).`,
      'Loading the default model and the first training (5×20, computed), ms: ' +
        Object.entries(r.first)
          .map(([id, f]) => `${id} ${f.load_ms.toFixed(0)} + ${f.first_training_ms.toFixed(0)}`)
          .join(', ') +
        '.',
      ...r.target.results.map(
        (t) => `Target: ${r.target.workload} with features computed, end to end ≤ ${r.target.at_most_ms} ms: ${t.backend} ${t.median_ms.toFixed(0)} ms (${t.met ? 'met' : 'not met'}).`,
      ),
    );
  }
  const f = r.fewshot;
  if (f) {
    if (lines.length) lines.push('');
    const seeds = f.seeds.length > 1 ? `mean of seeds ${f.seeds[0]}–${f.seeds[f.seeds.length - 1]}` : `seed ${f.seeds[0]}`;
    lines.push(
      `Few-shot accuracy (\`npm run cli -- fewshot\`, 5-way, ${seeds}; backbone ${f.model}, trained on ${f.model_labels.join(', ')}; ` +
        `classes ${f.classes.join(', ')}: ${f.held_out ? 'held out, never seen by the backbone' : 'NOT held out, the backbone was trained on them'}):`,
      '',
      `| method | ${f.shots.map((k) => `${k}-shot`).join(' | ')} |`,
      `| --- | ${f.shots.map(() => '---:').join(' | ')} |`,
      ...f.entries.map((e) => `| ${e.method} | ${f.shots.map((k) => pct(e.mean[k])).join(' | ')} |`),
    );
    const [head, ...baselines] = f.entries;
    for (const k of f.shots) {
      const best = baselines.reduce((x, y) => (y.mean[k] > x.mean[k] ? y : x));
      lines.push(`${k}-shot: head ${pct(head.mean[k])}, ${((head.mean[k] - best.mean[k]) * 100).toFixed(1)} points above the better baseline (${best.method}); chance 20 %.`);
    }
  }
  return lines;
}

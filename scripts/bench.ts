// Inference benchmark: the classic CIFAR network on this engine's CPU backend (TypeScript kernels,
// "engine", and WebAssembly SIMD kernels, "engine-wasm") against TF.js (tfjs-backend-cpu and
// tfjs-backend-wasm) in one process, on the same weights and images.
//
//   npm run bench                      markdown table
//   npm run bench -- --json            one JSON object
//   npm run bench -- --rounds 20       fewer rounds (default 40; --block sets runs per block)
//   npm run bench -- --node-only       this process only (no browser)
//   npm run bench -- --node-only --model public/models/default.cnn   time a model file instead
//   npm run bench -- --browser-only    the headless-Chromium part only (scripts/bench-browser.ts)
//   npm run bench -- --pipeline-only   the live-app pipeline part only (scripts/bench-pipeline.ts)
//   --pipeline-seconds (default 12), --pipeline-warmup (3), --pipeline-dist <built app> (default:
//   build one into a temporary folder), --pipeline-backends (cpu,auto; webgl too): the same for
//   the pipeline part, each backend also with the Inside panel open
//   --browser-rounds, --browser-block, --browser-batch-rounds, --profile-iterations: the same for
//   the browser part (defaults 20, 10, 3, 100: its slowest backends take 10–30 ms per image here)
//   npm run bench -- --teach-only      the teaching part only (scripts/bench-teach.ts)
//   --teach-repeats (default 5 rounds of 5×20), --teach-large-repeats (2 rounds of 10×100),
//   --teach-webgl-repeats (3,1: the same for 'webgl', some 10× slower here), --teach-backends
//   (cpu,webgl,node), --teach-seed (1), --teach-data (../shared/data/cifar10-4k),
//   --teach-fewshot-model (public/models/default.cnn; a backbone trained on five classes gives
//   accuracy on the five it never saw), --teach-fewshot-seeds (3; 0 skips it): the same for it
//
// Batch 1: every backend is warmed up, then timed in blocks of --block single-image predictions,
// the backends taking turns in a rotating order for --rounds rounds, so that a change in machine
// load touches each of them alike. Each prediction is timed on its own (bytes in, probabilities
// read back); the table gives the median and 95th percentile. Batch 32: the same scheme with
// whole batches, reported as images per second at the median batch time.
//
// Before timing, the outputs of all backends are compared on the same images; the run fails
// (exit code 1) when any probability differs by more than 1e-4 between two backends.
//
// GFLOP/s count 2 flops per multiply-add of the conv and dense layers (model.macs) at the median
// time; the yardstick is a probe of one core through WebAssembly (scripts/bench-peak.ts).
//
// After this Node part, the same network, weights and images run in headless Chromium in a
// dedicated worker: this engine's WebGL2 and CPU backends against TF.js webgl, wasm and cpu
// (scripts/bench-browser.ts; a table of its own, and a `browser` object in the JSON). Its outputs
// are held to the same 1e-4.
//
// Last, the live-app pipeline: the built app in headless Chromium with its fake camera, 'cpu'
// (WebAssembly) and 'auto' backend settings: answers per second, capture-to-result latency and
// main-thread time per frame (scripts/bench-pipeline.ts; a `pipeline` object in the JSON).
//
// Then teaching: training the head for 5 classes × 20 examples and 10 × 100 in the app's engine
// worker in headless Chromium, on 'cpu' and 'webgl', through Comlink (end to end, and the worker's
// feature-extraction / training split; new and cached features), EngineHost in Node as a
// reference, and the few-shot accuracy of `npm run cli -- fewshot` against the raw-pixel and
// colour-histogram baselines (scripts/bench-teach.ts; a `teach` object in the JSON).
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { CpuSession } from '../src/engine/session.ts';
import { loadWasmKernels } from '../src/engine/wasm/load.ts';
import { initParams } from '../src/engine/init.ts';
import { Random } from '../src/engine/random.ts';
import { size3 } from '../src/engine/shapes.ts';
import { classicCifarSpec } from '../src/engine/zoo.ts';
import { loadModelFile } from '../src/node/model-io.ts';
import { buildTfjsModel, type TfjsModel } from './bench-tfjs.ts';
import { maxAbsDiff, stats, timeInterleaved, type Stats } from './bench-stats.ts';
import { browserReportLines, runBrowserBench } from './bench-browser.ts';
import { pipelineReportLines, runPipelineBench } from './bench-pipeline.ts';
import { DEFAULT_MODEL_FILE, DEFAULT_TEACH_DATA, runTeachBench, TEACH_TRAINERS, teachReportLines, type TeachBenchOptions, type TeachTrainerId } from './bench-teach.ts';

const SEED = 1;
const IMAGES = 32;
const BATCH = 32;
const MAX_DIFF = 1e-4;

type BackendId = 'engine' | 'engine-wasm' | 'tfjs-cpu' | 'tfjs-wasm';

interface Contestant {
  id: BackendId;
  /** Makes this contestant's backend the active one (TF.js has one global backend). */
  activate(): Promise<void>;
  /** Probabilities for image i alone (batch 1); may be a buffer that the next call reuses. */
  predictOne(i: number): ArrayLike<number>;
  /** Probabilities for the batch of all IMAGES images. */
  predictBatch(): ArrayLike<number>;
}

const fmt = (v: number, digits: number) => v.toFixed(digits);

interface NodeBenchOptions {
  json: boolean;
  rounds: number;
  block: number;
  batchRounds: number;
  log: (line: string) => void;
  /** A model file to time instead of the classic net with seeded weights (Node part). */
  modelFile?: string;
}

/** The Node part: its report (the JSON object), its markdown lines, and whether outputs agree. */
async function nodeBench(opts: NodeBenchOptions): Promise<{ report: Record<string, unknown>; lines: string[]; agree: boolean }> {
  const { rounds, block, batchRounds, log } = opts;
  const file = opts.modelFile ? loadModelFile(opts.modelFile) : null;
  const spec = file ? file.model.spec : classicCifarSpec();
  const params = file ? file.model.params : initParams(spec, SEED);
  const modelName = file ? `${opts.modelFile} (${file.meta.name ?? 'model file'})` : 'classic CIFAR-10 net (classicCifarSpec)';
  const session = new CpuSession({ spec, params });
  const wasmSession = new CpuSession({ spec, params }, await loadWasmKernels());
  const inSize = size3(session.info.input);
  const rng = new Random(SEED + 1);
  const images = Uint8Array.from({ length: IMAGES * inSize }, () => rng.int(256));
  const image = (i: number) => images.subarray((i % IMAGES) * inSize, ((i % IMAGES) + 1) * inSize);

  tf.enableProdMode(); // no console advice to install tfjs-node
  const require = createRequire(import.meta.url);
  setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  const tfjsModels = new Map<string, TfjsModel>();
  for (const name of ['cpu', 'wasm']) {
    if (!(await tf.setBackend(name))) throw new Error(`TF.js backend "${name}" failed to initialise`);
    tfjsModels.set(name, buildTfjsModel(spec, params));
  }
  const wasmSimd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const wasmThreads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');

  const tfjsContestant = (name: 'cpu' | 'wasm'): Contestant => {
    const model = tfjsModels.get(name)!;
    return {
      id: `tfjs-${name}`,
      activate: async () => {
        if (tf.getBackend() !== name) await tf.setBackend(name);
      },
      predictOne: (i) => tf.tidy(() => model.forward(image(i), 1).dataSync() as Float32Array),
      predictBatch: () => tf.tidy(() => model.forward(images, BATCH).dataSync() as Float32Array),
    };
  };
  const contestants: Contestant[] = [
    {
      id: 'engine',
      activate: async () => {},
      predictOne: (i) => session.predict(image(i)),
      predictBatch: () => session.predictBatch(images, BATCH),
    },
    {
      id: 'engine-wasm',
      activate: async () => {},
      predictOne: (i) => wasmSession.predict(image(i)),
      predictBatch: () => wasmSession.predictBatch(images, BATCH),
    },
    tfjsContestant('cpu'),
    tfjsContestant('wasm'),
  ];

  // Agreement: every backend's batch-1 and batch-32 probabilities for the same images, against
  // the engine's batch-1 ones (so each pair of backends differs by at most twice the figure).
  const outputs = new Map<BackendId, { one: Float32Array; batch: Float32Array }>();
  const classes = session.info.output.c;
  for (const c of contestants) {
    await c.activate();
    const one = new Float32Array(IMAGES * classes);
    for (let i = 0; i < IMAGES; i++) one.set(c.predictOne(i), i * classes);
    outputs.set(c.id, { one, batch: Float32Array.from(c.predictBatch()) });
  }
  const diffs: Record<string, number> = {};
  for (const a of contestants) {
    for (const b of contestants) {
      if (a.id >= b.id) continue;
      const oa = outputs.get(a.id)!;
      const ob = outputs.get(b.id)!;
      diffs[`${a.id} vs ${b.id}`] = Math.max(
        maxAbsDiff(oa.one, ob.one, `${a.id} vs ${b.id}, batch 1`),
        maxAbsDiff(oa.batch, ob.batch, `${a.id} vs ${b.id}, batch ${BATCH}`),
      );
    }
    const own = outputs.get(a.id)!;
    diffs[`${a.id} batch ${BATCH} vs batch 1`] = maxAbsDiff(own.one, own.batch, `${a.id}, batch ${BATCH} vs 1`);
  }
  const maxDiff = Math.max(...Object.values(diffs));
  const worstPair = Object.entries(diffs).reduce((x, y) => (y[1] > x[1] ? y : x))[0];

  const loadBefore = os.loadavg()[0];
  log(`warming up (load average ${loadBefore.toFixed(2)} on ${os.cpus().length} cores)…`);
  await timeInterleaved(contestants, 3, 10, (c, k) => c.predictOne(k));
  await timeInterleaved(contestants, 1, 2, (c) => c.predictBatch());

  log(`batch 1: ${rounds} rounds × ${block} predictions per backend…`);
  const single = await timeInterleaved(contestants, rounds, block, (c, k) => c.predictOne(k));
  log(`batch ${BATCH}: ${batchRounds} rounds × 2 batches per backend…`);
  const batched = await timeInterleaved(contestants, batchRounds, 2, (c) => c.predictBatch());
  const loadAfter = os.loadavg()[0];
  log('peak probe…');
  // Loaded here, not at start-up: its compiler takes tens of seconds to load under tsx, which
  // --browser-only need not pay.
  const { measurePeak } = await import('./bench-peak.ts');
  const peak = await measurePeak();

  const results = Object.fromEntries(
    contestants.map((c) => {
      const s = stats(single.get(c.id)!);
      const b = stats(batched.get(c.id)!);
      const gflops = (2 * session.info.macs) / (s.median_ms * 1e6);
      const batchGflops = (2 * session.info.macs * BATCH) / (b.median_ms * 1e6);
      return [
        c.id,
        {
          ...s,
          batch_median_ms: b.median_ms,
          batch_samples: b.samples,
          images_per_s: (BATCH * 1000) / b.median_ms,
          gflops,
          batch_gflops: batchGflops,
          fraction_of_simd_peak: gflops / peak.simd_mul_add_gflops,
        },
      ];
    }),
  ) as Record<
    BackendId,
    Stats & { batch_median_ms: number; batch_samples: number; images_per_s: number; gflops: number; batch_gflops: number; fraction_of_simd_peak: number }
  >;
  const speedup = (id: BackendId, over: BackendId) => results[over].median_ms / results[id].median_ms;

  const report = {
    model: {
      name: modelName,
      macs: session.info.macs,
      params: session.info.paramCount,
      seed: SEED,
    },
    machine: {
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      tfjs: tf.version_core,
      wasm_simd: wasmSimd,
      wasm_threads: wasmThreads,
      peak,
    },
    settings: { rounds, block, batch: BATCH, batch_rounds: batchRounds },
    backends: Object.fromEntries(
      contestants.map((c) => [
        c.id,
        {
          ...results[c.id],
          speedup_vs_tfjs_cpu: speedup(c.id, 'tfjs-cpu'),
          speedup_vs_tfjs_wasm: speedup(c.id, 'tfjs-wasm'),
        },
      ]),
    ),
    max_abs_diff: maxDiff,
    max_abs_diff_pair: worstPair,
    diffs,
    outputs_agree: maxDiff <= MAX_DIFF,
  };

  let lines: string[] = [];
  if (!opts.json) {
    lines = [
      `${modelName}: ${(session.info.macs / 1e6).toFixed(2)} M multiply-adds, ${session.info.paramCount} parameters, ` +
        `${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, TF.js ${tf.version_core} ` +
        `(wasm SIMD ${wasmSimd ? 'on' : 'off'}, threads ${wasmThreads ? 'on' : 'off'}), ` +
        `load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}.`,
      '',
      `| backend | batch 1 median (ms) | batch 1 p95 (ms) | speed-up vs tfjs-cpu | speed-up vs tfjs-wasm | batch ${BATCH} (images/s) | GFLOP/s batch 1 / ${BATCH} |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...contestants.map((c) => {
        const r = results[c.id];
        return `| ${c.id} | ${fmt(r.median_ms, 3)} | ${fmt(r.p95_ms, 3)} | ${fmt(speedup(c.id, 'tfjs-cpu'), 2)}× | ${fmt(speedup(c.id, 'tfjs-wasm'), 2)}× | ${fmt(r.images_per_s, 0)} | ${fmt(r.gflops, 1)} / ${fmt(r.batch_gflops, 1)} |`;
      }),
      '',
      `Batch 1: ${rounds * block} timed predictions per backend (${rounds} interleaved rounds of ${block}); ` +
        `batch ${BATCH}: ${batchRounds * 2} timed batches per backend.`,
      `One core through WebAssembly: clock ≈ ${fmt(peak.clock_ghz, 2)} GHz, f32x4 mul+add probe ${fmt(peak.simd_mul_add_gflops, 1)} GFLOP/s ` +
        `(1 mul + 1 add per cycle would be ${fmt(peak.one_pair_per_cycle_gflops, 1)}); engine-wasm batch 1 reaches ` +
        `${fmt(100 * results['engine-wasm'].fraction_of_simd_peak, 0)} % of the probe.`,
      `Outputs agree: largest |difference| between probabilities ${maxDiff.toExponential(2)} (${worstPair}), ` +
        `limit ${MAX_DIFF.toExponential(0)}: ${maxDiff <= MAX_DIFF ? 'ok' : 'FAILED'}.`,
    ];
  }

  for (const m of tfjsModels.values()) m.dispose();
  if (maxDiff > MAX_DIFF) {
    process.stderr.write(
      `bench: outputs disagree: largest |difference| ${maxDiff} (${worstPair}) exceeds ${MAX_DIFF}\n`,
    );
  }
  return { report, lines, agree: maxDiff <= MAX_DIFF };
}

async function main(): Promise<number> {
  const { values: opts } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '40' },
      block: { type: 'string', default: '10' },
      'batch-rounds': { type: 'string', default: '6' },
      'browser-rounds': { type: 'string', default: '20' },
      'browser-block': { type: 'string', default: '10' },
      'browser-batch-rounds': { type: 'string', default: '3' },
      'profile-iterations': { type: 'string', default: '100' },
      'node-only': { type: 'boolean', default: false },
      model: { type: 'string' },
      'browser-only': { type: 'boolean', default: false },
      'pipeline-only': { type: 'boolean', default: false },
      'pipeline-seconds': { type: 'string', default: '12' },
      'pipeline-warmup': { type: 'string', default: '3' },
      'pipeline-dist': { type: 'string' },
      'pipeline-backends': { type: 'string', default: 'cpu,auto' },
      'teach-only': { type: 'boolean', default: false },
      'teach-repeats': { type: 'string', default: '5' },
      'teach-large-repeats': { type: 'string', default: '2' },
      'teach-webgl-repeats': { type: 'string', default: '3,1' },
      'teach-backends': { type: 'string', default: TEACH_TRAINERS.join(',') },
      'teach-seed': { type: 'string', default: '1' },
      'teach-data': { type: 'string', default: DEFAULT_TEACH_DATA },
      'teach-fewshot-model': { type: 'string', default: DEFAULT_MODEL_FILE },
      'teach-fewshot-seeds': { type: 'string', default: '3' },
    },
  });
  const int = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const only = (['node-only', 'browser-only', 'pipeline-only', 'teach-only'] as const).filter((k) => opts[k]);
  if (only.length > 1) throw new Error(`--${only.join(' and --')} exclude each other`);
  const settings = {
    json: opts.json,
    rounds: int('rounds', opts.rounds),
    block: int('block', opts.block),
    batchRounds: int('batch-rounds', opts['batch-rounds']),
    log: opts.json ? (_: string) => {} : (s: string) => process.stderr.write(s + '\n'),
    modelFile: opts.model,
  };
  if (opts.model && !opts['node-only']) throw new Error('--model times a model file in Node only: add --node-only');
  // The teaching part's settings, checked before any part runs.
  const trainers = (opts['teach-backends'] ?? '').split(',').filter(Boolean);
  const unknown = trainers.filter((t) => !(TEACH_TRAINERS as readonly string[]).includes(t));
  if (!trainers.length || unknown.length) {
    throw new Error(`--teach-backends: expected some of ${TEACH_TRAINERS.join(',')}, got ${JSON.stringify(opts['teach-backends'])}`);
  }
  const fewshotSeeds = Number(opts['teach-fewshot-seeds']);
  if (!Number.isInteger(fewshotSeeds) || fewshotSeeds < 0) throw new Error(`--teach-fewshot-seeds must be 0 or more, got ${JSON.stringify(opts['teach-fewshot-seeds'])}`);
  const webglRepeats = (opts['teach-webgl-repeats'] ?? '').split(',').map((v) => int('teach-webgl-repeats', v));
  if (webglRepeats.length !== 2) throw new Error(`--teach-webgl-repeats: expected rounds of 5×20 and of 10×100, e.g. 3,1, got ${JSON.stringify(opts['teach-webgl-repeats'])}`);
  const teachOptions: TeachBenchOptions = {
    trainers: trainers as TeachTrainerId[],
    repeats: int('teach-repeats', opts['teach-repeats']),
    largeRepeats: int('teach-large-repeats', opts['teach-large-repeats']),
    webglRepeats: [webglRepeats[0], webglRepeats[1]],
    seed: int('teach-seed', opts['teach-seed']),
    data: opts['teach-data']!,
    fewshotModel: opts['teach-fewshot-model']!,
    fewshotSeeds,
    log: settings.log,
  };

  let code = 0;
  let report: Record<string, unknown> = {};
  if (!opts['browser-only'] && !opts['pipeline-only'] && !opts['teach-only']) {
    const node = await nodeBench(settings);
    report = node.report;
    if (!opts.json) process.stdout.write(node.lines.join('\n') + '\n');
    if (!node.agree) code = 1;
  }
  if (!opts['node-only'] && !opts['pipeline-only'] && !opts['teach-only']) {
    const browser = await runBrowserBench({
      rounds: int('browser-rounds', opts['browser-rounds']),
      block: int('browser-block', opts['browser-block']),
      batchRounds: int('browser-batch-rounds', opts['browser-batch-rounds']),
      profileIterations: int('profile-iterations', opts['profile-iterations']),
      maxDiff: MAX_DIFF,
      log: settings.log,
    });
    report.browser = browser;
    if (!opts.json) process.stdout.write((opts['browser-only'] ? '' : '\n') + browserReportLines(browser, MAX_DIFF).join('\n') + '\n');
    if (!browser.outputs_agree) {
      process.stderr.write(
        `bench: browser outputs disagree: largest |difference| ${browser.max_abs_diff} (${browser.max_abs_diff_pair}) exceeds ${MAX_DIFF}\n`,
      );
      code = 1;
    }
  }
  if (!opts['node-only'] && !opts['browser-only'] && !opts['teach-only']) {
    const pipeline = await runPipelineBench({
      seconds: int('pipeline-seconds', opts['pipeline-seconds']),
      warmupSeconds: int('pipeline-warmup', opts['pipeline-warmup']),
      backends: pipelineBackends(opts['pipeline-backends']),
      dist: opts['pipeline-dist'],
      log: settings.log,
    });
    report.pipeline = pipeline;
    if (!opts.json) process.stdout.write((opts['pipeline-only'] ? '' : '\n') + pipelineReportLines(pipeline).join('\n') + '\n');
  }
  if (!opts['node-only'] && !opts['browser-only'] && !opts['pipeline-only']) {
    const teach = await runTeachBench(teachOptions);
    report.teach = teach;
    if (!opts.json) process.stdout.write((opts['teach-only'] ? '' : '\n') + teachReportLines(teach).join('\n') + '\n');
  }
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);

function pipelineBackends(v: string): ('cpu' | 'auto' | 'webgl')[] {
  const list = v.split(',').map((x) => x.trim());
  const bad = list.filter((x) => x !== 'cpu' && x !== 'auto' && x !== 'webgl');
  if (!list.length || bad.length) throw new Error(`--pipeline-backends: expected some of cpu,auto,webgl, got ${JSON.stringify(v)}`);
  return list as ('cpu' | 'auto' | 'webgl')[];
}

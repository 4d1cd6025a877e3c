// In-browser side of the WebAssembly kernel tests: loads the SIMD kernels where they will run in
// the app (a page and a dedicated worker), checks them against the TypeScript kernels on the
// classic CIFAR net, and times both next to TF.js' wasm backend (XNNPACK) on the same weights.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { buildTfjsModel } from '../../../scripts/bench-tfjs.ts';
import { initParams } from '../../../src/engine/init.ts';
import { Random } from '../../../src/engine/random.ts';
import { CpuSession } from '../../../src/engine/session.ts';
import { size3 } from '../../../src/engine/shapes.ts';
import { loadWasmKernels, wasmSimdSupported } from '../../../src/engine/wasm/load.ts';
import { classicCifarSpec } from '../../../src/engine/zoo.ts';

const BATCH = 32;

interface Timing {
  /** Median and 95th percentile of the per-prediction means of `samples` blocks. */
  median_ms: number;
  p95_ms: number;
  samples: number;
  batch_median_ms: number;
  images_per_s: number;
}

function summary(one: number[], batch: number[]): Timing {
  const q = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  const b = q(batch, 0.5);
  return { median_ms: q(one, 0.5), p95_ms: q(one, 0.95), samples: one.length, batch_median_ms: b, images_per_s: (BATCH * 1000) / b };
}

async function run(args: { rounds: number; block: number; batchRounds: number; tfjsWasmPrefix: string | null }) {
  const spec = classicCifarSpec();
  const params = initParams(spec, 1);
  const t0 = performance.now();
  const kernels = await loadWasmKernels();
  const loadMs = performance.now() - t0;
  const ts = new CpuSession({ spec, params });
  const wa = new CpuSession({ spec, params }, kernels);
  const inSize = size3(ts.info.input);
  const rng = new Random(2);
  const images = Uint8Array.from({ length: BATCH * inSize }, () => rng.int(256));
  const image = (i: number) => images.subarray((i % BATCH) * inSize, ((i % BATCH) + 1) * inSize);

  let maxDiff = 0;
  const tsBatch = ts.predictBatch(images, BATCH);
  const waBatch = wa.predictBatch(images, BATCH);
  for (let i = 0; i < BATCH; i++) {
    const a = ts.predict(image(i)).slice();
    const b = wa.predict(image(i));
    for (let c = 0; c < a.length; c++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[c] - b[c]), Math.abs(tsBatch[i * a.length + c] - waBatch[i * a.length + c]));
    }
  }

  type Runner = { id: string; one: (i: number) => ArrayLike<number>; batch: () => ArrayLike<number> };
  const runners: Runner[] = [
    { id: 'engine', one: (i) => ts.predict(image(i)), batch: () => ts.predictBatch(images, BATCH) },
    { id: 'engine-wasm', one: (i) => wa.predict(image(i)), batch: () => wa.predictBatch(images, BATCH) },
  ];
  let tfjsDiff: number | null = null;
  if (args.tfjsWasmPrefix) {
    setWasmPaths(args.tfjsWasmPrefix);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    tf.enableProdMode();
    const model = buildTfjsModel(spec, params);
    const one = (i: number) => tf.tidy(() => model.forward(image(i), 1).dataSync() as Float32Array);
    tfjsDiff = 0;
    for (let i = 0; i < BATCH; i++) {
      const a = one(i);
      const b = wa.predict(image(i));
      for (let c = 0; c < a.length; c++) tfjsDiff = Math.max(tfjsDiff, Math.abs(a[c] - b[c]));
    }
    runners.push({ id: 'tfjs-wasm', one, batch: () => tf.tidy(() => model.forward(images, BATCH).dataSync() as Float32Array) });
  }

  let sink = 0;
  for (const r of runners) for (let i = 0; i < 20; i++) sink += r.one(i)[0];
  const one = new Map(runners.map((r) => [r.id, [] as number[]]));
  const batch = new Map(runners.map((r) => [r.id, [] as number[]]));
  for (let round = 0; round < args.rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      const r = runners[(round + j) % runners.length];
      // Browsers round performance.now() (to 0.1 ms without cross-origin isolation), so a
      // block of predictions is timed as one and counted as its mean.
      const t = performance.now();
      for (let k = 0; k < args.block; k++) sink += r.one(round * args.block + k)[0];
      one.get(r.id)!.push((performance.now() - t) / args.block);
    }
  }
  for (let round = 0; round < args.batchRounds; round++) {
    for (const r of runners) {
      const t = performance.now();
      sink += r.batch()[0];
      batch.get(r.id)!.push(performance.now() - t);
    }
  }
  if (!Number.isFinite(sink)) throw new Error(`outputs are not finite (${sink})`);
  const timings = Object.fromEntries(runners.map((r) => [r.id, summary(one.get(r.id)!, batch.get(r.id)!)]));
  return {
    where: typeof window === 'undefined' ? 'worker' : 'page',
    simd: wasmSimdSupported(),
    kernelName: wa.kernelName,
    loadMs,
    maxDiff,
    tfjsDiff,
    timings,
  };
}

export const procedures = { run };
export type Procedures = typeof procedures;

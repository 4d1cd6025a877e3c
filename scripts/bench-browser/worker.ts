// The browser benchmark's dedicated worker (bundled and served by scripts/bench-browser.ts). The
// page starts a fresh worker for each request {op, args} and ends it after the one reply:
//   'cold'  one backend from nothing: build it and time its first result (compile + warm-up);
//   'main'  every backend in one worker: agreement of the outputs, interleaved timing of batch 1
//           and batch 32, and a profile of the engine's WebGL2 frame (upload, draws, readback).
// Weights and images are those of the Node benchmark: classicCifarSpec, initParams(spec, 1), and
// 32 images of bytes from Random(2).
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import type { WebglSession } from '../../src/engine/webgl/session.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';
import { BROWSER_BACKENDS, configureTfjs, createContestant, makeWorkload, type BrowserBackendId, type Contestant, type Workload } from './contestants.ts';
import { maxAbsDiff, median, stats, timeInterleaved, type Stats } from '../bench-stats.ts';

const SEED = 1;
const IMAGES = 32;
const BATCH = IMAGES;

export interface ColdResult {
  id: BrowserBackendId;
  runsOn: string;
  /** Building the backend and its model: context, compilation, weight upload, warm-up, self-tests. */
  load_ms: number;
  /** The first prediction of image 0 after that (TF.js compiles its WebGL programs here). */
  first_predict_ms: number;
  first_ms: number;
  /** Probabilities of that first prediction, to compare with the other worker's. */
  first_output: number[];
  /**
   * Median of `solo` further batch-1 predictions in the same worker, this backend alone: a check
   * that taking turns with the others in the main worker does not slow a backend down.
   */
  solo_median_ms: number;
}

export interface MainArgs {
  rounds: number;
  block: number;
  batchRounds: number;
  profileIterations: number;
}

export interface BackendTiming extends Stats {
  runsOn: string;
  batch_median_ms: number;
  batch_samples: number;
  images_per_s: number;
}

export interface WebglProfile {
  /** Medians over the iterations of per-iteration differences, ms (see profileWebgl). */
  predict_ms: number;
  upload_ms: number;
  draws_ms: number;
  readback_ms: number;
  /** Unpacking the read-back texels into probabilities and the session's own copy. */
  unpack_ms: number;
  /** A 1-pixel readPixels alone: the round trip to the GPU process that every readback pays. */
  round_trip_ms: number;
  passes: { name: string; ms: number }[];
  iterations: number;
}

export interface MainResult {
  crossOriginIsolated: boolean;
  timer_resolution_ms: number;
  backends: Record<BrowserBackendId, BackendTiming>;
  diffs: Record<string, number>;
  /** Probabilities of image 0 from the TypeScript kernels, the reference for the cold starts. */
  reference_first: number[];
  webgl: WebglProfile;
  /** Wall time of each step of this worker, seconds. */
  phases: Record<string, number>;
}

/** Smallest step of performance.now() seen (0.1 ms unless the page is cross-origin isolated). */
function timerResolution(): number {
  let step = Infinity;
  let last = performance.now();
  for (let i = 0; i < 200_000; i++) {
    const t = performance.now();
    if (t > last) {
      step = Math.min(step, t - last);
      last = t;
    }
  }
  return step;
}

function workload(): Workload {
  const spec = classicCifarSpec();
  const params = initParams(spec, SEED);
  const { height, width, channels } = spec.input;
  const rng = new Random(SEED + 1);
  const images = Uint8Array.from({ length: IMAGES * height * width * channels }, () => rng.int(256));
  return makeWorkload({ spec, params }, images);
}

async function cold(args: { id: BrowserBackendId; solo: number }): Promise<ColdResult> {
  if (!BROWSER_BACKENDS.includes(args.id)) throw new Error(`no backend "${args.id}"; known: ${BROWSER_BACKENDS.join(', ')}`);
  const w = workload();
  const t0 = performance.now();
  const c = await createContestant(args.id, w);
  const t1 = performance.now();
  const out = Array.from(c.predictOne(0));
  const t2 = performance.now();
  for (let i = 1; i <= 10; i++) c.predictOne(i);
  const solo = (await timeInterleaved([c], 1, args.solo, (x, k) => x.predictOne(k))).get(args.id)!;
  c.check();
  c.dispose();
  return {
    id: args.id,
    runsOn: c.runsOn,
    load_ms: t1 - t0,
    first_predict_ms: t2 - t1,
    first_ms: t2 - t0,
    first_output: out,
    solo_median_ms: median(solo),
  };
}

/**
 * Where the time of a WebGL2 batch-1 frame goes. Each iteration runs, back to back on the same
 * image: a 1-pixel readPixels alone (S); the byte upload ended by a 1-pixel read (U); upload and
 * every draw ended by a 1-pixel read (D); upload, draws and the real readback of the class
 * scores (R); the session's predict (P); and every pass alone, ended by a 1-pixel read. A
 * readPixels waits for all queued GL work, so it closes each stage (gl.finish does not block in
 * Chromium). Per iteration: upload = U − S, draws = D − U, readback = R − D + S, unpack = P − R,
 * pass = its time − S; the medians of these differences are reported.
 */
function profileWebgl(gl: WebglSession, w: Workload, iterations: number): WebglProfile {
  const net = gl.network;
  if (!net) throw new Error(`WebGL profile: the session is ${gl.status}`);
  const ctx = net.ctx.gl;
  const b = net.bind(gl.info.layers.length, 1);
  const px = new Float32Array(4);
  const ping = () => {
    ctx.bindFramebuffer(ctx.FRAMEBUFFER, b.output.framebuffer);
    ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.FLOAT, px);
  };
  const parts = { predict: [] as number[], upload: [] as number[], draws: [] as number[], readback: [] as number[], unpack: [] as number[], ping: [] as number[] };
  const passes = b.draws.map(() => [] as number[]);
  for (let it = 0; it < iterations; it++) {
    const img = w.image(it);
    let t = performance.now();
    ping();
    const s = performance.now() - t;
    t = performance.now();
    net.runner.uploadBytes(b.stage.input, b.stage.inputLayout, img, 0, 1);
    ping();
    const u = performance.now() - t;
    t = performance.now();
    net.draw(b, img, 0, 1);
    ping();
    const d = performance.now() - t;
    t = performance.now();
    net.run(b, img, 0, 1);
    const r = performance.now() - t;
    t = performance.now();
    gl.predict(img);
    const p = performance.now() - t;
    b.draws.forEach((draw, i) => {
      const t0 = performance.now();
      net.runner.begin();
      net.runner.draw(draw.program, draw.inputs, draw.target, draw.target.layout.imageRows);
      ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.FLOAT, px);
      passes[i].push(performance.now() - t0 - s);
    });
    parts.ping.push(s);
    parts.upload.push(u - s);
    parts.draws.push(d - u);
    parts.readback.push(r - d + s);
    parts.unpack.push(p - r);
    parts.predict.push(p);
  }
  const error = ctx.getError();
  if (error !== ctx.NO_ERROR) throw new Error(`WebGL profile: GL error 0x${error.toString(16)}`);
  return {
    predict_ms: median(parts.predict),
    upload_ms: median(parts.upload),
    draws_ms: median(parts.draws),
    readback_ms: median(parts.readback),
    unpack_ms: median(parts.unpack),
    round_trip_ms: median(parts.ping),
    passes: b.draws.map((d, i) => ({ name: d.program.gpu.name, ms: median(passes[i]) })),
    iterations,
  };
}

async function main(args: MainArgs): Promise<MainResult> {
  const w = workload();
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (now - mark) / 1000;
    mark = now;
  };
  const contestants: Contestant[] = [];
  for (const id of BROWSER_BACKENDS) contestants.push(await createContestant(id, w));
  phase('build');
  try {
    // Agreement: every backend's batch-1 and batch-32 probabilities for the same images.
    const outputs = new Map<BrowserBackendId, { one: Float32Array; batch: Float32Array }>();
    for (const c of contestants) {
      await c.activate();
      const first = c.predictOne(0);
      const one = new Float32Array(IMAGES * first.length);
      for (let i = 0; i < IMAGES; i++) one.set(c.predictOne(i), i * first.length);
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
    const classes = outputs.get('engine')!.one.length / IMAGES;
    const referenceFirst = Array.from(outputs.get('engine')!.one.subarray(0, classes));
    phase('agreement');

    // The agreement step compiled and ran every path; a short warm-up in the timing loop's order.
    await timeInterleaved(contestants, 1, 10, (c, k) => c.predictOne(k));
    await timeInterleaved(contestants, 1, 1, (c) => c.predictBatch());
    phase('warm_up');
    const single = await timeInterleaved(contestants, args.rounds, args.block, (c, k) => c.predictOne(k));
    phase('batch_1');
    const batched = await timeInterleaved(contestants, args.batchRounds, 2, (c) => c.predictBatch());
    phase('batch_32');
    for (const c of contestants) c.check();

    const gl = contestants.find((c) => c.id === 'engine-webgl')!.webgl!;
    const webgl = profileWebgl(gl, w, args.profileIterations);
    phase('profile');

    const backends = Object.fromEntries(
      contestants.map((c) => {
        const b = stats(batched.get(c.id)!);
        const timing: BackendTiming = {
          runsOn: c.runsOn,
          ...stats(single.get(c.id)!),
          batch_median_ms: b.median_ms,
          batch_samples: b.samples,
          images_per_s: (BATCH * 1000) / b.median_ms,
        };
        return [c.id, timing];
      }),
    ) as Record<BrowserBackendId, BackendTiming>;
    return {
      crossOriginIsolated: self.crossOriginIsolated,
      timer_resolution_ms: timerResolution(),
      backends,
      diffs,
      reference_first: referenceFirst,
      webgl,
      phases,
    };
  } finally {
    for (const c of contestants) c.dispose();
  }
}

const procedures = { cold, main };
type Op = keyof typeof procedures;

configureTfjs(new URL('/tfjs/', self.location.href).href);

self.onmessage = (e: MessageEvent<{ op: Op; args: unknown }>) => {
  const { op, args } = e.data;
  const fn = procedures[op] as ((a: unknown) => Promise<unknown>) | undefined;
  (fn ? fn(args) : Promise.reject(new Error(`no procedure "${String(op)}"`))).then(
    (value) => postMessage({ ok: true, value }),
    (err: unknown) => postMessage({ ok: false, error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) }),
  );
};

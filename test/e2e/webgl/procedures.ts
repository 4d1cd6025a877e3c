// What the WebGL tests run inside the browser (a dedicated worker or the page). Every procedure
// returns plain numbers and strings; the specs assert on them. The reference is always the CPU
// backend (CpuSession), which the unit tests check against plain loops.
import { createSession, type EngineSession } from '../../../src/engine/backend.ts';
import { Random } from '../../../src/engine/random.ts';
import { CpuSession, type BackendName } from '../../../src/engine/session.ts';
import { inferShapes, size3 } from '../../../src/engine/shapes.ts';
import type { LayerSpec, Model, ModelSpec } from '../../../src/engine/spec.ts';
import { classicCifarSpec } from '../../../src/engine/zoo.ts';
import { createWebglSession } from '../../../src/engine/webgl/session.ts';
import { LAYER_CASES } from './cases.ts';
import { paramsWithBiases } from '../../unit/model-cases.ts';
import { compare, type Diff } from './compare.ts';

function worst(diffs: Diff[]): Diff {
  return diffs.reduce((a, b) => ({
    what: b.maxDiff > a.maxDiff ? b.what : a.what,
    maxDiff: Math.max(a.maxDiff, b.maxDiff),
    maxRef: Math.max(a.maxRef, b.maxRef),
    count: a.count + b.count,
    at: b.maxDiff > a.maxDiff ? b.at : a.at,
  }));
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Random(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}


function caseModel(name: string): { model: Model; upTo: number } {
  const c = LAYER_CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no layer case named ${name}`);
  const [h, w, ch] = c.input;
  const layers: LayerSpec[] = [];
  if (!c.bytes) layers.push({ kind: 'conv2d', name: 'pre', filters: ch, kernel: 1 });
  c.layers.forEach((l, i) => layers.push({ ...l, name: `l${i}` } as LayerSpec));
  const upTo = layers.length;
  layers.push({ kind: 'dense', name: 'head', units: 1 }); // gives the spec its one label; not compared
  const spec: ModelSpec = {
    input: c.bytes ? { height: h, width: w, channels: ch, mean: [120, 110, 100, 90].slice(0, ch), std: [60, 50, 70, 40].slice(0, ch) } : { height: h, width: w, channels: 3 },
    layers,
    labels: ['x'],
  };
  return { model: { spec, params: paramsWithBiases(spec, name.length * 7919) }, upTo };
}

let sharedCanvas: OffscreenCanvas | null = null;

async function layerCase(args: { name: string }): Promise<Diff & { outShape: string; loadMs: number }> {
  const { model, upTo } = caseModel(args.name);
  const info = inferShapes(model.spec);
  sharedCanvas ??= new OffscreenCanvas(1, 1);
  const t0 = performance.now();
  const gl = await createWebglSession(model, { canvas: sharedCanvas });
  const loadMs = performance.now() - t0;
  try {
    const cpu = new CpuSession(model);
    const n = 3;
    const bytes = randomBytes(n * size3(info.input), 1234);
    const one = bytes.subarray(0, size3(info.input));
    const batched = compare(gl.features(bytes, n, upTo), cpu.features(bytes, n, upTo), 'batch of 3');
    const single = compare(gl.features(one, 1, upTo), cpu.features(one, 1, upTo), 'batch of 1');
    const out = info.layers[upTo - 1].out;
    return { ...worst([batched, single]), outShape: `[${out.h},${out.w},${out.c}]`, loadMs };
  } finally {
    gl.dispose();
  }
}

/** The classic CIFAR net: predict (batch-1 path), predictBatch and features at every depth. */
async function fullNet(args: { seed: number; images: number }): Promise<{
  predict: Diff;
  batch: Diff;
  features: (Diff & { upTo: number })[];
  renderFormat: string;
  renderer: string;
  loadMs: number;
}> {
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, args.seed) };
  const t0 = performance.now();
  const gl = await createWebglSession(model);
  const loadMs = performance.now() - t0;
  try {
    const cpu = new CpuSession(model);
    const size = size3(cpu.info.input);
    const bytes = randomBytes(args.images * size, args.seed);
    const predict = worst(
      Array.from({ length: args.images }, (_, i) => {
        const img = bytes.subarray(i * size, (i + 1) * size);
        return compare(gl.predict(img), cpu.predict(img), `predict image ${i}`);
      }),
    );
    const batch = compare(gl.predictBatch(bytes, args.images), cpu.predictBatch(bytes, args.images), 'predictBatch');
    const features = cpu.info.layers.map((_, i) => ({
      upTo: i + 1,
      ...compare(gl.features(bytes, 2, i + 1), cpu.features(bytes, 2, i + 1), `features upTo ${i + 1}`),
    }));
    return { predict, batch, features, renderFormat: gl.renderFormat, renderer: gl.renderer, loadMs };
  } finally {
    gl.dispose();
  }
}

/** Half-float render targets forced: how far from the CPU (reported, not asserted against 1e-4). */
async function halfFloat(args: { seed: number; images: number }): Promise<{ renderFormat: string; predict: Diff; logits: Diff }> {
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, args.seed) };
  const gl = await createWebglSession(model, { renderFormat: 'rgba16f' });
  try {
    const cpu = new CpuSession(model);
    const size = size3(cpu.info.input);
    const bytes = randomBytes(args.images * size, args.seed);
    const predict = compare(gl.predictBatch(bytes, args.images), cpu.predictBatch(bytes, args.images), 'predictBatch (rgba16f)');
    const logits = compare(gl.features(bytes, args.images, 7), cpu.features(bytes, args.images, 7), 'logits (rgba16f)');
    return { renderFormat: gl.renderFormat, predict, logits };
  } finally {
    gl.dispose();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Summarises per-frame backends as runs: 'webgl×11 cpu×20 webgl×10'. */
function runs(served: BackendName[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < served.length) {
    let j = i;
    while (j < served.length && served[j] === served[i]) j++;
    out.push(`${served[i]}×${j - i}`);
    i = j;
  }
  return out.join(' ');
}

/**
 * A stream of frames through createSession('auto'); the GL context is lost right before frame
 * `loseAt` and restored once `cpuFrames` frames were served by the CPU. Every frame's answer is
 * compared with the CPU.
 */
async function contextLoss(args: { loseAt: number; cpuFrames: number; webglFramesAfter: number; maxFrames: number; frameMs: number }): Promise<{
  frames: number;
  failures: string[];
  served: string;
  maxDiff: number;
  changes: { frame: number; backend: BackendName; reason: string }[];
  initialReason: string;
  sameBuffer: boolean;
  lostEventSeen: boolean;
}> {
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, 3) };
  const canvas = new OffscreenCanvas(1, 1);
  let lostEventSeen = false;
  canvas.addEventListener('webglcontextlost', () => (lostEventSeen = true));
  let frame = 0;
  const changes: { frame: number; backend: BackendName; reason: string }[] = [];
  const session: EngineSession = await createSession(model, {
    backend: 'auto',
    pickFaster: false, // keep WebGL2 (slower than the CPU on a software renderer) to test its loss
    canvas,
    onBackendChange: (backend, reason) => changes.push({ frame, backend, reason }),
  });
  const initialReason = session.reason;
  if (session.backend !== 'webgl') throw new Error(`expected to start on WebGL: ${session.reason}`);
  const lose = (canvas.getContext('webgl2') as WebGL2RenderingContext).getExtension('WEBGL_lose_context');
  if (!lose) throw new Error('WEBGL_lose_context is missing');
  const cpu = new CpuSession(model);
  const size = size3(cpu.info.input);
  const images = Array.from({ length: 8 }, (_, i) => randomBytes(size, 100 + i));
  const served: BackendName[] = [];
  const failures: string[] = [];
  let maxDiff = 0;
  let firstOut: Float32Array | null = null;
  let sameBuffer = true;
  let restored = false;
  let webglAfter = 0;
  for (; frame < args.maxFrames; frame++) {
    if (frame === args.loseAt) lose.loseContext();
    const img = images[frame % images.length];
    try {
      const out = session.predict(img);
      firstOut ??= out;
      sameBuffer &&= out === firstOut;
      served.push(session.backend);
      maxDiff = Math.max(maxDiff, compare(out, cpu.predict(img), `frame ${frame}`).maxDiff);
    } catch (err) {
      failures.push(`frame ${frame}: ${String(err)}`);
      served.push('cpu');
    }
    const cpuSoFar = served.filter((b, i) => i >= args.loseAt && b === 'cpu').length;
    if (!restored && frame >= args.loseAt && cpuSoFar >= args.cpuFrames) {
      lose.restoreContext();
      restored = true;
    }
    if (restored && served[frame] === 'webgl') webglAfter++;
    if (webglAfter >= args.webglFramesAfter) {
      frame++;
      break;
    }
    await sleep(args.frameMs);
  }
  session.dispose();
  return { frames: frame, failures, served: runs(served), maxDiff, changes, initialReason, sameBuffer, lostEventSeen };
}

/** createSession('auto') where WebGL2 may be missing: which backend and why. */
async function autoBackend(): Promise<{ backend: BackendName; reason: string; webgl2: boolean; output: number[] }> {
  let webgl2 = false;
  try {
    webgl2 = typeof OffscreenCanvas !== 'undefined' && new OffscreenCanvas(1, 1).getContext('webgl2') !== null;
  } catch {
    webgl2 = false;
  }
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, 5) };
  const session = await createSession(model, { backend: 'auto' });
  const img = randomBytes(size3(session.info.input), 9);
  const output = Array.from(session.predict(img));
  const result = { backend: session.backend, reason: session.reason, webgl2, output };
  session.dispose();
  return result;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(times: number[]): { median: number; p95: number; min: number } {
  const s = [...times].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p95: quantile(s, 0.95), min: s[0] };
}

/**
 * Timing of the classic net (measured, not asserted). Per iteration, interleaved so that all
 * methods see the same machine load: batch-1 predict (synchronous readPixels of the scores), the
 * same frame read back through a pixel-pack buffer + fence polled between tasks, the draws alone
 * ended by a 1-pixel read, and the CPU backend. Then batched throughput.
 */
async function bench(args: { iterations: number }): Promise<Record<string, unknown>> {
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, 11) };
  let t = performance.now();
  const gl = await createWebglSession(model);
  const loadMs = performance.now() - t;
  const cpu = new CpuSession(model);
  const size = size3(cpu.info.input);
  const images = Array.from({ length: 16 }, (_, i) => randomBytes(size, 200 + i));
  t = performance.now();
  gl.predict(images[0]);
  const firstMs = performance.now() - t;
  for (let i = 0; i < 20; i++) gl.predict(images[i % 16]);

  const net = gl.network!;
  const ctx = net.ctx.gl;
  const b = net.bind(cpu.info.layers.length, 1);
  const out = b.output.layout;
  const px = new Float32Array(4);
  const pbo = ctx.createBuffer();
  ctx.bindBuffer(ctx.PIXEL_PACK_BUFFER, pbo);
  ctx.bufferData(ctx.PIXEL_PACK_BUFFER, b.readback.byteLength, ctx.STREAM_READ);
  ctx.bindBuffer(ctx.PIXEL_PACK_BUFFER, null);
  const channel = new MessageChannel();
  const nextTask = () =>
    new Promise<void>((r) => {
      channel.port1.onmessage = () => r();
      channel.port2.postMessage(0);
    });
  const sync: number[] = [];
  const drawOnly: number[] = [];
  const fenced: number[] = [];
  const cpuTimes: number[] = [];
  let polls = 0;
  let pboDiff = 0;
  for (let i = 0; i < args.iterations; i++) {
    const img = images[i % 16];
    t = performance.now();
    gl.predict(img);
    sync.push(performance.now() - t);

    t = performance.now();
    net.draw(b, img, 0, 1);
    ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.FLOAT, px);
    drawOnly.push(performance.now() - t);

    t = performance.now();
    net.draw(b, img, 0, 1);
    ctx.bindFramebuffer(ctx.FRAMEBUFFER, b.output.framebuffer);
    ctx.bindBuffer(ctx.PIXEL_PACK_BUFFER, pbo);
    ctx.readPixels(0, 0, out.width, out.imageRows, ctx.RGBA, ctx.FLOAT, 0);
    const fence = ctx.fenceSync(ctx.SYNC_GPU_COMMANDS_COMPLETE, 0)!;
    ctx.flush();
    for (;;) {
      const st = ctx.clientWaitSync(fence, 0, 0);
      if (st === ctx.ALREADY_SIGNALED || st === ctx.CONDITION_SATISFIED) break;
      if (st === ctx.WAIT_FAILED) throw new Error('clientWaitSync failed');
      polls++;
      await nextTask();
    }
    ctx.deleteSync(fence);
    ctx.getBufferSubData(ctx.PIXEL_PACK_BUFFER, 0, b.readback);
    ctx.bindBuffer(ctx.PIXEL_PACK_BUFFER, null);
    fenced.push(performance.now() - t);

    t = performance.now();
    const want = cpu.predict(img);
    cpuTimes.push(performance.now() - t);
    pboDiff = Math.max(pboDiff, compare(b.readback.subarray(0, want.length), want, 'pbo readback').maxDiff);
  }
  ctx.deleteBuffer(pbo);

  const batchN = 256;
  const batchBytes = randomBytes(batchN * size, 77);
  gl.predictBatch(batchBytes, 64);
  t = performance.now();
  gl.predictBatch(batchBytes, batchN);
  const batchMs = performance.now() - t;
  t = performance.now();
  cpu.predictBatch(batchBytes, batchN);
  const cpuBatchMs = performance.now() - t;

  gl.dispose();
  return {
    renderer: gl.renderer,
    renderFormat: gl.renderFormat,
    loadMs,
    firstPredictMs: firstMs,
    webglSync: stats(sync),
    webglPboFence: { ...stats(fenced), pollsPerFrame: polls / fenced.length, maxDiff: pboDiff },
    webglDrawsOnly: stats(drawOnly),
    cpu: stats(cpuTimes),
    webglBatchImagesPerS: (batchN / batchMs) * 1000,
    cpuBatchImagesPerS: (batchN / cpuBatchMs) * 1000,
  };
}

/** Time of each pass of the classic net alone (draw + 1-pixel read), median over `iterations`. */
async function profile(args: { iterations: number; batch?: number }): Promise<{ name: string; median: number; min: number }[]> {
  const spec = classicCifarSpec();
  const model = { spec, params: paramsWithBiases(spec, 11) };
  const gl = await createWebglSession(model);
  const net = gl.network!;
  const ctx = net.ctx.gl;
  const count = args.batch ?? 1;
  const b = net.bind(spec.layers.length, count);
  const img = randomBytes(count * size3(gl.info.input), 1);
  net.run(b, img, 0, count);
  const px = new Float32Array(4);
  const result = b.draws.map((d) => {
    const times: number[] = [];
    for (let i = 0; i < args.iterations; i++) {
      const t = performance.now();
      net.runner.begin();
      net.runner.draw(d.program, d.inputs, d.target, count * d.target.layout.shape.h);
      ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.FLOAT, px);
      times.push((performance.now() - t) / count);
    }
    const st = stats(times);
    return { name: d.program.gpu.name, median: st.median, min: st.min };
  });
  const times: number[] = [];
  for (let i = 0; i < args.iterations; i++) {
    const t = performance.now();
    ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.FLOAT, px);
    times.push(performance.now() - t);
  }
  result.push({ name: '1-pixel read alone', ...stats(times) });
  gl.dispose();
  return result;
}

function env(): { webgl2: boolean; renderer: string; extensions: string[]; inWorker: boolean } {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  return {
    webgl2: !!gl,
    renderer: gl ? String(gl.getParameter(gl.RENDERER)) : '',
    extensions: gl?.getSupportedExtensions() ?? [],
    inWorker: typeof window === 'undefined',
  };
}

export const procedures = { env, layerCase, fullNet, halfFloat, contextLoss, autoBackend, bench, profile };
export type Procedures = typeof procedures;

// The WebGL2 inference session: the same InferenceSession as the CPU backend, computed by
// fragment shaders on float textures. Works in a dedicated worker and in a page (OffscreenCanvas).
//
// Load: context, capability probe, parameter upload, compilation of every program of the full
// forward pass (in parallel with KHR_parallel_shader_compile) and one warm-up run, so the first
// real frame pays no compilation. Per frame: one byte upload, one draw per pass, one readback of
// the class scores.
//
// Context loss: the session reports it (onContextLost), and predict() throws
// WebglContextLostError until the context is restored and everything is rebuilt from the retained
// parameters (onContextRestored). backend.ts serves those frames from the CPU.
import { checkMaps, insideLayout, medianTimes, type InsideLayout, type LayerTimes } from '../inside.ts';
import { sessionReadout, type InferenceSession } from '../session.ts';
import { size3, validateModel, type NetworkInfo } from '../shapes.ts';
import type { Model, ReadoutSpec } from '../spec.ts';
import { WebglContextLostError, getWebgl2, probeContext, type ContextOptions, type GpuContext, type RenderFormat } from './context.ts';
import { batchCapacity, unpackTensor } from './layout.ts';
import { GpuNetwork, type BoundPlan } from './network.ts';

export interface WebglSessionOptions extends ContextOptions {
  /** Images per batched draw in predictBatch/features (default 64, less if textures would be too tall). */
  batchCapacity?: number;
  onContextLost?: () => void;
  onContextRestored?: () => void;
  /** The context came back but rebuilding failed; the session stays unusable. */
  onRestoreFailed?: (error: Error) => void;
}

export type WebglStatus = 'ready' | 'lost' | 'restoring' | 'failed' | 'disposed';

const DEFAULT_BATCH = 64;

export class WebglSession implements InferenceSession {
  readonly backend = 'webgl';
  readonly info: NetworkInfo;
  private ctx: GpuContext;
  private gpu: GpuNetwork | null = null;
  /** The full plan at batch 1, bound once so predict() allocates nothing. */
  private main: BoundPlan | null = null;
  private state: WebglStatus = 'restoring';
  private params: Float32Array;
  private readonly output: Float32Array;
  private readonly inputSize: number;
  private readonly batch: number;
  private readonly canvas: OffscreenCanvas;
  private layout: InsideLayout | null = null;

  /** Use createWebglSession: construction needs an async build. */
  constructor(
    info: NetworkInfo,
    params: Float32Array,
    ctx: GpuContext,
    private readonly options: WebglSessionOptions,
    private readonly ownsCanvas: boolean,
  ) {
    this.info = info;
    this.params = params;
    this.ctx = ctx;
    this.canvas = ctx.canvas;
    this.output = new Float32Array(size3(info.output));
    this.inputSize = size3(info.input);
    this.batch = batchCapacity(info, ctx.maxTextureSize, options.batchCapacity ?? DEFAULT_BATCH);
    this.canvas.addEventListener('webglcontextlost', this.handleLost);
    this.canvas.addEventListener('webglcontextrestored', this.handleRestored);
  }

  get status(): WebglStatus {
    return this.state;
  }

  /** Render-target format in use; 'rgba16f' means ≈ 3 significant digits in every activation. */
  get renderFormat(): RenderFormat {
    return this.ctx.renderFormat;
  }

  /** The GPU network while the session is ready (for measurements), else null. */
  get network(): GpuNetwork | null {
    return this.state === 'ready' ? this.gpu : null;
  }

  get renderer(): string {
    return this.ctx.renderer;
  }

  /** Builds every GL object, compiles the full plan and runs it once. */
  async build(): Promise<void> {
    const gpu = new GpuNetwork(this.ctx, this.info, this.params);
    try {
      const all = this.info.layers.length;
      await gpu.compile(all);
      const b = gpu.bind(all, 1);
      gpu.run(b, new Uint8Array(this.inputSize), 0, 1);
      const gl = this.ctx.gl;
      const error = gl.getError();
      if (error !== gl.NO_ERROR && !gl.isContextLost()) throw new Error(`WebGL error 0x${error.toString(16)} in the warm-up run`);
      if (gl.isContextLost()) throw new WebglContextLostError('WebGL2 context was lost while loading');
    } catch (err) {
      if (!this.ctx.gl.isContextLost()) gpu.dispose();
      throw err;
    }
    this.gpu = gpu;
    this.main = gpu.bind(this.info.layers.length, 1);
    this.state = 'ready';
  }

  predict(bytes: Uint8Array): Float32Array {
    this.checkBytes(bytes, 1);
    const gpu = this.ready();
    const b = this.main!;
    gpu.run(b, bytes, 0, 1);
    this.checkNotLost();
    unpackTensor(b.output.layout, b.readback, 1, this.output);
    return this.output;
  }

  /** Compiles the unfused plan predictInside draws (concurrently where the driver can). */
  async prepareInside(): Promise<void> {
    const gpu = this.ready();
    const programs = gpu.passes(this.info.layers.length, null, true).map((p) => p.gpu);
    await gpu.runner.settle(gpu.runner.compile(programs));
  }

  /**
   * predict on the plan with every layer in its own pass (fusing a pool into its conv would leave
   * the conv's output unwritten), reading every pass's texture back into `maps`.
   */
  predictInside(bytes: Uint8Array, maps: Float32Array): Float32Array {
    this.checkBytes(bytes, 1);
    const layout = (this.layout ??= insideLayout(this.info));
    checkMaps(layout, maps);
    const gpu = this.ready();
    const { plan, reads } = gpu.bindInside();
    gpu.draw(plan, bytes, 0, 1);
    for (const r of reads) gpu.readTarget(r.target, r.buffer);
    this.checkNotLost();
    for (const r of reads) {
      const offset = r.readout ? layout.readout!.offset : layout.maps[r.layer].offset;
      unpackTensor(r.target.layout, r.buffer, 1, maps, offset);
    }
    const last = layout.maps[layout.maps.length - 1];
    this.output.set(maps.subarray(last.offset, last.offset + last.size));
    return this.output;
  }

  /** Per pass of the plan predict draws (fused layers share their pass's time), waiting for each. */
  timeLayers(bytes: Uint8Array, reps: number): LayerTimes {
    this.checkBytes(bytes, 1);
    const gpu = this.ready();
    const b = this.main!;
    const layers = this.info.layers.length;
    const samples: Float64Array[] = [];
    const passMs = new Float64Array(b.draws.length);
    for (let r = 0; r < Math.max(1, reps); r++) {
      passMs.fill(0);
      gpu.drawTimed(b, bytes, passMs);
      this.checkNotLost();
      const ms = new Float64Array(layers);
      // A readout pass is charged to its head, as is the head's own pass.
      b.draws.forEach((d, i) => (ms[d.first] += passMs[i]));
      samples.push(ms);
    }
    const fusedInto: (number | null)[] = new Array<number | null>(layers).fill(null);
    for (const d of b.draws) for (let l = d.first + 1; l <= d.last; l++) fusedInto[l] = d.first;
    return { backend: 'webgl', ...medianTimes(samples, layers), fusedInto, reps: samples.length };
  }

  predictBatch(bytes: Uint8Array, n: number): Float32Array {
    return this.features(bytes, n, this.info.layers.length);
  }

  features(bytes: Uint8Array, n: number, upTo: number): Float32Array {
    this.checkBytes(bytes, n);
    const { layers } = this.info;
    if (!(Number.isInteger(upTo) && upTo >= 0 && upTo <= layers.length)) {
      throw new RangeError(`features: layer count ${upTo} is outside 0..${layers.length}`);
    }
    if (upTo === 0) return this.normalise(bytes, n);
    const gpu = this.ready();
    const size = gpu.outputSize(upTo);
    const out = new Float32Array(n * size);
    const capacity = n === 1 ? 1 : this.batch;
    const b = gpu.bind(upTo, capacity);
    for (let start = 0; start < n; start += capacity) {
      const count = Math.min(capacity, n - start);
      gpu.run(b, bytes, start * this.inputSize, count);
      this.checkNotLost();
      unpackTensor(b.output.layout, b.readback, count, out, start * size);
    }
    return out;
  }

  readoutFeatures(bytes: Uint8Array, n: number, readout?: ReadoutSpec): Float32Array {
    this.checkBytes(bytes, n);
    const r = sessionReadout(this.info, readout);
    const gpu = this.ready();
    const out = new Float32Array(n * r.size);
    const capacity = n === 1 ? 1 : this.batch;
    const b = gpu.bind(r.upTo, capacity, r);
    for (let start = 0; start < n; start += capacity) {
      const count = Math.min(capacity, n - start);
      gpu.run(b, bytes, start * this.inputSize, count);
      this.checkNotLost();
      unpackTensor(b.output.layout, b.readback, count, out, start * r.size);
    }
    return out;
  }

  setParams(params: Float32Array): void {
    validateModel(this.info.spec, params);
    this.params = params;
    if (this.gpu && this.state === 'ready') this.gpu.setParams(params);
  }

  dispose(): void {
    if (this.state === 'disposed') return;
    this.canvas.removeEventListener('webglcontextlost', this.handleLost);
    this.canvas.removeEventListener('webglcontextrestored', this.handleRestored);
    const gl = this.ctx.gl;
    if (this.gpu && !gl.isContextLost()) this.gpu.dispose();
    this.gpu = null;
    this.main = null;
    this.state = 'disposed';
    // A canvas made for this session: release its context now rather than at garbage collection.
    if (this.ownsCanvas && !gl.isContextLost()) gl.getExtension('WEBGL_lose_context')?.loseContext();
  }

  private ready(): GpuNetwork {
    if (this.state === 'ready' && this.ctx.gl.isContextLost()) this.markLost();
    if (this.state !== 'ready' || !this.gpu) {
      throw new WebglContextLostError(`WebGL session is ${this.state}`);
    }
    return this.gpu;
  }

  /** After a readback: values read from a lost context are not results. */
  private checkNotLost(): void {
    if (this.ctx.gl.isContextLost()) {
      this.markLost();
      throw new WebglContextLostError('WebGL2 context was lost during the forward pass');
    }
  }

  private markLost(): void {
    if (this.state === 'lost' || this.state === 'disposed') return;
    this.state = 'lost';
    this.gpu = null; // its GL objects died with the context
    this.main = null;
    this.options.onContextLost?.();
  }

  private readonly handleLost = (e: Event): void => {
    e.preventDefault(); // asks the browser to restore the context
    this.markLost();
  };

  private readonly handleRestored = (): void => {
    if (this.state === 'disposed') return;
    this.state = 'restoring';
    const restore = async () => {
      this.ctx = probeContext(this.ctx.gl, this.canvas, this.options);
      await this.build();
    };
    restore().then(
      () => {
        if (this.state === 'ready') this.options.onContextRestored?.();
      },
      (err: unknown) => {
        if (this.state === 'disposed') return;
        if (this.ctx.gl.isContextLost()) {
          this.markLost();
          return;
        }
        this.state = 'failed';
        this.options.onRestoreFailed?.(err instanceof Error ? err : new Error(String(err)));
      },
    );
  };

  private normalise(bytes: Uint8Array, n: number): Float32Array {
    const { mean, invStd, input } = this.info;
    const out = new Float32Array(n * this.inputSize);
    for (let i = 0; i < out.length; i++) {
      const c = i % input.c;
      out[i] = (bytes[i] - mean[c]) * invStd[c];
    }
    return out;
  }

  private checkBytes(bytes: Uint8Array, n: number): void {
    const want = n * this.inputSize;
    if (!(bytes instanceof Uint8Array) || bytes.length < want) {
      const { h, w, c } = this.info.input;
      throw new RangeError(`expected ${n} image(s) of ${h}×${w}×${c} = ${want} bytes, got ${bytes?.length ?? 'no'} bytes`);
    }
  }
}

/**
 * Creates a WebGL2 session for `model`: throws WebglUnavailableError when WebGL2 or a float
 * render target is missing (the caller uses the CPU), or an Error naming the program that failed.
 */
export async function createWebglSession(model: Model, options: WebglSessionOptions = {}): Promise<WebglSession> {
  const info = validateModel(model.spec, model.params);
  const { gl, canvas } = getWebgl2(options.canvas);
  const ownsCanvas = !options.canvas;
  let session: WebglSession | null = null;
  try {
    const ctx = probeContext(gl, canvas, options);
    session = new WebglSession(info, model.params, ctx, options, ownsCanvas);
    await session.build();
    return session;
  } catch (err) {
    if (session) session.dispose();
    else if (ownsCanvas) gl.getExtension('WEBGL_lose_context')?.loseContext();
    throw err;
  }
}

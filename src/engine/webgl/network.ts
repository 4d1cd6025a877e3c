// A network on one WebGL2 context: parameter textures (uploaded once), the pass plan (which layers
// each program computes, with conv + 2×2 max pool fused), and, per batch capacity, the input
// texture and one render target per activation. Everything here is allocated at load or on the
// first use of a capacity/plan; running a plan allocates nothing. A context loss invalidates the
// whole object: the session builds a new one after the restore.
import { size3, type Conv2dInfo, type DenseInfo, type NetworkInfo, type PoolInfo, type ReadoutInfo } from '../shapes.ts';
import type { GpuContext } from './context.ts';
import {
  activationBorder,
  imageTexels,
  NO_BORDER,
  tensorLayout,
  type InputSource,
  type MatrixLayout,
  type TensorFormat,
  type TensorLayout,
} from './layout.ts';
import type { GpuProgram, ProgramIO } from './program.ts';
import { ActivationProgram } from './programs/activation.ts';
import {
  Conv2dProgram,
  canFusePool,
  conv2dWeightLayout,
  needsBiasMap,
  packConv2dBiasMap,
  packConv2dParams,
} from './programs/conv2d.ts';
import { DenseProgram, canFuseSoftmax, denseWeightLayout, packDenseParams } from './programs/dense.ts';
import { PoolProgram } from './programs/pool.ts';
import { ReadoutProgram, readoutFormat } from './programs/readout.ts';
import { SoftmaxProgram } from './programs/softmax.ts';
import { ProgramRunner, type CompiledProgram, type RenderTarget } from './runner.ts';

interface LayerParams {
  matrix: MatrixLayout;
  /** Packed texels (4 floats each), kept for setParams so updates allocate nothing. */
  weightTexels: Float32Array;
  /** One row of CO4 texels, or a bias map of the conv output's size (programs/conv2d.ts). */
  biasTexels: Float32Array;
  biasMap: boolean;
  biasWidth: number;
  biasHeight: number;
  weights: WebGLTexture;
  bias: WebGLTexture;
}

/**
 * One draw: layers first..last (two when a pool is fused into its conv), activation first → last + 1;
 * or, with `readout`, the pooled features a readout gathers (written to the stage's readout target).
 */
interface PassSpec {
  first: number;
  last: number;
  gpu: GpuProgram;
  readout?: ReadoutInfo;
}

/** Identifies a readout's layout (taps and colour) among a network's plans. */
const readoutKey = (r: ReadoutInfo): string => `${r.taps.map((t) => `${t.layer}${t.pool}`).join(',')}|${r.colourBins}`;

interface Stage {
  capacity: number;
  inputLayout: TensorLayout;
  input: WebGLTexture;
  /** targets[i] holds activation i (the output of layer i − 1), made when a plan first needs it. */
  targets: (RenderTarget | null)[];
  /** Readout features, by readoutKey. */
  readouts: Map<string, RenderTarget>;
}

/** A plan bound to a stage's textures: what a forward pass draws, with no per-run allocation. */
export interface BoundPlan {
  stage: Stage;
  draws: { program: CompiledProgram; inputs: WebGLTexture[]; target: RenderTarget; first: number; last: number; readout?: boolean }[];
  output: RenderTarget;
  /** Read-back texels of the output target for the whole capacity. */
  readback: Float32Array;
}

export class GpuNetwork {
  readonly runner: ProgramRunner;
  private readonly gl: WebGL2RenderingContext;
  private readonly params: (LayerParams | null)[];
  private readonly plans = new Map<string, PassSpec[]>();
  private readonly stages = new Map<number, Stage>();
  private readonly bound = new Map<string, BoundPlan>();
  private readonly byteSource: InputSource;
  private inside: ReturnType<GpuNetwork['bindInside']> | null = null;
  private readonly texel = new Float32Array(4);

  constructor(
    readonly ctx: GpuContext,
    readonly info: NetworkInfo,
    params: Float32Array,
  ) {
    this.gl = ctx.gl;
    this.runner = new ProgramRunner(ctx);
    this.byteSource = { kind: 'bytes', mean: info.mean, invStd: info.invStd };
    this.params = info.layers.map((l, i) => {
      if (l.kind !== 'conv2d' && l.kind !== 'dense') return null;
      const matrix = l.kind === 'conv2d' ? conv2dWeightLayout(l, ctx.maxTextureSize) : denseWeightLayout(l, ctx.maxTextureSize);
      const slices = Math.ceil(l.out.c / 4);
      const map = l.kind === 'conv2d' && needsBiasMap(l, this.source(i));
      const biasWidth = map ? tensorLayout({ shape: l.out, border: NO_BORDER }, 1, ctx.maxTextureSize, `conv2d "${l.name}" bias map`).width : slices;
      const biasHeight = map ? l.out.h : 1;
      const p: Omit<LayerParams, 'weights' | 'bias'> = {
        matrix,
        weightTexels: new Float32Array(matrix.width * matrix.height * 4),
        biasTexels: new Float32Array(biasWidth * biasHeight * 4),
        biasMap: map,
        biasWidth,
        biasHeight,
      };
      this.pack(l, params, p);
      return {
        ...p,
        weights: this.runner.createDataTexture(matrix.width, matrix.height, p.weightTexels),
        bias: this.runner.createDataTexture(biasWidth, biasHeight, p.biasTexels),
      };
    });
  }

  /** Where layer i reads from: the input bytes for layer 0, else a float texture. */
  private source(i: number): InputSource {
    return i === 0 ? this.byteSource : { kind: 'float' };
  }

  /** Layout-independent format of activation i (0: the input), with the border its reader needs. */
  private format(i: number): TensorFormat {
    const { input, layers } = this.info;
    return { shape: i === 0 ? input : layers[i - 1].out, border: activationBorder(layers[i]) };
  }

  private pack(l: Conv2dInfo | DenseInfo, params: Float32Array, p: Omit<LayerParams, 'weights' | 'bias'>): void {
    if (l.kind === 'dense') return packDenseParams(l, params, p.matrix, p.weightTexels, p.biasTexels);
    packConv2dParams(l, params, p.matrix, p.weightTexels, p.biasTexels);
    if (p.biasMap) packConv2dBiasMap(l, params, this.info.mean, this.info.invStd, p.biasTexels);
  }

  /** Repacks and re-uploads every parameter texture (same spec, new values). */
  setParams(params: Float32Array): void {
    this.info.layers.forEach((l, i) => {
      const p = this.params[i];
      if (!p || (l.kind !== 'conv2d' && l.kind !== 'dense')) return;
      this.pack(l, params, p);
      this.runner.updateDataTexture(p.weights, p.matrix.width, p.matrix.height, p.weightTexels);
      this.runner.updateDataTexture(p.bias, p.biasWidth, p.biasHeight, p.biasTexels);
    });
  }

  /**
   * The passes computing layers [0, upTo), fused where possible unless upTo splits a pair or a
   * readout taps the conv's own output; with `extra`, then the features of that readout. With
   * `unfused`, every layer is its own pass, so every layer's output is in a texture (see bindInside).
   */
  passes(upTo: number, extra: ReadoutInfo | null = null, unfused = false): PassSpec[] {
    const key = `${unfused ? 'u' : ''}${extra ? `${upTo}:${readoutKey(extra)}` : String(upTo)}`;
    let plan = this.plans.get(key);
    if (plan) return plan;
    plan = [];
    const { layers, readout } = this.info;
    const tapped = new Set([...(readout?.taps ?? []), ...(extra?.taps ?? [])].map((t) => t.layer));
    for (let i = 0; i < upTo; i++) {
      const l = layers[i];
      const next = layers[i + 1];
      const io = (last: number): ProgramIO => ({ input: this.format(i), source: this.source(i), output: this.format(last + 1) });
      switch (l.kind) {
        case 'conv2d': {
          const fusable = !unfused && i + 1 < upTo && (next.kind === 'maxpool' || next.kind === 'avgpool') && canFusePool(next) && !tapped.has(i);
          const pool = fusable ? (next as PoolInfo) : null;
          const last = pool ? i + 1 : i;
          plan.push({ first: i, last, gpu: new Conv2dProgram(l, io(last), this.params[i]!.matrix, pool) });
          i = last;
          break;
        }
        case 'maxpool':
        case 'avgpool':
          plan.push({ first: i, last: i, gpu: new PoolProgram(l, io(i)) });
          break;
        case 'dense': {
          const softmax = !unfused && i + 1 < upTo && next.kind === 'softmax' && canFuseSoftmax(l) ? next : null;
          const last = softmax ? i + 1 : i;
          let dio = io(last);
          if (readout && i === readout.head) {
            // The head reads the readout's features, gathered by the pass before it.
            plan.push(this.readoutPass(readout));
            dio = { ...dio, input: readoutFormat(readout), source: { kind: 'float' } };
          }
          plan.push({ first: i, last, gpu: new DenseProgram(l, dio, this.params[i]!.matrix, softmax) });
          i = last;
          break;
        }
        case 'activation':
          plan.push({ first: i, last: i, gpu: new ActivationProgram(l, io(i)) });
          break;
        case 'softmax':
          plan.push({ first: i, last: i, gpu: new SoftmaxProgram(l, io(i)) });
          break;
      }
    }
    if (extra) plan.push(this.readoutPass(extra));
    this.plans.set(key, plan);
    return plan;
  }

  private readoutPass(r: ReadoutInfo): PassSpec {
    const head = this.info.layers[r.head];
    const gpu = new ReadoutProgram(r, r.taps.map((t) => this.format(t.layer + 1)), this.format(0), head.name);
    return { first: r.head, last: r.head, gpu, readout: r };
  }

  /** Compiles the programs of plan `upTo` (concurrently where the driver can) and checks them. */
  async compile(upTo: number): Promise<void> {
    await this.runner.settle(this.runner.compile(this.passes(upTo).map((p) => p.gpu)));
  }

  private stage(capacity: number): Stage {
    let st = this.stages.get(capacity);
    if (st) return st;
    const max = this.ctx.maxTextureSize;
    const inputLayout = tensorLayout(this.format(0), capacity, max, 'input');
    st = {
      capacity,
      inputLayout,
      input: this.runner.createByteTexture(inputLayout),
      targets: new Array<RenderTarget | null>(this.info.layers.length + 1).fill(null),
      readouts: new Map(),
    };
    this.stages.set(capacity, st);
    return st;
  }

  /** Plan `upTo` (with `extra`, see passes) bound to the textures of capacity `capacity` (made on first use). */
  bind(upTo: number, capacity: number, extra: ReadoutInfo | null = null, unfused = false): BoundPlan {
    const key = `${capacity}:${upTo}:${extra ? readoutKey(extra) : ''}${unfused ? ':u' : ''}`;
    let b = this.bound.get(key);
    if (b) return b;
    const st = this.stage(capacity);
    const { layers } = this.info;
    const max = this.ctx.maxTextureSize;
    let readoutTarget: RenderTarget | null = null;
    const draws = this.passes(upTo, extra, unfused).map((p) => {
      const program = this.runner.get(p.gpu);
      if (p.readout) {
        const r = p.readout;
        const rk = readoutKey(r);
        const what = `readout of dense "${layers[r.head].name}"`;
        let target = st.readouts.get(rk);
        if (!target) st.readouts.set(rk, (target = this.runner.createTarget(tensorLayout(readoutFormat(r), capacity, max, what), what)));
        readoutTarget = target;
        const inputs = r.taps.map((t) => st.targets[t.layer + 1]!.texture);
        if (r.colourBins > 0) inputs.push(st.input);
        return { program, inputs, target, first: r.head, last: r.head, readout: true };
      }
      const out = p.last + 1;
      const what = `${layers[p.last].kind} "${layers[p.last].name}" output`;
      const target = (st.targets[out] ??= this.runner.createTarget(tensorLayout(this.format(out), capacity, max, what), what));
      const readsReadout = this.info.readout?.head === p.first;
      const from = readsReadout ? readoutTarget!.texture : p.first === 0 ? st.input : st.targets[p.first]!.texture;
      const lp = this.params[p.first];
      return { program, inputs: lp ? [from, lp.weights, lp.bias] : [from], target, first: p.first, last: p.last };
    });
    const output = draws[draws.length - 1].target;
    b = { stage: st, draws, output, readback: new Float32Array(imageTexels(output.layout) * capacity * 4) };
    this.bound.set(key, b);
    return b;
  }

  /** Uploads `count` images (bytes from `offset`) and draws the plan; the result is in b.output. */
  draw(b: BoundPlan, bytes: Uint8Array, offset: number, count: number): void {
    const { stage } = b;
    this.runner.uploadBytes(stage.input, stage.inputLayout, bytes, offset, count);
    this.runner.begin();
    for (let i = 0; i < b.draws.length; i++) {
      const d = b.draws[i];
      this.runner.draw(d.program, d.inputs, d.target, count * d.target.layout.imageRows);
    }
  }

  /**
   * Reads the output texels of the first `count` images into b.readback with a synchronous
   * readPixels: faster here than a pixel-pack buffer and a fence (notes/webgl.md).
   */
  read(b: BoundPlan, count: number): void {
    const gl = this.gl;
    const out = b.output.layout;
    gl.bindFramebuffer(gl.FRAMEBUFFER, b.output.framebuffer);
    gl.readPixels(0, 0, out.width, count * out.imageRows, gl.RGBA, gl.FLOAT, b.readback);
  }

  run(b: BoundPlan, bytes: Uint8Array, offset: number, count: number): void {
    this.draw(b, bytes, offset, count);
    this.read(b, count);
  }

  /**
   * The full plan at batch 1 with every layer in its own pass, and a read-back buffer per pass:
   * what the inside view reads after one forward pass (made on first use).
   */
  bindInside(): { plan: BoundPlan; reads: { target: RenderTarget; buffer: Float32Array; layer: number; readout: boolean }[] } {
    if (this.inside) return this.inside;
    const plan = this.bind(this.info.layers.length, 1, null, true);
    const reads = plan.draws.map((d) => ({
      target: d.target,
      buffer: new Float32Array(imageTexels(d.target.layout) * 4),
      layer: d.last,
      readout: d.readout ?? false,
    }));
    return (this.inside = { plan, reads });
  }

  /** Reads one image's texels of `target` into `buffer` (synchronously). */
  readTarget(target: RenderTarget, buffer: Float32Array): void {
    const gl = this.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
    gl.readPixels(0, 0, target.layout.width, target.layout.imageRows, gl.RGBA, gl.FLOAT, buffer);
  }

  /**
   * Draws plan b for one image pass by pass, waiting for each (a one-texel readback), and adds
   * each pass's time (ms) to ms[pass]. The upload counts toward the first pass.
   */
  drawTimed(b: BoundPlan, bytes: Uint8Array, ms: Float64Array): void {
    const gl = this.gl;
    let start = performance.now();
    this.runner.uploadBytes(b.stage.input, b.stage.inputLayout, bytes, 0, 1);
    this.runner.begin();
    for (let i = 0; i < b.draws.length; i++) {
      const d = b.draws[i];
      this.runner.draw(d.program, d.inputs, d.target, d.target.layout.imageRows);
      gl.bindFramebuffer(gl.FRAMEBUFFER, d.target.framebuffer);
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.FLOAT, this.texel);
      const now = performance.now();
      ms[i] += now - start;
      start = now;
    }
  }

  /** Size of one output image of plan `upTo`, in floats. */
  outputSize(upTo: number): number {
    return size3(this.info.layers[upTo - 1].out);
  }

  /** Deletes every GL object (skip after a context loss: they are already gone). */
  dispose(): void {
    const gl = this.gl;
    for (const p of this.params) {
      if (!p) continue;
      gl.deleteTexture(p.weights);
      gl.deleteTexture(p.bias);
    }
    for (const st of this.stages.values()) {
      gl.deleteTexture(st.input);
      for (const t of st.targets) if (t) this.runner.deleteTarget(t);
      for (const t of st.readouts.values()) this.runner.deleteTarget(t);
    }
    this.stages.clear();
    this.bound.clear();
    this.inside = null;
    this.runner.dispose();
  }
}

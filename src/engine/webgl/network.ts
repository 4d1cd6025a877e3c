// A network on one WebGL2 context: parameter textures (uploaded once), the pass plan (which layers
// each program computes, with conv + 2×2 max pool fused), and, per batch capacity, the input
// texture and one render target per activation. Everything here is allocated at load or on the
// first use of a capacity/plan; running a plan allocates nothing. A context loss invalidates the
// whole object: the session builds a new one after the restore.
import { size3, type Conv2dInfo, type DenseInfo, type NetworkInfo } from '../shapes.ts';
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

/** One draw: layers first..last (two when a pool is fused into its conv), activation first → last + 1. */
interface PassSpec {
  first: number;
  last: number;
  gpu: GpuProgram;
}

interface Stage {
  capacity: number;
  inputLayout: TensorLayout;
  input: WebGLTexture;
  /** targets[i] holds activation i (the output of layer i − 1), made when a plan first needs it. */
  targets: (RenderTarget | null)[];
}

/** A plan bound to a stage's textures: what a forward pass draws, with no per-run allocation. */
export interface BoundPlan {
  stage: Stage;
  draws: { program: CompiledProgram; inputs: WebGLTexture[]; target: RenderTarget }[];
  output: RenderTarget;
  /** Read-back texels of the output target for the whole capacity. */
  readback: Float32Array;
}

export class GpuNetwork {
  readonly runner: ProgramRunner;
  private readonly gl: WebGL2RenderingContext;
  private readonly params: (LayerParams | null)[];
  private readonly plans = new Map<number, PassSpec[]>();
  private readonly stages = new Map<number, Stage>();
  private readonly bound = new Map<string, BoundPlan>();
  private readonly byteSource: InputSource;

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

  /** The passes computing layers [0, upTo), fused where possible unless upTo splits a pair. */
  passes(upTo: number): PassSpec[] {
    let plan = this.plans.get(upTo);
    if (plan) return plan;
    plan = [];
    const { layers } = this.info;
    for (let i = 0; i < upTo; i++) {
      const l = layers[i];
      const next = layers[i + 1];
      const io = (last: number): ProgramIO => ({ input: this.format(i), source: this.source(i), output: this.format(last + 1) });
      switch (l.kind) {
        case 'conv2d': {
          const pool = i + 1 < upTo && (next.kind === 'maxpool' || next.kind === 'avgpool') && canFusePool(next) ? next : null;
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
          const softmax = i + 1 < upTo && next.kind === 'softmax' && canFuseSoftmax(l) ? next : null;
          const last = softmax ? i + 1 : i;
          plan.push({ first: i, last, gpu: new DenseProgram(l, io(last), this.params[i]!.matrix, softmax) });
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
    this.plans.set(upTo, plan);
    return plan;
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
    };
    this.stages.set(capacity, st);
    return st;
  }

  /** Plan `upTo` bound to the textures of capacity `capacity` (made on first use). */
  bind(upTo: number, capacity: number): BoundPlan {
    const key = `${capacity}:${upTo}`;
    let b = this.bound.get(key);
    if (b) return b;
    const st = this.stage(capacity);
    const { layers } = this.info;
    const draws = this.passes(upTo).map((p) => {
      const program = this.runner.get(p.gpu);
      const out = p.last + 1;
      const what = `${layers[p.last].kind} "${layers[p.last].name}" output`;
      const target = (st.targets[out] ??= this.runner.createTarget(tensorLayout(this.format(out), capacity, this.ctx.maxTextureSize, what), what));
      const from = p.first === 0 ? st.input : st.targets[p.first]!.texture;
      const lp = this.params[p.first];
      return { program, inputs: lp ? [from, lp.weights, lp.bias] : [from], target };
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
    }
    this.stages.clear();
    this.bound.clear();
    this.runner.dispose();
  }
}

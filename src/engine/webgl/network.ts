// A network on one WebGL2 context: parameter textures (uploaded once), the pass plan (which layers
// each program computes, with conv + 2×2 max pool fused), and, per batch capacity, the input
// texture and one render target per activation. Everything here is allocated at load or on the
// first use of a capacity/plan; running a plan allocates nothing. A context loss invalidates the
// whole object: the session builds a new one after the restore.
import { size3, type Conv2dInfo, type DenseInfo, type NetworkInfo } from '../shapes.ts';
import type { GpuContext } from './context.ts';
import { imageTexels, tensorLayout, type InputSource, type MatrixLayout, type TensorLayout } from './layout.ts';
import type { GpuProgram } from './program.ts';
import { ActivationProgram } from './programs/activation.ts';
import { Conv2dProgram, canFusePool, conv2dWeightLayout, packConv2dParams } from './programs/conv2d.ts';
import { DenseProgram, denseWeightLayout, packDenseParams } from './programs/dense.ts';
import { PoolProgram } from './programs/pool.ts';
import { SoftmaxProgram } from './programs/softmax.ts';
import { ProgramRunner, type CompiledProgram, type RenderTarget } from './runner.ts';

interface LayerParams {
  matrix: MatrixLayout;
  /** Packed texels (4 floats each), kept for setParams so updates allocate nothing. */
  weightTexels: Float32Array;
  biasTexels: Float32Array;
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
    this.params = info.layers.map((l) => {
      if (l.kind !== 'conv2d' && l.kind !== 'dense') return null;
      const matrix = l.kind === 'conv2d' ? conv2dWeightLayout(l, ctx.maxTextureSize) : denseWeightLayout(l, ctx.maxTextureSize);
      const weightTexels = new Float32Array(matrix.width * matrix.height * 4);
      const biasTexels = new Float32Array(Math.ceil(l.out.c / 4) * 4);
      this.pack(l, params, matrix, weightTexels, biasTexels);
      return {
        matrix,
        weightTexels,
        biasTexels,
        weights: this.runner.createDataTexture(matrix.width, matrix.height, weightTexels),
        bias: this.runner.createDataTexture(biasTexels.length / 4, 1, biasTexels),
      };
    });
  }

  private pack(l: Conv2dInfo | DenseInfo, params: Float32Array, m: MatrixLayout, w: Float32Array, b: Float32Array): void {
    if (l.kind === 'conv2d') packConv2dParams(l, params, m, w, b);
    else packDenseParams(l, params, m, w, b);
  }

  /** Repacks and re-uploads every parameter texture (same spec, new values). */
  setParams(params: Float32Array): void {
    this.info.layers.forEach((l, i) => {
      const p = this.params[i];
      if (!p || (l.kind !== 'conv2d' && l.kind !== 'dense')) return;
      this.pack(l, params, p.matrix, p.weightTexels, p.biasTexels);
      this.runner.updateDataTexture(p.weights, p.matrix.width, p.matrix.height, p.weightTexels);
      this.runner.updateDataTexture(p.bias, p.biasTexels.length / 4, 1, p.biasTexels);
    });
  }

  /** The passes computing layers [0, upTo): conv + following 2×2 max pool fused unless upTo splits them. */
  passes(upTo: number): PassSpec[] {
    let plan = this.plans.get(upTo);
    if (plan) return plan;
    plan = [];
    const { layers } = this.info;
    for (let i = 0; i < upTo; i++) {
      const l = layers[i];
      const source: InputSource = i === 0 ? this.byteSource : { kind: 'float' };
      const next = layers[i + 1];
      switch (l.kind) {
        case 'conv2d': {
          const pool = i + 1 < upTo && (next.kind === 'maxpool' || next.kind === 'avgpool') && canFusePool(next) ? next : null;
          plan.push({ first: i, last: pool ? i + 1 : i, gpu: new Conv2dProgram(l, source, this.params[i]!.matrix, pool) });
          if (pool) i++;
          break;
        }
        case 'maxpool':
        case 'avgpool':
          plan.push({ first: i, last: i, gpu: new PoolProgram(l, source) });
          break;
        case 'dense':
          plan.push({ first: i, last: i, gpu: new DenseProgram(l, source, this.params[i]!.matrix) });
          break;
        case 'activation':
          plan.push({ first: i, last: i, gpu: new ActivationProgram(l, source) });
          break;
        case 'softmax':
          plan.push({ first: i, last: i, gpu: new SoftmaxProgram(l, source) });
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
    const inputLayout = tensorLayout(this.info.input, capacity, max, 'input');
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
      const target = (st.targets[out] ??= this.runner.createTarget(
        tensorLayout(layers[p.last].out, capacity, this.ctx.maxTextureSize, `${layers[p.last].kind} "${layers[p.last].name}" output`),
        p.gpu.name,
      ));
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
    this.runner.uploadBytes(stage.input, stage.inputLayout, bytes, offset, count * this.info.input.h);
    this.runner.begin();
    for (let i = 0; i < b.draws.length; i++) {
      const d = b.draws[i];
      this.runner.draw(d.program, d.inputs, d.target, count * d.target.layout.shape.h);
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
    gl.readPixels(0, 0, out.width, count * out.shape.h, gl.RGBA, gl.FLOAT, b.readback);
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

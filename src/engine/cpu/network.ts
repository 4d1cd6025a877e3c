// A network on the CPU backend: every buffer for up to `capacity` images is allocated here, once,
// so forward and backward passes allocate nothing. Conv, pooling and dense layers run on the
// TypeScript kernels of this folder, or on a KernelSet chosen at construction (the WebAssembly
// SIMD kernels of src/engine/wasm), which then owns the buffers.
import { readoutForward } from '../readout.ts';
import { size3, type DenseInfo, type NetworkInfo } from '../shapes.ts';
import { activationBackward, activationForward } from './activation.ts';
import {
  conv2dBackward,
  conv2dForward,
  createConv2dPlan,
  packConv2dWeights,
  padInput,
  paddedSize,
  unpadGradient,
  type Conv2dPlan,
} from './conv2d.ts';
import { denseBackward, denseForward } from './dense.ts';
import { poolBackward, poolForward } from './pool.ts';
import { softmaxBackward, softmaxForward } from './softmax.ts';

/** A kernel set's instance for one network: its buffers and the layers it runs. */
export interface NetworkKernels {
  /** acts and grads as CpuNetwork exposes them, living in the kernel set's memory. */
  readonly acts: Float32Array[];
  readonly grads: Float32Array[];
  /** Re-reads the parameters into the kernels' packed forms. */
  repack(params: Float32Array): void;
  /** Runs layer i on n images (acts[i] → acts[i + 1]); false if this layer is left to CpuNetwork. */
  forward(i: number, n: number): boolean;
  /**
   * Layer i's backward as CpuNetwork.backward does it: dL/d(output) in grads[i + 1] (overwritten),
   * parameter gradients added into paramGrads, dL/d(input) into grads[i] when wantInputGrad.
   * False if this layer is left to CpuNetwork.
   */
  backward(i: number, n: number, paramGrads: Float32Array, wantInputGrad: boolean): boolean;
}

/** Kernels that can replace the TypeScript ones, e.g. loadWasmKernels() from src/engine/wasm. */
export interface KernelSet {
  readonly name: string;
  /** Allocates the buffers of one network (sized for `capacity` images) and binds to them. */
  bind(info: NetworkInfo, capacity: number, training: boolean): NetworkKernels;
}

/** Writes n images of bytes (NHWC) into `out` as the network's input: (byte − mean[c]) / std[c]. */
export function normalizeBytes(info: NetworkInfo, bytes: Uint8Array, n: number, out: Float32Array): void {
  const { mean, invStd, input } = info;
  const c = input.c;
  const count = n * size3(input);
  for (let i = 0; i < count; i += c) {
    for (let ch = 0; ch < c; ch++) out[i + ch] = (bytes[i + ch] - mean[ch]) * invStd[ch];
  }
}

export class CpuNetwork {
  /** acts[0] is the normalised input; acts[i + 1] is the output of layer i. */
  readonly acts: Float32Array[];
  /** Gradients with the same layout as acts (training networks only). */
  readonly grads: Float32Array[] = [];
  private readonly plans: (Conv2dPlan | null)[];
  private readonly padded: (Float32Array | null)[];
  private readonly paddedGrad: (Float32Array | null)[] = [];
  private readonly argmax: (Int32Array | null)[];
  /** The kernel set's instance, or null for the TypeScript kernels. */
  private readonly bound: NetworkKernels | null;
  /** The head's input with a readout ([capacity, readout size]), else null. */
  readonly readout: Float32Array | null;

  constructor(
    readonly info: NetworkInfo,
    public params: Float32Array,
    readonly capacity: number,
    readonly training = false,
    /** Kernels for conv, pooling and dense layers; null: the TypeScript kernels of this folder. */
    readonly kernels: KernelSet | null = null,
  ) {
    const cap = capacity;
    if (training && info.readout) {
      throw new Error(
        `training: this model's final dense layer reads a multi-scale readout (${info.readout.size} pooled features); only that head can be trained (trainHead / HeadTrainer), not the whole network`,
      );
    }
    this.readout = info.readout ? new Float32Array(cap * info.readout.size) : null;
    const bound = (this.bound = kernels ? kernels.bind(info, cap, training) : null);
    this.acts = bound?.acts ?? [new Float32Array(cap * size3(info.input)), ...info.layers.map((l) => new Float32Array(cap * size3(l.out)))];
    this.plans = info.layers.map((l) => (!bound && l.kind === 'conv2d' ? createConv2dPlan(l) : null));
    this.padded = this.plans.map((p) => (p?.padded ? new Float32Array(cap * paddedSize(p)) : null));
    this.argmax = info.layers.map((l) => (!bound && training && l.kind === 'maxpool' ? new Int32Array(cap * size3(l.out)) : null));
    if (training) {
      this.grads = bound?.grads ?? this.acts.map((a) => new Float32Array(a.length));
      this.paddedGrad = this.plans.map((p) => (p?.padded ? new Float32Array(cap * paddedSize(p)) : null));
    }
    this.repack();
  }

  /** Name of the kernels in use: 'typescript' or the kernel set's name. */
  get kernelName(): string {
    return this.kernels?.name ?? 'typescript';
  }

  /** Re-reads the parameters into the packed per-layer forms; call after the parameters change. */
  repack(): void {
    if (this.bound) this.bound.repack(this.params);
    else this.plans.forEach((p) => p && packConv2dWeights(p, this.params));
  }

  /** Normalises n images of bytes (NHWC) into the input buffer: (byte − mean[c]) / std[c]. */
  loadBytes(bytes: Uint8Array, n: number): void {
    normalizeBytes(this.info, bytes, n, this.acts[0]);
  }

  /**
   * Runs layers [0, upTo) on the first n images of acts[0] and returns acts[upTo] (its first
   * n · size values are the result).
   */
  forward(n: number, upTo = this.info.layers.length): Float32Array {
    if (n > this.capacity) throw new RangeError(`batch of ${n} exceeds this network's capacity of ${this.capacity}`);
    for (let i = 0; i < upTo; i++) this.runLayer(i, n);
    return this.acts[upTo];
  }

  /**
   * Runs layers [0, all) on the first n images like forward, adding each layer's time (ms) to
   * `ms[layer]`.
   */
  forwardTimed(n: number, ms: Float64Array): Float32Array {
    const all = this.info.layers.length;
    for (let i = 0; i < all; i++) {
      const start = performance.now();
      this.runLayer(i, n);
      ms[i] += performance.now() - start;
    }
    return this.acts[all];
  }

  /** Layer i on the first n images: acts[i] → acts[i + 1] (a readout head reads its taps). */
  private runLayer(i: number, n: number): void {
    const { layers, readout } = this.info;
    if (readout && i === readout.head) {
      // The head reads the pooled taps, not acts[i]; it is small, so the TypeScript kernel runs it.
      readoutForward(this.info, readout, this.acts, this.readout!, n);
      denseForward(layers[i] as DenseInfo, this.params, this.readout!, this.acts[i + 1], n);
      return;
    }
    if (this.bound?.forward(i, n)) return;
    const l = layers[i];
    const x = this.acts[i];
    const y = this.acts[i + 1];
    switch (l.kind) {
      case 'conv2d': {
        const plan = this.plans[i]!;
        const xp = this.padded[i];
        if (xp) for (let img = 0; img < n; img++) padInput(plan, x, xp, img);
        conv2dForward(plan, xp ?? x, y, n);
        break;
      }
      case 'maxpool':
      case 'avgpool':
        poolForward(l, x, y, n, this.argmax[i]);
        break;
      case 'dense':
        denseForward(l, this.params, x, y, n);
        break;
      case 'activation': {
        const count = n * size3(l.out);
        for (let k = 0; k < count; k++) y[k] = x[k];
        activationForward(l.activation, y, 0, count);
        break;
      }
      case 'softmax':
        softmaxForward(x, y, n * l.out.h * l.out.w, l.out.c);
        break;
    }
  }

  /**
   * Backpropagates from grads[from + 1] (dL/d output of layer `from`) down through layer
   * `stopAt`, accumulating parameter gradients into paramGrads. The input gradient of layer stopAt
   * is computed only when stopAt is 0 and wantInputGrad is set. Uses the activations of the last
   * forward pass.
   */
  backward(n: number, from: number, stopAt: number, paramGrads: Float32Array, wantInputGrad = false): void {
    if (!this.training) throw new Error('backward needs a network built with training = true');
    const { layers } = this.info;
    for (let i = from; i >= stopAt; i--) {
      const l = layers[i];
      const x = this.acts[i];
      const y = this.acts[i + 1];
      const dy = this.grads[i + 1];
      const dx = i > stopAt || wantInputGrad ? this.grads[i] : null;
      if (this.bound?.backward(i, n, paramGrads, dx !== null)) continue;
      switch (l.kind) {
        case 'conv2d': {
          activationBackward(l.activation, y, dy, 0, n * size3(l.out));
          const plan = this.plans[i]!;
          const xp = this.padded[i];
          const dxp = this.paddedGrad[i];
          conv2dBackward(plan, xp ?? x, this.params, dy, paramGrads, dx ? (dxp ?? dx) : null, n);
          if (dx && dxp) unpadGradient(plan, dxp, dx, n);
          break;
        }
        case 'maxpool':
        case 'avgpool':
          if (dx) poolBackward(l, dy, dx, n, this.argmax[i]);
          break;
        case 'dense':
          activationBackward(l.activation, y, dy, 0, n * l.units);
          denseBackward(l, this.params, x, dy, paramGrads, dx, n);
          break;
        case 'activation':
          if (dx) {
            const count = n * size3(l.out);
            dx.set(dy.subarray(0, count));
            activationBackward(l.activation, y, dx, 0, count);
          }
          break;
        case 'softmax':
          if (dx) softmaxBackward(y, dy, dx, n * l.out.h * l.out.w, l.out.c);
          break;
      }
    }
  }
}

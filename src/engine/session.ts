// Inference sessions: batch-1 prediction with every buffer allocated at load, plus batched
// prediction and feature extraction for many images.
import { CpuNetwork, type KernelSet } from './cpu/network.ts';
import { checkMaps, insideLayout, medianTimes, type InsideLayout, type LayerTimes } from './inside.ts';
import { readoutForward } from './readout.ts';
import { ModelError, resolveReadout, size3, validateModel, type NetworkInfo, type ReadoutInfo } from './shapes.ts';
import type { Model, ReadoutSpec } from './spec.ts';
import { createCpuKernels } from './wasm/load.ts';

export type BackendName = 'cpu' | 'webgl';

export interface InferenceSession {
  readonly backend: BackendName;
  readonly info: NetworkInfo;
  /**
   * Class scores for one image of H×W×C bytes (NHWC). The returned array is the session's own
   * output buffer, overwritten by the next call: copy it to keep it.
   */
  predict(bytes: Uint8Array): Float32Array;
  /** Outputs for n images (n·H·W·C bytes), as a new [n, outputs] array. */
  predictBatch(bytes: Uint8Array, n: number): Float32Array;
  /** Output of layer `upTo − 1` (layer index upTo is not run) for n images, flattened per image. */
  features(bytes: Uint8Array, n: number, upTo: number): Float32Array;
  /**
   * The feature vectors a final dense layer with `readout` would read, for n images, as a new
   * [n, readout size] array; `readout` defaults to the model's own (see ReadoutSpec).
   */
  readoutFeatures(bytes: Uint8Array, n: number, readout?: ReadoutSpec): Float32Array;
  /**
   * predict, also writing every layer's output of the same pass (and a readout head's features)
   * into `maps`, laid out as insideLayout(info) says. Returns predict's output buffer.
   */
  predictInside(bytes: Uint8Array, maps: Float32Array): Float32Array;
  /** Median time per layer of `reps` single-image forward passes on this backend. */
  timeLayers(bytes: Uint8Array, reps: number): LayerTimes;
  /** Replaces the parameters (same spec); buffers are kept. */
  setParams(params: Float32Array): void;
  dispose(): void;
}

const BATCH = 32;

export class CpuSession implements InferenceSession {
  readonly backend = 'cpu';
  readonly info: NetworkInfo;
  private readonly single: CpuNetwork;
  private batched: CpuNetwork | null = null;
  private readonly output: Float32Array;
  private readonly inputSize: number;
  private layout: InsideLayout | null = null;

  /** `kernels`: null runs the TypeScript kernels; CpuSession.create picks the fastest available. */
  constructor(
    model: Model,
    readonly kernels: KernelSet | null = null,
  ) {
    this.info = validateModel(model.spec, model.params);
    this.single = new CpuNetwork(this.info, model.params, 1, false, kernels);
    this.inputSize = size3(this.info.input);
    this.output = this.single.acts[this.info.layers.length].subarray(0, size3(this.info.output));
  }

  /** A session on WebAssembly SIMD kernels where they load, else on the TypeScript kernels. */
  static async create(model: Model): Promise<CpuSession> {
    return new CpuSession(model, await createCpuKernels());
  }

  /** 'wasm-simd' or 'typescript'. */
  get kernelName(): string {
    return this.single.kernelName;
  }

  predict(bytes: Uint8Array): Float32Array {
    this.checkBytes(bytes, 1);
    this.single.loadBytes(bytes, 1);
    this.single.forward(1);
    return this.output;
  }

  predictInside(bytes: Uint8Array, maps: Float32Array): Float32Array {
    const layout = (this.layout ??= insideLayout(this.info));
    checkMaps(layout, maps);
    const out = this.predict(bytes);
    const { acts, readout } = this.single;
    for (const m of layout.maps) maps.set(acts[m.layer + 1].subarray(0, m.size), m.offset);
    if (layout.readout && readout) maps.set(readout.subarray(0, layout.readout.size), layout.readout.offset);
    return out;
  }

  timeLayers(bytes: Uint8Array, reps: number): LayerTimes {
    this.checkBytes(bytes, 1);
    const layers = this.info.layers.length;
    const samples: Float64Array[] = [];
    for (let r = 0; r < Math.max(1, reps); r++) {
      const ms = new Float64Array(layers);
      this.single.loadBytes(bytes, 1);
      this.single.forwardTimed(1, ms);
      samples.push(ms);
    }
    return { backend: 'cpu', ...medianTimes(samples, layers), fusedInto: new Array<null>(layers).fill(null), reps: samples.length };
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
    const size = upTo === 0 ? this.inputSize : size3(layers[upTo - 1].out);
    const out = new Float32Array(n * size);
    this.batched ??= new CpuNetwork(this.info, this.single.params, Math.min(BATCH, Math.max(n, 1)), false, this.kernels);
    const net = this.batched;
    for (let start = 0; start < n; start += net.capacity) {
      const count = Math.min(net.capacity, n - start);
      net.loadBytes(bytes.subarray(start * this.inputSize, (start + count) * this.inputSize), count);
      const y = net.forward(count, upTo);
      out.set(y.subarray(0, count * size), start * size);
    }
    return out;
  }

  readoutFeatures(bytes: Uint8Array, n: number, readout?: ReadoutSpec): Float32Array {
    this.checkBytes(bytes, n);
    const r = sessionReadout(this.info, readout);
    const out = new Float32Array(n * r.size);
    this.batched ??= new CpuNetwork(this.info, this.single.params, Math.min(BATCH, Math.max(n, 1)), false, this.kernels);
    const net = this.batched;
    for (let start = 0; start < n; start += net.capacity) {
      const count = Math.min(net.capacity, n - start);
      net.loadBytes(bytes.subarray(start * this.inputSize, (start + count) * this.inputSize), count);
      net.forward(count, r.upTo);
      readoutForward(this.info, r, net.acts, out.subarray(start * r.size), count);
    }
    return out;
  }

  setParams(params: Float32Array): void {
    validateModel(this.info.spec, params);
    this.single.params = params;
    this.single.repack();
    if (this.batched) {
      this.batched.params = params;
      this.batched.repack();
    }
  }

  dispose(): void {
    this.batched = null;
  }

  private checkBytes(bytes: Uint8Array, n: number): void {
    const want = n * this.inputSize;
    if (!(bytes instanceof Uint8Array) || bytes.length < want) {
      const { h, w, c } = this.info.input;
      throw new RangeError(`expected ${n} image(s) of ${h}×${w}×${c} = ${want} bytes, got ${bytes?.length ?? 'no'} bytes`);
    }
  }
}

/** `readout` resolved against a session's network, or the network's own readout without one. */
export function sessionReadout(info: NetworkInfo, readout: ReadoutSpec | undefined): ReadoutInfo {
  if (readout === undefined) {
    if (!info.readout) throw new ModelError('readoutFeatures: the model has no readout; pass one');
    return info.readout;
  }
  let head = -1;
  info.layers.forEach((l, i) => {
    if (l.kind === 'dense') head = i;
  });
  return resolveReadout(readout, info.layers, head, info.input);
}

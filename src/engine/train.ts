// Training on the CPU backend: softmax cross-entropy, mini-batch SGD with momentum, L2 weight
// decay, a decaying step size, layer freezing and simple augmentation.
import { CpuNetwork, type KernelSet } from './cpu/network.ts';
import { softmaxForward } from './cpu/softmax.ts';
import { Random } from './random.ts';
import { ModelError, size3, validateModel, type NetworkInfo, type Shape3 } from './shapes.ts';
import type { Model } from './spec.ts';

export type Schedule =
  | { kind: 'constant' }
  /** lr · ½(1 + cos(π · step / totalSteps)), never below lr · minFactor (default 0). */
  | { kind: 'cosine'; totalSteps: number; minFactor?: number }
  /** lr · gamma^floor(step / every). */
  | { kind: 'step'; every: number; gamma: number };

export interface SgdOptions {
  lr: number;
  momentum?: number; // default 0.9
  weightDecay?: number; // L2 on weights (not biases); default 0
  schedule?: Schedule; // default constant
  /** Names of layers whose parameters stay fixed. */
  frozen?: Iterable<string>;
  /** Label smoothing ε: the target is (1 − ε) on the label plus ε spread over every class; default 0. */
  labelSmoothing?: number;
}

export function learningRate(lr: number, schedule: Schedule, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return lr;
    case 'cosine': {
      const t = Math.min(step / Math.max(schedule.totalSteps, 1), 1);
      const min = schedule.minFactor ?? 0;
      return lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
    case 'step':
      return lr * Math.pow(schedule.gamma, Math.floor(step / schedule.every));
  }
}

export interface StepResult {
  /** Mean cross-entropy over the batch. */
  loss: number;
  /** Number of images whose top class equals the label. */
  correct: number;
}

/**
 * Trains a model's parameters in place. Works on batches of normalised input (see
 * CpuNetwork.loadBytes and augmentBatch); the model's last layer may be softmax or produce logits.
 */
export class Trainer {
  readonly info: NetworkInfo;
  readonly net: CpuNetwork;
  readonly grads: Float32Array;
  private readonly velocity: Float32Array;
  /** 1 where a parameter is trained with weight decay (weights), 2 trained without (biases), 0 frozen. */
  private readonly mask: Uint8Array;
  /** Lowest layer index with trainable parameters: backward stops there. */
  private readonly lowest: number;
  private readonly logitsLayer: number;
  private readonly probs: Float32Array;
  step = 0;

  constructor(
    readonly model: Model,
    readonly batchSize: number,
    readonly options: SgdOptions,
    /** Kernels for the training network (e.g. WebAssembly SIMD); null: the TypeScript kernels. */
    kernels: KernelSet | null = null,
  ) {
    this.info = validateModel(model.spec, model.params);
    const frozen = new Set(options.frozen ?? []);
    for (const name of frozen) {
      if (!this.info.layers.some((l) => l.name === name)) throw new ModelError(`frozen: no layer named "${name}"`);
    }
    this.net = new CpuNetwork(this.info, model.params, batchSize, true, kernels);
    this.grads = new Float32Array(this.info.paramCount);
    this.velocity = new Float32Array(this.info.paramCount);
    this.mask = new Uint8Array(this.info.paramCount);
    let lowest = -1;
    for (const l of this.info.layers) {
      if (l.paramCount === 0 || frozen.has(l.name)) continue;
      if (lowest < 0) lowest = l.index;
      if (l.kind !== 'conv2d' && l.kind !== 'dense') continue;
      const weightEnd = l.biasOffset >= 0 ? l.biasOffset : l.paramOffset + l.paramCount;
      this.mask.fill(1, l.paramOffset, weightEnd);
      this.mask.fill(2, weightEnd, l.paramOffset + l.paramCount);
    }
    if (lowest < 0) throw new ModelError('frozen: every layer with parameters is frozen; nothing to train');
    this.lowest = lowest;
    const layers = this.info.layers;
    this.logitsLayer = layers[layers.length - 1].kind === 'softmax' ? layers.length - 2 : layers.length - 1;
    if (this.logitsLayer < 0) throw new ModelError('spec: a softmax-only network has nothing to train');
    this.probs = new Float32Array(batchSize * size3(this.info.output));
  }

  /** Input buffer of the training network: write n normalised images here before step(). */
  get input(): Float32Array {
    return this.net.acts[0];
  }

  /** Forward, backward and one SGD update on the first n images of `input`. */
  trainStep(labels: ArrayLike<number>, n: number): StepResult {
    const result = this.computeGradients(labels, n);
    this.applyGradients();
    return result;
  }

  /** Forward and backward only: fills `grads` (mean over the batch) and returns loss and hits. */
  computeGradients(labels: ArrayLike<number>, n: number): StepResult {
    const { net, probs } = this;
    const classes = this.info.output.c;
    const logits = net.forward(n, this.logitsLayer + 1);
    softmaxForward(logits, probs, n, classes);
    const dLogits = net.grads[this.logitsLayer + 1];
    let loss = 0;
    let correct = 0;
    const eps = this.options.labelSmoothing ?? 0;
    const off = eps / classes;
    const on = 1 - eps + off;
    for (let i = 0; i < n; i++) {
      const label = labels[i];
      if (!(label >= 0 && label < classes)) throw new RangeError(`label ${label} of image ${i} is outside 0..${classes - 1}`);
      let best = 0;
      for (let c = 0; c < classes; c++) {
        const p = probs[i * classes + c];
        if (p > probs[i * classes + best]) best = c;
        dLogits[i * classes + c] = (p - (c === label ? on : off)) / n;
      }
      if (best === label) correct++;
      loss -= Math.log(Math.max(probs[i * classes + label], 1e-30));
    }
    this.grads.fill(0);
    net.backward(n, this.logitsLayer, this.lowest, this.grads);
    return { loss: loss / n, correct };
  }

  /** One SGD-with-momentum step from `grads`, with weight decay and the scheduled step size. */
  applyGradients(): void {
    const { lr, momentum = 0.9, weightDecay = 0, schedule = { kind: 'constant' } } = this.options;
    const rate = learningRate(lr, schedule, this.step);
    const { params } = this.model;
    const { grads, velocity, mask } = this;
    for (let i = 0; i < params.length; i++) {
      const m = mask[i];
      if (m === 0) continue;
      const g = grads[i] + (m === 1 ? weightDecay * params[i] : 0);
      velocity[i] = momentum * velocity[i] - rate * g;
      params[i] += velocity[i];
    }
    this.net.repack();
    this.step++;
  }
}

export interface AugmentOptions {
  flip?: boolean; // random horizontal flip, default true
  shift?: number; // random shift of up to ±shift pixels in each direction, default 2
  /** Side of a square set to the mean colour (0) at a random place in each image (cutout); default 0 (none). */
  cutout?: number;
  /**
   * Colour jitter on the bytes before normalisation (see jitterColours): brightness, contrast and
   * saturation each scaled by a random factor in [1 − colour, 1 + colour]; default 0 (none).
   */
  colour?: number;
  /** Probability of turning an image grey (luma in every channel), before normalisation; default 0. */
  grey?: number;
}

/**
 * Random colour jitter of n H×W×3 byte images in place (see AugmentOptions.colour and .grey):
 * brightness, then contrast around the image's mean luma, then saturation around each pixel's luma.
 */
export function jitterColours(bytes: Uint8Array, n: number, shape: Shape3, rng: Random, strength: number, grey: number): void {
  const { h, w, c } = shape;
  if (c !== 3 || (strength <= 0 && grey <= 0)) return;
  const pixels = h * w;
  for (let img = 0; img < n; img++) {
    const base = img * pixels * 3;
    const factor = () => 1 + strength * (2 * rng.next() - 1);
    const bright = strength > 0 ? factor() : 1;
    const contrast = strength > 0 ? factor() : 1;
    const toGrey = grey > 0 && rng.next() < grey;
    const saturation = toGrey ? 0 : strength > 0 ? factor() : 1;
    let meanLuma = 0;
    for (let p = 0; p < pixels; p++) {
      const o = base + p * 3;
      meanLuma += 0.299 * bytes[o] + 0.587 * bytes[o + 1] + 0.114 * bytes[o + 2];
    }
    meanLuma = (meanLuma / pixels) * bright;
    for (let p = 0; p < pixels; p++) {
      const o = base + p * 3;
      const r = bytes[o] * bright;
      const g = bytes[o + 1] * bright;
      const b = bytes[o + 2] * bright;
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      for (let ch = 0; ch < 3; ch++) {
        const v = ch === 0 ? r : ch === 1 ? g : b;
        const s = luma + saturation * (v - luma);
        const out = meanLuma + contrast * (s - meanLuma);
        bytes[o + ch] = Math.max(0, Math.min(255, Math.round(out)));
      }
    }
  }
}

/**
 * Rotates each of n square H×W×C byte images in place by k·90° counter-clockwise, k = ks[i] in
 * 0..3: dst(y, x) = src(x, W−1−y) for k = 1 (applied k times).
 */
export function rotateImages(bytes: Uint8Array, n: number, shape: Shape3, ks: ArrayLike<number>, scratch: Uint8Array): void {
  const { h, w, c } = shape;
  if (h !== w) throw new RangeError(`rotation needs square images, got ${h}×${w}`);
  const size = h * w * c;
  for (let img = 0; img < n; img++) {
    const base = img * size;
    for (let r = 0; r < ks[img]; r++) {
      scratch.set(bytes.subarray(base, base + size));
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = (x * w + (w - 1 - y)) * c;
          const d = base + (y * w + x) * c;
          for (let ch = 0; ch < c; ch++) bytes[d + ch] = scratch[s + ch];
        }
      }
    }
  }
}

/**
 * Copies n normalised images from src to dst with a random horizontal flip and shift each.
 * Cells shifted in from outside are 0, i.e. the normalisation mean colour.
 */
export function augmentBatch(src: Float32Array, dst: Float32Array, n: number, shape: Shape3, rng: Random, options: AugmentOptions = {}): void {
  const { flip = true, shift = 2, cutout = 0 } = options;
  const { h, w, c } = shape;
  const size = h * w * c;
  for (let img = 0; img < n; img++) {
    // Drawn only with cutout, so a run without it draws the same flips and shifts as before.
    const cy = cutout > 0 ? rng.int(h) - (cutout >> 1) : 0;
    const cx = cutout > 0 ? rng.int(w) - (cutout >> 1) : 0;
    const mirror = flip && rng.next() < 0.5;
    const dy = shift > 0 ? rng.int(2 * shift + 1) - shift : 0;
    const dx = shift > 0 ? rng.int(2 * shift + 1) - shift : 0;
    const base = img * size;
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      for (let x = 0; x < w; x++) {
        const sxRaw = x - dx;
        const sx = mirror ? w - 1 - sxRaw : sxRaw;
        const d = base + (y * w + x) * c;
        if (sy < 0 || sy >= h || sxRaw < 0 || sxRaw >= w) {
          for (let ch = 0; ch < c; ch++) dst[d + ch] = 0;
        } else {
          const s = base + (sy * w + sx) * c;
          for (let ch = 0; ch < c; ch++) dst[d + ch] = src[s + ch];
        }
      }
    }
    if (cutout > 0) {
      for (let y = Math.max(0, cy); y < Math.min(h, cy + cutout); y++) {
        for (let x = Math.max(0, cx); x < Math.min(w, cx + cutout); x++) dst.fill(0, base + (y * w + x) * c, base + (y * w + x + 1) * c);
      }
    }
  }
}

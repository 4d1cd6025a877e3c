// Epoch loop over a dataset of byte images: shuffling, augmentation, SGD, validation.
import { CpuNetwork, normalizeBytes, type KernelSet } from './cpu/network.ts';
import { Random } from './random.ts';
import { size3, validateModel } from './shapes.ts';
import type { Model } from './spec.ts';
import { augmentBatch, jitterColours, learningRate, rotateImages, Trainer, type AugmentOptions, type Schedule, type SgdOptions, type StepResult } from './train.ts';

/** Images as N×H×W×C bytes (NHWC) with one label byte each. */
export interface Dataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  classes: string[];
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** 'cosine' (default) decays to 0 over all steps; 'step' halves every epochs/4. */
  schedule?: 'cosine' | 'step' | 'constant';
  seed: number;
  augment?: AugmentOptions | false;
  frozen?: string[];
  /** Label smoothing ε (see SgdOptions.labelSmoothing); default 0. */
  labelSmoothing?: number;
  /**
   * Self-supervised rotation labels: every training image is turned by a random k·90° and labelled
   * label · 4 + k, so the model (with 4 × classes outputs) learns both what and which way up.
   * Validation then scores the upright outputs only (label · 4). Default false.
   */
  rotations?: boolean;
  validation?: Dataset;
  onEpoch?: (e: EpochReport) => void;
  /** Kernels for the default trainer and for validation (null/omitted: TypeScript kernels). */
  kernels?: KernelSet | null;
  /** Supplies the stepper (default: a Trainer on this thread); e.g. a data-parallel trainer. */
  createTrainer?: (model: Model, batchSize: number, options: SgdOptions) => Stepper;
}

/** What fit needs of a trainer: a batch input buffer and one SGD step on it. */
export interface Stepper {
  readonly input: Float32Array;
  readonly step: number;
  trainStep(labels: ArrayLike<number>, n: number): StepResult | Promise<StepResult>;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  trainAccuracy: number;
  validationAccuracy: number | null;
  lr: number;
  seconds: number;
}

/** Trains model.params in place; returns the per-epoch reports. Deterministic for a given seed. */
export async function fit(model: Model, data: Dataset, options: FitOptions): Promise<EpochReport[]> {
  const info = validateModel(model.spec, model.params);
  const imageSize = size3(info.input);
  if (data.images.length !== data.count * imageSize || data.labels.length !== data.count) {
    throw new RangeError(`dataset: ${data.images.length} image bytes and ${data.labels.length} labels for ${data.count} images of ${imageSize} bytes`);
  }
  const stepsPerEpoch = Math.ceil(data.count / options.batchSize);
  const totalSteps = stepsPerEpoch * options.epochs;
  const schedule: Schedule =
    options.schedule === 'constant'
      ? { kind: 'constant' }
      : options.schedule === 'step'
        ? { kind: 'step', every: Math.max(1, Math.round((stepsPerEpoch * options.epochs) / 4)), gamma: 0.5 }
        : { kind: 'cosine', totalSteps };
  const sgd: SgdOptions = { lr: options.lr, momentum: options.momentum, weightDecay: options.weightDecay, schedule, frozen: options.frozen, labelSmoothing: options.labelSmoothing };
  const trainer: Stepper = options.createTrainer ? options.createTrainer(model, options.batchSize, sgd) : new Trainer(model, options.batchSize, sgd, options.kernels ?? null);
  const rng = new Random(options.seed);
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  const staging = new Float32Array(options.batchSize * imageSize); // normalised batch before augmentation
  const batchBytes = new Uint8Array(options.batchSize * imageSize);
  const batchLabels = new Uint8Array(options.batchSize);
  const turns = new Uint8Array(options.batchSize);
  const scratch = new Uint8Array(imageSize);
  const augment = options.augment === false ? null : options.augment ?? {};
  const reports: EpochReport[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    let lr = 0;
    for (let start = 0; start < data.count; start += options.batchSize) {
      const n = Math.min(options.batchSize, data.count - start);
      for (let i = 0; i < n; i++) {
        const src = order[start + i];
        batchBytes.set(data.images.subarray(src * imageSize, (src + 1) * imageSize), i * imageSize);
        batchLabels[i] = data.labels[src];
      }
      if (options.rotations) {
        for (let i = 0; i < n; i++) {
          turns[i] = rng.int(4);
          batchLabels[i] = batchLabels[i] * 4 + turns[i];
        }
        rotateImages(batchBytes, n, info.input, turns, scratch);
      }
      if (augment === null) normalizeBytes(info, batchBytes, n, trainer.input);
      else {
        jitterColours(batchBytes, n, info.input, rng, augment.colour ?? 0, augment.grey ?? 0);
        normalizeBytes(info, batchBytes, n, staging);
        augmentBatch(staging, trainer.input, n, info.input, rng, augment);
      }
      lr = learningRate(options.lr, schedule, trainer.step);
      const r = await trainer.trainStep(batchLabels, n);
      lossSum += r.loss * n;
      correct += r.correct;
    }
    const report: EpochReport = {
      epoch,
      epochs: options.epochs,
      loss: lossSum / data.count,
      trainAccuracy: correct / data.count,
      validationAccuracy: options.validation ? evaluate(model, options.validation, options.kernels ?? null, options.rotations ? 4 : 1).accuracy : null,
      lr,
      seconds: (performance.now() - started) / 1000,
    };
    reports.push(report);
    options.onEpoch?.(report);
  }
  return reports;
}

export interface Evaluation {
  accuracy: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  count: number;
}

/**
 * Top-1 accuracy, per-class accuracy and confusion matrix of a model on a dataset, on the given
 * kernels (null: the TypeScript kernels).
 */
export function evaluate(model: Model, data: Dataset, kernels: KernelSet | null = null, stride = 1): Evaluation {
  const info = validateModel(model.spec, model.params);
  const outputs = size3(info.output);
  const classes = outputs / stride;
  const imageSize = size3(info.input);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const net = new CpuNetwork(info, model.params, 64, false, kernels);
  let correct = 0;
  for (let start = 0; start < data.count; start += net.capacity) {
    const n = Math.min(net.capacity, data.count - start);
    net.loadBytes(data.images.subarray(start * imageSize, (start + n) * imageSize), n);
    const y = net.forward(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y[i * outputs + c * stride] > y[i * outputs + best * stride]) best = c;
      const label = data.labels[start + i];
      if (label >= classes) throw new RangeError(`dataset: label ${label} of image ${start + i} is outside 0..${classes - 1}`);
      confusion[label][best]++;
      if (best === label) correct++;
    }
  }
  const perClassAccuracy = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? 0 : row[c] / total;
  });
  return { accuracy: data.count === 0 ? 0 : correct / data.count, perClassAccuracy, confusion, count: data.count };
}

// Few-shot retraining: keep every layer before the final dense layer (the backbone) frozen, and
// train a fresh final dense layer (the head) on the backbone's features of a few examples.
//
// Features are standardised per dimension (mean and std over the training examples) before the
// softmax regression is trained, which makes one step size and weight decay work for any backbone;
// the standardisation is then folded into the head's weights and biases, so the result is an
// ordinary dense layer: w'(i, o) = w(i, o) / sd(i), b'(o) = b(o) − Σᵢ mean(i) · w'(i, o).
import { softmaxForward } from './cpu/softmax.ts';
import { Random } from './random.ts';
import { ModelError, inferShapes, validateModel, type DenseInfo, type NetworkInfo } from './shapes.ts';
import type { DenseSpec, LayerSpec, Model, ModelSpec, ReadoutSpec } from './spec.ts';

/** Index of the final dense layer, whose input is the feature vector. */
export function headLayerIndex(info: NetworkInfo): number {
  for (let i = info.layers.length - 1; i >= 0; i--) if (info.layers[i].kind === 'dense') return i;
  throw new ModelError('spec: no dense layer to retrain (few-shot needs a final dense layer)');
}

export interface HeadEpoch {
  epoch: number;
  epochs: number;
  /** Mean cross-entropy and accuracy over this epoch's training examples. */
  loss: number;
  accuracy: number;
  /** On the validation set after this epoch, or null without one. */
  validationLoss: number | null;
  validationAccuracy: number | null;
}

export interface HeadOptions {
  /** Passes over the examples; default enough for at least 400 steps. */
  epochs?: number;
  batchSize?: number; // default 16
  lr?: number; // default 0.05
  momentum?: number; // default 0.9
  weightDecay?: number; // default 0.01 (on standardised features)
  seed?: number; // default 1
  /**
   * Held-out examples (n feature vectors of the same length, labels in 0..classes−1). With them,
   * the head of the best validation epoch (highest accuracy, then lowest loss) is returned, and
   * training stops early after `patience` epochs without improvement.
   */
  validation?: { features: Float32Array; labels: ArrayLike<number>; n: number };
  /** Epochs without validation improvement before stopping; default 10. Needs `validation`. */
  patience?: number;
  /** Called after each epoch; return false to stop (cancel). */
  onEpoch?: (p: HeadEpoch) => boolean | void;
}

export interface Head {
  /** [dim, classes] weights (dense layout) and biases, with the standardisation folded in. */
  weights: Float32Array;
  bias: Float32Array;
  /** Training loss and accuracy of the last epoch run. */
  loss: number;
  accuracy: number;
  /** Epochs run. */
  epochs: number;
  /** With validation: the returned head's epoch and its validation figures; else null. */
  bestEpoch: number | null;
  validationLoss: number | null;
  validationAccuracy: number | null;
  /** Why training ended: all epochs ran, no validation improvement for `patience` epochs, or onEpoch returned false. */
  stopped: 'done' | 'early' | 'canceled';
  /**
   * The same head before folding: weights and biases on standardised features z = (x − mean) / sd,
   * with the per-dimension mean and sd of the training examples (sd floored, see HeadTrainer).
   */
  standardised: { mean: Float32Array; sd: Float32Array; weights: Float32Array; bias: Float32Array };
}

/**
 * Trains a softmax-regression head on n feature vectors of length dim, with mini-batch SGD,
 * momentum, L2 weight decay and a cosine-decaying step size.
 */
export function trainHead(features: Float32Array, labels: ArrayLike<number>, n: number, dim: number, classes: number, options: HeadOptions = {}): Head {
  const trainer = new HeadTrainer(features, labels, n, dim, classes, options);
  while (!trainer.finished) trainer.runEpoch();
  return trainer.result();
}

function checkSet(what: string, features: Float32Array, labels: ArrayLike<number>, n: number, dim: number, classes: number): void {
  if (features.length < n * dim) throw new RangeError(`few-shot: ${features.length} ${what} feature values for ${n} examples of ${dim}`);
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < classes)) throw new RangeError(`few-shot: label ${labels[i]} of ${what} example ${i} is outside 0..${classes - 1}`);
  }
}

/**
 * trainHead one epoch at a time, so a caller can yield between epochs (a worker keeps answering
 * predictions while it trains). runEpoch until `finished`, then result().
 */
export class HeadTrainer {
  readonly epochs: number;
  private readonly batchSize: number;
  private readonly stepsPerEpoch: number;
  private readonly lr0: number;
  private readonly momentum: number;
  private readonly wd: number;
  private readonly rng: Random;
  private readonly mean: Float64Array;
  private readonly sd: Float64Array;
  /** Standardised training features, [n, dim]. */
  private readonly z: Float32Array;
  /** Weights, velocities and gradients are kept [classes, dim] (long inner loops over dim). */
  private readonly w: Float32Array;
  private readonly b: Float32Array;
  private readonly vw: Float32Array;
  private readonly vb: Float32Array;
  private readonly gw: Float32Array;
  private readonly gb: Float32Array;
  private readonly logits: Float32Array;
  private readonly order: Uint32Array;
  private readonly validation: { z: Float32Array; labels: ArrayLike<number>; n: number } | null;
  private readonly patience: number;
  private best: { epoch: number; loss: number; accuracy: number; w: Float32Array; b: Float32Array } | null = null;
  private step = 0;
  private done = 0;
  private loss = 0;
  private accuracy = 0;
  private stopped: Head['stopped'] | null = null;

  constructor(
    features: Float32Array,
    private readonly labels: ArrayLike<number>,
    private readonly n: number,
    private readonly dim: number,
    private readonly classes: number,
    private readonly options: HeadOptions = {},
  ) {
    if (n < 1) throw new RangeError('few-shot: no examples to train on');
    checkSet('training', features, labels, n, dim, classes);
    this.batchSize = Math.min(options.batchSize ?? 16, n);
    this.stepsPerEpoch = Math.ceil(n / this.batchSize);
    this.epochs = options.epochs ?? Math.max(20, Math.ceil(400 / this.stepsPerEpoch));
    this.lr0 = options.lr ?? 0.05;
    this.momentum = options.momentum ?? 0.9;
    this.wd = options.weightDecay ?? 0.01;
    this.rng = new Random(options.seed ?? 1);
    this.patience = options.patience ?? 10;

    // Standardise.
    const mean = (this.mean = new Float64Array(dim));
    const sd = (this.sd = new Float64Array(dim));
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d];
    for (let d = 0; d < dim; d++) mean[d] /= n;
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) sd[d] += (features[i * dim + d] - mean[d]) ** 2;
    let sdMean = 0;
    for (let d = 0; d < dim; d++) sdMean += (sd[d] = Math.sqrt(sd[d] / n));
    sdMean /= dim;
    // A floor keeps near-constant dimensions (e.g. a relu unit that never fires here) from exploding.
    const floor = Math.max(sdMean * 0.1, 1e-6);
    for (let d = 0; d < dim; d++) sd[d] = Math.max(sd[d], floor);
    this.z = this.standardise(features, n);

    const v = options.validation;
    if (v && v.n > 0) {
      checkSet('validation', v.features, v.labels, v.n, dim, classes);
      this.validation = { z: this.standardise(v.features, v.n), labels: v.labels, n: v.n };
    } else {
      this.validation = null;
    }

    this.w = new Float32Array(dim * classes);
    this.b = new Float32Array(classes);
    this.vw = new Float32Array(dim * classes);
    this.vb = new Float32Array(classes);
    this.gw = new Float32Array(dim * classes);
    this.gb = new Float32Array(classes);
    this.logits = new Float32Array(Math.max(this.batchSize, this.validation?.n ?? 0) * classes);
    this.order = Uint32Array.from({ length: n }, (_, i) => i);
  }

  get finished(): boolean {
    return this.stopped !== null;
  }

  /** Runs one epoch (call only while !finished) and reports it. */
  runEpoch(): HeadEpoch {
    if (this.stopped) throw new Error(`few-shot: training already ended (${this.stopped})`);
    const { n, dim, classes, z, w, b, vw, vb, gw, gb, logits, order, labels, momentum, wd } = this;
    const batchSize = this.batchSize;
    const totalSteps = this.epochs * this.stepsPerEpoch;
    const epoch = this.done + 1;
    this.rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      for (let k = 0; k < m; k++) {
        const zi = order[start + k] * dim;
        for (let o = 0, wo = 0; o < classes; o++, wo += dim) {
          let sum = 0;
          for (let d = 0; d < dim; d++) sum += z[zi + d] * w[wo + d];
          logits[k * classes + o] = b[o] + sum;
        }
      }
      softmaxForward(logits, logits, m, classes);
      gw.fill(0);
      gb.fill(0);
      for (let k = 0; k < m; k++) {
        const i = order[start + k];
        const label = labels[i];
        const row = k * classes;
        let best = 0;
        for (let o = 0; o < classes; o++) if (logits[row + o] > logits[row + best]) best = o;
        if (best === label) correct++;
        lossSum -= Math.log(Math.max(logits[row + label], 1e-30));
        const zi = i * dim;
        for (let o = 0, wo = 0; o < classes; o++, wo += dim) {
          const g = (logits[row + o] - (o === label ? 1 : 0)) / m;
          gb[o] += g;
          for (let d = 0; d < dim; d++) gw[wo + d] += z[zi + d] * g;
        }
      }
      const rate = this.lr0 * 0.5 * (1 + Math.cos((Math.PI * this.step) / totalSteps));
      for (let j = 0; j < w.length; j++) {
        vw[j] = momentum * vw[j] - rate * (gw[j] + wd * w[j]);
        w[j] += vw[j];
      }
      for (let o = 0; o < classes; o++) {
        vb[o] = momentum * vb[o] - rate * gb[o];
        b[o] += vb[o];
      }
      this.step++;
    }
    this.loss = lossSum / n;
    this.accuracy = correct / n;
    this.done = epoch;

    let validationLoss: number | null = null;
    let validationAccuracy: number | null = null;
    if (this.validation) {
      ({ loss: validationLoss, accuracy: validationAccuracy } = this.evaluate(this.validation));
      const best = this.best;
      if (!best || validationAccuracy > best.accuracy || (validationAccuracy === best.accuracy && validationLoss < best.loss)) {
        this.best = { epoch, loss: validationLoss, accuracy: validationAccuracy, w: w.slice(), b: b.slice() };
      } else if (epoch - best.epoch >= this.patience) {
        this.stopped = 'early';
      }
    }
    if (epoch >= this.epochs) this.stopped ??= 'done';
    const report: HeadEpoch = { epoch, epochs: this.epochs, loss: this.loss, accuracy: this.accuracy, validationLoss, validationAccuracy };
    if (this.options.onEpoch?.(report) === false) this.stopped = 'canceled';
    return report;
  }

  /** Cancels: result() then gives the head as it is (or the best validation epoch so far). */
  cancel(): void {
    this.stopped = 'canceled';
  }

  /** The trained head, with the standardisation folded in. */
  result(): Head {
    const best = this.best;
    const w = best ? best.w : this.w;
    const b = best ? best.b : this.b;
    const { dim, classes, mean, sd } = this;
    // Dense layout [dim, classes], from the [classes, dim] kept while training.
    const weights = new Float32Array(dim * classes);
    const standardisedWeights = new Float32Array(dim * classes);
    const bias = Float32Array.from(b);
    for (let d = 0; d < dim; d++) {
      for (let o = 0; o < classes; o++) {
        const u = w[o * dim + d];
        const v = u / sd[d];
        standardisedWeights[d * classes + o] = u;
        weights[d * classes + o] = v;
        bias[o] -= mean[d] * v;
      }
    }
    return {
      weights,
      bias,
      loss: this.loss,
      accuracy: this.accuracy,
      epochs: this.done,
      bestEpoch: best?.epoch ?? null,
      validationLoss: best?.loss ?? null,
      validationAccuracy: best?.accuracy ?? null,
      stopped: this.stopped ?? 'canceled',
      standardised: { mean: Float32Array.from(mean), sd: Float32Array.from(sd), weights: standardisedWeights, bias: Float32Array.from(b) },
    };
  }

  private standardise(features: Float32Array, n: number): Float32Array {
    const { dim, mean, sd } = this;
    const z = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) z[i * dim + d] = (features[i * dim + d] - mean[d]) / sd[d];
    return z;
  }

  private evaluate(set: { z: Float32Array; labels: ArrayLike<number>; n: number }): { loss: number; accuracy: number } {
    const { dim, classes, w, b, logits } = this;
    for (let k = 0; k < set.n; k++) {
      const zi = k * dim;
      for (let o = 0, wo = 0; o < classes; o++, wo += dim) {
        let sum = 0;
        for (let d = 0; d < dim; d++) sum += set.z[zi + d] * w[wo + d];
        logits[k * classes + o] = b[o] + sum;
      }
    }
    softmaxForward(logits, logits, set.n, classes);
    let loss = 0;
    let correct = 0;
    for (let k = 0; k < set.n; k++) {
      const label = set.labels[k];
      let best = 0;
      for (let o = 0; o < classes; o++) if (logits[k * classes + o] > logits[k * classes + best]) best = o;
      if (best === label) correct++;
      loss -= Math.log(Math.max(logits[k * classes + label], 1e-30));
    }
    return { loss: loss / set.n, accuracy: correct / set.n };
  }
}

/**
 * A new model with the backbone of `model` and `head` as its final dense layer, sized for
 * `labels`. Layers after the final dense layer (e.g. softmax) are kept. `readout`: what the new
 * head reads (a ReadoutSpec, or null for the previous layer's output); by default the model's own.
 */
export function replaceHead(model: Model, labels: string[], head: Pick<Head, 'weights' | 'bias'>, readout?: ReadoutSpec | null): Model {
  const info = validateModel(model.spec, model.params);
  const index = headLayerIndex(info);
  const old = info.layers[index] as DenseInfo;
  const classes = labels.length;
  const { readout: _old, ...rest } = model.spec;
  const base: ModelSpec = readout === undefined ? model.spec : readout === null ? rest : { ...rest, readout };
  const inSize = readout === undefined ? old.inSize : (inferShapes(base, false).layers[index] as DenseInfo).inSize;
  if (head.weights.length !== inSize * classes || head.bias.length !== classes) {
    throw new ModelError(`few-shot head: ${head.weights.length} weights and ${head.bias.length} biases for ${inSize} features × ${classes} classes`);
  }
  for (const l of info.layers.slice(index + 1)) {
    if (l.paramCount > 0 || l.kind === 'dense') throw new ModelError(`few-shot: layer "${l.name}" after the final dense layer has parameters`);
  }
  const layers: LayerSpec[] = model.spec.layers.map((l, i) => (i === index ? ({ ...(l as DenseSpec), units: classes, bias: true } as DenseSpec) : l));
  const spec: ModelSpec = { ...base, layers, labels: [...labels] };
  const params = new Float32Array(old.paramOffset + head.weights.length + classes);
  params.set(model.params.subarray(0, old.paramOffset));
  params.set(head.weights, old.paramOffset);
  params.set(head.bias, old.paramOffset + head.weights.length);
  validateModel(spec, params);
  return { spec, params };
}

/** Size of the feature vector (the final dense layer's input: the readout, or the previous layer's output). */
export function featureSize(info: NetworkInfo): number {
  return (info.layers[headLayerIndex(info)] as DenseInfo).inSize;
}

/**
 * The model trained with rotation labels (final dense layer with 4 outputs per class, output
 * c · 4 + k for class c turned by k·90°, see FitOptions.rotations) as an ordinary classifier of
 * `labels`: the final dense layer keeps the upright outputs (k = 0) only.
 */
export function uprightOutputs(model: Model, labels: string[]): Model {
  const info = validateModel(model.spec, model.params);
  const dense = info.layers[headLayerIndex(info)] as DenseInfo;
  const units = dense.units;
  if (units !== labels.length * 4) throw new ModelError(`rotation head: ${units} outputs for ${labels.length} classes × 4 turns`);
  const weights = new Float32Array(dense.inSize * labels.length);
  const bias = new Float32Array(labels.length);
  const w = model.params.subarray(dense.paramOffset, dense.paramOffset + dense.inSize * units);
  for (let d = 0; d < dense.inSize; d++) for (let c = 0; c < labels.length; c++) weights[d * labels.length + c] = w[d * units + c * 4];
  if (dense.biasOffset >= 0) for (let c = 0; c < labels.length; c++) bias[c] = model.params[dense.biasOffset + c * 4];
  return replaceHead(model, labels, { weights, bias });
}

/**
 * Shrinks a trained head toward the nearest-class-mean classifier of its training examples: adds
 * (strength / dim) · (z · μc − |μc|² / 2) to the score of class c, where z are the standardised
 * features (the head's own mean and sd) and μc the mean z of class c's examples. That score is
 * linear in the features, so the result is again one dense layer (folded like the standardisation).
 * With few examples the class means are steadier than the regression's weights.
 */
export function addPrototypes(head: Head, features: Float32Array, labels: ArrayLike<number>, n: number, classes: number, strength: number): Head {
  const { mean, sd } = head.standardised;
  const dim = mean.length;
  checkSet('training', features, labels, n, dim, classes);
  const mu = new Float64Array(classes * dim);
  const count = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    count[c]++;
    for (let d = 0; d < dim; d++) mu[c * dim + d] += (features[i * dim + d] - mean[d]) / sd[d];
  }
  const weights = Float32Array.from(head.weights);
  const bias = Float32Array.from(head.bias);
  const zWeights = Float32Array.from(head.standardised.weights);
  const zBias = Float32Array.from(head.standardised.bias);
  const k = strength / dim;
  for (let c = 0; c < classes; c++) {
    if (count[c] === 0) continue;
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (mu[c * dim + d] /= count[c]) ** 2;
    bias[c] -= (k * norm) / 2;
    zBias[c] -= (k * norm) / 2;
    for (let d = 0; d < dim; d++) {
      const zw = k * mu[c * dim + d];
      zWeights[d * classes + c] += zw;
      weights[d * classes + c] += zw / sd[d];
      bias[c] -= (zw / sd[d]) * mean[d];
    }
  }
  return { ...head, weights, bias, standardised: { mean, sd, weights: zWeights, bias: zBias } };
}

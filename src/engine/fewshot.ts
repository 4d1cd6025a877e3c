// Few-shot retraining: keep every layer before the final dense layer (the backbone) frozen, and
// train a fresh final dense layer (the head) on the backbone's features of a few examples.
//
// Features are standardised per dimension (mean and std over the training examples) before the
// softmax regression is trained, which makes one step size and weight decay work for any backbone;
// the standardisation is then folded into the head's weights and biases, so the result is an
// ordinary dense layer: w'(i, o) = w(i, o) / sd(i), b'(o) = b(o) − Σᵢ mean(i) · w'(i, o).
import { softmaxForward } from './cpu/softmax.ts';
import { Random } from './random.ts';
import { ModelError, size3, validateModel, type DenseInfo, type NetworkInfo } from './shapes.ts';
import type { DenseSpec, LayerSpec, Model } from './spec.ts';

/** Index of the final dense layer, whose input is the feature vector. */
export function headLayerIndex(info: NetworkInfo): number {
  for (let i = info.layers.length - 1; i >= 0; i--) if (info.layers[i].kind === 'dense') return i;
  throw new ModelError('spec: no dense layer to retrain (few-shot needs a final dense layer)');
}

export interface HeadOptions {
  /** Passes over the examples; default enough for at least 400 steps. */
  epochs?: number;
  batchSize?: number; // default 16
  lr?: number; // default 0.05
  momentum?: number; // default 0.9
  weightDecay?: number; // default 0.01 (on standardised features)
  seed?: number; // default 1
  /** Called after each epoch; return false to stop (cancel). */
  onEpoch?: (p: { epoch: number; epochs: number; loss: number; accuracy: number }) => boolean | void;
}

export interface Head {
  /** [dim, classes] weights (dense layout) and biases, with the standardisation folded in. */
  weights: Float32Array;
  bias: Float32Array;
  loss: number;
  accuracy: number;
  epochs: number;
}

/**
 * Trains a softmax-regression head on n feature vectors of length dim, with mini-batch SGD,
 * momentum, L2 weight decay and a cosine-decaying step size.
 */
export function trainHead(features: Float32Array, labels: ArrayLike<number>, n: number, dim: number, classes: number, options: HeadOptions = {}): Head {
  if (n < 1) throw new RangeError('few-shot: no examples to train on');
  if (features.length < n * dim) throw new RangeError(`few-shot: ${features.length} feature values for ${n} examples of ${dim}`);
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < classes)) throw new RangeError(`few-shot: label ${labels[i]} of example ${i} is outside 0..${classes - 1}`);
  }
  const batchSize = Math.min(options.batchSize ?? 16, n);
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const epochs = options.epochs ?? Math.max(20, Math.ceil(400 / stepsPerEpoch));
  const lr0 = options.lr ?? 0.05;
  const momentum = options.momentum ?? 0.9;
  const wd = options.weightDecay ?? 0.01;
  const rng = new Random(options.seed ?? 1);

  // Standardise.
  const mean = new Float64Array(dim);
  const sd = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) sd[d] += (features[i * dim + d] - mean[d]) ** 2;
  let sdMean = 0;
  for (let d = 0; d < dim; d++) sdMean += (sd[d] = Math.sqrt(sd[d] / n));
  sdMean /= dim;
  // A floor keeps near-constant dimensions (e.g. a relu unit that never fires here) from exploding.
  const floor = Math.max(sdMean * 0.1, 1e-6);
  for (let d = 0; d < dim; d++) sd[d] = Math.max(sd[d], floor);
  const z = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) z[i * dim + d] = (features[i * dim + d] - mean[d]) / sd[d];

  const w = new Float32Array(dim * classes);
  const b = new Float32Array(classes);
  const vw = new Float32Array(dim * classes);
  const vb = new Float32Array(classes);
  const gw = new Float32Array(dim * classes);
  const gb = new Float32Array(classes);
  const logits = new Float32Array(batchSize * classes);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const totalSteps = epochs * stepsPerEpoch;
  let step = 0;
  let loss = 0;
  let accuracy = 0;
  let done = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      for (let k = 0; k < m; k++) {
        const zi = order[start + k] * dim;
        for (let o = 0; o < classes; o++) logits[k * classes + o] = b[o];
        for (let d = 0; d < dim; d++) {
          const v = z[zi + d];
          for (let o = 0; o < classes; o++) logits[k * classes + o] += v * w[d * classes + o];
        }
      }
      softmaxForward(logits, logits, m, classes);
      gw.fill(0);
      gb.fill(0);
      for (let k = 0; k < m; k++) {
        const i = order[start + k];
        const label = labels[i];
        let best = 0;
        for (let o = 0; o < classes; o++) if (logits[k * classes + o] > logits[k * classes + best]) best = o;
        if (best === label) correct++;
        lossSum -= Math.log(Math.max(logits[k * classes + label], 1e-30));
        const zi = i * dim;
        for (let o = 0; o < classes; o++) {
          const g = (logits[k * classes + o] - (o === label ? 1 : 0)) / m;
          gb[o] += g;
          for (let d = 0; d < dim; d++) gw[d * classes + o] += z[zi + d] * g;
        }
      }
      const rate = lr0 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
      for (let j = 0; j < w.length; j++) {
        vw[j] = momentum * vw[j] - rate * (gw[j] + wd * w[j]);
        w[j] += vw[j];
      }
      for (let o = 0; o < classes; o++) {
        vb[o] = momentum * vb[o] - rate * gb[o];
        b[o] += vb[o];
      }
      step++;
    }
    loss = lossSum / n;
    accuracy = correct / n;
    done = epoch;
    if (options.onEpoch?.({ epoch, epochs, loss, accuracy }) === false) break;
  }

  // Fold the standardisation into the layer.
  const weights = new Float32Array(dim * classes);
  const bias = Float32Array.from(b);
  for (let d = 0; d < dim; d++) {
    for (let o = 0; o < classes; o++) {
      const v = w[d * classes + o] / sd[d];
      weights[d * classes + o] = v;
      bias[o] -= mean[d] * v;
    }
  }
  return { weights, bias, loss, accuracy, epochs: done };
}

/**
 * A new model with the backbone of `model` and `head` as its final dense layer, sized for
 * `labels`. Layers after the final dense layer (e.g. softmax) are kept.
 */
export function replaceHead(model: Model, labels: string[], head: Pick<Head, 'weights' | 'bias'>): Model {
  const info = validateModel(model.spec, model.params);
  const index = headLayerIndex(info);
  const old = info.layers[index] as DenseInfo;
  const classes = labels.length;
  if (head.weights.length !== old.inSize * classes || head.bias.length !== classes) {
    throw new ModelError(`few-shot head: ${head.weights.length} weights and ${head.bias.length} biases for ${old.inSize} features × ${classes} classes`);
  }
  for (const l of info.layers.slice(index + 1)) {
    if (l.paramCount > 0 || l.kind === 'dense') throw new ModelError(`few-shot: layer "${l.name}" after the final dense layer has parameters`);
  }
  const layers: LayerSpec[] = model.spec.layers.map((l, i) => (i === index ? ({ ...(l as DenseSpec), units: classes, bias: true } as DenseSpec) : l));
  const spec = { ...model.spec, layers, labels: [...labels] };
  const params = new Float32Array(old.paramOffset + head.weights.length + classes);
  params.set(model.params.subarray(0, old.paramOffset));
  params.set(head.weights, old.paramOffset);
  params.set(head.bias, old.paramOffset + head.weights.length);
  validateModel(spec, params);
  return { spec, params };
}

/** Size of the feature vector (the final dense layer's input). */
export function featureSize(info: NetworkInfo): number {
  const index = headLayerIndex(info);
  return index === 0 ? size3(info.input) : size3(info.layers[index - 1].out);
}

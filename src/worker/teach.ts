// Teaching in the worker: features of the user's examples from the frozen backbone (every layer
// before the final dense layer), computed once per backbone and cached, then a fresh final dense
// layer trained for the user's classes. The features are the 'spatial' readout (global average
// and max pooling of every conv block's output, quadrant averages of the early blocks and a colour
// histogram, see src/engine/readout.ts): on classes the backbone never saw they beat the flattened
// last block and the plain multi-scale readout (README, few-shot features), and the taught model
// carries the readout in its spec, so every backend runs it as it is. Training runs one epoch at a time and yields to the event
// loop between epochs and feature batches, so predictions keep being answered meanwhile.
import { crc32 } from '../engine/format/native.ts';
import { addPrototypes, HeadTrainer, headLayerIndex, replaceHead } from '../engine/fewshot.ts';
import { Random } from '../engine/random.ts';
import { readoutFor } from '../engine/readout.ts';
import { resolveReadout, size3, validateModel, type NetworkInfo } from '../engine/shapes.ts';
import type { InferenceSession } from '../engine/session.ts';
import type { Model, ReadoutSpec } from '../engine/spec.ts';
import type { TeachClass, TeachExample, TeachOptions, TeachProgress, TeachResult } from '../worker-api.ts';

export const MIN_TEACH_CLASSES = 2;
export const MAX_TEACH_CLASSES = 20;

/**
 * The views of each example whose features are computed: the image itself and its mirror image.
 * (Two more views shifted by a couple of pixels were tried: the pooled multi-scale features barely
 * change under such shifts, and over seeds 1–5 of a 5-way task on held-out classes they moved
 * accuracy by less than a point either way while doubling the feature time.) Changing this list
 * changes every fingerprint, so caches made with another list are not reused. The first view is
 * the example itself (used for validation).
 */
const VIEWS: readonly { flip: boolean; dx: number; dy: number }[] = [
  { flip: false, dx: 0, dy: 0 },
  { flip: true, dx: 0, dy: 0 },
];
export const VIEW_COUNT = VIEWS.length;
const VIEWS_TAG = JSON.stringify(VIEWS);

/** Held-out examples from which their best epoch also sets the final head's epoch count. */
const TRUST_VALIDATION_AT = 50;

/** Images per features() call between yields. */
const FEATURE_CHUNK = 32;

/** Cancellation flag checked between epochs and between feature batches. */
export interface CancelFlag {
  readonly aborted: boolean;
}

/**
 * The features a taught head reads: the 'spatial' readout of the backbone (the layers before the
 * final dense layer): global average and max pooling of every conv block, per-quadrant averages of
 * the two earliest blocks, and a colour histogram (src/engine/readout.ts). A model taught before
 * keeps the same backbone, so teaching it again gives the same readout.
 */
export function teachReadout(info: NetworkInfo): ReadoutSpec {
  return readoutFor('spatial', info, headLayerIndex(info))!;
}

/**
 * L2 weight decay of the taught head (on standardised features). Chosen on the choice tasks of
 * `npm run eval:transfer` (README): 0.03–0.3 scored alike, 0.01 about a point lower.
 */
export const TEACH_WEIGHT_DECAY = 0.1;

/**
 * How far the taught head is shrunk toward the class means of its examples (addPrototypes). Chosen
 * on the same choice tasks: 10 scored 0.2–0.7 points above none at 10 shots; 30 hurt at 20 shots.
 */
export const PROTOTYPE_STRENGTH = 10;

/**
 * SGD steps of each head training (the held-out one and the final fit) unless epochs are given:
 * on the choice tasks 200 steps scored within 0.3 points of 400 at half the time.
 */
export const TEACH_STEPS = 200;

/**
 * Identifies the backbone (input spec, the layers before the final dense layer and their
 * parameters) together with the set of views and the feature definition (the readout): cached
 * features are valid only for the same fingerprint. 8 hex digits of CRC-32.
 */
export function backboneFingerprint(model: Model): string {
  const info = validateModel(model.spec, model.params);
  const head = headLayerIndex(info);
  const end = info.layers[head].paramOffset;
  const features = JSON.stringify(teachReadout(info));
  const tag = new TextEncoder().encode(JSON.stringify({ input: model.spec.input, layers: model.spec.layers.slice(0, head), views: VIEWS_TAG, features }));
  const params = new Uint8Array(model.params.buffer, model.params.byteOffset, end * 4);
  const bytes = new Uint8Array(tag.length + params.length);
  bytes.set(tag);
  bytes.set(params, tag.length);
  return (crc32(bytes) >>> 0).toString(16).padStart(8, '0');
}

/**
 * Writes view `v` of the H×W×C image `src` into `dst`: mirrored left-right if `flip`, then
 * shifted by (dx, dy) pixels with the edge pixels repeated: dst(y, x) = src'(clamp(y − dy), clamp(x − dx)).
 */
export function writeView(src: Uint8Array, dst: Uint8Array, h: number, w: number, c: number, view: { flip: boolean; dx: number; dy: number }): void {
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - view.dy));
    for (let x = 0; x < w; x++) {
      let sx = Math.min(w - 1, Math.max(0, x - view.dx));
      if (view.flip) sx = w - 1 - sx;
      const s = (sy * w + sx) * c;
      const d = (y * w + x) * c;
      for (let k = 0; k < c; k++) dst[d + k] = src[s + k];
    }
  }
}

/** Resolves after pending messages (predict calls) have been handled. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Longest stretch of training work between two chances for predictions to be answered, ms. */
export const SLICE_MS = 8;

/**
 * Yields to the event loop when SLICE_MS have passed since the last yield: predictions wait at
 * most about that long, and short epochs do not each pay for a round trip through the loop.
 */
export class Slicer {
  private last = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) return;
    await yieldToEventLoop();
    this.last = performance.now();
  }
}

export class TeachError extends Error {
  override name = 'TeachError';
}

export interface TeachOutcome extends Omit<TeachResult, 'file' | 'summary'> {
  /** Ids of the held-out examples (scored, and left out of the head unless refit). */
  heldOut: string[];
  model: Model;
}

/**
 * Trains a new head for `classes` on `examples` over the backbone of `model`, using `session`
 * (a session of `model`) for the features. Features arriving with the examples or kept from an
 * earlier call are reused when their fingerprint matches; the newly computed ones are returned
 * in `computed` so the caller can store them.
 */
export class Teacher {
  /** Features computed in this worker, by example id, for one fingerprint. */
  private cache = new Map<string, Float32Array>();
  private cacheFingerprint = '';

  async train(
    model: Model,
    session: InferenceSession,
    classes: TeachClass[],
    examples: TeachExample[],
    options: TeachOptions = {},
    onProgress?: (p: TeachProgress) => void,
    cancel: CancelFlag = { aborted: false },
  ): Promise<TeachOutcome> {
    const started = performance.now();
    const slicer = new Slicer();
    const info = validateModel(model.spec, model.params);
    const readout = teachReadout(info);
    const dim = resolveReadout(readout, info.layers, headLayerIndex(info), info.input).size;
    const { h, w, c } = info.input;
    const imageSize = size3(info.input);

    // Check the request.
    if (classes.length < MIN_TEACH_CLASSES || classes.length > MAX_TEACH_CLASSES) {
      throw new TeachError(`training needs ${MIN_TEACH_CLASSES} to ${MAX_TEACH_CLASSES} classes, got ${classes.length}`);
    }
    const classIndex = new Map<string, number>();
    classes.forEach((k, i) => {
      if (classIndex.has(k.id)) throw new TeachError(`class id ${k.id} appears twice`);
      classIndex.set(k.id, i);
    });
    const perClass = new Array<number>(classes.length).fill(0);
    for (const [i, e] of examples.entries()) {
      const k = classIndex.get(e.classId);
      if (k === undefined) throw new TeachError(`example ${i} (${e.id}) belongs to class ${e.classId}, which is not among the ${classes.length} classes`);
      if (!(e.bytes instanceof Uint8Array) || e.bytes.length !== imageSize) {
        throw new TeachError(`example ${i} (${e.id}): expected a ${h}×${w}×${c} image of ${imageSize} bytes, got ${e.bytes?.length ?? 'none'}`);
      }
      perClass[k]++;
    }
    const empty = classes.filter((_, k) => perClass[k] === 0).map((k) => `"${k.name}"`);
    if (empty.length) throw new TeachError(`every class needs at least one example; none for ${empty.join(', ')}`);

    // Features of every view of every example, reusing cached ones.
    const fingerprint = backboneFingerprint(model);
    if (fingerprint !== this.cacheFingerprint) {
      this.cache.clear();
      this.cacheFingerprint = fingerprint;
    }
    const rowSize = VIEW_COUNT * dim;
    const rows: Float32Array[] = new Array(examples.length);
    const missing: number[] = [];
    examples.forEach((e, i) => {
      const given = e.fingerprint === fingerprint && e.features?.length === rowSize ? e.features : undefined;
      const row = given ?? this.cache.get(e.id);
      if (row) rows[i] = row;
      else missing.push(i);
    });
    const computed: { id: string; features: Float32Array }[] = [];
    const featureStarted = performance.now();
    const perChunk = Math.max(1, Math.floor(FEATURE_CHUNK / VIEW_COUNT));
    const batch = new Uint8Array(perChunk * VIEW_COUNT * imageSize);
    for (let start = 0; start < missing.length; start += perChunk) {
      if (cancel.aborted) throw new TeachError('training was canceled');
      const chunk = missing.slice(start, start + perChunk);
      chunk.forEach((i, j) => {
        VIEWS.forEach((view, v) => writeView(examples[i].bytes, batch.subarray((j * VIEW_COUNT + v) * imageSize, (j * VIEW_COUNT + v + 1) * imageSize), h, w, c, view));
      });
      const out = session.readoutFeatures(batch, chunk.length * VIEW_COUNT, readout);
      chunk.forEach((i, j) => {
        const row = out.slice(j * rowSize, (j + 1) * rowSize);
        rows[i] = row;
        this.cache.set(examples[i].id, row);
        computed.push({ id: examples[i].id, features: row });
      });
      onProgress?.({ phase: 'features', done: Math.min(start + perChunk, missing.length), total: missing.length, epoch: 0, epochs: 0, loss: null, accuracy: null, validationAccuracy: null });
      await slicer.maybeYield();
    }
    const featureMs = performance.now() - featureStarted;

    // Held-out split: when every class has enough examples, a fifth of each (at least one) is kept
    // out of training (all its views), and only its plain view is scored.
    const rng = new Random(options.seed ?? 1);
    const minPerClass = options.minPerClassForValidation ?? 5;
    const useValidation = perClass.every((n) => n >= minPerClass);
    const byClass: number[][] = classes.map(() => []);
    examples.forEach((e, i) => byClass[classIndex.get(e.classId)!].push(i));
    const trainIdx: number[] = [];
    const valIdx: number[] = [];
    for (const list of byClass) {
      rng.shuffle(list);
      const hold = useValidation ? Math.max(1, Math.round(list.length * (options.validationFraction ?? 0.2))) : 0;
      valIdx.push(...list.slice(0, hold));
      trainIdx.push(...list.slice(hold));
    }
    const augment = options.augment ?? true;
    const views = augment ? VIEW_COUNT : 1;
    const nTrain = trainIdx.length * views;
    const trainX = new Float32Array(nTrain * dim);
    const trainY = new Uint8Array(nTrain);
    const fill = (idx: number[], x: Float32Array, y: Uint8Array): void => {
      idx.forEach((i, j) => {
        for (let v = 0; v < views; v++) {
          x.set(rows[i].subarray(v * dim, (v + 1) * dim), (j * views + v) * dim);
          y[j * views + v] = classIndex.get(examples[i].classId)!;
        }
      });
    };
    const valX = new Float32Array(valIdx.length * dim);
    const valY = new Uint8Array(valIdx.length);
    valIdx.forEach((i, j) => {
      valX.set(rows[i].subarray(0, dim), j * dim);
      valY[j] = classIndex.get(examples[i].classId)!;
    });

    fill(trainIdx, trainX, trainY);
    const trainStarted = performance.now();
    const epochsFor = (rows: number): number => options.epochs ?? Math.max(10, Math.ceil(TEACH_STEPS / Math.ceil(rows / Math.min(options.batchSize ?? 16, rows))));
    const trainer = new HeadTrainer(trainX, trainY, nTrain, dim, classes.length, {
      epochs: epochsFor(nTrain),
      batchSize: options.batchSize,
      lr: options.lr,
      weightDecay: options.weightDecay ?? TEACH_WEIGHT_DECAY,
      seed: options.seed,
      patience: options.patience,
      validation: valIdx.length ? { features: valX, labels: valY, n: valIdx.length } : undefined,
    });
    const history: TeachOutcome['history'] = [];
    while (!trainer.finished) {
      if (cancel.aborted) {
        trainer.cancel();
        break;
      }
      const r = trainer.runEpoch();
      history.push({ epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, validationAccuracy: r.validationAccuracy });
      onProgress?.({ phase: 'training', done: r.epoch, total: r.epochs, epoch: r.epoch, epochs: r.epochs, loss: r.loss, accuracy: r.accuracy, validationAccuracy: r.validationAccuracy });
      await slicer.maybeYield();
    }
    if (cancel.aborted) throw new TeachError('training was canceled');
    const head = addPrototypes(trainer.result(), trainX, trainY, nTrain, classes.length, PROTOTYPE_STRENGTH);

    // The held-out examples chose the number of epochs and measure the accuracy; the head that
    // serves is then trained for that many epochs on every example (holding a fifth out of the
    // final head costs accuracy when there are only a few examples per class).
    let finalHead = head;
    if (valIdx.length && (options.refit ?? true)) {
      const allIdx = [...trainIdx, ...valIdx];
      const allX = new Float32Array(allIdx.length * views * dim);
      const allY = new Uint8Array(allIdx.length * views);
      fill(allIdx, allX, allY);
      // Few held-out examples choose the epoch count by chance: below TRUST_VALIDATION_AT the final
      // head runs the full schedule (weight decay, not the stopping point, keeps it from
      // overfitting; measured: 5-way 10-shot on held-out classes, seeds 1–5, 55.7 % this way
      // against 53.4 % stopping where 10 held-out examples said).
      const epochs = valIdx.length >= TRUST_VALIDATION_AT ? Math.max(1, head.bestEpoch ?? head.epochs) : epochsFor(allIdx.length * views);
      const refit = new HeadTrainer(allX, allY, allIdx.length * views, dim, classes.length, {
        epochs,
        batchSize: options.batchSize,
        lr: options.lr,
        weightDecay: options.weightDecay ?? TEACH_WEIGHT_DECAY,
        seed: options.seed,
      });
      while (!refit.finished) {
        if (cancel.aborted) throw new TeachError('training was canceled');
        const r = refit.runEpoch();
        onProgress?.({ phase: 'final', done: r.epoch, total: r.epochs, epoch: r.epoch, epochs: r.epochs, loss: r.loss, accuracy: r.accuracy, validationAccuracy: null });
        await slicer.maybeYield();
      }
      finalHead = addPrototypes(refit.result(), allX, allY, allIdx.length * views, classes.length, PROTOTYPE_STRENGTH);
    }
    const trainMs = performance.now() - trainStarted;

    const labels = classes.map((k) => k.name);
    // The head reads the readout; its standardisation is folded into its weights.
    const newModel = replaceHead(model, labels, finalHead, readout);
    // Confusion matrix [true][predicted] on the held-out examples (of the head trained without
    // them), or on the training examples' plain views without a held-out split.
    const scored = valIdx.length ? valIdx : trainIdx;
    const confusion = classes.map(() => new Array<number>(classes.length).fill(0));
    const scores = new Float64Array(classes.length);
    for (const i of scored) {
      const x = rows[i];
      for (let o = 0; o < classes.length; o++) scores[o] = head.bias[o];
      for (let d = 0; d < dim; d++) {
        const v = x[d];
        if (v !== 0) for (let o = 0; o < classes.length; o++) scores[o] += v * head.weights[d * classes.length + o];
      }
      let best = 0;
      for (let o = 1; o < classes.length; o++) if (scores[o] > scores[best]) best = o;
      confusion[classIndex.get(examples[i].classId)!][best]++;
    }
    const correct = confusion.reduce((s, row, k) => s + row[k], 0);

    return {
      model: newModel,
      finalCount: valIdx.length && finalHead !== head ? trainIdx.length + valIdx.length : trainIdx.length,
      labels,
      fingerprint,
      computed,
      trainCount: trainIdx.length,
      validationCount: valIdx.length,
      heldOut: valIdx.map((i) => examples[i].id),
      epochs: head.epochs,
      stopped: head.stopped,
      loss: head.loss,
      accuracy: head.accuracy,
      validationAccuracy: head.validationAccuracy,
      confusionOn: valIdx.length ? 'validation' : 'training',
      confusion,
      scoredAccuracy: scored.length ? correct / scored.length : 0,
      history,
      featureMs,
      trainMs,
      totalMs: performance.now() - started,
    };
  }
}

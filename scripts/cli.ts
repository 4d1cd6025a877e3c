// The command-line tool: train, evaluate, predict, few-shot retraining, model info and dense-layer
// compression, on the engine's CPU backend. Run as `npm run cli -- <command> [options]`; `--help` lists commands.
//
// Output contract (documented in the README's "Command-line tool" section): results go to stdout
// as JSON (one object, or one array per line for predict; `info` / `inspect` print text unless
// --json);
// progress goes to stderr; every failure is one line `error: …` on stderr with exit code 2 for
// bad usage and 1 for anything else (missing or malformed files, models that do not fit).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { centerCropResize } from '../src/camera/center-crop-resize.ts';
import { denseSparsity, pruneDense } from '../src/engine/compress.ts';
import { evaluate, fit, type Dataset, type EpochReport } from '../src/engine/fit.ts';
import { featureSize, headLayerIndex, replaceHead, trainHead } from '../src/engine/fewshot.ts';
import { DENSE_ENCODINGS, encodeModel, type DenseEncoding, type ModelMeta, type TrainingSummary } from '../src/engine/format/native.ts';
import { initParams } from '../src/engine/init.ts';
import { Random } from '../src/engine/random.ts';
import { COLOUR_BINS, FEATURE_CHOICES, readoutFor, type FeatureChoice } from '../src/engine/readout.ts';
import { CpuSession } from '../src/engine/session.ts';
import { createCpuKernels } from '../src/engine/wasm/load.ts';
import type { KernelSet } from '../src/engine/cpu/network.ts';
import { shapeText, size3, validateModel, type NetworkInfo } from '../src/engine/shapes.ts';
import type { Model, ModelSpec } from '../src/engine/spec.ts';
import { ARCHITECTURES } from '../src/engine/zoo.ts';
import { decodeImageFile, indicesByClass, loadDataset, pickImages, splitDataset, subsetByClasses, type LoadedDataset } from '../src/node/dataset.ts';
import { loadModelFile, modelFormatOf, saveModelFile } from '../src/node/model-io.ts';
import { ParallelTrainer, sharedParams } from '../src/node/parallel-trainer.ts';
import { Teacher } from '../src/worker/teach.ts';

/** Where output goes; main() takes another one in tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

let kernelsLoading: Promise<KernelSet | null> | null = null;
/** The WebAssembly SIMD kernels where they load (null: the TypeScript kernels), loaded once. */
function cpuKernels(): Promise<KernelSet | null> {
  return (kernelsLoading ??= createCpuKernels());
}

/** Wrong arguments: exit code 2. */
class UsageError extends Error {}

export const DEFAULT_MODEL = fileURLToPath(new URL('../public/models/default.cnn', import.meta.url));

type OptionSpec = { type: 'string' | 'boolean'; short?: string };
interface Command {
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  help: string;
  run(o: Record<string, string | boolean | undefined>, io: CliIO): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

function required(o: Record<string, unknown>, name: string, command: string): string {
  const v = o[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required (see \`cli ${command} --help\`)`);
  return v;
}

function numberOption(
  o: Record<string, unknown>,
  name: string,
  fallback: number,
  check: { integer?: boolean; min?: number; max?: number; above?: number },
): number {
  const raw = o[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const { integer = false, min, max, above } = check;
  const bad =
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(v) ||
    (integer && !Number.isInteger(v)) ||
    (min !== undefined && v < min) ||
    (max !== undefined && v > max) ||
    (above !== undefined && v <= above);
  if (bad) {
    const range = [min !== undefined ? `≥ ${min}` : '', above !== undefined ? `> ${above}` : '', max !== undefined ? `≤ ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw new UsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** --classes "cat,dog" or "3,5": names or indices. */
function classList(o: Record<string, unknown>): (string | number)[] | null {
  const raw = o.classes;
  if (typeof raw !== 'string') return null;
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--classes: expected class names or indices separated by commas, got ${JSON.stringify(raw)}`);
  return items.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function readDataset(o: Record<string, unknown>, command: string): LoadedDataset {
  const ds = loadDataset(required(o, 'data', command));
  const classes = classList(o);
  return classes ? subsetByClasses(ds, classes) : ds;
}

function modelPath(o: Record<string, unknown>): string {
  return typeof o.model === 'string' && o.model !== '' ? o.model : DEFAULT_MODEL;
}

/** --mean / --std: per-channel numbers separated by commas. */
function channelNumbers(o: Record<string, unknown>, name: string): number[] | undefined {
  const raw = o[name];
  if (raw === undefined) return undefined;
  const values = String(raw).split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`--${name}: expected numbers separated by commas (one per channel), got ${JSON.stringify(raw)}`);
  }
  return values;
}

/** What a TF.js model.json cannot hold, from the command line. */
function tfjsOptions(o: Record<string, unknown>) {
  const labels = typeof o.labels === 'string' ? o.labels.split(',').map((s) => s.trim()) : undefined;
  return { mean: channelNumbers(o, 'mean'), std: channelNumbers(o, 'std'), labels };
}

function readModel(o: Record<string, unknown>) {
  const path = modelPath(o);
  if (path === DEFAULT_MODEL && !existsSync(path)) {
    throw new Error(
      `no --model given and the default model ${relative(process.cwd(), path) || path} does not exist yet; pass --model <file.cnn> or train one with \`cli train … --out public/models/default.cnn\``,
    );
  }
  return { path, ...loadModelFile(path, tfjsOptions(o)) };
}

function checkInput(info: NetworkInfo, ds: LoadedDataset, what: string): void {
  const { h, w, c } = info.input;
  if (ds.height !== h || ds.width !== w || ds.channels !== c) {
    throw new Error(`${what}: the model takes ${shapeText(info.input)} images, but the dataset's are ${ds.height}×${ds.width}×${ds.channels}`);
  }
}

const round = (v: number, digits = 6): number => Number(v.toPrecision(digits));
const percent = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const thousands = (n: number): string => n.toLocaleString('en-US');

function writeJson(io: CliIO, value: unknown): void {
  io.out(`${JSON.stringify(value)}\n`);
}

/** A mirrored copy (left ↔ right) of n NHWC images. */
function flipHorizontal(images: Uint8Array, n: number, h: number, w: number, c: number): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const s = ((i * h + y) * w + x) * c;
        const d = ((i * h + y) * w + (w - 1 - x)) * c;
        for (let ch = 0; ch < c; ch++) out[d + ch] = images[s + ch];
      }
  return out;
}

// ---------------------------------------------------------------------------------------------
// train

function readSpec(path: string, ds: LoadedDataset): ModelSpec {
  if (Object.hasOwn(ARCHITECTURES, path)) return ARCHITECTURES[path](ds.classes);
  if (!existsSync(path)) throw new Error(`spec file ${path}: no such file`);
  let spec: ModelSpec;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`spec file ${path}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`spec file ${path}: expected a JSON object`);
  if (spec.labels === undefined) return { ...spec, labels: [...ds.classes] };
  if (!Array.isArray(spec.labels) || spec.labels.join('\n') !== ds.classes.join('\n')) {
    throw new Error(`spec file ${path}: labels ${JSON.stringify(spec.labels)} differ from the dataset's classes ${JSON.stringify(ds.classes)} (leave "labels" out to use the dataset's)`);
  }
  return spec;
}

async function runTrain(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<void> {
  const specPath = required(o, 'spec', 'train');
  const dataPath = required(o, 'data', 'train');
  const out = required(o, 'out', 'train');
  const epochs = numberOption(o, 'epochs', 10, { integer: true, min: 1, max: 10000 });
  const batchSize = numberOption(o, 'batch', 32, { integer: true, min: 1, max: 4096 });
  const lr = numberOption(o, 'lr', 0.02, { above: 0 });
  const momentum = numberOption(o, 'momentum', 0.9, { min: 0, max: 0.999 });
  const weightDecay = numberOption(o, 'weight-decay', 5e-4, { min: 0 });
  const seed = numberOption(o, 'seed', 1, { integer: true, min: 0, max: 0xffffffff });
  const valFraction = numberOption(o, 'val-fraction', 0.1, { min: 0, max: 0.9 });
  const threads = numberOption(o, 'threads', 0, { integer: true, min: 0, max: 64 });
  const encoding = (o.encoding ?? 'float32') as DenseEncoding;
  if (!DENSE_ENCODINGS.includes(encoding)) throw new UsageError(`--encoding: expected one of ${DENSE_ENCODINGS.join(', ')}, got ${JSON.stringify(o.encoding)}`);
  if (extname(out).toLowerCase() !== '.cnn') throw new UsageError(`--out: models are written as .cnn files, got ${JSON.stringify(out)}`);

  const ds = readDataset(o, 'train');
  const spec = readSpec(specPath, ds);
  // Helper threads share the parameters; the result equals single-thread training up to rounding.
  const params = threads > 0 ? sharedParams(initParams(spec, seed)) : initParams(spec, seed);
  const model: Model = { spec, params };
  const info = validateModel(spec, params);
  checkInput(info, ds, 'train');
  const { train, held } = valFraction > 0 ? splitDataset(ds, valFraction, seed) : { train: ds, held: null };
  if (train.count === 0) throw new Error(`train: no training images left after holding out ${valFraction} for validation`);
  io.err(
    `training ${thousands(info.paramCount)} parameters (${thousands(info.macs)} multiply-adds per image) on ${train.count} images` +
      `${held ? `, validating on ${held.count}` : ''}; ${ds.classes.length} classes\n`,
  );
  const kernels = await cpuKernels();
  let parallel: ParallelTrainer | null = null;
  const history = await fit(model, train, {
    epochs,
    batchSize,
    lr,
    momentum,
    weightDecay,
    seed,
    augment: o['no-augment'] ? false : {},
    validation: held && held.count > 0 ? held : undefined,
    kernels,
    createTrainer: threads > 0 ? (m, b, sgd) => (parallel = ParallelTrainer.create(m, b, sgd, threads, kernels)) : undefined,
    onEpoch: (r: EpochReport) =>
      io.err(
        `epoch ${r.epoch}/${r.epochs}  loss ${r.loss.toFixed(4)}  train acc ${percent(r.trainAccuracy)}  val acc ${percent(r.validationAccuracy)}` +
          `  lr ${r.lr.toPrecision(3)}  ${r.seconds.toFixed(1)} s\n`,
      ),
  });
  await (parallel as ParallelTrainer | null)?.dispose();
  const last = history[history.length - 1];
  const training: TrainingSummary = {
    epochs,
    batchSize,
    lr,
    weightDecay,
    seed,
    dataset: `${basename(dataPath)} (${ds.classes.length} classes)`,
    trainCount: train.count,
    validationCount: held?.count ?? 0,
    history: history.map((r) => ({
      epoch: r.epoch,
      loss: round(r.loss),
      trainAccuracy: round(r.trainAccuracy),
      validationAccuracy: r.validationAccuracy === null ? null : round(r.validationAccuracy),
    })),
  };
  const name = typeof o.name === 'string' ? o.name : basename(out, extname(out));
  const bytes = saveModelFile(out, { spec, params: Float32Array.from(params) }, { name, training }, { denseEncoding: encoding });
  io.err(`wrote ${out} (${thousands(bytes)} bytes)\n`);
  writeJson(io, {
    out,
    bytes,
    params: info.paramCount,
    epochs,
    trainCount: train.count,
    validationCount: held?.count ?? 0,
    loss: last.loss,
    trainAccuracy: last.trainAccuracy,
    validationAccuracy: last.validationAccuracy,
  });
}

// ---------------------------------------------------------------------------------------------
// eval

/** The dataset's labels as model output indices: by class name, or by position when no name matches. */
function alignLabels(ds: LoadedDataset, labels: string[], io: CliIO): LoadedDataset {
  const map = ds.classes.map((c) => labels.indexOf(c));
  const missing = ds.classes.filter((_, i) => map[i] < 0);
  if (missing.length === 0) {
    if (map.every((m, i) => m === i) && ds.classes.length === labels.length) return ds;
    return { ...ds, labels: ds.labels.map((l) => map[l]), classes: [...labels] };
  }
  if (missing.length === ds.classes.length && ds.classes.length === labels.length) {
    io.err(`note: no dataset class name is a model label; matching classes by position (${ds.classes[0]} → ${labels[0]}, …)\n`);
    return { ...ds, classes: [...labels] };
  }
  throw new Error(`eval: dataset classes ${missing.map((c) => JSON.stringify(c)).join(', ')} are not among the model's labels (${labels.join(', ')})`);
}

async function runEval(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<void> {
  const { model } = readModel(o);
  const info = validateModel(model.spec, model.params);
  const ds = readDataset(o, 'eval');
  checkInput(info, ds, 'eval');
  const aligned = alignLabels(ds, model.spec.labels, io);
  const e = evaluate(model, aligned, await cpuKernels());
  writeJson(io, {
    accuracy: e.accuracy,
    count: e.count,
    classes: model.spec.labels,
    perClassAccuracy: e.perClassAccuracy.map((a, c) => (e.confusion[c].some((v) => v > 0) ? a : null)),
    confusion: e.confusion,
  });
}

// ---------------------------------------------------------------------------------------------
// predict

function readImages(path: string, info: NetworkInfo): { bytes: Uint8Array; count: number } {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  const size = size3(info.input);
  const { h, w, c } = info.input;
  const ext = extname(path).toLowerCase();
  if (ext === '.png' || ext === '.jpg' || ext === '.jpeg') {
    if (c !== 3) throw new Error(`${path}: the model takes ${shapeText(info.input)} input; image files give 3 channels`);
    if (h !== w) throw new Error(`${path}: the model takes ${shapeText(info.input)} input; image files are cropped to a square`);
    const img = decodeImageFile(path);
    return { bytes: centerCropResize(img.data, img.width, img.height, new Uint8Array(size)), count: 1 };
  }
  const bytes = new Uint8Array(readFileSync(path));
  if (bytes.length === 0) throw new Error(`${path}: the file is empty`);
  if (bytes.length % size !== 0) {
    throw new Error(`${path}: ${bytes.length} bytes is not a multiple of ${size} (${h}×${w}×${c} per image, NHWC)`);
  }
  return { bytes, count: bytes.length / size };
}

async function runPredict(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<void> {
  const { model } = readModel(o);
  const session = new CpuSession(model, await cpuKernels());
  const { info } = session;
  const { bytes, count } = readImages(required(o, 'images', 'predict'), info);
  const classes = size3(info.output);
  const isSoftmax = info.layers[info.layers.length - 1].kind === 'softmax';
  const size = size3(info.input);
  const chunk = 256;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const y = session.predictBatch(bytes.subarray(start * size, (start + n) * size), n);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      let row = Array.from(y.subarray(i * classes, (i + 1) * classes));
      if (!isSoftmax) {
        // The model ends in logits: turn them into probabilities.
        const max = Math.max(...row);
        const e = row.map((v) => Math.exp(v - max));
        const sum = e.reduce((a, b) => a + b, 0);
        row = e.map((v) => v / sum);
      }
      lines.push(JSON.stringify(row.map((p) => round(p))));
    }
    io.out(`${lines.join('\n')}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// fewshot

interface ShotSplit {
  train: LoadedDataset;
  test: LoadedDataset;
}

/** K images of every class chosen with the seed for training; all others for testing. */
export function chooseShots(ds: LoadedDataset, shots: number, seed: number): ShotSplit {
  const rng = new Random(seed);
  const train: number[] = [];
  const test: number[] = [];
  indicesByClass(ds).forEach((indices, c) => {
    if (indices.length <= shots) {
      throw new Error(`fewshot: class "${ds.classes[c]}" has ${indices.length} images; --shots ${shots} needs at least ${shots + 1} (${shots} to train, 1 to test)`);
    }
    const shuffled = rng.shuffle(indices.slice());
    train.push(...shuffled.slice(0, shots));
    test.push(...shuffled.slice(shots));
  });
  return { train: pickImages(ds, train), test: pickImages(ds, test.sort((a, b) => a - b)) };
}

/** Training images, plus mirrored copies unless disabled. */
function withFlips(ds: LoadedDataset, flip: boolean): { images: Uint8Array; labels: Uint8Array; count: number } {
  if (!flip) return ds;
  const flipped = flipHorizontal(ds.images, ds.count, ds.height, ds.width, ds.channels);
  const images = new Uint8Array(ds.images.length * 2);
  images.set(ds.images);
  images.set(flipped, ds.images.length);
  const labels = new Uint8Array(ds.count * 2);
  labels.set(ds.labels);
  labels.set(ds.labels, ds.count);
  return { images, labels, count: ds.count * 2 };
}

/** Nearest class mean (squared Euclidean distance) of n vectors of length `size`. */
function nearestCentroid(
  train: { x: ArrayLike<number>; labels: Uint8Array; count: number },
  test: { x: ArrayLike<number>; count: number },
  size: number,
  classes: number,
): number[] {
  const sums = new Float64Array(classes * size);
  const counts = new Float64Array(classes);
  for (let i = 0; i < train.count; i++) {
    const l = train.labels[i];
    counts[l]++;
    for (let d = 0; d < size; d++) sums[l * size + d] += train.x[i * size + d];
  }
  for (let c = 0; c < classes; c++) for (let d = 0; d < size; d++) sums[c * size + d] /= counts[c];
  const predictions: number[] = [];
  for (let i = 0; i < test.count; i++) {
    let best = 0;
    let bestDistance = Infinity;
    for (let c = 0; c < classes; c++) {
      let dist = 0;
      for (let d = 0; d < size; d++) {
        const diff = test.x[i * size + d] - sums[c * size + d];
        dist += diff * diff;
      }
      if (dist < bestDistance) {
        bestDistance = dist;
        best = c;
      }
    }
    predictions.push(best);
  }
  return predictions;
}

/** Nearest class mean of raw pixel bytes: the first baseline to beat. */
function pixelCentroids(train: { images: Uint8Array; labels: Uint8Array; count: number }, test: Dataset, classes: number): number[] {
  const size = train.images.length / train.count;
  return nearestCentroid({ x: train.images, labels: train.labels, count: train.count }, { x: test.images, count: test.count }, size, classes);
}

/**
 * Colour histograms of n images of bytes: `bins` per channel, the cell of a pixel
 * (r · bins + g) · bins + b with bin floor(byte · bins / 256), each cell the fraction of pixels.
 */
export function colourHistograms(images: Uint8Array, n: number, pixels: number, channels: number, bins: number): Float32Array {
  const cells = bins ** channels;
  const out = new Float32Array(n * cells);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < pixels; p++) {
      let cell = 0;
      for (let ch = 0; ch < channels; ch++) cell = cell * bins + Math.floor((images[(i * pixels + p) * channels + ch] * bins) / 256);
      out[i * cells + cell] += 1 / pixels;
    }
  }
  return out;
}

/**
 * Softmax regression on colour histograms (4 bins per channel, standardised, the same head training
 * as --features colour): the colour baseline at its strongest.
 */
function colourRegression(train: { images: Uint8Array; labels: Uint8Array; count: number }, test: LoadedDataset, classes: number, seed: number): number[] {
  const pixels = test.height * test.width;
  const c = test.channels;
  const cells = COLOUR_BINS ** c;
  const head = trainHead(colourHistograms(train.images, train.count, pixels, c, COLOUR_BINS), train.labels, train.count, cells, classes, { seed });
  const x = colourHistograms(test.images, test.count, pixels, c, COLOUR_BINS);
  const predictions: number[] = [];
  for (let i = 0; i < test.count; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let k = 0; k < classes; k++) {
      let score = head.bias[k];
      for (let d = 0; d < cells; d++) score += x[i * cells + d] * head.weights[d * classes + k];
      if (score > bestScore) {
        bestScore = score;
        best = k;
      }
    }
    predictions.push(best);
  }
  return predictions;
}

/** Nearest class mean of colour histograms (4 bins per channel): the second baseline to beat. */
function colourCentroids(train: { images: Uint8Array; labels: Uint8Array; count: number }, test: LoadedDataset, classes: number): number[] {
  const pixels = test.height * test.width;
  const c = test.channels;
  const cells = COLOUR_BINS ** c;
  const x = colourHistograms(train.images, train.count, pixels, c, COLOUR_BINS);
  const y = colourHistograms(test.images, test.count, pixels, c, COLOUR_BINS);
  return nearestCentroid({ x, labels: train.labels, count: train.count }, { x: y, count: test.count }, cells, classes);
}

function accuracyOf(predictions: ArrayLike<number>, labels: Uint8Array, classes: number) {
  const hits = new Array<number>(classes).fill(0);
  const totals = new Array<number>(classes).fill(0);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    totals[labels[i]]++;
    if (predictions[i] === labels[i]) {
      hits[labels[i]]++;
      correct++;
    }
  }
  return { accuracy: labels.length ? correct / labels.length : 0, perClassAccuracy: hits.map((h, c) => (totals[c] ? h / totals[c] : null)) };
}

async function runFewshot(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<void> {
  const shots = numberOption(o, 'shots', NaN, { integer: true, min: 1, max: 100000 });
  if (Number.isNaN(shots)) throw new UsageError('fewshot: --shots is required (see `cli fewshot --help`)');
  const seed = numberOption(o, 'seed', 1, { integer: true, min: 0, max: 0xffffffff });
  const baseline = o.baseline;
  if (baseline !== undefined && baseline !== 'pixels' && baseline !== 'colour' && baseline !== 'colour-lr') {
    throw new UsageError(`--baseline: expected "pixels", "colour" or "colour-lr", got ${JSON.stringify(baseline)}`);
  }
  // No --features: what the app's teaching does (--features app).
  const choice = (o.features ?? 'app') as FeatureChoice | 'app';
  if (choice !== 'app' && !FEATURE_CHOICES.includes(choice)) {
    throw new UsageError(`--features: expected app or one of ${FEATURE_CHOICES.join(', ')}, got ${JSON.stringify(o.features)}`);
  }
  if (baseline && o.features !== undefined) throw new UsageError('--features: a baseline uses no model features; give one or the other');
  const out = typeof o.out === 'string' ? o.out : null;
  if (out !== null && baseline) throw new UsageError(`--out: the ${baseline} baseline makes no model to write`);
  if (out !== null) modelFormatOf(out);
  const flip = !o['no-flip'];
  const ds = readDataset(o, 'fewshot');
  const classes = ds.classes.length;
  if (classes < 2) throw new Error(`fewshot: the dataset has ${classes} class; few-shot classification needs at least 2`);
  const { train, test } = chooseShots(ds, shots, seed);
  const trainSet = withFlips(train, flip);
  const common = { shots, seed, classes: ds.classes, trainCount: train.count, augmentedCount: trainSet.count, testCount: test.count };

  if (baseline) {
    const predictions =
      baseline === 'pixels'
        ? pixelCentroids(trainSet, test, classes)
        : baseline === 'colour'
          ? colourCentroids(trainSet, test, classes)
          : colourRegression(trainSet, test, classes, seed);
    const r = accuracyOf(predictions, test.labels, classes);
    writeJson(io, { method: baseline, accuracy: r.accuracy, perClassAccuracy: r.perClassAccuracy, ...common });
    return;
  }

  const { model, path } = readModel(o);
  const session = new CpuSession(model, await cpuKernels());
  const { info } = session;
  checkInput(info, ds, 'fewshot');
  const head = headLayerIndex(info);
  const started = performance.now();
  let retrained: Model;
  let trained: { epochs: number; accuracy: number };
  let dim: number;
  if (choice === 'app') {
    // The app's teaching itself (src/worker/teach.ts, with its defaults as the app calls it): its
    // features and views of each example, held-out split, head training and final fit on every
    // example. --seed picks the examples; --no-flip leaves out the mirrored views.
    const imageSize = size3(info.input);
    const outcome = await new Teacher().train(
      model,
      session,
      ds.classes.map((name, k) => ({ id: `class-${k}`, name })),
      Array.from({ length: train.count }, (_, i) => ({ id: `example-${i}`, classId: `class-${train.labels[i]}`, bytes: train.images.subarray(i * imageSize, (i + 1) * imageSize) })),
      flip ? {} : { augment: false },
    );
    retrained = outcome.model;
    trained = outcome;
    dim = featureSize(validateModel(retrained.spec, retrained.params));
  } else {
    const readout = readoutFor(choice, info, head);
    const features = readout ? session.readoutFeatures(trainSet.images, trainSet.count, readout) : session.features(trainSet.images, trainSet.count, head);
    dim = features.length / trainSet.count;
    const headTrained = trainHead(features, trainSet.labels, trainSet.count, dim, classes, { seed });
    // The standardisation is folded into the head, so the written model needs no extra step.
    retrained = replaceHead(model, ds.classes, headTrained, readout);
    trained = headTrained;
  }
  const seconds = (performance.now() - started) / 1000;
  io.err(`few-shot head (${choice}): ${dim} features × ${classes} classes, ${trained.epochs} epochs, train acc ${percent(trained.accuracy)}, ${seconds.toFixed(1)} s\n`);
  const e = evaluate(retrained, test, await cpuKernels());
  if (out !== null) {
    const meta: ModelMeta = {
      name: basename(out, extname(out)),
      training: { epochs: trained.epochs, seed, dataset: `few-shot head on ${basename(path)}: ${shots} shots of ${classes} classes`, trainCount: trainSet.count },
    };
    const bytes = saveModelFile(out, retrained, meta);
    io.err(`wrote ${out} (${thousands(bytes)} bytes)\n`);
  }
  writeJson(io, {
    method: 'head',
    features: choice,
    accuracy: e.accuracy,
    perClassAccuracy: e.perClassAccuracy,
    ...common,
    featureSize: dim,
    trainAccuracy: trained.accuracy,
  });
}

// ---------------------------------------------------------------------------------------------
// info

function layerDetails(l: NetworkInfo['layers'][number]): string {
  switch (l.kind) {
    case 'conv2d':
    case 'maxpool':
    case 'avgpool': {
      const pads = [l.padTop, l.padBottom, l.padLeft, l.padRight];
      const pad = pads.every((p) => p === 0) ? 'no pad' : `pad ${pads.join(',')}`;
      const act = l.kind === 'conv2d' && l.activation !== 'linear' ? ` ${l.activation}` : '';
      return `${l.kh}×${l.kw} stride ${l.sh === l.sw ? l.sh : `${l.sh}×${l.sw}`} ${pad}${act}`;
    }
    case 'dense':
      return `${l.inSize} → ${l.units}${l.activation !== 'linear' ? ` ${l.activation}` : ''}`;
    case 'activation':
      return l.activation;
    case 'softmax':
      return '';
  }
}

function runConvert(o: Record<string, string | boolean | undefined>, io: CliIO): void {
  const input = required(o, 'in', 'convert');
  const out = required(o, 'out', 'convert');
  const encodings = ['float32', 'float16', 'int8'] as const;
  const encoding = (o.encoding ?? 'float32') as (typeof encodings)[number];
  if (!encodings.includes(encoding)) throw new UsageError(`--encoding: expected float32, float16 or int8, got ${JSON.stringify(o.encoding)}`);
  if (encoding !== 'float32' && modelFormatOf(out) !== 'cnn') throw new UsageError('--encoding: only .cnn files store float16 or int8 weights');
  const { model, meta } = loadModelFile(input, tfjsOptions(o));
  const bytes = saveModelFile(out, model, meta, { denseEncoding: encoding });
  writeJson(io, { in: input, out, format: modelFormatOf(out), bytes, params: model.params.length, encoding });
}

/**
 * `info` and `inspect` (the same output): the file, the input, the labels, the per-layer table
 * and the training summary, as text or as one JSON object.
 */
function runInfo(o: Record<string, string | boolean | undefined>, io: CliIO): void {
  const { model, meta, format, path } = readModel(o);
  const info = validateModel(model.spec, model.params);
  const { input } = model.spec;
  const bytes = readFileSync(path).length;
  const sparsity = denseSparsity(model);
  const layers = info.layers.map((l) => ({
    index: l.index,
    name: l.name,
    kind: l.kind,
    output: [l.out.h, l.out.w, l.out.c],
    outputShape: [l.out.h, l.out.w, l.out.c],
    params: l.paramCount,
    macs: l.kind === 'conv2d' || l.kind === 'dense' ? l.macs : 0,
    details: layerDetails(l),
  }));
  const storage = `${meta.denseEncoding ?? 'float32'}${meta.denseSparse ? ', sparse' : ''}`;
  if (o.json) {
    writeJson(io, {
      file: path,
      format,
      bytes,
      name: meta.name ?? null,
      created: meta.created ?? null,
      denseEncoding: meta.denseEncoding ?? 'float32',
      denseSparse: meta.denseSparse === true,
      denseSparsity: { weights: sparsity.weights, zeros: sparsity.zeros, fraction: sparsity.fraction },
      input: { height: input.height, width: input.width, channels: input.channels, mean: Array.from(info.mean), std: Array.from(info.invStd, (v) => round(1 / v)) },
      labels: model.spec.labels,
      layers,
      params: info.paramCount,
      macs: info.macs,
      training: meta.training ?? null,
    });
    return;
  }
  const lines: string[] = [];
  const list = (a: ArrayLike<number>) => `[${Array.from(a, (v) => round(v, 4)).join(', ')}]`;
  lines.push(`model     ${path} (${format}, ${thousands(bytes)} bytes, dense weights ${storage})`);
  if (meta.name) lines.push(`name      ${meta.name}`);
  if (meta.created) lines.push(`created   ${meta.created}`);
  lines.push(`input     ${shapeText(info.input)} bytes, normalised (x − mean) / std, mean ${list(info.mean)}, std ${list(Array.from(info.invStd, (v) => 1 / v))}`);
  lines.push(`labels    ${model.spec.labels.length}: ${model.spec.labels.join(', ')}`);
  if (sparsity.zeros > 0) {
    const perLayer = sparsity.perLayer.map((l) => `${l.name} ${percent(l.zeroed / l.weights)}`).join(', ');
    lines.push(`sparsity  ${thousands(sparsity.zeros)} of ${thousands(sparsity.weights)} dense weights are zero (${percent(sparsity.fraction)}: ${perLayer})`);
  }
  lines.push('');
  const header = ['#', 'name', 'kind', 'output', 'params', 'mult-adds', 'details'];
  const rows = layers.map((l) => [String(l.index), l.name, l.kind, l.output.join('×'), thousands(l.params), thousands(l.macs), l.details]);
  rows.push(['', 'total', '', '', thousands(info.paramCount), thousands(info.macs), '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([0, 4, 5]);
  const format_ = (r: string[]) => r.map((v, i) => (right.has(i) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  lines.push(format_(header), ...rows.map(format_));
  const t = meta.training;
  if (t) {
    lines.push('');
    const settings = [
      `${t.epochs} epochs`,
      t.batchSize !== undefined ? `batch ${t.batchSize}` : '',
      t.lr !== undefined ? `lr ${t.lr}` : '',
      t.weightDecay !== undefined ? `weight decay ${t.weightDecay}` : '',
      t.seed !== undefined ? `seed ${t.seed}` : '',
    ].filter(Boolean);
    lines.push(`training  ${settings.join(', ')}${t.dataset ? ` on ${t.dataset}` : ''}`);
    if (t.trainCount !== undefined) lines.push(`          ${t.trainCount} training images${t.validationCount ? `, ${t.validationCount} validation` : ''}`);
    const last = t.history?.[t.history.length - 1];
    if (last) {
      lines.push(`          final epoch: loss ${round(last.loss, 4)}, train acc ${percent(last.trainAccuracy)}, val acc ${percent(last.validationAccuracy ?? null)}`);
    }
  }
  io.out(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// compress

async function runCompress(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<void> {
  const out = required(o, 'out', 'compress');
  const rawSparsity = required(o, 'sparsity', 'compress');
  const sparsity = Number(rawSparsity);
  if (rawSparsity.trim() === '' || !Number.isFinite(sparsity) || sparsity < 0 || sparsity >= 1) {
    throw new UsageError(`--sparsity: expected a number ≥ 0 and < 1 (the share of each dense layer's weights set to 0), got ${JSON.stringify(rawSparsity)}`);
  }
  if (o.encoding !== undefined && !DENSE_ENCODINGS.includes(o.encoding as DenseEncoding)) {
    throw new UsageError(`--encoding: expected one of ${DENSE_ENCODINGS.join(', ')}, got ${JSON.stringify(o.encoding)}`);
  }
  if (extname(out).toLowerCase() !== '.cnn') throw new UsageError(`--out: sparse dense weights are written as .cnn files, got ${JSON.stringify(out)}`);
  const layerNames = typeof o.layers === 'string' ? o.layers.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (layerNames?.length === 0) throw new UsageError(`--layers: expected dense layer names separated by commas, got ${JSON.stringify(o.layers)}`);

  const { model, meta, format, path } = readModel(o);
  const info = validateModel(model.spec, model.params);
  const encoding = (o.encoding as DenseEncoding | undefined) ?? meta.denseEncoding ?? 'float32';
  let pruned: ReturnType<typeof pruneDense>;
  try {
    pruned = pruneDense(model, sparsity, { layers: layerNames });
  } catch (e) {
    // The sparsity was checked above: what is left is a --layers name that is not a dense layer.
    if (e instanceof RangeError) throw new UsageError(`--layers: ${e.message.replace(/^pruneDense: /, '')}`);
    throw e;
  }
  // Read the dataset before writing anything, so a bad --data leaves no file behind.
  let aligned: LoadedDataset | null = null;
  if (o.data !== undefined) {
    const ds = readDataset(o, 'compress');
    checkInput(info, ds, 'compress');
    aligned = alignLabels(ds, model.spec.labels, io);
  }
  const { created: _created, ...keptMeta } = meta;
  const bytes = saveModelFile(out, pruned.model, keptMeta, { denseEncoding: encoding, denseSparse: true });
  // A model.json has no one file size: compare with the .cnn it would make (float32 dense weights).
  const originalBytes = format === 'cnn' ? statSync(path).size : encodeModel(model, meta).length;
  let accuracyBefore: number | null = null;
  let accuracyAfter: number | null = null;
  if (aligned) {
    const kernels = await cpuKernels();
    accuracyBefore = evaluate(model, aligned, kernels).accuracy;
    // The compressed model as a reader gets it from the file: quantised, zeros and all.
    accuracyAfter = evaluate(loadModelFile(out).model, aligned, kernels).accuracy;
  }
  writeJson(io, {
    out,
    bytes,
    originalBytes,
    sparsity,
    encoding,
    denseWeights: pruned.denseWeights,
    zeroed: pruned.zeroed,
    perLayer: pruned.perLayer,
    accuracyBefore,
    accuracyAfter,
    count: aligned ? aligned.count : null,
  });
}

// ---------------------------------------------------------------------------------------------
// Commands and main

const TFJS_FLAGS: Record<string, OptionSpec> = { mean: { type: 'string' }, std: { type: 'string' }, labels: { type: 'string' } };
const TFJS_OPTIONS = `  --mean M --std S      input normalisation for a TF.js model.json, per channel, e.g.
                        --mean 0,0,0 --std 255,255,255 (the default: inputs scaled to 0–1;
                        a model.json written by this tool records its own)
  --labels L            class labels for a model.json, separated by commas`;
const MODEL_OPTION = `  --model <file>        model file: .cnn, or a TF.js Layers model.json; default
                        public/models/default.cnn
${TFJS_OPTIONS}`;
const DATA_OPTION = `  --data <folder>       dataset: images.u8 + labels.u8 + meta.json, or one sub-folder of
                        PNG/JPEG images per class (centre-cropped, resized to 32×32)
  --classes <list>      use only these classes (names or indices, comma-separated),
                        relabelled in the order given`;

const COMMANDS: Record<string, Command> = {
  train: {
    summary: 'train a network from a spec on a dataset and write a .cnn model',
    usage: `train --spec <spec.json|${Object.keys(ARCHITECTURES).join('|')}> --data <dataset> --out <model.cnn> [options]`,
    options: {
      spec: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      classes: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      momentum: { type: 'string' },
      'weight-decay': { type: 'string' },
      seed: { type: 'string' },
      'val-fraction': { type: 'string' },
      'no-augment': { type: 'boolean' },
      threads: { type: 'string' },
      encoding: { type: 'string' },
      name: { type: 'string' },
    },
    help: `  --spec <file|name>    model spec JSON (labels may be left out: the dataset's classes are
                        used), or a built-in architecture: ${Object.keys(ARCHITECTURES).join(', ')}
${DATA_OPTION}
  --out <file.cnn>      where to write the model
  --epochs N            passes over the training images (default 10)
  --batch B             mini-batch size (default 32)
  --lr X                initial step size, cosine-decayed to 0 (default 0.02)
  --momentum M          SGD momentum (default 0.9)
  --weight-decay W      L2 weight decay on weights (default 0.0005)
  --seed S              seed for initialisation, split, shuffling, augmentation (default 1)
  --val-fraction F      share of every class held out for validation (default 0.1; 0 = none)
  --no-augment          no random flips and shifts
  --threads N           helper threads for data-parallel training (default 0)
  --encoding E          dense weights as float32 (default), float16 or int8
  --name NAME           model name stored in the file (default: the output's base name)
Progress per epoch goes to stderr; a JSON summary to stdout:
  {"out","bytes","params","epochs","trainCount","validationCount","loss","trainAccuracy","validationAccuracy"}`,
    run: runTrain,
  },
  eval: {
    summary: 'accuracy, per-class accuracy and confusion matrix of a model on a dataset',
    usage: 'eval [--model <model.cnn>] --data <dataset>',
    options: { model: { type: 'string' }, ...TFJS_FLAGS, data: { type: 'string' }, classes: { type: 'string' } },
    help: `${MODEL_OPTION}
${DATA_OPTION}
Dataset classes are matched to the model's labels by name (by position if no name matches).
Prints one JSON object: {"accuracy": 0–1, "count", "classes": model labels,
  "perClassAccuracy": per label (null without examples), "confusion": [true][predicted] counts}`,
    run: runEval,
  },
  predict: {
    summary: 'class probabilities for images',
    usage: 'predict [--model <model.cnn>] --images <file.u8|image.png|image.jpg>',
    options: { model: { type: 'string' }, ...TFJS_FLAGS, images: { type: 'string' } },
    help: `${MODEL_OPTION}
  --images <file>       N×H×W×C bytes (NHWC, RGB, the model's input size), or one PNG/JPEG
                        image (centre-cropped and resized to the input size)
Prints one line per image: a JSON array of class probabilities in the model's label order
(6 significant digits).`,
    run: runPredict,
  },
  fewshot: {
    summary: "retrain the final dense layer on K examples per class; accuracy on the rest",
    usage: 'fewshot [--model <model.cnn>] --data <dataset> --shots K [--seed S] [--features F | --baseline pixels|colour|colour-lr]',
    options: {
      model: { type: 'string' }, ...TFJS_FLAGS,
      data: { type: 'string' },
      classes: { type: 'string' },
      shots: { type: 'string' },
      seed: { type: 'string' },
      baseline: { type: 'string' },
      features: { type: 'string' },
      'no-flip': { type: 'boolean' },
      out: { type: 'string' },
    },
    help: `${MODEL_OPTION}
${DATA_OPTION}
  --shots K             training examples per class (the rest are the test set)
  --seed S              which examples are chosen, and the head's training (default 1)
  --features F          what the new final dense layer reads, and how it is trained
                        (default app):
                          app                exactly what the app's teaching does: the spatial
                                             readout of the example and its mirror image, a
                                             held-out fifth choosing the epochs (with ≥ 5 per
                                             class), then the head fitted on every example
                          last               the previous layer's output, flattened
                          multiscale         global average and max pooling of the output of
                                             every conv block (a readout, see the README)
                          multiscale+colour  multiscale plus a 4×4×4 RGB colour histogram
                          colour             the colour histogram alone
                          spatial            multiscale plus per-quadrant averages of the two
                                             earliest blocks, plus the colour histogram (the
                                             features of app, trained on every example at once)
                        each standardised with the mean and std of the training examples,
                        folded into the head's weights
  --baseline B          instead of the model, nearest class mean of: pixels (raw bytes) or
                        colour (4×4×4 RGB histograms); or colour-lr: softmax regression on
                        those histograms
  --no-flip             do not add mirrored copies of the K examples
  --out <file.cnn>      also write the retrained model
Every layer before the final dense layer stays frozen; a new final dense layer, sized for the
dataset's classes, is trained on their features (and those of mirrored copies). Prints one
JSON object: {"method": "head"|"pixels"|"colour", "accuracy", "perClassAccuracy", "shots", "seed",
  "classes", "trainCount", "augmentedCount", "testCount"} (+ "features", "featureSize",
  "trainAccuracy" for the head)`,
    run: runFewshot,
  },
  convert: {
    summary: 'convert between .cnn files and TF.js Layers model.json',
    usage: 'convert --in <model.cnn|model.json> --out <model.cnn|model.json> [--mean M --std S --labels L] [--encoding E]',
    options: {
      in: { type: 'string' },
      out: { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      labels: { type: 'string' },
      encoding: { type: 'string' },
    },
    help: `  --in <file>           a .cnn file or a TF.js Layers model.json (its weight files beside it)
  --out <file>          a .cnn file, or model.json (written with model.weights.bin beside it)
${TFJS_OPTIONS}
  --encoding E          dense weights in a .cnn output: float32 (default), float16 or int8
Prints one JSON object: {"in", "out", "format", "bytes", "params", "encoding"}`,
    run: runConvert,
  },
  info: {
    summary: 'spec summary, parameters and multiply-adds per layer',
    usage: 'info [--model <model.cnn>] [--json]',
    options: { model: { type: 'string' }, ...TFJS_FLAGS, json: { type: 'boolean' } },
    help: `${MODEL_OPTION}
  --json                one JSON object instead of text (the same as inspect --json)`,
    run: runInfo,
  },
  inspect: {
    summary: 'the per-layer table: output shape, parameters, multiply-adds (as info)',
    usage: 'inspect [--model <model.cnn>] [--json]',
    options: { model: { type: 'string' }, ...TFJS_FLAGS, json: { type: 'boolean' } },
    help: `${MODEL_OPTION}
  --json                one JSON object instead of text:
                        {"layers": [{"index", "name", "kind", "outputShape": [h, w, c], "output",
                        "params", "macs", "details"}], "params", "macs", "input", "labels",
                        "training", "denseEncoding", "denseSparse", "denseSparsity", …}`,
    run: runInfo,
  },
  compress: {
    summary: 'prune the dense layers to a sparsity, store them sparsely; size and accuracy change',
    usage: 'compress [--model <model.cnn>] --sparsity S --out <model.cnn> [--encoding E] [--layers L] [--data <dataset> [--classes C]]',
    options: {
      model: { type: 'string' }, ...TFJS_FLAGS,
      sparsity: { type: 'string' },
      out: { type: 'string' },
      encoding: { type: 'string' },
      layers: { type: 'string' },
      data: { type: 'string' },
      classes: { type: 'string' },
    },
    help: `${MODEL_OPTION}
  --sparsity S          share of each dense layer's weights set to 0, smallest |w| first
                        (0 ≤ S < 1; biases and conv layers are untouched)
  --out <file.cnn>      where to write the compressed model (dense weights stored sparsely)
  --encoding E          dense weights as float32, float16 or int8 (default: the model's own)
  --layers L            prune only these dense layers (names, comma-separated; default all)
${DATA_OPTION}
                        with --data: accuracy of the model and of the file written, as eval
Prints one JSON object: {"out", "bytes", "originalBytes", "sparsity", "encoding",
  "denseWeights", "zeroed", "perLayer", "accuracyBefore", "accuracyAfter", "count"}
(accuracies and count null without --data)`,
    run: runCompress,
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: npm run cli -- <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `npm run cli -- <command> --help` for its options. Results go to stdout as JSON,',
    'progress to stderr; errors are one line on stderr, exit code 2 for bad usage, 1 otherwise.',
    '',
  ].join('\n');
}

/** Runs the tool; returns the process exit code. Never throws and never exits the process. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError(`no command given (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)`);
    if (name === '--help' || name === '-h' || name === 'help') {
      io.out(mainHelp());
      return 0;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})`);
    let values: Record<string, string | boolean | undefined>;
    try {
      ({ values } = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
    } catch (e) {
      // Node's messages carry advice about '--' that does not apply here: keep the first sentence.
      const first = (e as Error).message.split(/\. (?=[A-Z])/)[0];
      throw new UsageError(`${name}: ${first} (see \`cli ${name} --help\`)`);
    }
    if (values.help) {
      io.out(`usage: npm run cli -- ${command.usage}\n\n${command.help}\n`);
      return 0;
    }
    await command.run(values, io);
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.err(`error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env.CLI_DEBUG && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Output piped into `head` and the like: stop quietly when the reader goes away.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}

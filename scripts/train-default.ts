// Trains the app's default network on ../shared/data/cifar10-4k with the project's own engine,
// deterministically from its seed. Usage (see README, "Default model"):
//   npm run train:default -- [--arch wide|classic] [--epochs 40] [--classes 0,1,2,3,4] [--out public/models/default.cnn]
// With --classes, pretrains on those classes only (used to measure transfer to the others).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ARCHITECTURES } from '../src/engine/zoo.ts';
import { createCpuKernels, encodeModel, evaluate, fit, inferShapes, initParams, type EpochReport } from '../src/engine/index.ts';
import { loadDataset, splitDataset, subsetByClasses } from '../src/node/dataset.ts';
import { ParallelTrainer, sharedParams } from '../src/node/parallel-trainer.ts';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'wide' },
    epochs: { type: 'string', default: '40' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.02' },
    'weight-decay': { type: 'string', default: '0.0005' },
    seed: { type: 'string', default: '1' },
    classes: { type: 'string' },
    data: { type: 'string', default: '../shared/data/cifar10-4k' },
    threads: { type: 'string', default: '1' },
    kernels: { type: 'string', default: 'wasm' },
    out: { type: 'string', default: 'public/models/default.cnn' },
  },
});

const makeSpec = ARCHITECTURES[values.arch!];
if (!makeSpec) {
  console.error(`unknown --arch ${values.arch} (expected one of ${Object.keys(ARCHITECTURES).join(', ')})`);
  process.exit(2);
}
const seed = Number(values.seed);
const epochs = Number(values.epochs);
const batchSize = Number(values.batch);
const lr = Number(values.lr);
const weightDecay = Number(values['weight-decay']);

const all = loadDataset(resolve(values.data!));
// The same 12.5 % validation split (500 of 4,000, stratified) for every run with this seed.
const { train: trainAll, held: valAll } = splitDataset(all, 0.125, seed);
const keep = values.classes ? values.classes.split(',').map(Number) : null;
const train = keep ? subsetByClasses(trainAll, keep) : trainAll;
const validation = keep ? subsetByClasses(valAll, keep) : valAll;

const spec = makeSpec(train.classes);
const info = inferShapes(spec);
const params = sharedParams(initParams(spec, seed));
console.error(`${values.arch}: ${info.paramCount} parameters, ${(info.macs / 1e6).toFixed(2)} M multiply-adds; train ${train.count}, validation ${validation.count}, classes ${train.classes.join(' ')}`);
// WebAssembly SIMD kernels when they load (same results as the TypeScript ones, to float rounding).
const kernels = values.kernels === 'wasm' ? await createCpuKernels() : null;
console.error(`kernels: ${kernels?.name ?? 'typescript'}`);
let parallel: ParallelTrainer | null = null;
const history: EpochReport[] = await fit({ spec, params }, train, {
  epochs,
  batchSize,
  lr,
  weightDecay,
  momentum: 0.9,
  schedule: 'cosine',
  seed,
  augment: { flip: true, shift: 3 },
  validation,
  kernels,
  createTrainer: (m, b, o) => (parallel = ParallelTrainer.create(m, b, o, Number(values.threads), kernels)),
  onEpoch: (e) =>
    console.error(
      `epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} train ${(e.trainAccuracy * 100).toFixed(1)}% val ${((e.validationAccuracy ?? 0) * 100).toFixed(1)}% lr ${e.lr.toFixed(4)} ${e.seconds.toFixed(1)}s`,
    ),
});
await (parallel as ParallelTrainer | null)?.dispose();

const model = { spec, params: Float32Array.from(params) };
const result = evaluate(model, validation);
const bytes = encodeModel(model, {
  name: `${values.arch} CIFAR-10${keep ? ` (classes ${keep.join(',')})` : ''}`,
  training: {
    epochs,
    batchSize,
    lr,
    weightDecay,
    seed,
    dataset: 'cifar10-4k (first 4,000 images of CIFAR-10 data_batch_1), 3,500 train / 500 validation, stratified',
    trainCount: train.count,
    validationCount: validation.count,
    history: history.map(({ epoch, loss, trainAccuracy, validationAccuracy }) => ({ epoch, loss, trainAccuracy, validationAccuracy })),
  },
});
mkdirSync(dirname(resolve(values.out!)), { recursive: true });
writeFileSync(resolve(values.out!), bytes);
console.log(JSON.stringify({ arch: values.arch, out: values.out, accuracy: result.accuracy, perClassAccuracy: result.perClassAccuracy, params: info.paramCount, macs: info.macs }));

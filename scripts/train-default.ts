// Trains the app's default network on ../shared/data/cifar10-4k with the project's own engine,
// deterministically from its seed. Usage (see README, "Default model"):
//   npm run train:default -- [--arch wide|classic] [--epochs 40] [--classes 0,1,2,3,4] [--out public/models/default.cnn]
// With --classes, pretrains on those classes only (used to measure transfer to the others).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ARCHITECTURES } from '../src/engine/zoo.ts';
import { createCpuKernels, encodeModel, evaluate, fit, inferShapes, initParams, type EpochReport } from '../src/engine/index.ts';
import { uprightOutputs } from '../src/engine/fewshot.ts';
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
    shift: { type: 'string', default: '3' },
    cutout: { type: 'string', default: '0' },
    colour: { type: 'string', default: '0' },
    grey: { type: 'string', default: '0' },
    'label-smoothing': { type: 'string', default: '0' },
    rotations: { type: 'boolean', default: false },
    'test-fraction': { type: 'string', default: '0' },
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
const { train: rest, held: valAll } = splitDataset(all, 0.125, seed);
// With --test-fraction (e.g. 0.143: ≈ 500 of the rest, stratified), a test split that no choice of
// architecture, recipe or epochs looks at, scored once at the end. Off by default, so that the
// default run reproduces the shipped model.
const { train: trainAll, held: testAll } = splitDataset(rest, Number(values['test-fraction']), seed + 1);
const keep = values.classes ? values.classes.split(',').map(Number) : null;
const train = keep ? subsetByClasses(trainAll, keep) : trainAll;
const validation = keep ? subsetByClasses(valAll, keep) : valAll;
const test = keep ? subsetByClasses(testAll, keep) : testAll;

const rotations = values.rotations!;
// With rotation labels the network has four outputs per class (upright, 90°, 180°, 270°).
const spec = makeSpec(rotations ? train.classes.flatMap((c) => [0, 90, 180, 270].map((r) => `${c}@${r}`)) : train.classes);
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
  augment: { flip: true, shift: Number(values.shift), cutout: Number(values.cutout), colour: Number(values.colour), grey: Number(values.grey) },
  labelSmoothing: Number(values['label-smoothing']),
  rotations,
  validation,
  kernels,
  createTrainer: (m, b, o) => (parallel = ParallelTrainer.create(m, b, o, Number(values.threads), kernels)),
  onEpoch: (e) =>
    console.error(
      `epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} train ${(e.trainAccuracy * 100).toFixed(1)}% val ${((e.validationAccuracy ?? 0) * 100).toFixed(1)}% lr ${e.lr.toFixed(4)} ${e.seconds.toFixed(1)}s`,
    ),
});
await (parallel as ParallelTrainer | null)?.dispose();

const trained = { spec, params: Float32Array.from(params) };
const model = rotations ? uprightOutputs(trained, train.classes) : trained;
const result = evaluate(model, validation);
const tested = test.count > 0 ? evaluate(model, test) : null;
const bytes = encodeModel(model, {
  name: `${values.arch} CIFAR-10${keep ? ` (classes ${keep.join(',')})` : ''}`,
  training: {
    epochs,
    batchSize,
    lr,
    weightDecay,
    seed,
    dataset: `cifar10-4k (first 4,000 images of CIFAR-10 data_batch_1), ${train.count} train / ${validation.count} validation (choices) / ${test.count} test (reported only), stratified`,
    trainCount: train.count,
    validationCount: validation.count,
    history: history.map(({ epoch, loss, trainAccuracy, validationAccuracy }) => ({ epoch, loss, trainAccuracy, validationAccuracy })),
  },
});
mkdirSync(dirname(resolve(values.out!)), { recursive: true });
writeFileSync(resolve(values.out!), bytes);
console.log(JSON.stringify({ arch: values.arch, out: values.out, accuracy: result.accuracy, testAccuracy: tested?.accuracy ?? null, perClassAccuracy: result.perClassAccuracy, params: info.paramCount, macs: info.macs }));

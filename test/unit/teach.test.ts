// Teaching in the worker: views, backbone fingerprints, feature caching, the held-out split,
// cancellation, and few-shot accuracy on real images through the default model (the untrained
// classic network when no default model file exists).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classicCifarSpec, CpuSession, decodeModel, headLayerIndex, inferShapes, initParams, validateModel, type Model } from '../../src/engine/index.ts';
import { EngineHost } from '../../src/worker/engine-host.ts';
import { backboneFingerprint, Teacher, teachReadout, VIEW_COUNT, writeView } from '../../src/worker/teach.ts';
import type { TeachClass, TeachExample, TeachProgress } from '../../src/worker-api.ts';

const CIFAR = fileURLToPath(new URL('../../../shared/data/cifar10-4k', import.meta.url));
const DEFAULT_MODEL = fileURLToPath(new URL('../../public/models/default.cnn', import.meta.url));
const IMAGE = 32 * 32 * 3;

const images = new Uint8Array(readFileSync(`${CIFAR}/images.u8`));
const labels = new Uint8Array(readFileSync(`${CIFAR}/labels.u8`));
const classNames: string[] = JSON.parse(readFileSync(`${CIFAR}/meta.json`, 'utf8')).classes;

function baseModel(): { model: Model; trained: boolean } {
  if (existsSync(DEFAULT_MODEL)) return { model: decodeModel(new Uint8Array(readFileSync(DEFAULT_MODEL))).model, trained: true };
  const spec = classicCifarSpec();
  return { model: { spec, params: initParams(spec, 1) }, trained: false };
}

/** Indices of the images of `cls` in the dataset, in file order. */
function indicesOf(cls: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === cls) out.push(i);
  return out;
}

function imageAt(i: number): Uint8Array {
  return images.slice(i * IMAGE, (i + 1) * IMAGE);
}

/** `shots` examples of each dataset class, and the next `test` images of each for testing. */
function task(dataClasses: number[], shots: number, test: number) {
  const classes: TeachClass[] = dataClasses.map((k) => ({ id: `c${k}`, name: classNames[k] }));
  const examples: TeachExample[] = [];
  const testSet: { bytes: Uint8Array; label: number }[] = [];
  dataClasses.forEach((k, label) => {
    const idx = indicesOf(k);
    idx.slice(0, shots).forEach((i) => examples.push({ id: `e${i}`, classId: `c${k}`, bytes: imageAt(i) }));
    idx.slice(shots, shots + test).forEach((i) => testSet.push({ bytes: imageAt(i), label }));
  });
  return { classes, examples, testSet };
}

function accuracyOf(model: Model, testSet: { bytes: Uint8Array; label: number }[]): number {
  const session = new CpuSession(model);
  let correct = 0;
  for (const { bytes, label } of testSet) {
    const p = session.predict(bytes);
    let best = 0;
    for (let o = 1; o < p.length; o++) if (p[o] > p[best]) best = o;
    if (best === label) correct++;
  }
  return correct / testSet.length;
}

describe('views', () => {
  it('mirrors and shifts with the edges repeated (compared with direct indexing)', () => {
    const h = 4;
    const w = 5;
    const c = 2;
    const src = Uint8Array.from({ length: h * w * c }, (_, i) => i);
    const dst = new Uint8Array(src.length);
    writeView(src, dst, h, w, c, { flip: true, dx: 0, dy: 0 });
    expect(dst[0]).toBe(src[(w - 1) * c]);
    expect(dst[(1 * w + 1) * c + 1]).toBe(src[(1 * w + 3) * c + 1]);
    writeView(src, dst, h, w, c, { flip: false, dx: 2, dy: 1 });
    // Row 0 repeats source row 0; columns 0..2 repeat source column 0.
    expect(dst[(0 * w + 0) * c]).toBe(src[0]);
    expect(dst[(0 * w + 2) * c]).toBe(src[0]);
    expect(dst[(3 * w + 4) * c + 1]).toBe(src[(2 * w + 2) * c + 1]);
    writeView(src, dst, h, w, c, { flip: false, dx: 0, dy: 0 });
    expect(dst).toEqual(src);
  });
});

describe('backboneFingerprint', () => {
  it('changes with the backbone parameters, not with the head', () => {
    const { model } = baseModel();
    const fp = backboneFingerprint(model);
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    const info = validateModel(model.spec, model.params);
    const head = info.layers[headLayerIndex(info)];
    const headChanged = model.params.slice();
    headChanged[head.paramOffset + 3] += 1;
    expect(backboneFingerprint({ spec: model.spec, params: headChanged })).toBe(fp);
    const backboneChanged = model.params.slice();
    backboneChanged[5] += 1e-3;
    expect(backboneFingerprint({ spec: model.spec, params: backboneChanged })).not.toBe(fp);
  });
});

describe('Teacher', () => {
  it('10 examples each of 3 classes: accuracy on other images well above chance; features cached', async () => {
    const { model, trained } = baseModel();
    const { classes, examples, testSet } = task([0, 6, 9], 10, 40);
    const teacher = new Teacher();
    const progress: TeachProgress[] = [];
    const out = await teacher.train(model, new CpuSession(model), classes, examples, { seed: 3 }, (p) => progress.push(p));
    const acc = accuracyOf(out.model, testSet);
    console.log(`few-shot 3-way 10-shot (${trained ? 'default model' : 'untrained classic net'}): test accuracy ${(acc * 100).toFixed(1)}% on ${testSet.length}, validation ${out.validationAccuracy}, ${out.epochs} epochs (${out.stopped}), features ${out.featureMs.toFixed(0)} ms, training ${out.trainMs.toFixed(0)} ms`);
    expect(out.model.spec.labels).toEqual(['airplane', 'frog', 'truck']);
    // Chance is 1/3; even the untrained network's random conv features give 56–69% on such 3-way tasks.
    expect(acc).toBeGreaterThan(0.5);
    // 10 per class ≥ 5: two of each class held out, all views of the other eight used.
    expect(out.validationCount).toBe(6);
    expect(out.trainCount).toBe(24);
    expect(out.confusionOn).toBe('validation');
    expect(out.confusion.flat().reduce((a, b) => a + b)).toBe(6);
    expect(out.computed.length).toBe(30);
    expect(progress.filter((p) => p.phase === 'training').map((p) => p.epoch)).toEqual(out.history.map((h) => h.epoch));
    // The backbone is untouched: its parameters are the same numbers.
    const head = validateModel(model.spec, model.params).layers[headLayerIndex(validateModel(model.spec, model.params))];
    expect(out.model.params.subarray(0, head.paramOffset)).toEqual(model.params.subarray(0, head.paramOffset));

    // Features come from the cache the second time (in the worker, or handed back in by the caller).
    const again = await teacher.train(model, new CpuSession(model), classes, examples, { seed: 3 });
    expect(again.computed.length).toBe(0);
    expect(again.model.params).toEqual(out.model.params);
    const stored = new Map(out.computed.map((c) => [c.id, c.features]));
    const fresh = new Teacher();
    const withCache = examples.map((e) => ({ ...e, features: stored.get(e.id), fingerprint: out.fingerprint }));
    expect((await fresh.train(model, new CpuSession(model), classes, withCache, { seed: 3 })).computed.length).toBe(0);
    // A stale fingerprint is not trusted.
    const stale = examples.map((e) => ({ ...e, features: stored.get(e.id), fingerprint: 'deadbeef' }));
    expect((await new Teacher().train(model, new CpuSession(model), classes, stale, { seed: 3 })).computed.length).toBe(30);
    expect(out.computed[0].features.length % VIEW_COUNT).toBe(0);
  });

  it('the taught model reads the spatial readout; teaching it again works and reuses its features', async () => {
    const { model } = baseModel();
    const info = validateModel(model.spec, model.params);
    const readout = teachReadout(info);
    expect(readout.taps.length).toBeGreaterThan(2);
    const { classes, examples, testSet } = task([2, 7], 6, 5);
    const teacher = new Teacher();
    const first = await teacher.train(model, new CpuSession(model), classes, examples, { seed: 1, epochs: 10 });
    expect(first.model.spec.readout).toEqual(readout);
    const dim = inferShapes(first.model.spec).readout!.size;
    expect(first.computed[0].features.length).toBe(VIEW_COUNT * dim);
    // The taught model's predictions are the head applied to the session's readout features.
    const taughtSession = new CpuSession(first.model);
    const x = taughtSession.readoutFeatures(testSet[0].bytes, 1);
    const direct = new CpuSession(model).readoutFeatures(testSet[0].bytes, 1, readout);
    expect(Array.from(x)).toEqual(Array.from(direct));
    // Same backbone and readout, so the same fingerprint: the cached features serve again.
    expect(backboneFingerprint(first.model)).toBe(first.fingerprint);
    const again = await teacher.train(first.model, taughtSession, classes, examples, { seed: 1, epochs: 10 });
    expect(again.computed).toHaveLength(0);
    expect(again.model.spec.readout).toEqual(readout);
    expect(again.model.spec.labels).toEqual(classes.map((k) => k.name));
  });

  it('refuses bad requests, naming the problem', async () => {
    const { model } = baseModel();
    const session = new CpuSession(model);
    const t = new Teacher();
    const { classes, examples } = task([0, 1], 2, 0);
    await expect(t.train(model, session, classes.slice(0, 1), examples.slice(0, 2))).rejects.toThrow(/2 to 20 classes, got 1/);
    await expect(t.train(model, session, classes, examples.slice(0, 2))).rejects.toThrow(/none for "automobile"/);
    await expect(t.train(model, session, classes, [{ ...examples[0], bytes: new Uint8Array(10) }, examples[3]])).rejects.toThrow(/3072 bytes, got 10/);
    await expect(t.train(model, session, classes, [{ ...examples[0], classId: 'x' }])).rejects.toThrow(/class x, which is not among/);
  });

  it('without enough examples per class there is no held-out split', async () => {
    const { model } = baseModel();
    const { classes, examples } = task([1, 2], 3, 0);
    const out = await new Teacher().train(model, new CpuSession(model), classes, examples, { epochs: 5, augment: false });
    expect(out).toMatchObject({ validationCount: 0, trainCount: 6, validationAccuracy: null, confusionOn: 'training', stopped: 'done', epochs: 5 });
  });
});

describe('EngineHost.train', () => {
  it('keeps answering predictions while training, can be canceled, then serves the new classes', async () => {
    const { model } = baseModel();
    const host = new EngineHost();
    await host.load(model.spec, model.params, { name: 'base' });
    const { classes, examples, testSet } = task([0, 6, 9], 10, 10);

    // Cancel from the first epoch: rejects, and the old model keeps serving.
    let canceledAt = 0;
    const canceled = host.train(classes, examples, (p) => {
      if (p.phase === 'training' && !canceledAt) {
        canceledAt = p.epoch;
        void host.cancelTraining();
      }
    });
    await expect(canceled).rejects.toThrow(/canceled/);
    expect(canceledAt).toBe(1);
    expect((await host.info()).model?.labels).toEqual(model.spec.labels);
    expect(await host.cancelTraining()).toBe(false);

    // Predictions issued during training are answered before it ends.
    let trainingDone = false;
    const answeredDuring: number[] = [];
    const training = host.train(classes, examples, undefined, { name: 'mine', epochs: 60, patience: 1000 }).then((r) => {
      trainingDone = true;
      return r;
    });
    await expect(host.train(classes, examples)).rejects.toThrow(/already running/);
    for (let k = 0; k < 5; k++) {
      const p = await host.predict(testSet[k].bytes.slice(), 1);
      if (!trainingDone) answeredDuring.push(p.probabilities.length);
    }
    const result = await training;
    expect(answeredDuring.length).toBeGreaterThan(0);
    expect(answeredDuring.every((n) => n === model.spec.labels.length)).toBe(true);
    expect(result.epochs).toBe(60);
    expect(decodeModel(result.file).model.spec.labels).toEqual(['airplane', 'frog', 'truck']);
    expect(result.summary).toMatchObject({ name: 'mine', source: 'trained', labels: ['airplane', 'frog', 'truck'] });
    const p = await host.predict(testSet[0].bytes.slice(), 3);
    expect(p.probabilities.length).toBe(3);
    expect(p.top[0].label).toMatch(/airplane|frog|truck/);
  });
});

describe('EngineHost inside view and compression', () => {
  it('gives every layer of the taught model in the maps of the answering pass, and its first conv filters', async () => {
    const host = new EngineHost();
    const { model } = baseModel();
    await host.load(model.spec, model.params, { name: 'base' });
    const { classes, examples } = task([0, 6], 6, 0);
    const taught = await host.train(classes, examples);
    const inside = await host.inside();
    const served = decodeModel(taught.file).model;
    const info = validateModel(served.spec, served.params);
    expect(inside.layers.map((l) => l.name)).toEqual(info.layers.map((l) => l.name));
    expect(inside.params).toBe(info.paramCount);
    expect(inside.readout?.size).toBe(info.readout?.size);
    expect(inside.firstConv?.weights.length).toBe(inside.firstConv!.kernel[0] * inside.firstConv!.kernel[1] * inside.firstConv!.channels * inside.firstConv!.filters);
    const session = new CpuSession(served);
    const bytes = examples[0].bytes.slice();
    const p = await host.predict(bytes.slice(), 2, undefined, new Float32Array(inside.total));
    expect(p.maps).toBeDefined();
    for (const l of inside.layers) {
      const want = session.features(bytes, 1, l.index + 1);
      let worst = 0;
      for (let i = 0; i < l.size; i++) worst = Math.max(worst, Math.abs(p.maps![l.offset + i] - want[i]));
      expect(worst, l.name).toBeLessThanOrEqual(1e-4);
    }
    const times = await host.timeLayers(5);
    expect(times.ms).toHaveLength(info.layers.length);
  });

  it('measures compression on held-out examples without changing the serving model; sparsity 0 changes no answer', async () => {
    const host = new EngineHost();
    const { model } = baseModel();
    await host.load(model.spec, model.params, { name: 'base' });
    await expect(host.measureCompression([], [], 0.5, 'int8')).rejects.toThrow('teach classes and train first');
    const { classes, examples } = task([0, 6, 8], 10, 0);
    const taught = await host.train(classes, examples);
    const zero = await host.measureCompression(classes, examples, 0, 'float32');
    expect(zero.heldOut).toBe(taught.validationCount);
    expect(zero.accuracyAfter).toBe(zero.accuracyBefore);
    expect(zero.accuracyBefore).toBeCloseTo(taught.validationAccuracy!, 10);
    expect(Array.from(decodeModel(zero.file).model.params)).toEqual(Array.from(decodeModel(taught.file).model.params));
    const half = await host.measureCompression(classes, examples, 0.5, 'int8');
    expect(half.bytes).toBeLessThan(half.originalBytes);
    expect(half.zeroed).toBeGreaterThanOrEqual(Math.round(half.denseWeights * 0.5));
    expect((await host.info()).model?.name).toBe(taught.summary.name);
    await expect(host.measureCompression(classes, examples, 1, 'int8')).rejects.toThrow('1');
    await expect(host.measureCompression(classes, examples.filter((e) => e.classId !== 'c0' || e.id === examples[0].id), 0.5, 'int8')).rejects.toThrow('at least 5');
  });
});

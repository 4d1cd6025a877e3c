import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseShots, DEFAULT_MODEL, main } from '../../scripts/cli.ts';
import { pruneDense } from '../../src/engine/compress.ts';
import { decodeModel } from '../../src/engine/format/native.ts';
import { inferShapes, validateModel } from '../../src/engine/shapes.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { createCpuKernels } from '../../src/engine/wasm/load.ts';
import { loadDataset, subsetByClasses } from '../../src/node/dataset.ts';
import { Teacher, teachReadout } from '../../src/worker/teach.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CIFAR = join(REPO, '../shared/data/cifar10-4k');
const tmp = mkdtempSync(join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const N = 400;
const data = join(tmp, 'cifar400');
const model = join(tmp, 'tiny.cnn');
const tinySpec = {
  input: { height: 32, width: 32, channels: 3, mean: [125, 123, 114], std: [63, 62, 67] },
  layers: [
    { kind: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
    { kind: 'maxpool', name: 'p1', size: 2 },
    { kind: 'conv2d', name: 'c2', filters: 8, kernel: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxpool', name: 'p2', size: 2 },
    { kind: 'dense', name: 'fc', units: 10 },
    { kind: 'softmax', name: 'sm' },
  ],
};

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** An error is exactly one line on stderr, "error: …", nothing on stdout, no stack trace. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.out).toBe('');
  expect(r.err.endsWith('\n')).toBe(true);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(/^error: /);
  expect(r.err).not.toMatch(/\n\s+at /);
  expect(r.err).toMatch(pattern);
}

beforeAll(() => {
  mkdirSync(data);
  writeFileSync(join(data, 'images.u8'), readFileSync(join(CIFAR, 'images.u8')).subarray(0, N * 3072));
  writeFileSync(join(data, 'labels.u8'), readFileSync(join(CIFAR, 'labels.u8')).subarray(0, N));
  writeFileSync(join(data, 'meta.json'), JSON.stringify({ classes: JSON.parse(readFileSync(join(CIFAR, 'meta.json'), 'utf8')).classes }));
  writeFileSync(join(tmp, 'tiny.json'), JSON.stringify(tinySpec));
});

describe('cli', () => {
  let labels: Uint8Array;

  it('train: writes a model with its training history and prints a JSON summary', async () => {
    const r = await cli('train', '--spec', join(tmp, 'tiny.json'), '--data', data, '--epochs', '2', '--batch', '16', '--lr', '0.02', '--seed', '3', '--val-fraction', '0.2', '--out', model);
    expect(r.err).toMatch(/^training 2,098 parameters/);
    expect(r.err).toMatch(/epoch 1\/2 {2}loss \d+\.\d+ {2}train acc \d+\.\d% {2}val acc \d+\.\d%/);
    expect(r.err).toMatch(/epoch 2\/2 /);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.trainCount + summary.validationCount).toBe(N);
    expect(summary.validationCount).toBeGreaterThan(0.15 * N);
    expect(summary.params).toBe(inferShapes({ ...tinySpec, labels: Array(10).fill('x') } as never).paramCount);
    for (const k of ['trainAccuracy', 'validationAccuracy']) expect(summary[k]).toBeGreaterThanOrEqual(0), expect(summary[k]).toBeLessThanOrEqual(1);
    expect(summary.loss).toBeGreaterThan(0);
    expect(summary.loss).toBeLessThan(Math.log(10) + 1);

    const { model: m, meta } = decodeModel(new Uint8Array(readFileSync(model)));
    expect(m.spec.labels[0]).toBe('airplane');
    expect(meta.name).toBe('tiny');
    expect(meta.training?.epochs).toBe(2);
    expect(meta.training?.history).toHaveLength(2);
    expect(meta.training?.history?.[1].loss).toBeCloseTo(summary.loss, 5);
    labels = new Uint8Array(readFileSync(join(data, 'labels.u8')));
  });

  it('eval and predict agree with each other', async () => {
    const e = await cli('eval', '--model', model, '--data', data);
    expect(e.code).toBe(0);
    const result = JSON.parse(e.out);
    expect(result.count).toBe(N);
    expect(result.classes).toHaveLength(10);
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
    expect(result.accuracy).toBeLessThanOrEqual(1);
    expect(result.confusion).toHaveLength(10);
    const total = result.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    expect(total).toBe(N);
    const diagonal = result.confusion.reduce((s: number, row: number[], i: number) => s + row[i], 0);
    expect(result.accuracy).toBeCloseTo(diagonal / N, 12);
    result.confusion.forEach((row: number[], c: number) => {
      const n = row.reduce((a, b) => a + b, 0);
      expect(n).toBe(labels.filter((l) => l === c).length);
      expect(result.perClassAccuracy[c]).toBeCloseTo(row[c] / n, 12);
    });

    writeFileSync(join(tmp, 'all.u8'), readFileSync(join(data, 'images.u8')));
    const p = await cli('predict', '--model', model, '--images', join(tmp, 'all.u8'));
    expect(p.code).toBe(0);
    const lines = p.out.trimEnd().split('\n');
    expect(lines).toHaveLength(N);
    let correct = 0;
    lines.forEach((line, i) => {
      const probs: number[] = JSON.parse(line);
      expect(probs).toHaveLength(10);
      for (const v of probs) expect(v >= 0 && v <= 1).toBe(true);
      expect(Math.abs(probs.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
      if (probs.indexOf(Math.max(...probs)) === labels[i]) correct++;
    });
    // Probabilities are printed to 6 digits; ties after rounding are practically impossible here.
    expect(correct / N).toBeCloseTo(result.accuracy, 12);
  });

  it('fewshot: retrains the head on K shots per class and reports accuracy on the rest', async () => {
    const out = join(tmp, 'fewshot.cnn');
    const r = await cli('fewshot', '--model', model, '--data', data, '--classes', 'dog,frog,7,ship,truck', '--shots', '3', '--seed', '2', '--features', 'last', '--out', out);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out);
    expect(f.method).toBe('head');
    expect(f.features).toBe('last');
    expect(f.classes).toEqual(['dog', 'frog', 'horse', 'ship', 'truck']);
    expect(f.shots).toBe(3);
    expect(f.trainCount).toBe(15);
    expect(f.augmentedCount).toBe(30);
    const inClasses = labels.filter((l) => l >= 5).length;
    expect(f.testCount).toBe(inClasses - 15);
    expect(f.featureSize).toBe(128);
    expect(f.accuracy).toBeGreaterThanOrEqual(0);
    expect(f.accuracy).toBeLessThanOrEqual(1);
    expect(f.perClassAccuracy).toHaveLength(5);
    // The written model has the backbone of the original and a 5-way head.
    const original = decodeModel(new Uint8Array(readFileSync(model))).model;
    const retrained = decodeModel(new Uint8Array(readFileSync(out))).model;
    expect(retrained.spec.labels).toEqual(f.classes);
    const fc = inferShapes(original.spec).layers[4];
    expect(Array.from(retrained.params.subarray(0, fc.paramOffset))).toEqual(Array.from(original.params.subarray(0, fc.paramOffset)));
    expect(retrained.params.length).toBe(fc.paramOffset + 128 * 5 + 5);
    // Same seed, same answer.
    const again = await cli('fewshot', '--model', model, '--data', data, '--classes', 'dog,frog,7,ship,truck', '--shots', '3', '--seed', '2', '--features', 'last');
    expect(JSON.parse(again.out).accuracy).toBe(f.accuracy);
  });

  it("fewshot without --features does what the app's teaching does: the same head on the same examples", async () => {
    const out = join(tmp, 'fewshot-app.cnn');
    const r = await cli('fewshot', '--model', model, '--data', data, '--classes', '5,6,7,8,9', '--shots', '6', '--seed', '3', '--out', out);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out);
    // Spatial readout of p1 (8×8×8) and p2 (4×4×8): avg + max (32), quadrants (64), colour (64).
    expect(f).toMatchObject({ method: 'head', features: 'app', featureSize: 160, trainCount: 30 });
    // The app's path: the worker's Teacher on the same shots, given as the page gives examples.
    const ds = subsetByClasses(loadDataset(data), [5, 6, 7, 8, 9]);
    const { train } = chooseShots(ds, 6, 3);
    const backbone = decodeModel(new Uint8Array(readFileSync(model))).model;
    const outcome = await new Teacher().train(
      backbone,
      new CpuSession(backbone, await createCpuKernels()),
      ds.classes.map((name, k) => ({ id: `c${k}`, name })),
      Array.from({ length: train.count }, (_, i) => ({ id: `e${i}`, classId: `c${train.labels[i]}`, bytes: train.images.slice(i * 3072, (i + 1) * 3072) })),
    );
    // Six examples a class: a held-out fifth measured, then the final head fitted on all of them.
    expect(outcome.validationCount).toBe(5);
    expect(outcome.finalCount).toBe(30);
    const written = decodeModel(new Uint8Array(readFileSync(out))).model;
    expect(written.spec).toEqual(outcome.model.spec);
    expect(Array.from(written.params)).toEqual(Array.from(outcome.model.params));
    expect(written.spec.readout).toEqual(teachReadout(inferShapes(backbone.spec)));
    // --features app is the same as no --features.
    expect(JSON.parse((await cli('fewshot', '--model', model, '--data', data, '--classes', '5,6,7,8,9', '--shots', '6', '--seed', '3', '--features', 'app')).out).accuracy).toBe(f.accuracy);
  });

  it('fewshot --features multiscale(+colour): the head reads pooled blocks; the written model carries the readout', async () => {
    const out = join(tmp, 'fewshot-ms.cnn');
    const r = await cli('fewshot', '--model', model, '--data', data, '--classes', '5,6,7,8,9', '--shots', '3', '--features', 'multiscale', '--out', out);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out);
    // Taps: p1 and p2 (8 channels each), average and max: 32 features.
    expect(f).toMatchObject({ method: 'head', features: 'multiscale', featureSize: 32 });
    const written = decodeModel(new Uint8Array(readFileSync(out))).model;
    expect(written.spec.readout).toEqual({ taps: [{ layer: 1, pool: 'avg' }, { layer: 1, pool: 'max' }, { layer: 3, pool: 'avg' }, { layer: 3, pool: 'max' }] });
    // The written model loads and runs as it is (the readout is part of its spec).
    const ev = await cli('eval', '--model', out, '--data', data, '--classes', '5,6,7,8,9');
    expect(ev.code).toBe(0);
    const all = JSON.parse(ev.out);
    expect(all.count).toBe(f.testCount + f.trainCount);
    const colour = JSON.parse((await cli('fewshot', '--model', model, '--data', data, '--classes', '5,6,7,8,9', '--shots', '3', '--features', 'multiscale+colour')).out);
    expect(colour.featureSize).toBe(32 + 64);
    expectOneLineError(await cli('fewshot', '--model', model, '--data', data, '--shots', '3', '--features', 'deep'), 2, /--features: expected app or one of last, multiscale, multiscale\+colour, colour, spatial, got "deep"/);
    expectOneLineError(await cli('fewshot', '--data', data, '--shots', '3', '--features', 'multiscale', '--baseline', 'pixels'), 2, /a baseline uses no model features/);
  });

  it('fewshot --baseline colour: nearest class mean of 4×4×4 colour histograms', async () => {
    // Red and blue images with noise in every channel: the histograms separate them, whatever the layout.
    const dir = join(tmp, 'redblue');
    mkdirSync(dir);
    const count = 12;
    const images = new Uint8Array(count * 3072);
    const lbl = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      lbl[i] = i % 2;
      for (let p = 0; p < 1024; p++) {
        const noise = (i * 37 + p * 11) % 60;
        images[i * 3072 + p * 3] = lbl[i] ? 20 + noise : 190 + noise;
        images[i * 3072 + p * 3 + 1] = 100 + noise;
        images[i * 3072 + p * 3 + 2] = lbl[i] ? 190 + noise : 20 + noise;
      }
    }
    writeFileSync(join(dir, 'images.u8'), images);
    writeFileSync(join(dir, 'labels.u8'), lbl);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ classes: ['red', 'blue'] }));
    const f = JSON.parse((await cli('fewshot', '--data', dir, '--shots', '2', '--baseline', 'colour')).out);
    expect(f).toMatchObject({ method: 'colour', accuracy: 1, trainCount: 4, testCount: 8 });
    // The regression on the same histograms separates them too.
    expect(JSON.parse((await cli('fewshot', '--data', dir, '--shots', '2', '--baseline', 'colour-lr')).out)).toMatchObject({ method: 'colour-lr', accuracy: 1, testCount: 8 });
    expectOneLineError(await cli('fewshot', '--data', dir, '--shots', '2', '--baseline', 'colour-nn'), 2, /--baseline: expected "pixels", "colour" or "colour-lr", got "colour-nn"/);
    const { colourHistograms } = await import('../../scripts/cli.ts');
    const h = colourHistograms(images, 1, 1024, 3, 4);
    expect(h.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(h.filter((v) => v > 0).length).toBeGreaterThan(1);
    expectOneLineError(await cli('fewshot', '--data', dir, '--shots', '2', '--baseline', 'colour', '--out', join(tmp, 'x.cnn')), 2, /the colour baseline makes no model/);
  });

  it('fewshot --baseline pixels: nearest class mean of raw pixels, no model needed', async () => {
    // Two classes a nearest-mean classifier separates perfectly: dark and bright noisy images.
    const dir = join(tmp, 'darkbright');
    mkdirSync(dir);
    const count = 16;
    const images = new Uint8Array(count * 3072);
    const lbl = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      lbl[i] = i % 2;
      for (let j = 0; j < 3072; j++) images[i * 3072 + j] = (lbl[i] ? 180 : 40) + ((i * 131 + j * 17) % 50);
    }
    writeFileSync(join(dir, 'images.u8'), images);
    writeFileSync(join(dir, 'labels.u8'), lbl);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ classes: ['dark', 'bright'] }));
    const r = await cli('fewshot', '--data', dir, '--shots', '2', '--baseline', 'pixels', '--model', join(tmp, 'absent.cnn'));
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out);
    expect(f).toMatchObject({ method: 'pixels', accuracy: 1, shots: 2, trainCount: 4, testCount: 12, classes: ['dark', 'bright'] });
    const c = await cli('fewshot', '--data', data, '--shots', '5', '--baseline', 'pixels');
    const cifar = JSON.parse(c.out);
    expect(cifar.testCount).toBe(N - 50);
    expect(cifar.accuracy).toBeGreaterThan(0);
    expect(cifar.accuracy).toBeLessThan(1);
  });

  it('convert: .cnn → TF.js model.json → .cnn keeps parameters bit-identical; model.json works as --model', async () => {
    const json = join(tmp, 'tfjs', 'model.json');
    const back = join(tmp, 'back.cnn');
    const r1 = await cli('convert', '--in', model, '--out', json);
    expect(r1.code).toBe(0);
    expect(JSON.parse(r1.out)).toMatchObject({ format: 'tfjs-layers', out: json });
    expect(existsSync(join(tmp, 'tfjs', 'model.weights.bin'))).toBe(true);
    expect((await cli('convert', '--in', json, '--out', back)).code).toBe(0);
    const a = decodeModel(new Uint8Array(readFileSync(model))).model;
    const b = decodeModel(new Uint8Array(readFileSync(back))).model;
    expect(Buffer.from(b.params.buffer, b.params.byteOffset, b.params.byteLength).equals(Buffer.from(a.params.buffer, a.params.byteOffset, a.params.byteLength))).toBe(true);
    expect(b.spec).toEqual(a.spec);
    const fromCnn = await cli('eval', '--model', model, '--data', data);
    const fromJson = await cli('eval', '--model', json, '--data', data);
    expect(JSON.parse(fromJson.out).accuracy).toBe(JSON.parse(fromCnn.out).accuracy);
    // Normalisation given on the command line overrides what the file recorded.
    const scaled = await cli('predict', '--model', json, '--mean', '0,0,0', '--std', '255,255,255', '--images', join(data, 'images.u8'));
    const plain = await cli('predict', '--model', json, '--images', join(data, 'images.u8'));
    expect(scaled.out).not.toBe(plain.out);
    expectOneLineError(await cli('convert', '--in', model, '--out', json, '--encoding', 'int8'), 2, /only \.cnn files store float16 or int8/);
    expectOneLineError(await cli('convert', '--in', join(tmp, 'missing.json'), '--out', back), 1, /missing\.json: no such model file/);
    expectOneLineError(await cli('predict', '--model', json, '--mean', '1,x', '--images', join(data, 'images.u8')), 2, /--mean: expected numbers/);
  });

  it('info: layers, parameters and multiply-adds, as text and JSON', async () => {
    const t = await cli('info', '--model', model);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/^ {0,3}0 {2}c1 +conv2d +16×16×8 +224 +55,296 +3×3 stride 2 pad 0,1,0,1 relu$/m);
    expect(t.out).toMatch(/^ +total +2,098 +93,440$/m);
    expect(t.out).toMatch(/training {2}2 epochs, batch 16, lr 0\.02/);
    const j = JSON.parse((await cli('info', '--model', model, '--json')).out);
    expect(j.params).toBe(2098);
    expect(j.layers.map((l: { params: number }) => l.params).reduce((a: number, b: number) => a + b)).toBe(2098);
    // conv 16·16·8·27 + conv 8·8·8·72 + dense 128·10
    expect(j.macs).toBe(16 * 16 * 8 * 27 + 8 * 8 * 8 * 72 + 128 * 10);
    expect(j.training.history).toHaveLength(2);
  });

  it('inspect --json: one object with every layer\'s output shape, parameters and multiply-adds, the same as info --json', async () => {
    const r = await cli('inspect', '--model', model, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const { model: m } = decodeModel(new Uint8Array(readFileSync(model)));
    const info = validateModel(m.spec, m.params);
    for (const key of ['layers', 'params', 'macs', 'input', 'labels', 'training', 'denseEncoding', 'denseSparse', 'denseSparsity']) expect(j, key).toHaveProperty(key);
    expect(j.params).toBe(info.paramCount);
    expect(j.macs).toBe(info.macs);
    expect(j.layers).toHaveLength(info.layers.length);
    info.layers.forEach((l, i) => {
      const got = j.layers[i];
      expect(got.index).toBe(i);
      expect(got.name).toBe(l.name);
      expect(got.kind).toBe(l.kind);
      expect(got.outputShape).toEqual([l.out.h, l.out.w, l.out.c]);
      expect(got.output).toEqual(got.outputShape);
      expect(got.params).toBe(l.paramCount);
      expect(got.macs).toBe(l.kind === 'conv2d' || l.kind === 'dense' ? l.macs : 0);
    });
    expect(j.denseEncoding).toBe('float32');
    expect(j.denseSparse).toBe(false);
    expect(j.denseSparsity).toEqual({ weights: 1280, zeros: 0, fraction: 0 });
    // info and inspect print the same, as JSON and as text.
    expect((await cli('info', '--model', model, '--json')).out).toBe(r.out);
    const text = await cli('inspect', '--model', model);
    expect(text.out).toBe((await cli('info', '--model', model)).out);
    expect(text.out).toMatch(/^ +total +2,098 +93,440$/m);
    expect(text.out).not.toMatch(/^sparsity/m);
  });

  it('compress: prunes the dense layer, writes it sparse and smaller; its parameters are pruneDense\'s; accuracies as eval gives them', async () => {
    const out = join(tmp, 'pruned.cnn');
    const r = await cli('compress', '--model', model, '--sparsity', '0.5', '--out', out);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['out', 'bytes', 'originalBytes', 'sparsity', 'encoding', 'denseWeights', 'zeroed', 'perLayer', 'accuracyBefore', 'accuracyAfter', 'count']);
    const original = decodeModel(new Uint8Array(readFileSync(model)));
    const written = readFileSync(out);
    expect(j).toMatchObject({ out, bytes: written.length, originalBytes: readFileSync(model).length, sparsity: 0.5, encoding: 'float32', denseWeights: 1280, zeroed: 640 });
    expect(j).toMatchObject({ accuracyBefore: null, accuracyAfter: null, count: null });
    expect(j.bytes).toBeLessThan(j.originalBytes);
    const back = decodeModel(new Uint8Array(written));
    expect(back.meta.denseSparse).toBe(true);
    expect(back.meta.name).toBe(original.meta.name);
    expect(Array.from(back.model.params)).toEqual(Array.from(pruneDense(original.model, 0.5).model.params));

    // int8 and --data: the accuracies are eval's on the original and on the file written.
    const out8 = join(tmp, 'pruned8.cnn');
    const q = JSON.parse((await cli('compress', '--model', model, '--sparsity', '0.5', '--encoding', 'int8', '--out', out8, '--data', data)).out);
    expect(q).toMatchObject({ encoding: 'int8', count: N });
    expect(q.bytes).toBeLessThan(j.bytes);
    expect(q.accuracyBefore).toBe(JSON.parse((await cli('eval', '--model', model, '--data', data)).out).accuracy);
    expect(q.accuracyAfter).toBe(JSON.parse((await cli('eval', '--model', out8, '--data', data)).out).accuracy);
    const i = JSON.parse((await cli('inspect', '--model', out8, '--json')).out);
    expect(i).toMatchObject({ denseEncoding: 'int8', denseSparse: true });
    expect(i.denseSparsity.zeros).toBeGreaterThanOrEqual(640);
    expect((await cli('info', '--model', out8)).out).toMatch(/^model .*dense weights int8, sparse\)$/m);
    expect((await cli('info', '--model', out8)).out).toMatch(/^sparsity {2}\d+ of 1,280 dense weights are zero \(\d+\.\d%: fc \d+\.\d%\)$/m);
    // The model's own encoding is the default: the int8 file compressed again stays int8.
    const again = JSON.parse((await cli('compress', '--model', out8, '--sparsity', '0', '--out', join(tmp, 'again.cnn'))).out);
    expect(again.encoding).toBe('int8');
  });

  it('compress: bad usage exits 2 naming the value, and writes nothing', async () => {
    const out = join(tmp, 'never.cnn');
    expectOneLineError(await cli('compress', '--model', model, '--sparsity', '0.5'), 2, /compress: --out is required/);
    expectOneLineError(await cli('compress', '--model', model, '--out', out), 2, /compress: --sparsity is required/);
    for (const v of ['1', '-0.1', '1.5', 'half', ' ', 'NaN', 'Infinity']) {
      const r = await cli('compress', '--model', model, `--sparsity=${v}`, '--out', out);
      expectOneLineError(r, 2, /--sparsity: expected a number ≥ 0 and < 1 /);
      expect(r.err.trimEnd().endsWith(`got ${JSON.stringify(v)}`), r.err).toBe(true);
    }
    expectOneLineError(await cli('compress', '--model', model, '--sparsity', '0.5', '--encoding', 'bf16', '--out', out), 2, /--encoding: expected one of float32, float16, int8, got "bf16"/);
    expectOneLineError(await cli('compress', '--model', model, '--sparsity', '0.5', '--out', join(tmp, 'never.json')), 2, /--out: sparse dense weights are written as \.cnn files, got ".*never\.json"/);
    expectOneLineError(await cli('compress', '--model', model, '--sparsity', '0.5', '--layers', 'c1,fc9', '--out', out), 2, /--layers: "c1" \(conv2d\), "fc9" are not dense layers of this model \(dense layers: fc\)/);
    expectOneLineError(await cli('compress', '--model', model, '--sparsity', '0.5', '--out', out, '--data', join(tmp, 'missing')), 1, /missing: no such file or folder/);
    expect(existsSync(out)).toBe(false);
  });

  it('errors: one line, exit code 2 for usage and 1 for bad files', async () => {
    expectOneLineError(await cli('bogus'), 2, /unknown command "bogus"/);
    expectOneLineError(await cli('eval', '--model', model, '--data', data, '--nope'), 2, /eval: Unknown option '--nope'/);
    expectOneLineError(await cli('train', '--data', data, '--out', join(tmp, 'x.cnn')), 2, /train: --spec is required/);
    expectOneLineError(await cli('train', '--spec', 'classic', '--data', data, '--out', join(tmp, 'x.cnn'), '--epochs', 'ten'), 2, /--epochs: expected an integer ≥ 1 and ≤ 10000, got "ten"/);
    expectOneLineError(await cli('train', '--spec', 'classic', '--data', data, '--out', join(tmp, 'x.bin')), 2, /--out: models are written as \.cnn files/);
    expectOneLineError(await cli('fewshot', '--data', data), 2, /--shots is required/);
    expectOneLineError(await cli('eval', '--model', model, '--data', join(tmp, 'missing')), 1, /missing: no such file or folder/);
    expectOneLineError(await cli('predict', '--model', join(tmp, 'none.cnn'), '--images', join(tmp, 'all.u8')), 1, /none\.cnn: no such model file/);
    writeFileSync(join(tmp, 'odd.u8'), new Uint8Array(3072 + 7));
    expectOneLineError(await cli('predict', '--model', model, '--images', join(tmp, 'odd.u8')), 1, /odd\.u8: 3079 bytes is not a multiple of 3072 \(32×32×3 per image, NHWC\)/);
    const cut = join(tmp, 'cut.cnn');
    writeFileSync(cut, readFileSync(model).subarray(0, 500));
    expectOneLineError(await cli('info', '--model', cut), 1, /cut\.cnn: truncated: the file is 500 bytes, but it declares \d+/);
    writeFileSync(join(tmp, 'bad-spec.json'), '{"input": ');
    expectOneLineError(await cli('train', '--spec', join(tmp, 'bad-spec.json'), '--data', data, '--out', join(tmp, 'x.cnn')), 1, /bad-spec\.json: invalid JSON/);
    const fewer = { ...tinySpec, layers: tinySpec.layers.map((l) => (l.kind === 'dense' ? { ...l, units: 4 } : l)) };
    writeFileSync(join(tmp, 'fewer.json'), JSON.stringify(fewer));
    expectOneLineError(await cli('train', '--spec', join(tmp, 'fewer.json'), '--data', data, '--out', join(tmp, 'x.cnn')), 1, /spec\.labels: 10 labels for 4 outputs of the last layer/);
    expectOneLineError(await cli('fewshot', '--model', model, '--data', data, '--shots', '60'), 1, /class "airplane" has \d+ images; --shots 60 needs at least 61/);
    const five = await cli('fewshot', '--model', model, '--data', data, '--classes', '5,6,7,8,9', '--shots', '2', '--out', join(tmp, 'five.cnn'));
    expect(five.code).toBe(0);
    expectOneLineError(await cli('eval', '--model', join(tmp, 'five.cnn'), '--data', data), 1, /dataset classes "airplane", .* are not among the model's labels \(dog, frog, horse, ship, truck\)/);
  });

  it('without --model uses public/models/default.cnn', async () => {
    const r = await cli('info', '--json');
    if (existsSync(DEFAULT_MODEL)) {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).file).toBe(DEFAULT_MODEL);
    } else {
      expectOneLineError(r, 1, /the default model public\/models\/default\.cnn does not exist yet/);
    }
  });

  it('--help lists the commands; <command> --help its options', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const c of ['train', 'eval', 'predict', 'fewshot', 'convert', 'info', 'inspect', 'compress']) expect(help.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    const train = await cli('train', '--help');
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/--weight-decay W/);
    expectOneLineError(await cli(), 2, /no command given \(commands: train, eval, predict, fewshot, convert, info, inspect, compress; see --help\)/);
  });

  it('as a process: one-line errors and exit codes 1 and 2', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/cli.ts'), ...args], { encoding: 'utf8', cwd: REPO });
    const bad = run('eval', '--model', join(tmp, 'nothing.cnn'), '--data', data);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(`error: ${join(tmp, 'nothing.cnn')}: no such model file\n`);
    const usage = run('predict', '--model');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe("error: predict: Option '--model <value>' argument missing (see `cli predict --help`)\n");
  }, 30_000);
});

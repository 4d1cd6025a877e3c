import { describe, expect, it } from 'vitest';
import {
  classicCifarSpec,
  CpuSession,
  fit,
  inferShapes,
  initParams,
  learningRate,
  ModelError,
  Random,
  Trainer,
  augmentBatch,
  jitterColours,
  rotateImages,
  uprightOutputs,
  evaluate,
  trainHead,
  replaceHead,
  validateModel,
  type ModelSpec,
} from '../../src/engine/index.ts';
import { referenceForward } from './reference.ts';

const input = (height: number, width: number, channels: number) => ({ height, width, channels });

describe('worked examples', () => {
  it('32×32×3 through a valid 5×5×3 filter gives 28×28×1; two filters give 28×28×2', () => {
    const one = inferShapes({ input: input(32, 32, 3), layers: [{ kind: 'conv2d', name: 'c', filters: 1, kernel: 5 }], labels: [] }, false);
    expect(one.output).toEqual({ h: 28, w: 28, c: 1 });
    expect(one.layers[0].paramCount).toBe(5 * 5 * 3 + 1);
    const two = inferShapes({ input: input(32, 32, 3), layers: [{ kind: 'conv2d', name: 'c', filters: 2, kernel: 5 }], labels: [] }, false);
    expect(two.output).toEqual({ h: 28, w: 28, c: 2 });
  });

  it('a 1×1 convolution is a per-pixel weighted sum of the channels', () => {
    const spec: ModelSpec = {
      input: { ...input(4, 4, 3), mean: [0, 0, 0], std: [1, 1, 1] },
      layers: [{ kind: 'conv2d', name: 'mix', filters: 1, kernel: 1, bias: false }],
      labels: Array.from({ length: 16 }, (_, i) => String(i)),
    };
    const weights = Float32Array.from([0.25, -0.5, 2]);
    const bytes = Uint8Array.from({ length: 48 }, (_, i) => (i * 29) % 256);
    const y = new CpuSession({ spec, params: weights }).predict(bytes);
    for (let p = 0; p < 16; p++) {
      expect(y[p]).toBeCloseTo(0.25 * bytes[p * 3] - 0.5 * bytes[p * 3 + 1] + 2 * bytes[p * 3 + 2], 4);
    }
  });

  it('the classic CIFAR network has 22,466 parameters and 3.92 M multiply-adds', () => {
    const info = inferShapes(classicCifarSpec());
    expect(info.paramCount).toBe(22466);
    expect(info.macs).toBe(3_920_000);
    expect(info.layers.map((l) => `${l.out.h}×${l.out.w}×${l.out.c}`)).toEqual(['32×32×16', '16×16×16', '16×16×20', '8×8×20', '8×8×20', '4×4×20', '1×1×10', '1×1×10']);
  });
});

describe('impossible specs fail with the layer and the numbers', () => {
  const base = (layers: ModelSpec['layers'], labels = 0): ModelSpec => ({ input: input(8, 8, 3), layers, labels: Array.from({ length: labels }, String) });
  it('kernel larger than its input', () => {
    expect(() =>
      inferShapes(base([{ kind: 'maxpool', name: 'p1', size: 4 }, { kind: 'conv2d', name: 'c2', filters: 2, kernel: 5 }]), false),
    ).toThrow('conv2d "c2": kernel 5 > input 2 along height (input 2×2×3 after maxpool "p1")');
  });
  it('output size not an integer', () => {
    expect(() => inferShapes(base([{ kind: 'conv2d', name: 'c', filters: 2, kernel: 3, stride: 2, padding: 0 }]), false)).toThrow(
      'conv2d "c": output height (8 + 0 - 3) / 2 + 1 = 3.5 is not an integer',
    );
  });
  it('unknown layer kind', () => {
    expect(() => inferShapes(base([{ kind: 'lstm', name: 'x' } as never]), false)).toThrow('layer 0 "x": unknown kind "lstm"');
  });
  it('parameter count not matching', () => {
    const spec = base([{ kind: 'dense', name: 'fc', units: 2 }], 2);
    expect(() => validateModel(spec, new Float32Array(10))).toThrow('params: 10 values, but the spec needs 386');
  });
  it('labels not matching the outputs, bad std, non-finite parameters', () => {
    expect(() => inferShapes(base([{ kind: 'dense', name: 'fc', units: 2 }], 3))).toThrow('3 labels for 2 outputs');
    expect(() => inferShapes({ ...base([{ kind: 'dense', name: 'fc', units: 2 }], 2), input: { ...input(8, 8, 3), std: [1, 0, 1] } })).toThrow('std[1] = 0');
    const spec = base([{ kind: 'dense', name: 'fc', units: 2 }], 2);
    const params = new Float32Array(386);
    params[5] = NaN;
    expect(() => validateModel(spec, params)).toThrow('value NaN at index 5 (layer "fc") is not finite');
  });
  it('odd values give ModelError, not a TypeError', () => {
    expect(() => inferShapes(base([{ kind: { toString: 0 }, name: 'x' } as never]), false)).toThrow('layer 0 "x": unknown kind {"toString":0}');
    expect(() => inferShapes(base([{ kind: 'dense', name: 'fc', units: 2, bias: 'yes' } as never]), false)).toThrow('dense "fc": bias must be true or false, got "yes"');
    expect(() => inferShapes(base([{ kind: 'conv2d', name: 'c', filters: 2, kernel: 3, padding: null } as never]), false)).toThrow('conv2d "c": padding must not be null');
  });
  it('errors are ModelError', () => {
    expect(() => inferShapes(base([{ kind: 'dense', name: 'fc', units: 0 }]))).toThrow(ModelError);
  });
});

describe('training', () => {
  const smallSpec = (): ModelSpec => ({
    input: { ...input(8, 8, 3), mean: [128, 128, 128], std: [64, 64, 64] },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'p1', size: 2 },
      { kind: 'conv2d', name: 'c2', filters: 5, kernel: 3, activation: 'tanh' },
      { kind: 'avgpool', name: 'p2', size: 2 },
      { kind: 'dense', name: 'h', units: 6, activation: 'sigmoid' },
      { kind: 'activation', name: 'a', activation: 'relu' },
      { kind: 'dense', name: 'fc', units: 3 },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['a', 'b', 'c'],
  });

  it('cross-entropy gradients of a whole network match central differences', () => {
    const spec = smallSpec();
    const params = initParams(spec, 3);
    const info = validateModel(spec, params);
    const n = 3;
    const trainer = new Trainer({ spec, params }, n, { lr: 0 });
    const rng = new Random(5);
    const x = Float64Array.from({ length: n * 192 }, () => rng.normal());
    trainer.input.set(x);
    const labels = [0, 2, 1];
    trainer.computeGradients(labels, n);
    const p64 = Float64Array.from(params);
    const x32 = Float64Array.from(trainer.input.subarray(0, n * 192));
    const loss = () => {
      let s = 0;
      for (let i = 0; i < n; i++) s -= Math.log(referenceForward(info, p64, x32.subarray(i * 192, (i + 1) * 192))[labels[i]]);
      return s / n;
    };
    for (let j = 0; j < params.length; j += 7) {
      const keep = p64[j];
      p64[j] = keep + 1e-5;
      const up = loss();
      p64[j] = keep - 1e-5;
      const down = loss();
      p64[j] = keep;
      const numeric = (up - down) / 2e-5;
      const scale = Math.max(Math.abs(numeric), Math.abs(trainer.grads[j]), 1e-4);
      expect(Math.abs(trainer.grads[j] - numeric) / scale, `param ${j}`).toBeLessThan(1e-3);
    }
  });

  it('one SGD step applies momentum, weight decay to weights only, and the scheduled rate', () => {
    const spec = smallSpec();
    const params = initParams(spec, 4);
    const before = Float32Array.from(params);
    const trainer = new Trainer({ spec, params }, 2, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    trainer.input.set(Float32Array.from({ length: 2 * 192 }, (_, i) => Math.sin(i)));
    trainer.computeGradients([1, 2], 2);
    const g = Float32Array.from(trainer.grads);
    trainer.applyGradients();
    const info = trainer.info;
    const fc = info.layers[6];
    if (fc.kind !== 'dense') throw new Error('layer 6 should be dense');
    const w = fc.paramOffset + 3;
    expect(params[w]).toBeCloseTo(before[w] - 0.1 * (g[w] + 0.01 * before[w]), 6);
    const b = fc.biasOffset + 1;
    expect(params[b]).toBeCloseTo(before[b] - 0.1 * g[b], 6);
    // Second step: velocity carries 0.9 of the first.
    trainer.computeGradients([1, 2], 2);
    const g2 = Float32Array.from(trainer.grads);
    const mid = params[b];
    trainer.applyGradients();
    expect(params[b]).toBeCloseTo(mid + 0.9 * (-0.1 * g[b]) - 0.1 * g2[b], 6);
  });

  it('schedules decay the step size', () => {
    expect(learningRate(0.1, { kind: 'cosine', totalSteps: 100 }, 0)).toBeCloseTo(0.1);
    expect(learningRate(0.1, { kind: 'cosine', totalSteps: 100 }, 50)).toBeCloseTo(0.05);
    expect(learningRate(0.1, { kind: 'cosine', totalSteps: 100 }, 100)).toBeCloseTo(0);
    expect(learningRate(0.1, { kind: 'step', every: 10, gamma: 0.5 }, 25)).toBeCloseTo(0.025);
  });

  it('frozen layers keep their parameters; only the final dense layer trains', () => {
    const spec = smallSpec();
    const params = initParams(spec, 6);
    const before = Float32Array.from(params);
    const frozen = ['c1', 'c2', 'h'];
    const trainer = new Trainer({ spec, params }, 4, { lr: 0.5, weightDecay: 0.1, frozen });
    const rng = new Random(1);
    for (let s = 0; s < 3; s++) {
      trainer.input.set(Float32Array.from({ length: 4 * 192 }, () => rng.normal()));
      trainer.trainStep([0, 1, 2, 0], 4);
    }
    const fc = trainer.info.layers[6];
    for (const l of trainer.info.layers) {
      const slice = (a: Float32Array) => Array.from(a.subarray(l.paramOffset, l.paramOffset + l.paramCount));
      if (l === fc) expect(slice(params)).not.toEqual(slice(before));
      else expect(slice(params)).toEqual(slice(before));
    }
    expect(() => new Trainer({ spec, params }, 1, { lr: 1, frozen: ['c1', 'c2', 'h', 'fc'] })).toThrow('every layer with parameters is frozen');
    expect(() => new Trainer({ spec, params }, 1, { lr: 1, frozen: ['nope'] })).toThrow('no layer named "nope"');
  });

  it('same seed, same run', async () => {
    const spec = smallSpec();
    const rng = new Random(9);
    const data = { images: Uint8Array.from({ length: 40 * 192 }, () => rng.int(256)), labels: Uint8Array.from({ length: 40 }, () => rng.int(3)), count: 40, classes: spec.labels };
    const run = async (seed: number) => {
      const params = initParams(spec, seed);
      await fit({ spec, params }, data, { epochs: 2, batchSize: 8, lr: 0.05, weightDecay: 1e-4, seed });
      return Array.from(params);
    };
    expect(await run(1)).toEqual(await run(1));
    expect(await run(1)).not.toEqual(await run(2));
  });

  it('augmentation flips and shifts, filling with the mean (0)', () => {
    const shape = { h: 2, w: 3, c: 1 };
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const seen = new Set<string>();
    const rng = new Random(2);
    const dst = new Float32Array(6);
    for (let i = 0; i < 200; i++) {
      augmentBatch(src, dst, 1, shape, rng, { flip: true, shift: 1 });
      seen.add(dst.join(','));
    }
    expect(seen.has('1,2,3,4,5,6')).toBe(true);
    expect(seen.has('3,2,1,6,5,4')).toBe(true); // flipped
    expect(seen.has('0,1,2,0,4,5')).toBe(true); // shifted right by one
    expect(seen.has('0,0,0,1,2,3')).toBe(true); // shifted down by one
    for (const s of seen) expect(s.split(',').map(Number).filter((v) => v !== 0).every((v) => v >= 1 && v <= 6)).toBe(true);
  });

  it('cutout sets one square of the given side to the mean (0); without it the flips and shifts are drawn as before', () => {
    const shape = { h: 8, w: 8, c: 2 };
    const src = Float32Array.from({ length: 128 }, (_, i) => 1 + (i % 7));
    const dst = new Float32Array(128);
    const sizes = new Set<number>();
    const rng = new Random(4);
    for (let k = 0; k < 100; k++) {
      augmentBatch(src, dst, 1, shape, rng, { flip: false, shift: 0, cutout: 4 });
      const zero = Array.from({ length: 64 }, (_, p) => dst[p * 2] === 0 && dst[p * 2 + 1] === 0);
      const rows = new Set(zero.flatMap((z, p) => (z ? [p >> 3] : [])));
      const cols = new Set(zero.flatMap((z, p) => (z ? [p & 7] : [])));
      const count = zero.filter(Boolean).length;
      expect(count).toBe(rows.size * cols.size); // a rectangle (the square, clipped at the edges)
      expect(rows.size).toBeLessThanOrEqual(4);
      expect(cols.size).toBeLessThanOrEqual(4);
      for (let p = 0; p < 64; p++) if (!zero[p]) expect([dst[p * 2], dst[p * 2 + 1]]).toEqual([src[p * 2], src[p * 2 + 1]]);
      sizes.add(count);
    }
    expect(sizes.has(16)).toBe(true);
    const a = new Float32Array(128);
    const b = new Float32Array(128);
    augmentBatch(src, a, 1, shape, new Random(9), { flip: true, shift: 2 });
    augmentBatch(src, b, 1, shape, new Random(9), { flip: true, shift: 2, cutout: 0 });
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('colour jitter: strength 0 changes nothing, grey gives equal channels, brightness scales', () => {
    const shape = { h: 4, w: 4, c: 3 };
    const img = Uint8Array.from({ length: 48 }, (_, i) => (i * 37) % 200 + 20);
    const same = img.slice();
    jitterColours(same, 1, shape, new Random(1), 0, 0);
    expect(Array.from(same)).toEqual(Array.from(img));
    const grey = img.slice();
    jitterColours(grey, 1, shape, new Random(1), 0, 1);
    for (let p = 0; p < 16; p++) {
      expect(grey[p * 3]).toBe(grey[p * 3 + 1]);
      expect(grey[p * 3 + 1]).toBe(grey[p * 3 + 2]);
      const luma = 0.299 * img[p * 3] + 0.587 * img[p * 3 + 1] + 0.114 * img[p * 3 + 2];
      expect(Math.abs(grey[p * 3] - luma)).toBeLessThanOrEqual(0.5 + 1e-9);
    }
    const means = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const j = img.slice();
      jitterColours(j, 1, shape, new Random(seed), 0.4, 0);
      expect(j.some((v, i) => v !== img[i])).toBe(true);
      means.add(Math.round(j.reduce((a, v) => a + v, 0) / 48));
    }
    expect(means.size).toBeGreaterThan(5); // brightness really varies
  });

  it('rotation by k·90° matches a plain loop; four turns are the identity', () => {
    const shape = { h: 3, w: 3, c: 2 };
    const img = Uint8Array.from({ length: 18 }, (_, i) => i);
    const scratch = new Uint8Array(18);
    const once = img.slice();
    rotateImages(once, 1, shape, [1], scratch);
    // Counter-clockwise: out(y, x) = in(x, w − 1 − y).
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) for (let c = 0; c < 2; c++) expect(once[(y * 3 + x) * 2 + c]).toBe(img[(x * 3 + (2 - y)) * 2 + c]);
    const four = img.slice();
    rotateImages(four, 1, shape, [4], scratch);
    expect(Array.from(four)).toEqual(Array.from(img));
    const two = img.slice();
    rotateImages(two, 1, shape, [2], scratch);
    expect(Array.from(two)).toEqual(Array.from({ length: 18 }, (_, i) => img[(8 - (i >> 1)) * 2 + (i & 1)]));
  });

  it('label smoothing: the gradient of the logits is p − ((1 − ε)·onehot + ε/C), checked by finite differences', () => {
    const spec: ModelSpec = {
      input: { height: 2, width: 2, channels: 1, mean: [0], std: [1] },
      layers: [
        { kind: 'dense', name: 'fc', units: 3 },
        { kind: 'softmax', name: 'sm' },
      ],
      labels: ['a', 'b', 'c'],
    };
    const params = initParams(spec, 5);
    const eps = 0.2;
    const trainer = new Trainer({ spec, params }, 1, { lr: 0, labelSmoothing: eps });
    trainer.input.set([0.5, -1, 2, 0.25]);
    trainer.computeGradients([1], 1);
    const smoothedLoss = (p: Float32Array): number => {
      const x = [0.5, -1, 2, 0.25];
      const logits = [0, 1, 2].map((o) => p[4 * 3 + o] + x.reduce((s, v, d) => s + v * p[d * 3 + o], 0));
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
      return logits.reduce((s, l, o) => s - (o === 1 ? 1 - eps + eps / 3 : eps / 3) * (l - lse), 0);
    };
    for (let i = 0; i < params.length; i++) {
      const p = Float32Array.from(params);
      const h = 1e-3;
      p[i] += h;
      const up = smoothedLoss(p);
      p[i] -= 2 * h;
      const down = smoothedLoss(p);
      expect(trainer.grads[i]).toBeCloseTo((up - down) / (2 * h), 3);
    }
  });
});

describe('rotation labels', () => {
  it('fit with rotations trains 4 outputs a class; uprightOutputs keeps the upright ones as an ordinary classifier', async () => {
    const spec: ModelSpec = {
      input: { height: 4, width: 4, channels: 1, mean: [128], std: [64] },
      layers: [
        { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
        { kind: 'dense', name: 'fc', units: 8 },
        { kind: 'softmax', name: 'sm' },
      ],
      labels: ['a@0', 'a@90', 'a@180', 'a@270', 'b@0', 'b@90', 'b@180', 'b@270'],
    };
    // Class a: a bright top row; class b: a bright left column (which turned is a's top row).
    const n = 16;
    const images = new Uint8Array(n * 16);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < 16; p++) images[i * 16 + p] = (labels[i] === 0 ? p < 4 : p % 4 === 0) ? 250 : 10 + ((i * 7 + p) % 20);
    }
    const data = { images, labels, count: n, classes: ['a', 'b'] };
    const params = initParams(spec, 2);
    await fit({ spec, params }, data, { epochs: 40, batchSize: 8, lr: 0.05, seed: 1, rotations: true, augment: false });
    const model = uprightOutputs({ spec, params }, ['a', 'b']);
    expect(model.spec.labels).toEqual(['a', 'b']);
    expect(evaluate(model, data).accuracy).toBe(1);
    // Its probabilities are the softmax of the trained model's upright logits.
    const full = new CpuSession({ spec, params }).features(images.subarray(0, 16), 1, 2);
    const logits = [full[0], full[4]];
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const p = new CpuSession(model).predict(images.subarray(0, 16));
    expect(p[0]).toBeCloseTo(e[0] / (e[0] + e[1]), 6);
    expect(() => uprightOutputs({ spec, params }, ['a', 'b', 'c'])).toThrow(/8 outputs for 3 classes × 4 turns/);
  });
});

describe('few-shot head', () => {
  it('learns separable classes and folds the standardisation into an ordinary dense layer', () => {
    const rng = new Random(3);
    const dim = 6;
    const n = 30;
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    // Class k has a large offset on feature k, on top of big shared offsets and scales.
    const features = Float32Array.from({ length: n * dim }, (_, j) => {
      const i = Math.floor(j / dim);
      const d = j % dim;
      return 100 + 50 * d + (d === labels[i] ? 3 : 0) + rng.normal() * 0.5;
    });
    const head = trainHead(features, labels, n, dim, 3, { seed: 1 });
    expect(head.accuracy).toBe(1);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const scores = [0, 1, 2].map((o) => head.bias[o] + Array.from({ length: dim }, (_, d) => features[i * dim + d] * head.weights[d * 3 + o]).reduce((a, b) => a + b));
      if (scores.indexOf(Math.max(...scores)) === labels[i]) correct++;
    }
    expect(correct).toBe(n);
  });

  it('replaceHead resizes the final dense layer and keeps the backbone', () => {
    const spec = classicCifarSpec();
    const params = initParams(spec, 1);
    const m = replaceHead({ spec, params }, ['x', 'y'], { weights: new Float32Array(320 * 2), bias: Float32Array.from([1, 2]) });
    expect(m.spec.labels).toEqual(['x', 'y']);
    expect(m.params.length).toBe(22466 - 3210 + 642);
    expect(Array.from(m.params.subarray(0, 19256))).toEqual(Array.from(params.subarray(0, 19256)));
    const p = new CpuSession(m).predict(new Uint8Array(3072));
    expect(p[1]).toBeGreaterThan(p[0]); // bias 2 > bias 1 under softmax, zero weights
  });
});

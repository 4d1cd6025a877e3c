// HeadTrainer: the epoch-at-a-time trainer behind trainHead, with a validation set, early
// stopping and cancellation.
import { describe, expect, it } from 'vitest';
import { HeadTrainer, Random, trainHead } from '../../src/engine/index.ts';

/** n points of `classes` overlapping Gaussian clusters in dim dimensions (class k centred at 1.2·e_k). */
function clusters(n: number, dim: number, classes: number, seed: number) {
  const rng = new Random(seed);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  const features = Float32Array.from({ length: n * dim }, (_, j) => {
    const i = Math.floor(j / dim);
    const d = j % dim;
    return (d === labels[i] ? 1.2 : 0) + rng.normal();
  });
  return { features, labels, n };
}

/** Accuracy and mean cross-entropy of a folded head, computed directly from the raw features. */
function score(head: { weights: Float32Array; bias: Float32Array }, set: ReturnType<typeof clusters>, dim: number, classes: number) {
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < set.n; i++) {
    const s = Array.from({ length: classes }, (_, o) => head.bias[o] + Array.from({ length: dim }, (_, d) => set.features[i * dim + d] * head.weights[d * classes + o]).reduce((a, b) => a + b));
    const max = Math.max(...s);
    const sum = s.reduce((a, v) => a + Math.exp(v - max), 0);
    loss -= s[set.labels[i]] - max - Math.log(sum);
    if (s.indexOf(max) === set.labels[i]) correct++;
  }
  return { accuracy: correct / set.n, loss: loss / set.n };
}

describe('HeadTrainer', () => {
  const dim = 8;
  const classes = 3;
  const train = clusters(60, dim, classes, 1);
  const val = clusters(30, dim, classes, 2);

  it('trainHead is the epoch loop of HeadTrainer (same numbers)', () => {
    const a = trainHead(train.features, train.labels, train.n, dim, classes, { epochs: 7, seed: 4 });
    const t = new HeadTrainer(train.features, train.labels, train.n, dim, classes, { epochs: 7, seed: 4 });
    const reports = [];
    while (!t.finished) reports.push(t.runEpoch());
    const b = t.result();
    expect(b.weights).toEqual(a.weights);
    expect(b.bias).toEqual(a.bias);
    expect(reports.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(b).toMatchObject({ stopped: 'done', epochs: 7, bestEpoch: null, validationAccuracy: null });
    expect(() => t.runEpoch()).toThrow(/already ended \(done\)/);
  });

  it('with a validation set: stops after `patience` epochs without improvement and returns the best epoch', () => {
    const reports: { epoch: number; validationAccuracy: number | null; validationLoss: number | null }[] = [];
    const head = trainHead(train.features, train.labels, train.n, dim, classes, {
      epochs: 300,
      lr: 0.2,
      weightDecay: 0,
      seed: 1,
      validation: val,
      patience: 5,
      onEpoch: (r) => void reports.push(r),
    });
    expect(head.stopped).toBe('early');
    expect(head.epochs).toBeLessThan(300);
    expect(head.epochs - head.bestEpoch!).toBe(5);
    // The returned head is the best epoch's: its validation figures match a direct computation
    // from the raw (unstandardised) features, and match what that epoch reported.
    const direct = score(head, val, dim, classes);
    expect(head.validationAccuracy).toBeCloseTo(direct.accuracy, 10);
    expect(head.validationLoss!).toBeCloseTo(direct.loss, 4);
    const best = reports[head.bestEpoch! - 1];
    expect(best.validationAccuracy).toBe(head.validationAccuracy);
    for (const r of reports) expect(r.validationAccuracy!).toBeLessThanOrEqual(head.validationAccuracy!);
    expect(head.validationAccuracy!).toBeGreaterThan(0.6);
  });

  it('onEpoch returning false cancels after that epoch', () => {
    const head = trainHead(train.features, train.labels, train.n, dim, classes, { epochs: 50, onEpoch: (r) => r.epoch < 3 });
    expect(head).toMatchObject({ stopped: 'canceled', epochs: 3 });
  });

  it('names a bad validation label', () => {
    expect(() => new HeadTrainer(train.features, train.labels, train.n, dim, classes, { validation: { features: val.features, labels: [0, 5], n: 2 } })).toThrow(
      /label 5 of validation example 1 is outside 0..2/,
    );
  });
});

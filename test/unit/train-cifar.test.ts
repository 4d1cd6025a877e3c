// End to end: a small CNN trained from scratch by the engine on real photographs (three classes
// of ../shared/data/cifar10-4k), scored on a held-out split it never saw.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, fit, initParams, type ModelSpec } from '../../src/engine/index.ts';
import { loadDataset, splitDataset, subsetByClasses } from '../../src/node/dataset.ts';

describe('end-to-end training on real images', () => {
  it('reaches at least 75 % on held-out airplane / frog / truck images (chance: 33 %)', async () => {
    const all = loadDataset(resolve(__dirname, '../../../shared/data/cifar10-4k'));
    const three = subsetByClasses(all, ['airplane', 'frog', 'truck']);
    const { train, held } = splitDataset(three, 0.2, 1);
    const spec: ModelSpec = {
      input: { height: 32, width: 32, channels: 3, mean: [125, 123, 114], std: [63, 62, 67] },
      layers: [
        { kind: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
        { kind: 'maxpool', name: 'p1', size: 2 },
        { kind: 'conv2d', name: 'c2', filters: 16, kernel: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxpool', name: 'p2', size: 2 },
        { kind: 'dense', name: 'fc', units: 3 },
        { kind: 'softmax', name: 'sm' },
      ],
      labels: three.classes,
    };
    const params = initParams(spec, 1);
    const before = evaluate({ spec, params }, held).accuracy;
    const reports = await fit({ spec, params }, train, { epochs: 8, batchSize: 16, lr: 0.02, weightDecay: 5e-4, seed: 1, augment: { flip: true, shift: 2 } });
    const after = evaluate({ spec, params }, held);
    console.log(`3-class CIFAR: ${train.count} train / ${held.count} held out, accuracy ${(before * 100).toFixed(1)} % → ${(after.accuracy * 100).toFixed(1)} %`);
    expect(held.count).toBeGreaterThan(200);
    expect(reports[reports.length - 1].loss).toBeLessThan(reports[0].loss);
    expect(after.accuracy).toBeGreaterThanOrEqual(0.75);
  }, 120_000);
});

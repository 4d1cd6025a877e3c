// The acceptance test of FC compression (issue #14): on the shipped default model, int8 dense
// weights with 50 % of them pruned cost at most 1 point of accuracy on the held-out CIFAR images,
// the validation split the model's training never saw.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCpuKernels, decodeModel, denseSparsity, encodeModel, evaluate, pruneDense } from '../../src/engine/index.ts';
import { loadDataset, splitDataset } from '../../src/node/dataset.ts';

const MODEL = resolve(__dirname, '../../public/models/default.cnn');
const DATA = resolve(__dirname, '../../../shared/data/cifar10-4k');
const haveData = existsSync(DATA);

describe.skipIf(!haveData)(`FC compression of the default model${haveData ? '' : ` (skipped: ${DATA} not found)`}`, () => {
  it('int8 + 50 % dense sparsity costs ≤ 1 point on the validation split, in a smaller file', async () => {
    const file = new Uint8Array(readFileSync(MODEL));
    const { model, meta } = decodeModel(file);
    // scripts/train-default.ts holds out splitDataset(all, 0.125, seed); the file records the seed
    // and how many images that gave, so this is the same split.
    const seed = meta.training?.seed;
    expect(seed).toBe(1);
    const { held } = splitDataset(loadDataset(DATA), 0.125, seed!);
    expect(held.count).toBe(meta.training?.validationCount);

    const { model: pruned, zeroed, denseWeights } = pruneDense(model, 0.5);
    expect(zeroed).toBe(denseWeights / 2);
    const compressed = encodeModel(pruned, meta, { denseEncoding: 'int8', denseSparse: true });
    const back = decodeModel(compressed);
    expect(back.meta).toMatchObject({ denseEncoding: 'int8', denseSparse: true });
    expect(denseSparsity(back.model).fraction).toBeGreaterThanOrEqual(0.5);

    const kernels = await createCpuKernels();
    const before = evaluate(model, held, kernels).accuracy;
    const after = evaluate(back.model, held, kernels).accuracy;
    const wholeInt8 = encodeModel(model, meta, { denseEncoding: 'int8' }).length;
    console.log(
      `default model on ${held.count} validation images: ${(before * 100).toFixed(2)} % → ${(after * 100).toFixed(2)} % ` +
        `with int8 + 50 % dense sparsity; ${file.length} → ${compressed.length} bytes (int8 without sparsity ${wholeInt8})`,
    );
    expect(before - after).toBeLessThanOrEqual(0.01);
    expect(compressed.length).toBeLessThan(wholeInt8);
    expect(wholeInt8).toBeLessThan(file.length);
  }, 60_000);
});

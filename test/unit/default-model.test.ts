// The shipped default model: it must decode, match its recorded architecture and still classify
// held-out images as well as when it was trained (catches a broken export or a stale file).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, evaluate, inferShapes } from '../../src/engine/index.ts';
import { ARCHITECTURES } from '../../src/engine/zoo.ts';
import { loadDataset, pickImages, splitDataset } from '../../src/node/dataset.ts';

const MODEL = resolve(__dirname, '../../public/models/default.cnn');
const DATA = resolve(__dirname, '../../../shared/data/cifar10-4k');

describe('the default model in public/', () => {
  const { model, meta } = decodeModel(new Uint8Array(readFileSync(MODEL)));

  it('is the wide CIFAR-10 network with its ten labels and a training record', () => {
    expect(model.spec).toEqual(ARCHITECTURES.wide());
    expect(inferShapes(model.spec).paramCount).toBe(model.params.length);
    expect(meta.training?.seed).toBe(1);
    expect(meta.training?.validationCount).toBe(502);
  });

  it('classifies a fixed slice of the validation split it never trained on', () => {
    // The same stratified split as scripts/train-default.ts (fraction 0.125, seed 1).
    const { held } = splitDataset(loadDataset(DATA), 0.125, 1);
    const slice = pickImages(held, Array.from({ length: 250 }, (_, i) => i));
    const { accuracy } = evaluate(model, slice);
    expect(accuracy).toBeGreaterThanOrEqual(0.6);
  });
});

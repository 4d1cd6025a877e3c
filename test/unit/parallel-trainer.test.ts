import { describe, expect, it } from 'vitest';
import { createCpuKernels, initParams, Random, Trainer, type ModelSpec } from '../../src/engine/index.ts';
import { ParallelTrainer, sharedParams } from '../../src/node/parallel-trainer.ts';

describe('data-parallel training on worker threads', () => {
  it('a step split across two threads equals the same step on one thread', async () => {
    const spec: ModelSpec = {
      input: { height: 8, width: 8, channels: 3 },
      layers: [
        { kind: 'conv2d', name: 'c1', filters: 6, kernel: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxpool', name: 'p1', size: 2 },
        { kind: 'dense', name: 'fc', units: 4 },
        { kind: 'softmax', name: 'sm' },
      ],
      labels: ['a', 'b', 'c', 'd'],
    };
    const n = 7; // uneven split: 4 here, 3 in the helper thread
    const rng = new Random(4);
    const x = Float32Array.from({ length: n * 192 }, () => rng.normal());
    const labels = Array.from({ length: n }, () => rng.int(4));
    const options = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };

    const single = initParams(spec, 2);
    const trainer = new Trainer({ spec, params: single }, n, options);
    const parallelParams = sharedParams(single);
    const parallel = ParallelTrainer.create({ spec, params: parallelParams }, n, options, 1);
    try {
      for (let step = 0; step < 3; step++) {
        trainer.input.set(x);
        parallel.input.set(x);
        const a = trainer.trainStep(labels, n);
        const b = await parallel.trainStep(labels, n);
        expect(b.correct).toBe(a.correct);
        expect(b.loss).toBeCloseTo(a.loss, 5);
      }
      let maxDiff = 0;
      for (let i = 0; i < single.length; i++) maxDiff = Math.max(maxDiff, Math.abs(single[i] - parallelParams[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      expect(Array.from(parallelParams)).not.toEqual(Array.from(initParams(spec, 2)));
    } finally {
      await parallel.dispose();
    }
  });

  it('on the WebAssembly kernels in every thread, steps match the TypeScript kernels', async () => {
    const kernels = await createCpuKernels();
    expect(kernels?.name).toBe('wasm-simd'); // Node 20 has WebAssembly SIMD
    const spec: ModelSpec = {
      input: { height: 8, width: 8, channels: 3 },
      layers: [
        { kind: 'conv2d', name: 'c1', filters: 8, kernel: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxpool', name: 'p1', size: 2 },
        { kind: 'dense', name: 'fc', units: 3 },
        { kind: 'softmax', name: 'sm' },
      ],
      labels: ['a', 'b', 'c'],
    };
    const n = 6;
    const rng = new Random(8);
    const x = Float32Array.from({ length: n * 192 }, () => rng.normal());
    const labels = Array.from({ length: n }, () => rng.int(3));
    const options = { lr: 0.05, momentum: 0.9, weightDecay: 0.001 };
    const reference = initParams(spec, 3);
    const trainer = new Trainer({ spec, params: reference }, n, options);
    const shared = sharedParams(reference);
    const parallel = ParallelTrainer.create({ spec, params: shared }, n, options, 1, kernels);
    try {
      for (let step = 0; step < 3; step++) {
        trainer.input.set(x);
        parallel.input.set(x);
        const a = trainer.trainStep(labels, n);
        const b = await parallel.trainStep(labels, n);
        expect(b.loss).toBeCloseTo(a.loss, 5);
      }
      let maxDiff = 0;
      for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i] - shared[i]));
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      await parallel.dispose();
    }
  });

  it('refuses parameters that other threads cannot see', () => {
    const spec: ModelSpec = { input: { height: 2, width: 2, channels: 1 }, layers: [{ kind: 'dense', name: 'fc', units: 2 }], labels: ['a', 'b'] };
    expect(() => ParallelTrainer.create({ spec, params: initParams(spec, 1) }, 4, { lr: 0.1 }, 1)).toThrow('SharedArrayBuffer');
  });
});

// Magnitude pruning of dense layers (src/engine/compress.ts), against a plain reference: sort
// each layer's weights by |w| then index, and count.
import { describe, expect, it } from 'vitest';
import { denseSparsity, pruneDense } from '../../src/engine/compress.ts';
import { initParams } from '../../src/engine/init.ts';
import { inferShapes, type DenseInfo } from '../../src/engine/shapes.ts';
import type { Model, ModelSpec } from '../../src/engine/spec.ts';

function spec(): ModelSpec {
  return {
    input: { height: 6, width: 6, channels: 2 },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 3, kernel: 3, activation: 'relu' },
      { kind: 'maxpool', name: 'p1', size: 2 },
      { kind: 'dense', name: 'd1', units: 7, activation: 'relu' },
      { kind: 'dense', name: 'd2', units: 3 },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['a', 'b', 'c'],
  };
}

/** Seeded weights, biases nonzero, and a few equal magnitudes and zeros to exercise the ties. */
function model(): Model {
  const s = spec();
  const params = initParams(s, 5);
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = 0.01 * ((i % 5) + 1);
  const d1 = dense(s)[0];
  params[d1.paramOffset + 3] = 0.05;
  params[d1.paramOffset + 9] = -0.05;
  params[d1.paramOffset + 1] = 0.05;
  params[d1.paramOffset + 20] = 0;
  params[d1.paramOffset + 21] = 0;
  return { spec: s, params };
}

const dense = (s: ModelSpec): DenseInfo[] => inferShapes(s).layers.filter((l): l is DenseInfo => l.kind === 'dense');

/** The indices (within the layer) a reference pruning zeroes: k smallest by |w|, then by index. */
function referencePruned(w: Float32Array, k: number): Set<number> {
  const order = Array.from(w, (v, i) => [Math.abs(v), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return new Set(order.slice(0, k).map(([, i]) => i));
}

describe('pruneDense', () => {
  it('sparsity 0 changes nothing, in a copy', () => {
    const m = model();
    const r = pruneDense(m, 0);
    expect(r.model.params).not.toBe(m.params);
    expect(Array.from(r.model.params)).toEqual(Array.from(m.params));
    expect(r.model.spec).toBe(m.spec);
    // The two zeros already there are counted.
    expect(r.zeroed).toBe(2);
    expect(r.perLayer.map((l) => l.zeroed)).toEqual([2, 0]);
  });

  it('zeroes round(s · n) smallest weights per layer, ties by index; the largest survive unchanged; biases and conv untouched', () => {
    const m = model();
    const before = m.params.slice();
    for (const s of [0.1, 0.25, 0.5, 0.77, 0.9]) {
      const r = pruneDense(m, s);
      expect(Array.from(m.params), 'input untouched').toEqual(Array.from(before));
      let denseWeights = 0;
      let zeroed = 0;
      dense(m.spec).forEach((l, k) => {
        const n = l.inSize * l.units;
        const w = before.subarray(l.paramOffset, l.paramOffset + n);
        const pruned = referencePruned(w, Math.round(s * n));
        for (let i = 0; i < n; i++) {
          const got = r.model.params[l.paramOffset + i];
          expect(got, `${l.name}[${i}] at ${s}`).toBe(pruned.has(i) ? 0 : w[i]);
        }
        const zeros = Array.from(w).filter((v, i) => v === 0 || pruned.has(i)).length;
        expect(r.perLayer[k]).toEqual({ name: l.name, weights: n, zeroed: zeros });
        denseWeights += n;
        zeroed += zeros;
      });
      expect(r.denseWeights).toBe(denseWeights);
      expect(r.zeroed).toBe(zeroed);
      // Everything that is not a dense weight is exactly as it was.
      const isWeight = (i: number) => dense(m.spec).some((l) => i >= l.paramOffset && i < l.biasOffset);
      for (let i = 0; i < before.length; i++) if (!isWeight(i)) expect(r.model.params[i], `param ${i}`).toBe(before[i]);
    }
  });

  it('exact counts: 50 % of d1 (84 weights) is 42 zeros, of d2 (21) round(10.5) = 11', () => {
    const [d1, d2] = dense(spec());
    expect([d1.inSize * d1.units, d2.inSize * d2.units]).toEqual([84, 21]);
    const r = pruneDense(model(), 0.5);
    expect(r.perLayer).toEqual([
      { name: 'd1', weights: 84, zeroed: 42 },
      { name: 'd2', weights: 21, zeroed: 11 },
    ]);
    expect(denseSparsity(r.model)).toEqual({ weights: 105, zeros: 53, fraction: 53 / 105, perLayer: r.perLayer });
  });

  it('ties: of equal magnitudes the lower index goes first', () => {
    const m = model();
    const d1 = dense(m.spec)[0];
    const w = m.params.subarray(d1.paramOffset, d1.paramOffset + 84);
    // Make every weight ±0.5 except a few: the pruned ones are then the lowest indices.
    for (let i = 0; i < 84; i++) w[i] = i % 2 ? 0.5 : -0.5;
    const r = pruneDense(m, 0.25, { layers: ['d1'] });
    const zeroAt = Array.from(r.model.params.subarray(d1.paramOffset, d1.paramOffset + 84), (v, i) => (v === 0 ? i : -1)).filter((i) => i >= 0);
    expect(zeroAt).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('options.layers prunes only the named dense layers', () => {
    const m = model();
    const r = pruneDense(m, 0.5, { layers: ['d2'] });
    const [d1] = dense(m.spec);
    expect(Array.from(r.model.params.subarray(d1.paramOffset, d1.paramOffset + d1.paramCount))).toEqual(
      Array.from(m.params.subarray(d1.paramOffset, d1.paramOffset + d1.paramCount)),
    );
    expect(r.perLayer).toEqual([{ name: 'd2', weights: 21, zeroed: 11 }]);
    expect(pruneDense(m, 0.5, { layers: [] }).zeroed).toBe(0);
  });

  it('bad sparsity and layer names throw, naming them', () => {
    const m = model();
    for (const s of [1, -0.1, 1.5, NaN, Infinity, -Infinity]) {
      expect(() => pruneDense(m, s), String(s)).toThrow(RangeError);
      expect(() => pruneDense(m, s), String(s)).toThrow(`sparsity ${s} must be a finite number in [0, 1)`);
    }
    expect(() => pruneDense(m, '0.5' as unknown as number)).toThrow('sparsity "0.5" must be a finite number');
    expect(() => pruneDense(m, 0.5, { layers: ['d1', 'fc9'] })).toThrow('pruneDense: "fc9" is not a dense layer of this model (dense layers: d1, d2)');
    expect(() => pruneDense(m, 0.5, { layers: ['c1', 'x'] })).toThrow('pruneDense: "c1" (conv2d), "x" are not dense layers of this model');
  });
});

describe('denseSparsity', () => {
  it('counts exact zeros of dense weights only (not biases, not conv)', () => {
    const m = model();
    const [d1, d2] = dense(m.spec);
    m.params[d2.biasOffset] = 0; // a zero bias: not counted
    m.params[0] = 0; // a zero conv weight: not counted
    m.params[d2.paramOffset] = -0; // −0 is a zero weight
    expect(denseSparsity(m)).toEqual({
      weights: 105,
      zeros: 3,
      fraction: 3 / 105,
      perLayer: [
        { name: d1.name, weights: 84, zeroed: 2 },
        { name: d2.name, weights: 21, zeroed: 1 },
      ],
    });
  });
});

// The inside view's maps: every layer's output of the pass that gave the answer, equal to the
// session's own per-layer features, and per-layer times for every layer.
import { describe, expect, it } from 'vitest';
import { insideLayout } from '../../src/engine/inside.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { validateModel } from '../../src/engine/shapes.ts';
import { wideCifarSpec } from '../../src/engine/zoo.ts';
import { ODD_READOUT, oddSpec, paramsWithBiases } from './model-cases.ts';

const cases = [
  ['wide CIFAR net', wideCifarSpec()],
  ['odd net with a readout head', oddSpec(ODD_READOUT)],
] as const;

function image(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 17 + ((i * i) % 13)) & 255;
  return b;
}

describe.each(cases)('inside maps of the %s', (_, spec) => {
  const model = { spec, params: paramsWithBiases(spec, 3) };
  const info = validateModel(spec, model.params);
  const layout = insideLayout(info);
  const inputSize = info.input.h * info.input.w * info.input.c;

  it('lays out one map per layer (plus the readout) back to back', () => {
    expect(layout.maps.map((m) => m.name)).toEqual(spec.layers.map((l) => l.name));
    let at = 0;
    for (const m of layout.maps) {
      expect(m.offset).toBe(at);
      expect(m.size).toBe(m.shape.h * m.shape.w * m.shape.c);
      at += m.size;
    }
    expect(layout.readout?.size ?? 0).toBe(info.readout?.size ?? 0);
    expect(layout.total).toBe(at + (layout.readout?.size ?? 0));
  });

  for (const kernels of ['typescript', 'wasm'] as const) {
    it(`on ${kernels} kernels equal each layer's features and the readout, and the answer equals predict`, async () => {
      const session = kernels === 'wasm' ? await CpuSession.create(model) : new CpuSession(model);
      // The same kernels' batched network (features) and single-image pass (predict) are the reference.
      const reference = session;
      const maps = new Float32Array(layout.total).fill(NaN);
      for (const seed of [1, 2]) {
        const bytes = image(inputSize, seed);
        const out = session.predictInside(bytes, maps).slice();
        expect(Array.from(out)).toEqual(Array.from(session.predict(bytes)));
        for (const m of layout.maps) {
          const want = reference.features(bytes, 1, m.layer + 1);
          const got = maps.subarray(m.offset, m.offset + m.size);
          let worst = 0;
          for (let i = 0; i < m.size; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
          expect(worst, `layer ${m.name}`).toBeLessThanOrEqual(1e-5);
        }
        if (layout.readout) {
          const want = reference.readoutFeatures(bytes, 1);
          const got = maps.subarray(layout.readout.offset, layout.readout.offset + layout.readout.size);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5);
        }
      }
    });
  }

  it('refuses a maps array too small for the layout, naming both sizes', () => {
    const session = new CpuSession(model);
    expect(() => session.predictInside(image(inputSize, 1), new Float32Array(layout.total - 1))).toThrow(
      `expected a Float32Array of ${layout.total} floats, got ${layout.total - 1}`,
    );
  });

  it('times every layer of a forward pass', () => {
    const session = new CpuSession(model);
    const t = session.timeLayers(image(inputSize, 1), 5);
    expect(t.ms).toHaveLength(spec.layers.length);
    expect(t.ms.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
    expect(t.fusedInto.every((x) => x === null)).toBe(true);
    expect(t.totalMs).toBeGreaterThan(0);
    expect(t.reps).toBe(5);
  });
});

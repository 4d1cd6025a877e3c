// Every layer kind, forward against the plain-loop reference and backward against central finite
// differences (float64), on a table of cases named by shape.
import { describe, expect, it } from 'vitest';
import { CpuNetwork } from '../../src/engine/cpu/network.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { size3 } from '../../src/engine/shapes.ts';
import { CASES, singleLayerModel } from './layer-cases.ts';
import { referenceForward, referenceNormalise } from './reference.ts';

describe('forward against the plain-loop reference', () => {
  for (const [name, input, layer] of CASES) {
    it(name, () => {
      const { spec, info, params, rng } = singleLayerModel(input, layer, 7);
      const session = new CpuSession({ spec, params });
      const n = 3;
      const bytes = Uint8Array.from({ length: n * size3(info.input) }, () => rng.int(256));
      const batch = session.predictBatch(bytes, n);
      const outSize = size3(info.output);
      for (let img = 0; img < n; img++) {
        const imgBytes = bytes.subarray(img * size3(info.input), (img + 1) * size3(info.input));
        const expected = referenceForward(info, params, referenceNormalise(spec, imgBytes));
        const single = session.predict(imgBytes);
        expect(single.length).toBe(outSize);
        for (let i = 0; i < outSize; i++) {
          expect(Math.abs(single[i] - expected[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected[i])));
          expect(batch[img * outSize + i]).toBe(single[i]);
        }
      }
    });
  }
});

/** Central difference of f at x[j] in float64. */
function centralDiff(f: () => number, x: Float64Array, j: number, eps: number): number {
  const keep = x[j];
  x[j] = keep + eps;
  const up = f();
  x[j] = keep - eps;
  const down = f();
  x[j] = keep;
  return (up - down) / (2 * eps);
}

function expectClose(analytic: number, numeric: number, what: string): void {
  const scale = Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3);
  const rel = Math.abs(analytic - numeric) / scale;
  if (!(rel < 1e-3)) throw new Error(`${what}: analytic ${analytic} vs numeric ${numeric} (relative error ${rel.toExponential(2)})`);
}

describe('backward against central finite differences', () => {
  for (const [name, input, layer] of CASES) {
    it(name, () => {
      const { info, params, rng } = singleLayerModel(input, layer, 11);
      const n = 2;
      const inSize = size3(info.input);
      const outSize = size3(info.output);
      const net = new CpuNetwork(info, params, n, true);
      const x = Float64Array.from({ length: n * inSize }, () => rng.normal());
      const r = Float64Array.from({ length: n * outSize }, () => rng.normal());
      net.acts[0].set(x);
      net.forward(n);
      const last = info.layers.length - 1;
      net.grads[last + 1].set(r);
      const pgrads = new Float32Array(info.paramCount);
      net.backward(n, last, 0, pgrads, true);

      // Loss L = Σ r ⊙ y over both images, in float64 through the reference.
      const p64 = Float64Array.from(params);
      const x64 = Float64Array.from(net.acts[0].subarray(0, n * inSize));
      const loss = () => {
        let s = 0;
        for (let img = 0; img < n; img++) {
          const y = referenceForward(info, p64, x64.subarray(img * inSize, (img + 1) * inSize));
          for (let i = 0; i < outSize; i++) s += r[img * outSize + i] * y[i];
        }
        return s;
      };
      const pick = (count: number, max: number) => (count <= max ? Array.from({ length: count }, (_, i) => i) : Array.from({ length: max }, () => rng.int(count)));
      for (const j of pick(info.paramCount, 120)) expectClose(pgrads[j], centralDiff(loss, p64, j, 1e-5), `${name} dparam[${j}]`);
      for (const j of pick(n * inSize, 120)) expectClose(net.grads[0][j], centralDiff(loss, x64, j, 1e-5), `${name} dx[${j}]`);
    });
  }
});

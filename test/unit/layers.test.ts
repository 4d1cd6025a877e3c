// Every layer kind, forward against the plain-loop reference and backward against central finite
// differences (float64), on a table of cases named by shape.
import { describe, expect, it } from 'vitest';
import { CpuNetwork } from '../../src/engine/cpu/network.ts';
import { Random } from '../../src/engine/random.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { inferShapes, size3 } from '../../src/engine/shapes.ts';
import type { LayerSpec, ModelSpec } from '../../src/engine/spec.ts';
import { referenceForward, referenceNormalise } from './reference.ts';

type Case = [name: string, input: [number, number, number], layer: LayerSpec];

const CASES: Case[] = [
  ['conv x=[7,7,3] k=3 s=2 p=same f=5 relu', [7, 7, 3], { kind: 'conv2d', name: 'c', filters: 5, kernel: 3, stride: 2, padding: 'same', activation: 'relu' }],
  ['conv x=[32,32,3] k=5 s=1 p=valid f=2', [32, 32, 3], { kind: 'conv2d', name: 'c', filters: 2, kernel: 5 }],
  ['conv x=[8,8,4] k=1 s=1 p=valid f=6 (1×1)', [8, 8, 4], { kind: 'conv2d', name: 'c', filters: 6, kernel: 1 }],
  ['conv x=[9,7,2] k=[3,2] s=[2,1] p=[1,1,0,1] f=4', [9, 7, 2], { kind: 'conv2d', name: 'c', filters: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 1, 0, 1] }],
  ['conv x=[5,6,3] k=3 s=1 p=1 f=4 tanh no-bias', [5, 6, 3], { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, padding: 1, activation: 'tanh', bias: false }],
  ['conv x=[6,6,5] k=4 s=3 p=same f=3 sigmoid', [6, 6, 5], { kind: 'conv2d', name: 'c', filters: 3, kernel: 4, stride: 3, padding: 'same', activation: 'sigmoid' }],
  ['conv x=[5,5,3] k=3 s=1 p=valid f=7 (odd width, CO%4≠0)', [5, 5, 3], { kind: 'conv2d', name: 'c', filters: 7, kernel: 3 }],
  ['conv x=[4,4,1] k=2 s=2 p=valid f=1', [4, 4, 1], { kind: 'conv2d', name: 'c', filters: 1, kernel: 2, stride: 2 }],
  ['maxpool x=[8,8,3] k=2 s=2', [8, 8, 3], { kind: 'maxpool', name: 'p', size: 2 }],
  ['maxpool x=[7,7,2] k=3 s=2 p=valid', [7, 7, 2], { kind: 'maxpool', name: 'p', size: 3, stride: 2 }],
  ['maxpool x=[7,7,2] k=3 s=2 p=same', [7, 7, 2], { kind: 'maxpool', name: 'p', size: 3, stride: 2, padding: 'same' }],
  ['avgpool x=[8,8,3] k=2 s=2', [8, 8, 3], { kind: 'avgpool', name: 'p', size: 2 }],
  ['avgpool x=[7,7,2] k=3 s=2 p=same', [7, 7, 2], { kind: 'avgpool', name: 'p', size: 3, stride: 2, padding: 'same' }],
  ['avgpool x=[6,5,1] k=2 s=1 p=valid', [6, 5, 1], { kind: 'avgpool', name: 'p', size: 2, stride: 1 }],
  ['dense x=[3,3,4] u=5 relu', [3, 3, 4], { kind: 'dense', name: 'd', units: 5, activation: 'relu' }],
  ['dense x=[1,1,10] u=3 sigmoid', [1, 1, 10], { kind: 'dense', name: 'd', units: 3, activation: 'sigmoid' }],
  ['dense x=[2,2,3] u=4 tanh no-bias', [2, 2, 3], { kind: 'dense', name: 'd', units: 4, activation: 'tanh', bias: false }],
  ['relu x=[4,4,3]', [4, 4, 3], { kind: 'activation', name: 'a', activation: 'relu' }],
  ['sigmoid x=[4,4,3]', [4, 4, 3], { kind: 'activation', name: 'a', activation: 'sigmoid' }],
  ['tanh x=[4,4,3]', [4, 4, 3], { kind: 'activation', name: 'a', activation: 'tanh' }],
  ['softmax x=[1,1,7]', [1, 1, 7], { kind: 'softmax', name: 's' }],
  ['softmax x=[2,2,3]', [2, 2, 3], { kind: 'softmax', name: 's' }],
];

/**
 * A model holding the layer under test. Model inputs have at most 4 channels, so wider inputs are
 * produced by a linear 1×1 "lift" convolution from 3 channels in front of it.
 */
function singleLayerModel(input: [number, number, number], layer: LayerSpec, seed: number) {
  const [height, width, channels] = input;
  const lift: LayerSpec[] = channels > 4 ? [{ kind: 'conv2d', name: 'lift', filters: channels, kernel: 1 }] : [];
  const c0 = channels > 4 ? 3 : channels;
  const layers = [...lift, layer];
  const probe: ModelSpec = { input: { height, width, channels: c0 }, layers, labels: [] };
  const outSize = size3(inferShapes(probe, false).output);
  const spec: ModelSpec = {
    input: { height, width, channels: c0, mean: new Array(c0).fill(120), std: new Array(c0).fill(60) },
    layers,
    labels: Array.from({ length: outSize }, (_, i) => `y${i}`),
  };
  const info = inferShapes(spec);
  const rng = new Random(seed);
  const params = Float32Array.from({ length: info.paramCount }, () => rng.normal() * 0.5);
  return { spec, info, params, rng };
}

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

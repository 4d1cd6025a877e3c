// The table of single-layer cases named by shape, shared by every kernel set's tests
// (layers.test.ts for the TypeScript kernels, wasm-kernels.test.ts for WebAssembly SIMD).
import { Random } from '../../src/engine/random.ts';
import { inferShapes, size3 } from '../../src/engine/shapes.ts';
import type { LayerSpec, ModelSpec } from '../../src/engine/spec.ts';

export type Case = [name: string, input: [number, number, number], layer: LayerSpec];

export const CASES: Case[] = [
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
export function singleLayerModel(input: [number, number, number], layer: LayerSpec, seed: number) {
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

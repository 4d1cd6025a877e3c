// Models shared by the unit tests and the in-browser WebGL checks: parameters with non-zero
// biases, and a small network whose readout covers the awkward cases.
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import { inferShapes } from '../../src/engine/shapes.ts';
import type { ModelSpec, ReadoutSpec } from '../../src/engine/spec.ts';

/** He/Glorot weights (initParams) and biases drawn from [−0.5, 0.5) (initParams leaves them at zero). */
export function paramsWithBiases(spec: ModelSpec, seed: number): Float32Array {
  const params = initParams(spec, seed);
  const rng = new Random(seed + 1);
  for (const l of inferShapes(spec).layers) {
    if ((l.kind === 'conv2d' || l.kind === 'dense') && l.biasOffset >= 0) for (let i = 0; i < l.out.c; i++) params[l.biasOffset + i] = rng.next() - 0.5;
  }
  return params;
}

/** Channel counts that are not multiples of 4, a conv tapped before its pool, a pool with padding. */
export function oddSpec(readout?: ReadoutSpec): ModelSpec {
  return {
    input: { height: 10, width: 10, channels: 3, mean: [120, 110, 100], std: [60, 50, 70] },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 5, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'p1', size: 2 },
      { kind: 'conv2d', name: 'c2', filters: 6, kernel: 3, padding: 'same', activation: 'tanh' },
      { kind: 'avgpool', name: 'p2', size: 2, padding: 'same' },
      { kind: 'conv2d', name: 'mix', filters: 7, kernel: 1, activation: 'relu' },
      { kind: 'dense', name: 'fc', units: 4 },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['a', 'b', 'c', 'd'],
    ...(readout ? { readout } : {}),
  };
}

/**
 * Taps on every layer of oddSpec (a conv before its pool, every pool kind, quadrants of odd 5×5
 * and 3×3 maps) plus a colour histogram.
 */
export const ODD_READOUT: ReadoutSpec = {
  taps: [
    { layer: 0, pool: 'max' },
    { layer: 1, pool: 'avg' },
    { layer: 2, pool: 'max' },
    { layer: 3, pool: 'avg' },
    { layer: 4, pool: 'avg' },
    { layer: 4, pool: 'max' },
    { layer: 1, pool: 'quadrants' },
    { layer: 4, pool: 'quadrants' },
  ],
  colour: { bins: 2 },
};

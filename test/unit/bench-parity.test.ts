// The engine's CPU forward pass, on both kernel sets (TypeScript and WebAssembly SIMD), against
// TF.js (tfjs-backend-cpu) as an independent reference: same spec, same random parameters and
// input bytes, every layer's output compared. The same TF.js model is the baseline of
// `npm run bench`, so this also shows the benchmark compares equal computations.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTfjsModel } from '../../scripts/bench-tfjs.ts';
import type { KernelSet } from '../../src/engine/cpu/network.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { loadWasmKernels } from '../../src/engine/wasm/load.ts';
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import { inferShapes, size3 } from '../../src/engine/shapes.ts';
import type { LayerSpec, ModelSpec } from '../../src/engine/spec.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';

const TOLERANCE = 1e-5;

function spec(input: ModelSpec['input'], layers: LayerSpec[], outputs: number): ModelSpec {
  return { input, layers, labels: Array.from({ length: outputs }, (_, i) => `class ${i}`) };
}

/** Random parameters: seeded He/Glorot weights, plus non-zero biases so bias handling is tested. */
function randomParams(s: ModelSpec, seed: number): Float32Array {
  const params = initParams(s, seed);
  const rng = new Random(seed + 1);
  for (const l of inferShapes(s).layers) {
    if ((l.kind === 'conv2d' || l.kind === 'dense') && l.biasOffset >= 0) {
      for (let o = 0; o < l.out.c; o++) params[l.biasOffset + o] = rng.normal() * 0.2;
    }
  }
  return params;
}

function randomBytes(count: number, seed: number): Uint8Array {
  const rng = new Random(seed);
  return Uint8Array.from({ length: count }, () => rng.int(256));
}

/**
 * Per layer, the largest |engine − TF.js| over n images, with the layer's name and the size of
 * its values (so a failure says where the outputs part and by how much).
 */
function compareLayers(
  s: ModelSpec,
  kernels: KernelSet | null,
  seed: number,
  n: number,
): { layer: string; diff: number; scale: number }[] {
  const params = randomParams(s, seed);
  const session = new CpuSession({ spec: s, params }, kernels);
  const info = session.info;
  const bytes = randomBytes(n * size3(info.input), seed + 2);
  const model = buildTfjsModel(s, params);
  try {
    const reference = tf.tidy(() => model.layerOutputs(bytes, n).map((t) => t.dataSync() as Float32Array));
    return info.layers.map((l, i) => {
      const ours = session.features(bytes, n, i + 1);
      const theirs = reference[i];
      expect(theirs.length, `layer ${l.name}: output sizes`).toBe(ours.length);
      let diff = 0;
      let scale = 0;
      for (let k = 0; k < ours.length; k++) {
        diff = Math.max(diff, Math.abs(ours[k] - theirs[k]));
        scale = Math.max(scale, Math.abs(theirs[k]));
      }
      return { layer: `${l.kind} "${l.name}"`, diff, scale };
    });
  } finally {
    model.dispose();
  }
}

const normalised = { mean: [120, 110, 100], std: [60, 65, 70] };

const CASES: [string, ModelSpec][] = [
  ['classic CIFAR net (conv 5×5 same, maxpool 2, dense, softmax)', classicCifarSpec()],
  [
    'x=[6,6,3] conv 1×1×8 relu, conv 1×1×5 no bias, dense 4 sigmoid',
    spec({ height: 6, width: 6, channels: 3 }, [
      { kind: 'conv2d', name: 'pw1', filters: 8, kernel: 1, activation: 'relu' },
      { kind: 'conv2d', name: 'pw2', filters: 5, kernel: 1, bias: false },
      { kind: 'dense', name: 'out', units: 4, activation: 'sigmoid' },
    ], 4),
  ],
  [
    'x=[10,10,3] conv 3×3 s=2 same (uneven padding), conv 3×3 s=2 valid, tanh dense, softmax',
    spec({ height: 10, width: 10, channels: 3, ...normalised }, [
      { kind: 'conv2d', name: 's2same', filters: 6, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { kind: 'conv2d', name: 's2valid', filters: 7, kernel: 3, stride: 2, padding: 'valid', activation: 'tanh' },
      { kind: 'dense', name: 'hidden', units: 12, activation: 'tanh' },
      { kind: 'dense', name: 'logits', units: 5 },
      { kind: 'softmax', name: 'probs' },
    ], 5),
  ],
  [
    'x=[10,8,1] conv [3,2] s=[2,1] pad [1,2,0,1] sigmoid, conv 4×4 valid, activation relu',
    spec({ height: 10, width: 8, channels: 1, mean: [128], std: [50] }, [
      { kind: 'conv2d', name: 'rect', filters: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 2, 0, 1], activation: 'sigmoid' },
      { kind: 'conv2d', name: 'valid', filters: 3, kernel: 4, padding: 'valid' },
      { kind: 'activation', name: 'act', activation: 'relu' },
      { kind: 'dense', name: 'out', units: 3 },
    ], 3),
  ],
  [
    'x=[15,15,3] conv 3×3 same, maxpool 3 s=2 valid, avgpool 3 s=2 same (padding excluded), avgpool 2',
    spec({ height: 15, width: 15, channels: 3, ...normalised }, [
      { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'overlap', size: 3, stride: 2 },
      { kind: 'avgpool', name: 'avgsame', size: 3, stride: 2, padding: 'same' },
      { kind: 'avgpool', name: 'avg2', size: 2 },
      { kind: 'dense', name: 'out', units: 6, activation: 'sigmoid' },
    ], 6),
  ],
];

const kernelSets: [string, () => Promise<KernelSet | null>][] = [
  ['TypeScript kernels', async () => null],
  ['WebAssembly SIMD kernels', loadWasmKernels],
];

describe.each(kernelSets)('engine forward pass (%s) against tfjs-backend-cpu', (_, load) => {
  let kernels: KernelSet | null = null;
  beforeAll(async () => {
    tf.enableProdMode(); // silences the console advice to install tfjs-node
    await tf.setBackend('cpu');
    kernels = await load();
  });

  it.each(CASES)('%s', (_, s) => {
    const layers = compareLayers(s, kernels, 7, 3);
    // The comparison means something only if the outputs are not all near zero.
    expect(Math.max(...layers.map((l) => l.scale)), 'largest output value').toBeGreaterThan(0.05);
    // The network's output within 1e-5; hidden layers, whose values reach ~8 after 500-term
    // float32 sums, within 1e-5 of their largest value (summation order differs between kernels).
    const output = layers[layers.length - 1];
    expect(output.diff, `largest |engine − tfjs| of the output (${output.layer})`).toBeLessThanOrEqual(TOLERANCE);
    for (const l of layers) {
      const bound = TOLERANCE * Math.max(1, l.scale);
      expect(l.diff, `largest |engine − tfjs| at ${l.layer} (values up to ${l.scale.toFixed(2)})`).toBeLessThanOrEqual(bound);
    }
  });
});

// The WebAssembly SIMD kernels against the TypeScript kernels and the plain float64 reference, on
// the shared table of single-layer cases (layer-cases.ts) plus shapes that reach every SIMD code
// path (tiles of 8 and 4 output channels, 4-pixel and 1-pixel tails, C mod 4 ≠ 0, input gradients
// as a rotated convolution for stride 1 and scattered otherwise), and on the classic CIFAR network. Backward passes must equal the TypeScript backward, which layers.test.ts
// checks against central finite differences.
import { describe, expect, it, vi } from 'vitest';
import { CpuNetwork, type KernelSet } from '../../src/engine/cpu/network.ts';
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import { inferShapes, size3, type NetworkInfo } from '../../src/engine/shapes.ts';
import { createCpuKernels, loadWasmKernels, wasmSimdSupported } from '../../src/engine/wasm/load.ts';
import { WasmNetworkKernels } from '../../src/engine/wasm/network-kernels.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';
import { CASES, singleLayerModel, type Case } from './layer-cases.ts';
import { referenceForward, referenceNormalise } from './reference.ts';

const SIMD_CASES: Case[] = [
  ['conv x=[32,32,3] k=5 s=1 p=same f=16 relu (classic conv1)', [32, 32, 3], { kind: 'conv2d', name: 'c', filters: 16, kernel: 5, padding: 'same', activation: 'relu' }],
  ['conv x=[16,16,16] k=5 s=1 p=same f=20 relu (classic conv2)', [16, 16, 16], { kind: 'conv2d', name: 'c', filters: 20, kernel: 5, padding: 'same', activation: 'relu' }],
  ['conv x=[8,8,20] k=5 s=1 p=same f=20 relu (classic conv3)', [8, 8, 20], { kind: 'conv2d', name: 'c', filters: 20, kernel: 5, padding: 'same', activation: 'relu' }],
  ['conv x=[7,11,6] k=3 s=1 p=same f=13 (ow%4=3, CO=8+4+1)', [7, 11, 6], { kind: 'conv2d', name: 'c', filters: 13, kernel: 3, padding: 'same' }],
  ['conv x=[9,13,3] k=[2,3] s=2 p=valid f=10 tanh (4-pixel tiles, stride 2)', [9, 13, 3], { kind: 'conv2d', name: 'c', filters: 10, kernel: [2, 3], stride: 2, activation: 'tanh' }],
  ['conv x=[6,9,8] k=3 s=[1,2] p=[0,2,2,0] f=8 sigmoid no-bias', [6, 9, 8], { kind: 'conv2d', name: 'c', filters: 8, kernel: 3, stride: [1, 2], padding: [0, 2, 2, 0], activation: 'sigmoid', bias: false }],
  ['conv x=[4,5,3] k=2 s=1 p=2 f=5 (padding ≥ kernel: scattered input gradient)', [4, 5, 3], { kind: 'conv2d', name: 'c', filters: 5, kernel: 2, padding: 2 }],
  ['conv x=[5,10,20] k=1 s=1 p=valid f=3 relu (1×1, R=20)', [5, 10, 20], { kind: 'conv2d', name: 'c', filters: 3, kernel: 1, activation: 'relu' }],
  ['maxpool x=[8,8,16] k=2 s=2 (classic pool)', [8, 8, 16], { kind: 'maxpool', name: 'p', size: 2 }],
  ['maxpool x=[7,9,6] k=3 s=2 p=same', [7, 9, 6], { kind: 'maxpool', name: 'p', size: 3, stride: 2, padding: 'same' }],
  ['avgpool x=[9,7,8] k=3 s=2 p=same', [9, 7, 8], { kind: 'avgpool', name: 'p', size: 3, stride: 2, padding: 'same' }],
  ['avgpool x=[6,6,5] k=2 s=1 p=valid', [6, 6, 5], { kind: 'avgpool', name: 'p', size: 2, stride: 1 }],
  ['dense x=[4,4,20] u=10 (classic fc)', [4, 4, 20], { kind: 'dense', name: 'd', units: 10 }],
  ['dense x=[3,2,7] u=21 relu (4-vector block + tail)', [3, 2, 7], { kind: 'dense', name: 'd', units: 21, activation: 'relu' }],
  ['dense x=[2,3,3] u=2 sigmoid no-bias', [2, 3, 3], { kind: 'dense', name: 'd', units: 2, activation: 'sigmoid', bias: false }],
];

const ALL_CASES = [...CASES, ...SIMD_CASES];

/** Largest |a − b| over the arrays, relative to max(1, largest |b|). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
  }
  return d / scale;
}

const wasm = (): Promise<KernelSet> => loadWasmKernels();

describe('loading', () => {
  it('detects SIMD, compiles the module and passes the self-test', async () => {
    expect(wasmSimdSupported()).toBe(true);
    const kernels = await wasm();
    expect(kernels.name).toBe('wasm-simd');
    expect(await createCpuKernels()).toBe(kernels);
    const info = inferShapes(classicCifarSpec());
    expect(new CpuNetwork(info, initParams(classicCifarSpec(), 1), 1, false, kernels).kernelName).toBe('wasm-simd');
  });

  it('falls back to the TypeScript kernels (null) when SIMD is missing', async () => {
    vi.resetModules();
    const validate = vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    try {
      const fresh = await import('../../src/engine/wasm/load.ts');
      expect(fresh.wasmSimdSupported()).toBe(false);
      await expect(fresh.loadWasmKernels()).rejects.toThrow(/SIMD is not supported/);
      expect(await fresh.createCpuKernels()).toBeNull();
    } finally {
      validate.mockRestore();
      vi.resetModules();
    }
  });
});

describe('forward: wasm against TypeScript and the plain-loop reference', () => {
  for (const [name, input, layer] of ALL_CASES) {
    it(name, async () => {
      const { spec, info, params, rng } = singleLayerModel(input, layer, 7);
      const n = 3;
      const bytes = Uint8Array.from({ length: n * size3(info.input) }, () => rng.int(256));
      const ts = new CpuNetwork(info, params, n);
      const wa = new CpuNetwork(info, params, n, false, await wasm());
      ts.loadBytes(bytes, n);
      wa.loadBytes(bytes, n);
      const outSize = size3(info.output);
      const yTs = ts.forward(n).subarray(0, n * outSize);
      const yWa = wa.forward(n).subarray(0, n * outSize);
      expect(relDiff(yWa, yTs)).toBeLessThan(1e-5);
      for (let img = 0; img < n; img++) {
        const imgBytes = bytes.subarray(img * size3(info.input), (img + 1) * size3(info.input));
        const expected = referenceForward(info, params, referenceNormalise(spec, imgBytes));
        expect(relDiff(yWa.subarray(img * outSize, (img + 1) * outSize), expected)).toBeLessThan(1e-5);
      }
      // Batch 1 gives the same numbers as the batch.
      const one = new CpuNetwork(info, params, 1, false, await wasm());
      one.loadBytes(bytes.subarray(size3(info.input)), 1);
      expect(Array.from(one.forward(1).subarray(0, outSize))).toEqual(Array.from(yWa.subarray(outSize, 2 * outSize)));
    });
  }
});

/** Forward + backward of a training network with upstream gradient r; returns what backward produced. */
function gradients(info: NetworkInfo, params: Float32Array, x: Float64Array, r: Float64Array, n: number, kernels: KernelSet | null) {
  const net = new CpuNetwork(info, params, n, true, kernels);
  net.acts[0].set(x);
  net.forward(n);
  const last = info.layers.length - 1;
  net.grads[last + 1].set(r);
  const pgrads = new Float32Array(info.paramCount).fill(0.25); // backward adds to what is there
  net.backward(n, last, 0, pgrads, true);
  return { pgrads, dx: net.grads[0].slice(0, x.length) };
}

describe('backward: wasm equals the (finite-difference-checked) TypeScript backward', () => {
  for (const [name, input, layer] of ALL_CASES) {
    it(name, async () => {
      const { info, params, rng } = singleLayerModel(input, layer, 11);
      const n = 2;
      const x = Float64Array.from({ length: n * size3(info.input) }, () => rng.normal());
      const r = Float64Array.from({ length: n * size3(info.output) }, () => rng.normal());
      const ts = gradients(info, params, x, r, n, null);
      const wa = gradients(info, params, x, r, n, await wasm());
      expect(relDiff(wa.pgrads, ts.pgrads)).toBeLessThan(1e-5);
      expect(relDiff(wa.dx, ts.dx)).toBeLessThan(1e-5);
    });
  }
});

describe('the classic CIFAR network', () => {
  const spec = classicCifarSpec();
  const info = inferShapes(spec);
  const params = initParams(spec, 3);
  const rng = new Random(5);
  const n = 5;
  const bytes = Uint8Array.from({ length: n * size3(info.input) }, () => rng.int(256));

  it('forward: batch 1 and batch 5 against TypeScript and the reference', async () => {
    const kernels = await wasm();
    const ts = new CpuNetwork(info, params, n);
    const wa = new CpuNetwork(info, params, n, false, kernels);
    const single = new CpuNetwork(info, params, 1, false, kernels);
    ts.loadBytes(bytes, n);
    wa.loadBytes(bytes, n);
    const yTs = ts.forward(n).slice(0, n * 10);
    const yWa = wa.forward(n).slice(0, n * 10);
    expect(relDiff(yWa, yTs)).toBeLessThan(1e-5);
    for (let img = 0; img < n; img++) {
      const imgBytes = bytes.subarray(img * 3072, (img + 1) * 3072);
      single.loadBytes(imgBytes, 1);
      const y1 = single.forward(1).subarray(0, 10);
      expect(Array.from(y1)).toEqual(Array.from(yWa.subarray(img * 10, (img + 1) * 10)));
      expect(relDiff(y1, referenceForward(info, params, referenceNormalise(spec, imgBytes)))).toBeLessThan(1e-5);
    }
    // Intermediate activations too (features for the few-shot head come from these).
    for (let i = 1; i <= info.layers.length; i++) {
      const count = n * size3(info.layers[i - 1].out);
      expect(relDiff(wa.acts[i].subarray(0, count), ts.acts[i].subarray(0, count)), `layer ${i - 1}`).toBeLessThan(1e-5);
    }
  });

  it('backward through every layer (logits gradient of a cross-entropy step)', async () => {
    const x = Float64Array.from({ length: n * 3072 }, () => rng.normal());
    const r = Float64Array.from({ length: n * 10 }, () => rng.normal() * 0.1);
    const ts = gradients(info, params, x, r, n, null);
    const wa = gradients(info, params, x, r, n, await wasm());
    for (const l of info.layers) {
      if (l.paramCount === 0) continue;
      const part = (g: Float32Array) => g.subarray(l.paramOffset, l.paramOffset + l.paramCount);
      expect(relDiff(part(wa.pgrads), part(ts.pgrads)), l.name).toBeLessThan(1e-5);
    }
    expect(relDiff(wa.dx, ts.dx)).toBeLessThan(1e-5);
  });

  it('repack follows new parameters; buffers stay the same memory', async () => {
    const wa = new CpuNetwork(info, params, 1, false, await wasm());
    const acts = wa.acts;
    const buffer = acts[0].buffer;
    wa.loadBytes(bytes, 1);
    const before = wa.forward(1).slice(0, 10);
    const other = initParams(spec, 4);
    wa.params = other;
    wa.repack();
    wa.loadBytes(bytes, 1);
    const after = wa.forward(1).slice(0, 10);
    const ts = new CpuNetwork(info, other, 1);
    ts.loadBytes(bytes, 1);
    expect(relDiff(after, ts.forward(1).subarray(0, 10))).toBeLessThan(1e-5);
    expect(relDiff(after, before)).toBeGreaterThan(1e-3);
    expect(wa.acts).toBe(acts);
    expect(acts[0].buffer).toBe(buffer);
    expect(acts.every((a) => a.buffer === buffer && a.byteLength > 0)).toBe(true);
  });

  it('a network gets one memory sized for its capacity', async () => {
    const kernels = await wasm();
    const small = kernels.bind(info, 1, false) as WasmNetworkKernels;
    const big = kernels.bind(info, 32, true) as WasmNetworkKernels;
    expect(small.memory).not.toBe(big.memory);
    const floats = (k: WasmNetworkKernels) => [...k.acts, ...k.grads].reduce((s, a) => s + a.length, 0);
    // Activations (and gradients) plus packed weights and scratch, in whole 64 KiB pages.
    expect(small.memory.buffer.byteLength).toBeGreaterThanOrEqual(floats(small) * 4);
    expect(small.memory.buffer.byteLength).toBeLessThan(floats(small) * 4 + 6 * 65536);
    expect(big.memory.buffer.byteLength).toBeGreaterThanOrEqual(floats(big) * 4);
  });
});

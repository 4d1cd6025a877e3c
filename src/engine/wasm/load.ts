// Loading the WebAssembly SIMD kernels: feature detection, one compilation per process (or
// worker), and a self-test against the TypeScript kernels before they are used. The binary is
// inlined (kernels-binary.ts, base64), so loading needs no fetch and works alike in Node, a worker
// and a page.
import { CpuNetwork, type KernelSet, type NetworkKernels } from '../cpu/network.ts';
import { inferShapes, type NetworkInfo } from '../shapes.ts';
import type { ModelSpec } from '../spec.ts';
import { KERNELS_WASM_BASE64 } from './kernels-binary.ts';
import { WasmNetworkKernels } from './network-kernels.ts';

/** (module (func (result v128) (v128.const i32x4 0 0 0 0))): valid only where SIMD is. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** Whether this runtime has WebAssembly with 128-bit SIMD. */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The WebAssembly SIMD kernel set: each network gets its own instance and memory. */
export class WasmKernels implements KernelSet {
  readonly name = 'wasm-simd';
  constructor(readonly module: WebAssembly.Module) {}

  bind(info: NetworkInfo, capacity: number, training: boolean): NetworkKernels {
    return new WasmNetworkKernels(this.module, info, capacity, training);
  }
}

function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A small net touching every kernel (padded strided conv, CO not a multiple of 4, both pools, dense). */
const SELF_TEST_SPEC: ModelSpec = {
  input: { height: 9, width: 7, channels: 3 },
  layers: [
    { kind: 'conv2d', name: 'c1', filters: 6, kernel: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxpool', name: 'p1', size: 2, stride: 1 },
    { kind: 'conv2d', name: 'c2', filters: 9, kernel: [3, 2], stride: [2, 1], padding: [1, 0, 0, 1], activation: 'tanh' },
    { kind: 'avgpool', name: 'p2', size: 2, padding: 'same' },
    { kind: 'dense', name: 'fc', units: 5 },
  ],
  labels: ['a', 'b', 'c', 'd', 'e'],
};

/**
 * Runs the self-test net forward and backward on both kernel sets with fixed pseudo-random
 * inputs and parameters; returns the largest difference relative to each tensor's scale.
 */
export function selfTest(kernels: KernelSet): number {
  const info = inferShapes(SELF_TEST_SPEC);
  let seed = 12345;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const params = Float32Array.from({ length: info.paramCount }, next);
  const n = 2;
  const nets = [new CpuNetwork(info, params, n, true), new CpuNetwork(info, params, n, true, kernels)];
  const input = Float32Array.from({ length: nets[0].acts[0].length }, next);
  const upstream = Float32Array.from({ length: nets[0].acts[info.layers.length].length }, next);
  const outs = nets.map((net) => {
    net.acts[0].set(input);
    const y = net.forward(n).slice();
    const g = new Float32Array(info.paramCount);
    net.grads[info.layers.length].set(upstream);
    net.backward(n, info.layers.length - 1, 0, g, true);
    return [y, g, net.grads[0].slice()];
  });
  let worst = 0;
  outs[0].forEach((ref, t) => {
    const got = outs[1][t];
    let scale = 1e-6;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(got[i] - ref[i]) / scale;
      worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
    }
  });
  return worst;
}

/** Largest relative difference from the TypeScript kernels that the self-test accepts. */
const SELF_TEST_TOLERANCE = 1e-4;

let loading: Promise<WasmKernels> | null = null;

/**
 * Compiles the kernels once (later calls share the result) and checks them against the
 * TypeScript kernels. Rejects with the reason when SIMD is missing, compilation fails or the
 * self-test disagrees.
 */
export function loadWasmKernels(): Promise<WasmKernels> {
  loading ??= (async () => {
    if (!wasmSimdSupported()) throw new Error('WebAssembly SIMD is not supported here');
    const module = await WebAssembly.compile(decodeBase64(KERNELS_WASM_BASE64) as Uint8Array<ArrayBuffer>);
    const kernels = new WasmKernels(module);
    const diff = selfTest(kernels);
    if (!(diff <= SELF_TEST_TOLERANCE)) {
      throw new Error(`WebAssembly kernels disagree with the TypeScript kernels: relative difference ${diff} > ${SELF_TEST_TOLERANCE}`);
    }
    return kernels;
  })();
  return loading;
}

/**
 * The fastest kernel set available: the WebAssembly SIMD kernels, or null (the TypeScript
 * kernels) when they cannot load here. Pass the result to CpuNetwork / CpuSession.
 */
export async function createCpuKernels(): Promise<KernelSet | null> {
  try {
    return await loadWasmKernels();
  } catch {
    return null;
  }
}

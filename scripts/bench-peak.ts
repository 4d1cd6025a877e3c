// What one core of this machine can do through V8's WebAssembly, as the yardstick for the
// benchmark's GFLOP/s figures. Two probes, compiled from AssemblyScript at run time:
// - clock: a chain of dependent one-cycle integer operations (add, xor) runs at one operation
//   per cycle, so operations per second estimate the core's clock as it runs now (the value in
//   /proc/cpuinfo is the nominal clock; boost and a loaded machine change it);
// - SIMD mul+add: 8 independent chains of f32x4 multiplies and 6 of f32x4 adds (no fused
//   multiply-add in WebAssembly SIMD; 4 flops per instruction), enough chains to cover their
//   latency: the highest rate of mul and add that the kernels' inner loops could reach.
import asc from 'assemblyscript/asc';

const PROBE_SOURCE = `
export function chain(n: i32): i32 {
  let x: i32 = n;
  for (let i = 0; i < n; i++) {
    x = (x + 0x1234) ^ 0x55; x = (x + 0x2345) ^ 0x66; x = (x + 0x3456) ^ 0x77; x = (x + 0x4567) ^ 0x11;
    x = (x + 0x5678) ^ 0x22; x = (x + 0x6789) ^ 0x33; x = (x + 0x789a) ^ 0x44; x = (x + 0x89ab) ^ 0x5a;
  }
  return x;
}
export function mulAdd(n: i32): f32 {
  let a0 = f32x4.splat(<f32>n), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  let b0 = f32x4.splat(0), b1 = b0, b2 = b0, b3 = b0, b4 = b0, b5 = b0;
  const m = f32x4.splat(0.99999994), c = f32x4.splat(1e-7);
  for (let i = 0; i < n; i++) {
    a0 = f32x4.mul(a0, m); a1 = f32x4.mul(a1, m); a2 = f32x4.mul(a2, m); a3 = f32x4.mul(a3, m);
    a4 = f32x4.mul(a4, m); a5 = f32x4.mul(a5, m); a6 = f32x4.mul(a6, m); a7 = f32x4.mul(a7, m);
    b0 = f32x4.add(b0, c); b1 = f32x4.add(b1, c); b2 = f32x4.add(b2, c);
    b3 = f32x4.add(b3, c); b4 = f32x4.add(b4, c); b5 = f32x4.add(b5, c);
  }
  const t = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const u = f32x4.add(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)), f32x4.add(b4, b5));
  return f32x4.extract_lane(f32x4.add(t, u), 0);
}
`;

export interface PeakEstimate {
  /** Dependent one-cycle integer operations per second, in GHz. */
  clock_ghz: number;
  /** f32x4 mul and add probe, GFLOP/s (4 flops per instruction). */
  simd_mul_add_gflops: number;
  /** 4 lanes × (1 mul + 1 add) per cycle × clock_ghz: one f32x4 mul and one add issued per cycle. */
  one_pair_per_cycle_gflops: number;
  method: string;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

export async function measurePeak(repeats = 7): Promise<PeakEstimate> {
  const { binary, error, stderr } = await asc.compileString(PROBE_SOURCE, {
    enable: ['simd'],
    optimizeLevel: 3,
    runtime: 'stub',
    noAssert: true,
  });
  if (error || !binary) throw new Error(`peak probe failed to compile: ${error?.message ?? ''} ${stderr.toString()}`);
  const { instance } = await WebAssembly.instantiate(new Uint8Array(binary), { env: { abort() {} } });
  const probe = instance.exports as { chain(n: number): number; mulAdd(n: number): number };
  const time = (f: () => void) => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / 1000;
  };
  const n = 2_000_000;
  let sink = 0;
  probe.chain(n / 10);
  probe.mulAdd(n / 10);
  const clocks: number[] = [];
  const flops: number[] = [];
  for (let r = 0; r < repeats; r++) {
    clocks.push((16 * n) / time(() => (sink += probe.chain(n))) / 1e9);
    flops.push((14 * 4 * n) / time(() => (sink += probe.mulAdd(n))) / 1e9);
  }
  if (!Number.isFinite(sink)) throw new Error('peak probe produced a non-finite result');
  const clock = Math.max(...clocks);
  return {
    clock_ghz: clock,
    simd_mul_add_gflops: Math.max(...flops),
    one_pair_per_cycle_gflops: 8 * clock,
    method:
      `best of ${repeats} runs (median clock ${median(clocks).toFixed(2)} GHz, median mul+add ${median(flops).toFixed(1)} GFLOP/s): ` +
      'clock from a dependent chain of one-cycle integer ops; SIMD peak from 8 f32x4 mul and 6 f32x4 add chains',
  };
}

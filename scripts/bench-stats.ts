// Timing and order statistics shared by the Node benchmark (scripts/bench.ts) and the browser
// benchmark's worker and Node side: the q-quantile is the ⌈q·n⌉-th smallest sample.

export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

export interface Stats {
  median_ms: number;
  p95_ms: number;
  samples: number;
}

export function stats(times: readonly number[]): Stats {
  const sorted = [...times].sort((a, b) => a - b);
  return { median_ms: percentile(sorted, 0.5), p95_ms: percentile(sorted, 0.95), samples: sorted.length };
}

/** Largest |a[i] − b[i]|; Infinity when any difference is NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} vs ${b.length} outputs`);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}

/** A backend under test: made active before its turn (TF.js has one global backend). */
export interface Timed<Id> {
  id: Id;
  activate(): Promise<void>;
}

/**
 * Block timing with the contestants taking turns (rotating order); each call is timed on its own.
 * Returns each contestant's per-call times in ms.
 */
export async function timeInterleaved<Id, C extends Timed<Id>>(
  contestants: C[],
  rounds: number,
  block: number,
  call: (c: C, k: number) => ArrayLike<number>,
): Promise<Map<Id, number[]>> {
  const times = new Map<Id, number[]>(contestants.map((c) => [c.id, []]));
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < contestants.length; j++) {
      const c = contestants[(r + j) % contestants.length];
      await c.activate();
      const list = times.get(c.id)!;
      for (let k = 0; k < block; k++) {
        const t0 = performance.now();
        const out = call(c, r * block + k);
        sink += out[0];
        list.push(performance.now() - t0);
      }
    }
  }
  if (!Number.isFinite(sink)) throw new Error(`benchmark outputs are not finite (sum of first probabilities ${sink})`);
  return times;
}

// Order statistics shared by the browser benchmark's worker and its Node side; the same definition
// as the Node benchmark (scripts/bench.ts): the q-quantile is the ⌈q·n⌉-th smallest sample.

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

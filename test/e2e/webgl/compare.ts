// The comparison the in-browser WebGL checks make: WebGL output against the CPU reference.

export interface Diff {
  what: string;
  maxDiff: number;
  /** Largest |reference| value, to show the comparison is not of zeros. */
  maxRef: number;
  count: number;
  at: string;
}

export function compare(got: Float32Array, want: Float32Array, what: string): Diff {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values from WebGL, ${want.length} from the CPU`);
  let maxDiff = 0;
  let maxRef = 0;
  let at = '';
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    if (!(d <= maxDiff)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      at = `${what}[${i}]: webgl ${got[i]} cpu ${want[i]}`;
    }
  }
  return { what, maxDiff, maxRef, count: want.length, at };
}

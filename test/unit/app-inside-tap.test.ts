// The inside panel's tap: no maps while closed, at most one buffer lent at a time, the interval
// widening with what a maps frame costs over a plain one.
import { describe, expect, it } from 'vitest';
import { InsideTap } from '../../src/app/inside-tap.ts';

const bytes = new Uint8Array(3);
const probs = new Float32Array(2);

describe('InsideTap', () => {
  it('lends nothing while closed, and one buffer of the wanted size at a time while open', () => {
    const tap = new InsideTap(250);
    expect(tap.take(0)).toBeUndefined();
    const seen: number[] = [];
    tap.want(10, (m) => seen.push(m.length));
    const b = tap.take(1000)!;
    expect(b.length).toBe(10);
    expect(tap.take(5000)).toBeUndefined(); // still lent
    tap.give(b, bytes, probs, 1);
    expect(seen).toEqual([10]);
    expect(tap.take(1100)).toBeUndefined(); // within 250 ms
    expect(tap.take(1300)).toBe(b); // the same buffer comes back
    tap.lost();
    expect(tap.take(1600)!.length).toBe(10); // a new one after a failed frame
    tap.want(0, null);
    expect(tap.take(9000)).toBeUndefined();
  });

  it('spaces maps frames so their extra cost stays a small share of the time', () => {
    const tap = new InsideTap(250);
    tap.want(4, () => undefined);
    for (let i = 0; i < 20; i++) tap.give(undefined, bytes, probs, 1); // cheap plain frames
    expect(tap.interval).toBe(250);
    const b = tap.take(0)!;
    tap.give(b, bytes, probs, 1.2); // a maps frame costing 0.2 ms more: still the minimum
    expect(tap.interval).toBe(250);
    const tap2 = new InsideTap(250);
    tap2.want(4, () => undefined);
    for (let i = 0; i < 20; i++) tap2.give(undefined, bytes, probs, 30);
    const c = tap2.take(0)!;
    tap2.give(c, bytes, probs, 70); // 40 ms more: 40 / 0.04 = 1 s between maps frames
    expect(tap2.interval).toBeCloseTo(1000, 6);
    expect(tap2.take(900)).toBeUndefined();
    expect(tap2.take(1001)).toBe(c);
  });
});

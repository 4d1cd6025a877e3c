import { describe, expect, it } from 'vitest';
import { pickExamples, runRounds, type TeachDataset, type Trainer } from '../../scripts/bench-teach/rounds.ts';
import type { TeachResult } from '../../src/worker-api.ts';

/** Image i is 4 bytes all equal to i mod 256, its label i mod `classes`. */
function dataset(count: number, classes: number): TeachDataset {
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) images.fill(i, i * 4, i * 4 + 4);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  return { images, labels, count, imageSize: 4, classNames: Array.from({ length: classes }, (_, k) => String.fromCharCode(97 + k)) };
}

describe('bench-teach pickExamples', () => {
  it('takes perClass images of each of the first classes, with their own bytes and round-unique ids', () => {
    const data = dataset(60, 3);
    const r0 = pickExamples(data, { classes: 2, perClass: 5 }, 0, 1);
    expect(r0.classes).toEqual([
      { id: 'class-0', name: 'a' },
      { id: 'class-1', name: 'b' },
    ]);
    expect(r0.examples).toHaveLength(10);
    for (const e of r0.examples) {
      const i = Number(e.id.split('-').pop());
      expect(e.classId).toBe(`class-${data.labels[i]}`);
      expect([...e.bytes]).toEqual([i, i, i, i]);
      // A copy, not a view that would carry the whole dataset across a worker boundary.
      expect(e.bytes.buffer.byteLength).toBe(4);
    }
    expect(r0.examples.filter((e) => e.classId === 'class-0')).toHaveLength(5);
    expect(new Set(r0.examples.map((e) => e.id)).size).toBe(10);

    const again = pickExamples(data, { classes: 2, perClass: 5 }, 0, 1);
    expect(again.examples.map((e) => e.id)).toEqual(r0.examples.map((e) => e.id));
    const r1 = pickExamples(data, { classes: 2, perClass: 5 }, 1, 1);
    const other = pickExamples(data, { classes: 2, perClass: 6 }, 0, 1);
    const ids0 = new Set(r0.examples.map((e) => e.id));
    expect(r1.examples.some((e) => ids0.has(e.id))).toBe(false);
    expect(other.examples.some((e) => ids0.has(e.id))).toBe(false);
  });

  it('names the class that has too few images', () => {
    const data = dataset(60, 3);
    data.labels.forEach((l, i) => l === 2 && i > 10 && (data.labels[i] = 0)); // class 2 keeps images 2, 5, 8
    expect(() => pickExamples(data, { classes: 3, perClass: 5 }, 0, 1)).toThrow(/class 2 \(c\) has 3 images, fewer than 5/);
    expect(() => pickExamples(data, { classes: 4, perClass: 1 }, 0, 1)).toThrow(/has 3 classes/);
  });
});

describe('bench-teach runRounds', () => {
  /** A trainer with a feature cache by id, as the worker's, and fixed times. */
  function fakeTrainer(id: string, calls: string[]): Trainer {
    const seen = new Set<string>();
    return {
      id,
      async train(_classes, examples, onProgress) {
        const computed = examples.filter((e) => !seen.has(e.id)).map((e) => ({ id: e.id, features: new Float32Array(1) }));
        computed.forEach((c) => seen.add(c.id));
        onProgress({ phase: 'training', done: 1, total: 1, epoch: 1, epochs: 1, loss: 0, accuracy: 1, validationAccuracy: null });
        calls.push(`${id} ${examples.length} ${computed.length}`);
        return { computed, featureMs: 0, trainMs: 0, totalMs: 0, epochs: 1, validationAccuracy: null } as unknown as TeachResult;
      },
    };
  }

  it('gives each trainer its own rounds, new examples then cached, in rotating order', async () => {
    const calls: string[] = [];
    // Five classes only: the 10-class workload, with no rounds, is never drawn.
    const list = await runRounds([fakeTrainer('x', calls), fakeTrainer('y', calls)], { data: dataset(400, 5), repeats: { x: [2, 0], y: [1, 0] }, seed: 1 });
    expect(calls).toEqual(['x 100 100', 'x 100 0', 'y 100 100', 'y 100 0', 'x 100 100', 'x 100 0']);
    expect(list.map((s) => `${s.trainer} ${s.mode} ${s.round}`)).toEqual(['x fresh 0', 'x cached 0', 'y fresh 0', 'y cached 0', 'x fresh 1', 'x cached 1']);
    expect(list.every((s) => s.progress_messages === 1 && s.install_ms === s.end_to_end_ms)).toBe(true);
  });

  it('fails when a worker computes features it should have cached', async () => {
    const forgetful: Trainer = {
      id: 'z',
      train: async (_c, examples) => ({ computed: examples.map((e) => ({ id: e.id })), featureMs: 0, trainMs: 0, totalMs: 0, epochs: 1, validationAccuracy: null }) as unknown as TeachResult,
    };
    await expect(runRounds([forgetful], { data: dataset(400, 5), repeats: { z: [1, 0] }, seed: 1 })).rejects.toThrow(/z, 5×20 round 0 \(cached\): features computed for 100 of 100 examples, expected 0/);
  });
});

// The teaching flow without the page: stored classes and examples → the worker's EngineHost
// trains → the result is stored with its features and served; a "reload" (new host, same
// database) serves it again; cached features are reused; switching back to the default model.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../src/engine/random.ts';
import { Teaching, trainingBlocker } from '../../src/app/teaching.ts';
import { EXAMPLE_BYTES } from '../../src/storage/schema.ts';
import { TeachStore } from '../../src/storage/teach-store.ts';
import { EngineHost } from '../../src/worker/engine-host.ts';
import type { TeachProgress } from '../../src/worker-api.ts';

const stores: TeachStore[] = [];
let n = 0;
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** A 32×32×3 image of one colour with noise (±30 per byte). */
function colourImage(rgb: [number, number, number], rng: Random): Uint8Array {
  const b = new Uint8Array(EXAMPLE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = Math.max(0, Math.min(255, rgb[i % 3] + Math.round((rng.next() - 0.5) * 60)));
  return b;
}

describe('Teaching', () => {
  it('trains from the store, stores file and features in one go, serves the result, and serves it again after a reload', async () => {
    const name = `teaching-${++n}`;
    const store = await TeachStore.open(name);
    stores.push(store);
    const host = new EngineHost();
    await host.loadDefault('cpu');
    const teaching = new Teaching(store, host);
    expect(await teaching.activeModelId()).toBeNull();

    const { model, classes } = await store.createModel('colours', ['red things', 'blue things']);
    const rng = new Random(5);
    await store.addExamples(classes[0].id, Array.from({ length: 12 }, () => colourImage([200, 40, 40], rng)));
    await expect(teaching.train(model.id)).rejects.toThrow(/add some to “blue things”/);
    await store.addExamples(classes[1].id, Array.from({ length: 12 }, () => colourImage([40, 60, 210], rng)));

    const progress: TeachProgress[] = [];
    const result = await teaching.train(model.id, (p) => progress.push(p), { seed: 3 });
    expect(result.labels).toEqual(['red things', 'blue things']);
    expect(result.computed.length).toBe(24);
    expect(progress.some((p) => p.phase === 'features')).toBe(true);
    expect(progress.filter((p) => p.phase === 'training').length).toBe(result.epochs);
    expect(result.validationAccuracy).toBe(1);
    // Held out for the accuracy, then the serving head is trained on all 24.
    expect(result.validationCount).toBeGreaterThan(0);
    expect(result.trainCount + result.validationCount).toBe(24);
    expect(result.finalCount).toBe(24);
    expect(progress.some((p) => p.phase === 'final')).toBe(true);
    // Stored: the file (decodable, with the class names) and every example's features.
    const stored = await store.loadModel(model.id);
    expect(stored).toEqual(result.file);
    const ids = (await store.listModelExamples(model.id)).map((e) => e.id);
    expect((await store.getFeatures(ids, result.fingerprint)).size).toBe(24);
    expect(await teaching.activeModelId()).toBe(model.id);

    // The worker serves the taught classes: new red and blue images are told apart.
    const red = await host.predict(colourImage([210, 30, 50], rng), 1);
    const blue = await host.predict(colourImage([30, 50, 200], rng), 1);
    expect(red.top[0].label).toBe('red things');
    expect(blue.top[0].label).toBe('blue things');

    // Training again reuses every cached feature.
    const again = await teaching.train(model.id, undefined, { seed: 3 });
    expect(again.computed.length).toBe(0);
    expect((await store.getModel(model.id))?.canRollBack).toBe(true);

    // "Reload": a new worker and the same database serve the taught model again.
    const host2 = new EngineHost();
    await host2.loadDefault('cpu');
    const teaching2 = new Teaching(store, host2);
    const active = await teaching2.activeModelId();
    expect(active).toBe(model.id);
    const { info } = await teaching2.activate(active);
    expect(info.model).toMatchObject({ labels: ['red things', 'blue things'], source: 'trained', name: 'colours' });
    expect((await host2.predict(colourImage([200, 40, 40], rng), 1)).top[0].label).toBe('red things');

    // Back to the default model.
    const back = await teaching2.activate(null);
    expect(back.info.model?.labels.length).toBe(10);
    expect(await teaching2.activeModelId()).toBeNull();
  });

  it('an untrained model serves the default model; a deleted active model falls back to the default', async () => {
    const store = await TeachStore.open(`teaching-${++n}`);
    stores.push(store);
    const host = new EngineHost();
    await host.loadDefault('cpu');
    const teaching = new Teaching(store, host);
    const { model } = await store.createModel('empty', ['a', 'b']);
    const { info } = await teaching.activate(model.id);
    expect(info.model?.labels.length).toBe(10);
    expect(await teaching.activeModelId()).toBe(model.id);
    await store.deleteModel(model.id);
    expect(await teaching.activeModelId()).toBeNull();
  });

  it('names what blocks training', () => {
    expect(trainingBlocker([{ name: 'a', count: 3 }])).toMatch(/at least 2 classes; this model has 1/);
    expect(trainingBlocker([{ name: 'a', count: 3 }, { name: 'b', count: 0 }])).toMatch(/add some to “b”/);
    expect(trainingBlocker([{ name: 'a', count: 3 }, { name: 'b', count: 1 }])).toBeNull();
  });
});

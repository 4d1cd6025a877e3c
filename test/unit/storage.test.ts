// TeachStore on fake-indexeddb (an in-memory IndexedDB implementing the spec's transactions).
import 'fake-indexeddb/auto';
import { IDBObjectStore as FakeObjectStore } from 'fake-indexeddb';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { classicCifarSpec, encodeModel, initParams, ModelFileError } from '../../src/engine/index.ts';
import { BundleError, decodeBundle } from '../../src/storage/bundle.ts';
import { MAX_CLASSES } from '../../src/storage/limits.ts';
import { DB_VERSION, EXAMPLE_BYTES, openTeachDb } from '../../src/storage/schema.ts';
import { TeachStore, TeachStoreError } from '../../src/storage/teach-store.ts';

let dbCount = 0;
const open: TeachStore[] = [];
async function freshStore(): Promise<{ store: TeachStore; name: string }> {
  const name = `teach-test-${++dbCount}`;
  const store = await TeachStore.open(name);
  open.push(store);
  return { store, name };
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function image(seed: number): Uint8Array {
  const b = new Uint8Array(EXAMPLE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 17) & 255;
  return b;
}

function modelFile(labels: string[], seed = 1): Uint8Array {
  const spec = { ...classicCifarSpec(), labels };
  spec.layers = spec.layers.map((l, i, all) => (i === all.length - 2 && l.kind === 'dense' ? { ...l, units: labels.length } : l));
  return encodeModel({ spec, params: initParams(spec, seed) }, { name: 'test' });
}

/** Everything in the database, for before/after comparisons. */
async function snapshot(store: TeachStore): Promise<unknown> {
  const db = store.db;
  return {
    models: await db.getAll('models'),
    classes: await db.getAll('classes'),
    examples: await db.getAll('examples'),
    settings: await db.getAll('settings'),
  };
}

describe('schema', () => {
  it('creates every store and index when upgrading an empty database', async () => {
    const db = await openTeachDb(`teach-empty-${++dbCount}`);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['classes', 'examples', 'models', 'settings']);
    const tx = db.transaction(['examples', 'classes', 'models'], 'readonly');
    expect([...tx.objectStore('examples').indexNames].sort()).toEqual(['byClass', 'byModel']);
    expect([...tx.objectStore('classes').indexNames]).toEqual(['byModel']);
    expect([...tx.objectStore('models').indexNames]).toEqual(['byUpdated']);
    await tx.done;
    db.close();
  });

  it('keeps the data when the database is opened again', async () => {
    const { store, name } = await freshStore();
    const { model, classes } = await store.createModel('pets', ['cat', 'dog']);
    await store.addExample(classes[0].id, image(1));
    store.close();
    const again = await TeachStore.open(name);
    open.push(again);
    expect((await again.listModels()).map((m) => m.id)).toEqual([model.id]);
    expect((await again.listClasses(model.id)).map((c) => c.name)).toEqual(['cat', 'dog']);
    expect((await again.listExamples(classes[0].id))[0].bytes).toEqual(image(1));
  });

  it('refuses a database written by a newer schema with a clear message', async () => {
    const name = `teach-newer-${++dbCount}`;
    (await openDB(name, DB_VERSION + 1)).close();
    await expect(openTeachDb(name)).rejects.toThrow(new RegExp(`newer version of the app .*schema version ${DB_VERSION}`));
  });

  it('upgrades a version-1 database, keeping every record and filling in the version-2 fields', async () => {
    const name = `teach-v1-${++dbCount}`;
    // A database as version 1 of the app wrote it: its stores, indexes and record shapes.
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('models', { keyPath: 'id' }).createIndex('byUpdated', 'updated');
        db.createObjectStore('classes', { keyPath: 'id' }).createIndex('byModel', 'modelId');
        const ex = db.createObjectStore('examples', { keyPath: 'id' });
        ex.createIndex('byClass', 'classId');
        ex.createIndex('byModel', 'modelId');
        db.createObjectStore('settings', { keyPath: 'key' });
      },
    });
    const file = modelFile(['cat', 'dog']);
    await v1.put('models', { id: 'm1', name: 'trained one', created: '2026-01-01T00:00:00.000Z', updated: '2026-02-01T00:00:00.000Z', file, previousFile: null });
    await v1.put('models', { id: 'm2', name: 'untrained', created: '2026-01-02T00:00:00.000Z', updated: '2026-01-03T00:00:00.000Z', file: null, previousFile: null });
    await v1.put('classes', { id: 'c1', modelId: 'm1', name: 'cat', order: 0 });
    await v1.put('classes', { id: 'c2', modelId: 'm1', name: 'dog', order: 1 });
    await v1.put('examples', { id: 'e1', classId: 'c1', modelId: 'm1', bytes: image(7), created: '2026-01-05T00:00:00.000Z', features: Float32Array.of(1, 2, 3), fingerprint: 'abc' });
    await v1.put('settings', { key: 'activeModel', value: 'm1' });
    v1.close();

    const store = await TeachStore.open(name);
    open.push(store);
    expect(store.db.version).toBe(DB_VERSION);
    const models = await store.listModels();
    expect(models.map((m) => [m.id, m.name, m.trained, m.edited, m.trainedAt, m.stale])).toEqual([
      ['m1', 'trained one', true, '2026-02-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', false],
      ['m2', 'untrained', false, '2026-01-03T00:00:00.000Z', null, false],
    ]);
    expect(await store.loadModel('m1')).toEqual(file);
    expect((await store.listClasses('m1')).map((c) => c.name)).toEqual(['cat', 'dog']);
    const [e] = await store.listExamples('c1');
    expect(e.bytes).toEqual(image(7));
    expect((await store.getFeatures(['e1'], 'abc')).get('e1')).toEqual(Float32Array.of(1, 2, 3));
    expect(await store.getSetting('activeModel')).toBe('m1');
    // The new fields work: an edit after the training makes it stale.
    await store.addExample('c2', image(8));
    expect((await store.getModel('m1'))?.stale).toBe(true);
  });
});

describe('TeachStore classes', () => {
  it('adds, renames and deletes classes, keeping a dense order', async () => {
    const { store } = await freshStore();
    const { model } = await store.createModel('m', ['a', 'b']);
    const c = await store.addClass(model.id, '  c ');
    expect(c).toMatchObject({ name: 'c', order: 2, modelId: model.id });
    await store.renameClass(c.id, 'see');
    const [a] = await store.listClasses(model.id);
    await store.addExample(a.id, image(2));
    await store.deleteClass(a.id);
    const left = await store.listClasses(model.id);
    expect(left.map((x) => [x.name, x.order])).toEqual([
      ['b', 0],
      ['see', 1],
    ]);
    // The deleted class's examples went with it.
    expect(await store.listModelExamples(model.id)).toEqual([]);
  });

  it('enforces 2..20 classes and unique, non-empty names', async () => {
    const { store } = await freshStore();
    await expect(store.createModel('m', ['only'])).rejects.toThrow(/needs 2 to 20 classes, got 1/);
    await expect(store.createModel('m', ['x', 'X'])).rejects.toThrow(/already a class named "X"/);
    const { model, classes } = await store.createModel('m', ['a', 'b']);
    await expect(store.deleteClass(classes[0].id)).rejects.toThrow(/at least 2 classes/);
    for (let i = 2; i < MAX_CLASSES; i++) await store.addClass(model.id, `class ${i}`);
    await expect(store.addClass(model.id, 'one more')).rejects.toThrow(/at most 20 classes/);
    await expect(store.addClass(model.id, '   ')).rejects.toThrow(TeachStoreError);
    await expect(store.renameClass(classes[0].id, 'B')).rejects.toThrow(/already a class named "B"/);
    expect((await store.listClasses(model.id)).length).toBe(MAX_CLASSES);
    expect((await store.listClasses(model.id))[0].name).toBe('a');
  });

  it('names the unknown id', async () => {
    const { store } = await freshStore();
    await expect(store.renameClass('nope', 'x')).rejects.toThrow(/class nope does not exist/);
    await expect(store.addExample('nope', image(0))).rejects.toThrow(/class nope does not exist/);
  });
});

describe('TeachStore examples and features', () => {
  it('adds, lists in order and deletes examples; refuses wrong sizes', async () => {
    const { store } = await freshStore();
    const { model, classes } = await store.createModel('m', ['a', 'b']);
    const added = await store.addExamples(classes[1].id, [image(1), image(2), image(3)]);
    expect((await store.listExamples(classes[1].id)).map((e) => e.id)).toEqual(added.map((e) => e.id));
    await store.deleteExample(added[1].id);
    expect((await store.listExamples(classes[1].id)).map((e) => e.bytes)).toEqual([image(1), image(3)]);
    expect(await store.countExamples(classes[1].id)).toBe(2);
    await expect(store.addExamples(classes[0].id, [image(4), new Uint8Array(100)])).rejects.toThrow(/example 1: expected a 32×32×3 image of 3072 bytes, got 100/);
    expect(await store.countExamples(classes[0].id)).toBe(0);
    expect((await store.listModelExamples(model.id)).length).toBe(2);
  });

  it('returns cached features only for the backbone fingerprint they were computed with', async () => {
    const { store } = await freshStore();
    const { classes } = await store.createModel('m', ['a', 'b']);
    const [e1, e2] = await store.addExamples(classes[0].id, [image(1), image(2)]);
    expect((await store.getFeatures([e1.id, e2.id], 'fp1')).size).toBe(0);
    await store.putFeatures([{ id: e1.id, features: Float32Array.of(1, 2, 3) }], 'fp1');
    const got = await store.getFeatures([e1.id, e2.id], 'fp1');
    expect([...got.keys()]).toEqual([e1.id]);
    expect(got.get(e1.id)).toEqual(Float32Array.of(1, 2, 3));
    // Another backbone: the cache does not apply; caching for it replaces the old features.
    expect((await store.getFeatures([e1.id], 'fp2')).size).toBe(0);
    await store.putFeatures([{ id: e1.id, features: Float32Array.of(9) }], 'fp2');
    expect((await store.getFeatures([e1.id], 'fp1')).size).toBe(0);
    expect((await store.getFeatures([e1.id], 'fp2')).get(e1.id)).toEqual(Float32Array.of(9));
    // The example's bytes are untouched by feature writes.
    expect((await store.listExamples(classes[0].id))[0].bytes).toEqual(image(1));
  });

  it('keeps settings', async () => {
    const { store } = await freshStore();
    expect(await store.getSetting('activeModel')).toBeUndefined();
    await store.putSetting('activeModel', { id: 'x', threshold: 0.5 });
    expect(await store.getSetting('activeModel')).toEqual({ id: 'x', threshold: 0.5 });
  });
});

describe('TeachStore models', () => {
  it('saves, loads and rolls back model files; refuses a corrupt file', async () => {
    const { store } = await freshStore();
    const { model } = await store.createModel('m', ['a', 'b']);
    expect(await store.loadModel(model.id)).toBeNull();
    const f1 = modelFile(['a', 'b'], 1);
    const f2 = modelFile(['a', 'b'], 2);
    await store.saveModel(model.id, f1);
    await store.saveModel(model.id, f2);
    expect(await store.loadModel(model.id)).toEqual(f2);
    const bad = f2.slice();
    bad[bad.length - 10] ^= 0xff;
    await expect(store.saveModel(model.id, bad)).rejects.toThrow(ModelFileError);
    expect(await store.loadModel(model.id)).toEqual(f2);
    await store.rollBackModel(model.id);
    expect(await store.loadModel(model.id)).toEqual(f1);
    expect((await store.getModel(model.id))?.canRollBack).toBe(true);
  });

  it('deletes a model with its classes and examples, leaving other models alone', async () => {
    const { store } = await freshStore();
    const a = await store.createModel('A', ['a1', 'a2']);
    const b = await store.createModel('B', ['b1', 'b2']);
    await store.addExample(a.classes[0].id, image(1));
    await store.addExample(b.classes[0].id, image(2));
    await store.deleteModel(a.model.id);
    expect((await store.listModels()).map((m) => m.name)).toEqual(['B']);
    const all = (await snapshot(store)) as { classes: unknown[]; examples: unknown[] };
    expect(all.classes.length).toBe(2);
    expect(all.examples.length).toBe(1);
  });

  it('a write that fails mid-transaction leaves the previous state', async () => {
    const { store } = await freshStore();
    const { model, classes } = await store.createModel('m', ['a', 'b']);
    await store.addExamples(classes[0].id, [image(1), image(2), image(3)]);
    const before = await snapshot(store);
    // Fault injection: the third add of the next transaction throws, after two adds succeeded.
    const realAdd = FakeObjectStore.prototype.add;
    let calls = 0;
    FakeObjectStore.prototype.add = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['add']>) {
      if (++calls === 3) throw new DOMException('simulated crash', 'UnknownError');
      return realAdd.apply(this, args);
    };
    try {
      await expect(store.addExamples(classes[1].id, [image(4), image(5), image(6)])).rejects.toThrow(/simulated crash/);
      calls = 0;
      await expect(store.addClass(model.id, 'c')).resolves.toBeTruthy();
    } finally {
      FakeObjectStore.prototype.add = realAdd;
    }
    const after = (await snapshot(store)) as { classes: { name: string }[]; examples: unknown[] };
    // The failed batch left nothing; the next, successful write went through.
    expect(after.examples).toEqual((before as { examples: unknown[] }).examples);
    expect(after.classes.map((c) => c.name).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('export and import', () => {
  it('round-trips a model with its classes and examples into a new model', async () => {
    const { store } = await freshStore();
    const { model, classes } = await store.createModel('pets', ['cat', 'dog', 'fish']);
    await store.addExamples(classes[0].id, [image(1), image(2)]);
    await store.addExamples(classes[2].id, [image(3)]);
    const file = modelFile(['cat', 'dog', 'fish']);
    await store.saveModel(model.id, file);
    const bundle = await store.exportModel(model.id);

    const { store: other } = await freshStore();
    const imported = await other.importModel(bundle);
    expect(imported).toMatchObject({ name: 'pets', trained: true });
    expect(await other.loadModel(imported.id)).toEqual(file);
    const cls = await other.listClasses(imported.id);
    expect(cls.map((c) => c.name)).toEqual(['cat', 'dog', 'fish']);
    expect((await other.listExamples(cls[0].id)).map((e) => e.bytes)).toEqual([image(1), image(2)]);
    expect(await other.countExamples(cls[1].id)).toBe(0);
    expect((await other.listExamples(cls[2].id)).map((e) => e.bytes)).toEqual([image(3)]);
  });

  it('refuses damaged bundles with a message naming the problem and changes nothing', async () => {
    const { store } = await freshStore();
    const { model, classes } = await store.createModel('pets', ['cat', 'dog']);
    await store.addExamples(classes[0].id, [image(1), image(2)]);
    await store.saveModel(model.id, modelFile(['cat', 'dog']));
    const good = await store.exportModel(model.id);
    await store.addExample(classes[1].id, image(9));
    const before = await snapshot(store);

    const flipped = good.slice();
    flipped[good.length - 100] ^= 1;
    await expect(store.importModel(flipped)).rejects.toThrow(/checksum mismatch/);
    await expect(store.importModel(good.subarray(0, good.length - 5))).rejects.toThrow(/truncated/);
    await expect(store.importModel(new TextEncoder().encode('{"not":"a bundle"}'))).rejects.toThrow(/not a teach bundle/);
    await expect(store.importModel(modelFile(['a', 'b']))).rejects.toThrow(BundleError);
    expect(await snapshot(store)).toEqual(before);
    // The valid bundle still imports.
    expect(decodeBundle(good).classes.map((c) => c.examples.length)).toEqual([2, 0]);
  });

  it('an import whose write fails halfway leaves the stored models as they were', async () => {
    const { store } = await freshStore();
    const { classes } = await store.createModel('pets', ['cat', 'dog']);
    await store.addExamples(classes[0].id, [image(1), image(2), image(3)]);
    const bundle = await store.exportModel(classes[0].modelId);
    const before = await snapshot(store);
    const realAdd = FakeObjectStore.prototype.add;
    let calls = 0;
    FakeObjectStore.prototype.add = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['add']>) {
      // model, 2 classes, then the examples: fail on the second example.
      if (++calls === 5) throw new DOMException('simulated quota', 'QuotaExceededError');
      return realAdd.apply(this, args);
    };
    try {
      await expect(store.importModel(bundle)).rejects.toThrow(/storage is full.*nothing was changed/);
    } finally {
      FakeObjectStore.prototype.add = realAdd;
    }
    expect(calls).toBe(5);
    expect(await snapshot(store)).toEqual(before);
  });
});

describe('importFile and saveTraining', () => {
  it('imports a .cnn file as a model with its labels as classes, a .teach bundle as itself, and refuses anything else naming its first bytes', async () => {
    const { store } = await freshStore();
    const file = modelFile(['mug', 'plant', 'keys']);
    const imported = await store.importFile(file, 'desk.cnn');
    expect(imported).toMatchObject({ name: 'test', trained: true, canRollBack: false });
    expect((await store.listClasses(imported.id)).map((c) => c.name)).toEqual(['mug', 'plant', 'keys']);
    expect(await store.loadModel(imported.id)).toEqual(file);

    const bundle = await store.exportModel(imported.id);
    const again = await store.importFile(bundle);
    expect((await store.listClasses(again.id)).map((c) => c.name)).toEqual(['mug', 'plant', 'keys']);

    const before = await snapshot(store);
    await expect(store.importFile(new TextEncoder().encode('hello'))).rejects.toThrow(/starts with 68 65 6c 6c 6f/);
    await expect(store.importFile(new Uint8Array(0))).rejects.toThrow(/empty file/);
    const damaged = file.slice();
    damaged[damaged.length - 30] ^= 4;
    await expect(store.importFile(damaged)).rejects.toThrow(ModelFileError);
    await expect(store.importFile(modelFile(['only']))).rejects.toThrow(/2 to 20 classes, got 1/);
    await expect(store.importFile(modelFile(['a', 'A']))).rejects.toThrow(/already a class named/);
    expect(await snapshot(store)).toEqual(before);
  });

  it('saveTraining stores the file and the features in one transaction; a failure keeps both', async () => {
    const { store } = await freshStore();
    const { model, classes } = await store.createModel('m', ['a', 'b']);
    const [e1, e2] = await store.addExamples(classes[0].id, [image(1), image(2)]);
    const first = modelFile(['a', 'b'], 1);
    await store.saveTraining(model.id, first, [{ id: e1.id, features: Float32Array.of(1, 2) }], 'fp1');
    expect(await store.loadModel(model.id)).toEqual(first);
    expect([...(await store.getFeatures([e1.id, e2.id], 'fp1')).keys()]).toEqual([e1.id]);

    const before = await snapshot(store);
    const realPut = FakeObjectStore.prototype.put;
    let calls = 0;
    FakeObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      // The model record is written, then the first feature write fails.
      if (++calls === 2) throw new DOMException('simulated quota', 'QuotaExceededError');
      return realPut.apply(this, args);
    };
    try {
      await expect(store.saveTraining(model.id, modelFile(['a', 'b'], 2), [{ id: e2.id, features: Float32Array.of(3) }], 'fp2')).rejects.toThrow(/storage is full/);
    } finally {
      FakeObjectStore.prototype.put = realPut;
    }
    expect(await snapshot(store)).toEqual(before);
    await expect(store.saveTraining(model.id, new Uint8Array(10), [], 'fp')).rejects.toThrow(ModelFileError);
    expect(await snapshot(store)).toEqual(before);
  });
});

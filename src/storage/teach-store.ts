// TeachStore: the typed API over the IndexedDB schema — models the user teaches, their classes,
// examples with cached backbone features, and settings. Every operation that changes more than
// one record runs in one readwrite transaction, and any failure aborts it, so a crash, a closed
// tab or a quota error mid-write leaves the previous state.
import { decodeModel, MAGIC as MODEL_MAGIC } from '../engine/format/native.ts';
import { BUNDLE_MAGIC, decodeBundle, encodeBundle, type Bundle } from './bundle.ts';
import { MAX_CLASSES, MAX_EXAMPLES_PER_CLASS, MIN_CLASSES, checkClassName } from './limits.ts';
import { EXAMPLE_BYTES, openTeachDb, type ClassRecord, type ExampleRecord, type ModelRecord, type TeachDb, type TeachSchema } from './schema.ts';
import type { IDBPObjectStore, IDBPTransaction, StoreNames } from 'idb';

/** A request the store refuses (a limit, an unknown id, a bad value); nothing was written. */
export class TeachStoreError extends Error {
  override name = 'TeachStoreError';
}

type Stores = StoreNames<TeachSchema>;
type WriteTx<S extends Stores[]> = IDBPTransaction<TeachSchema, S, 'readwrite'>;

/** A model without its files: `stale` when its classes or examples changed after the training. */
export type ModelInfo = Omit<ModelRecord, 'file' | 'previousFile'> & { trained: boolean; canRollBack: boolean; stale: boolean };

export class TeachStore {
  private constructor(readonly db: TeachDb) {}

  static async open(name?: string): Promise<TeachStore> {
    return new TeachStore(await openTeachDb(name));
  }

  close(): void {
    this.db.close();
  }

  // --- models ---

  /** Creates an untrained model with its first classes (MIN_CLASSES..MAX_CLASSES names). */
  async createModel(name: string, classNames: string[]): Promise<{ model: ModelInfo; classes: ClassRecord[] }> {
    const modelName = checkModelName(name);
    checkClassCount(classNames.length, 'a new model');
    const taken = new Set<string>();
    for (const n of classNames) {
      const problem = checkClassName(n, taken);
      if (problem) throw new TeachStoreError(problem);
      taken.add(n.trim().toLowerCase());
    }
    const now = new Date().toISOString();
    const model: ModelRecord = { id: newId(), name: modelName, created: now, updated: now, file: null, previousFile: null, edited: now, trainedAt: null };
    const classes = classNames.map((n, order): ClassRecord => ({ id: newId(), modelId: model.id, name: n.trim(), order }));
    await this.write(['models', 'classes'], async (tx) => {
      await tx.objectStore('models').add(model);
      for (const c of classes) await tx.objectStore('classes').add(c);
    });
    return { model: modelInfo(model), classes };
  }

  async listModels(): Promise<ModelInfo[]> {
    const all = await this.db.getAllFromIndex('models', 'byUpdated');
    return all.reverse().map(modelInfo);
  }

  async getModel(id: string): Promise<ModelInfo | null> {
    const m = await this.db.get('models', id);
    return m ? modelInfo(m) : null;
  }

  async renameModel(id: string, name: string): Promise<void> {
    const modelName = checkModelName(name);
    await this.write(['models'], async (tx) => {
      const m = await requireRecord(tx.objectStore('models').get(id), `model ${id}`);
      await tx.objectStore('models').put({ ...m, name: modelName, updated: new Date().toISOString() });
    });
  }

  /** Deletes a model with all its classes and examples. */
  async deleteModel(id: string): Promise<void> {
    await this.write(['models', 'classes', 'examples'], async (tx) => {
      await requireRecord(tx.objectStore('models').get(id), `model ${id}`);
      for (const key of await tx.objectStore('examples').index('byModel').getAllKeys(id)) await tx.objectStore('examples').delete(key);
      for (const key of await tx.objectStore('classes').index('byModel').getAllKeys(id)) await tx.objectStore('classes').delete(key);
      await tx.objectStore('models').delete(id);
    });
  }

  /**
   * Stores a trained model's .cnn file (checked by decoding it first; a bad file throws
   * ModelFileError and changes nothing). The file it replaces is kept for rollBackModel.
   */
  async saveModel(id: string, file: Uint8Array): Promise<void> {
    decodeModel(file);
    const copy = file.slice();
    await this.write(['models'], async (tx) => {
      const m = await requireRecord(tx.objectStore('models').get(id), `model ${id}`);
      const now = new Date().toISOString();
      await tx.objectStore('models').put({ ...m, file: copy, previousFile: m.file, updated: now, trainedAt: now });
    });
  }

  /**
   * Stores a training's result in one transaction: the .cnn file (as saveModel) and the features
   * computed for `fingerprint` (as putFeatures). A failure leaves both the previous file and cache.
   */
  async saveTraining(id: string, file: Uint8Array, computed: { id: string; features: Float32Array }[], fingerprint: string): Promise<void> {
    decodeModel(file);
    if (typeof fingerprint !== 'string' || fingerprint === '') throw new TeachStoreError('saveTraining: a backbone fingerprint is required');
    const copy = file.slice();
    await this.write(['models', 'examples'], async (tx) => {
      const m = await requireRecord(tx.objectStore('models').get(id), `model ${id}`);
      const now = new Date().toISOString();
      await tx.objectStore('models').put({ ...m, file: copy, previousFile: m.file, updated: now, trainedAt: now });
      for (const { id: exampleId, features } of computed) {
        const e = await tx.objectStore('examples').get(exampleId);
        if (e) await tx.objectStore('examples').put({ ...e, features: features.slice(), fingerprint });
      }
    });
  }

  /** The model's .cnn file, or null when it has not been trained yet. */
  async loadModel(id: string): Promise<Uint8Array | null> {
    const m = await this.db.get('models', id);
    if (!m) throw new TeachStoreError(`model ${id} does not exist`);
    return m.file;
  }

  /** Goes back to the file saved before the current one (swapping the two). */
  async rollBackModel(id: string): Promise<void> {
    await this.write(['models'], async (tx) => {
      const m = await requireRecord(tx.objectStore('models').get(id), `model ${id}`);
      if (!m.previousFile) throw new TeachStoreError(`model "${m.name}" has no earlier training to go back to`);
      const now = new Date().toISOString();
      await tx.objectStore('models').put({ ...m, file: m.previousFile, previousFile: m.file, updated: now, trainedAt: now });
    });
  }

  // --- classes ---

  /** The model's classes in order. */
  async listClasses(modelId: string): Promise<ClassRecord[]> {
    const all = await this.db.getAllFromIndex('classes', 'byModel', modelId);
    return all.sort((a, b) => a.order - b.order);
  }

  async addClass(modelId: string, name: string): Promise<ClassRecord> {
    let record: ClassRecord | null = null;
    await this.write(['models', 'classes'], async (tx) => {
      await requireRecord(tx.objectStore('models').get(modelId), `model ${modelId}`);
      const classes = await tx.objectStore('classes').index('byModel').getAll(modelId);
      if (classes.length >= MAX_CLASSES) throw new TeachStoreError(`a model has at most ${MAX_CLASSES} classes; delete one before adding "${name.trim()}"`);
      const problem = checkClassName(name, new Set(classes.map((c) => c.name.toLowerCase())));
      if (problem) throw new TeachStoreError(problem);
      record = { id: newId(), modelId, name: name.trim(), order: classes.length };
      await tx.objectStore('classes').add(record);
      await touchModel(tx.objectStore('models'), modelId);
    });
    return record!;
  }

  async renameClass(id: string, name: string): Promise<void> {
    await this.write(['models', 'classes'], async (tx) => {
      const c = await requireRecord(tx.objectStore('classes').get(id), `class ${id}`);
      const others = (await tx.objectStore('classes').index('byModel').getAll(c.modelId)).filter((o) => o.id !== id);
      const problem = checkClassName(name, new Set(others.map((o) => o.name.toLowerCase())));
      if (problem) throw new TeachStoreError(problem);
      await tx.objectStore('classes').put({ ...c, name: name.trim() });
      await touchModel(tx.objectStore('models'), c.modelId);
    });
  }

  /** Deletes a class and its examples; the remaining classes keep their order, renumbered densely. */
  async deleteClass(id: string): Promise<void> {
    await this.write(['models', 'classes', 'examples'], async (tx) => {
      const c = await requireRecord(tx.objectStore('classes').get(id), `class ${id}`);
      const classes = (await tx.objectStore('classes').index('byModel').getAll(c.modelId)).sort((a, b) => a.order - b.order);
      if (classes.length <= MIN_CLASSES) throw new TeachStoreError(`a model needs at least ${MIN_CLASSES} classes; add another before deleting "${c.name}"`);
      for (const key of await tx.objectStore('examples').index('byClass').getAllKeys(id)) await tx.objectStore('examples').delete(key);
      await tx.objectStore('classes').delete(id);
      let order = 0;
      for (const o of classes) {
        if (o.id === id) continue;
        if (o.order !== order) await tx.objectStore('classes').put({ ...o, order });
        order++;
      }
      await touchModel(tx.objectStore('models'), c.modelId);
    });
  }

  // --- examples ---

  /** Adds 32×32×3 images to a class, all or none. */
  async addExamples(classId: string, images: Uint8Array[]): Promise<ExampleRecord[]> {
    images.forEach((bytes, i) => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== EXAMPLE_BYTES) {
        throw new TeachStoreError(`example ${i}: expected a 32×32×3 image of ${EXAMPLE_BYTES} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
      }
    });
    const records: ExampleRecord[] = [];
    await this.write(['models', 'classes', 'examples'], async (tx) => {
      const c = await requireRecord(tx.objectStore('classes').get(classId), `class ${classId}`);
      const have = await tx.objectStore('examples').index('byClass').count(classId);
      if (have + images.length > MAX_EXAMPLES_PER_CLASS) {
        throw new TeachStoreError(`class "${c.name}" has ${have} examples; adding ${images.length} would exceed the limit of ${MAX_EXAMPLES_PER_CLASS}`);
      }
      // One millisecond apart, so a batch keeps its order when listed by creation time.
      const now = Date.now();
      for (const [i, bytes] of images.entries()) {
        const created = new Date(now + i).toISOString();
        const r: ExampleRecord = { id: newId(), classId, modelId: c.modelId, bytes: bytes.slice(), created, features: null, fingerprint: null };
        await tx.objectStore('examples').add(r);
        records.push(r);
      }
      await touchModel(tx.objectStore('models'), c.modelId);
    });
    return records;
  }

  async addExample(classId: string, bytes: Uint8Array): Promise<ExampleRecord> {
    return (await this.addExamples(classId, [bytes]))[0];
  }

  async deleteExample(id: string): Promise<void> {
    await this.write(['models', 'examples'], async (tx) => {
      const e = await requireRecord(tx.objectStore('examples').get(id), `example ${id}`);
      await tx.objectStore('examples').delete(id);
      await touchModel(tx.objectStore('models'), e.modelId);
    });
  }

  /** Examples of one class, oldest first. */
  async listExamples(classId: string): Promise<ExampleRecord[]> {
    return sortByCreated(await this.db.getAllFromIndex('examples', 'byClass', classId));
  }

  /** Every example of a model, oldest first. */
  async listModelExamples(modelId: string): Promise<ExampleRecord[]> {
    return sortByCreated(await this.db.getAllFromIndex('examples', 'byModel', modelId));
  }

  async countExamples(classId: string): Promise<number> {
    return this.db.countFromIndex('examples', 'byClass', classId);
  }

  // --- cached features ---

  /**
   * Cached features of the given examples that were computed by the backbone `fingerprint`;
   * examples cached for another backbone (or none) are missing from the map.
   */
  async getFeatures(ids: string[], fingerprint: string): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const tx = this.db.transaction('examples', 'readonly');
    for (const id of ids) {
      const e = await tx.store.get(id);
      if (e?.features && e.fingerprint === fingerprint) out.set(id, e.features);
    }
    await tx.done;
    return out;
  }

  /** Caches features for `fingerprint`, replacing features of any other backbone. Unknown ids are skipped (deleted meanwhile). */
  async putFeatures(entries: { id: string; features: Float32Array }[], fingerprint: string): Promise<void> {
    if (typeof fingerprint !== 'string' || fingerprint === '') throw new TeachStoreError('putFeatures: a backbone fingerprint is required');
    await this.write(['examples'], async (tx) => {
      for (const { id, features } of entries) {
        const e = await tx.objectStore('examples').get(id);
        if (e) await tx.objectStore('examples').put({ ...e, features: features.slice(), fingerprint });
      }
    });
  }

  // --- settings ---

  async getSetting<T>(key: string): Promise<T | undefined> {
    return (await this.db.get('settings', key))?.value as T | undefined;
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    await this.write(['settings'], async (tx) => {
      await tx.objectStore('settings').put({ key, value });
    });
  }

  // --- export and import ---

  /** The model, its classes and examples as one .teach file (see bundle.ts). */
  async exportModel(modelId: string): Promise<Uint8Array> {
    const tx = this.db.transaction(['models', 'classes', 'examples'], 'readonly');
    const m = await requireRecord(tx.objectStore('models').get(modelId), `model ${modelId}`);
    const classes = (await tx.objectStore('classes').index('byModel').getAll(modelId)).sort((a, b) => a.order - b.order);
    const bundle: Bundle = { name: m.name, created: m.created, file: m.file, classes: [] };
    for (const c of classes) {
      const examples = sortByCreated(await tx.objectStore('examples').index('byClass').getAll(c.id));
      bundle.classes.push({ name: c.name, examples: examples.map((e) => ({ bytes: e.bytes, created: e.created })) });
    }
    await tx.done;
    return encodeBundle(bundle);
  }

  /**
   * Imports a .teach file as a new model. The whole file is validated first (BundleError or
   * ModelFileError name the problem) and then written in one transaction: a bad file or a failed
   * write leaves the stored models exactly as they were. Returns the new model.
   */
  async importModel(bytes: Uint8Array): Promise<ModelInfo> {
    const bundle = decodeBundle(bytes);
    for (const c of bundle.classes) {
      if (c.examples.length > MAX_EXAMPLES_PER_CLASS) throw new TeachStoreError(`class "${c.name}" has ${c.examples.length} examples, more than the limit of ${MAX_EXAMPLES_PER_CLASS}`);
    }
    const now = new Date().toISOString();
    const model: ModelRecord = { id: newId(), name: bundle.name.trim(), created: bundle.created, updated: now, file: bundle.file, previousFile: null, edited: now, trainedAt: bundle.file ? now : null };
    await this.write(['models', 'classes', 'examples'], async (tx) => {
      await tx.objectStore('models').add(model);
      for (const [order, c] of bundle.classes.entries()) {
        const cls: ClassRecord = { id: newId(), modelId: model.id, name: c.name.trim(), order };
        await tx.objectStore('classes').add(cls);
        for (const e of c.examples) {
          await tx.objectStore('examples').add({ id: newId(), classId: cls.id, modelId: model.id, bytes: e.bytes, created: e.created, features: null, fingerprint: null });
        }
      }
    });
    return modelInfo(model);
  }

  /**
   * Imports a .cnn model file (classes from its labels, no examples) as a new model. The file is
   * decoded and checked first; a bad one throws (ModelFileError or TeachStoreError) and nothing is
   * written.
   */
  async importModelFile(bytes: Uint8Array, fallbackName = 'imported model'): Promise<ModelInfo> {
    const { model, meta } = decodeModel(bytes);
    const { input, labels } = model.spec;
    if (input.height !== 32 || input.width !== 32 || input.channels !== 3) {
      throw new TeachStoreError(`the model takes ${input.height}×${input.width}×${input.channels} images; this app feeds it 32×32×3`);
    }
    checkClassCount(labels.length, 'an imported model');
    const taken = new Set<string>();
    for (const n of labels) {
      const problem = checkClassName(n, taken);
      if (problem) throw new TeachStoreError(`label ${JSON.stringify(n)}: ${problem}`);
      taken.add(n.trim().toLowerCase());
    }
    const now = new Date().toISOString();
    const name = (meta.name ?? '').trim().slice(0, 80) || fallbackName;
    const record: ModelRecord = { id: newId(), name, created: meta.created ?? now, updated: now, file: bytes.slice(), previousFile: null, edited: now, trainedAt: now };
    await this.write(['models', 'classes'], async (tx) => {
      await tx.objectStore('models').add(record);
      for (const [order, n] of labels.entries()) await tx.objectStore('classes').add({ id: newId(), modelId: record.id, name: n.trim(), order });
    });
    return modelInfo(record);
  }

  /** Imports a .teach bundle or a .cnn model file, told apart by their first bytes. */
  async importFile(bytes: Uint8Array, fallbackName?: string): Promise<ModelInfo> {
    const starts = (magic: Uint8Array): boolean => bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
    if (starts(BUNDLE_MAGIC)) return this.importModel(bytes);
    if (starts(MODEL_MAGIC)) return this.importModelFile(bytes, fallbackName);
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new TeachStoreError(`not a model file: it starts with ${head || 'nothing (empty file)'}, neither a .cnn model (89 43 4e 4e …) nor a .teach bundle (89 54 43 48 …)`);
  }

  /**
   * Runs `body` in one readwrite transaction over `stores`. If it throws (or a request fails),
   * the transaction is aborted so none of its writes land; a quota error becomes a clear message.
   */
  private async write<S extends Stores[]>(stores: S, body: (tx: WriteTx<S>) => Promise<void>): Promise<void> {
    const tx = this.db.transaction(stores, 'readwrite');
    try {
      await body(tx);
      await tx.done;
    } catch (err) {
      try {
        tx.abort();
      } catch {
        // Already finished or aborted by the failed request.
      }
      await tx.done.catch(() => undefined);
      if (err instanceof Error && err.name === 'QuotaExceededError') {
        throw new TeachStoreError('storage is full: the browser refused to store more (nothing was changed); delete examples or models to make room');
      }
      throw err;
    }
  }
}

function modelInfo(m: ModelRecord): ModelInfo {
  const { file, previousFile, ...rest } = m;
  return { ...rest, trained: file !== null, canRollBack: previousFile !== null, stale: file !== null && rest.trainedAt !== null && rest.edited > rest.trainedAt };
}

function checkModelName(name: string): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed === '') throw new TeachStoreError('a model name must not be empty');
  if (trimmed.length > 80) throw new TeachStoreError(`model name is ${trimmed.length} characters, at most 80 are allowed`);
  return trimmed;
}

function checkClassCount(n: number, what: string): void {
  if (n < MIN_CLASSES || n > MAX_CLASSES) throw new TeachStoreError(`${what} needs ${MIN_CLASSES} to ${MAX_CLASSES} classes, got ${n}`);
}

async function requireRecord<T>(request: Promise<T | undefined>, what: string): Promise<T> {
  const r = await request;
  if (r === undefined) throw new TeachStoreError(`${what} does not exist`);
  return r;
}

/** Marks the model as changed (models are listed most recently changed first). */
async function touchModel(store: IDBPObjectStore<TeachSchema, ArrayLike<Stores>, 'models', 'readwrite'>, modelId: string): Promise<void> {
  const m = await store.get(modelId);
  if (!m) return;
  const now = new Date().toISOString();
  await store.put({ ...m, updated: now, edited: now });
}

function sortByCreated(list: ExampleRecord[]): ExampleRecord[] {
  return list.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

function newId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

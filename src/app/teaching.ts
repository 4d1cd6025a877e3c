// What the teaching panel does, without the panel: which model the worker serves (the default one
// or one the user taught), and a training run from the stored classes and examples to the stored,
// serving result. Plain TypeScript over TeachStore and the worker's API, so it runs in Node
// against an EngineHost as well as in the page against the Comlink proxy.
import type { ExampleRecord } from '../storage/schema.ts';
import type { ModelInfo, TeachStore } from '../storage/teach-store.ts';
import type { BackendChoice, CompressionResult, DenseEncodingChoice, EngineInfo, ModelSummary, TeachOptions, TeachProgress, TeachResult } from '../worker-api.ts';

/** The part of the worker's API teaching uses (EngineApi, or a wrapper of its Comlink proxy). */
export interface TeachEngine {
  loadDefault(backend?: BackendChoice): Promise<EngineInfo>;
  loadFile(file: Uint8Array, options?: { name?: string; trained?: boolean; source?: ModelSummary['source'] }): Promise<ModelSummary>;
  train(classes: { id: string; name: string }[], examples: { id: string; classId: string; bytes: Uint8Array; features?: Float32Array | null; fingerprint?: string | null }[], onProgress?: (p: TeachProgress) => void, options?: TeachOptions): Promise<TeachResult>;
  cancelTraining(): Promise<boolean>;
  info(): Promise<EngineInfo>;
  measureCompression?(classes: { id: string; name: string }[], examples: { id: string; classId: string; bytes: Uint8Array; features?: Float32Array | null; fingerprint?: string | null }[], sparsity: number, encoding: DenseEncodingChoice): Promise<CompressionResult>;
}

/** The setting under which the active model's id is kept (absent or null: the default model). */
export const ACTIVE_MODEL_SETTING = 'activeModel';
/** Set once the app has asked the browser to keep its storage (asked at the first training). */
export const PERSIST_ASKED_SETTING = 'persistAsked';

/** What a class needs before training can start, or null when the model can be trained. */
export function trainingBlocker(classes: { name: string; count: number }[]): string | null {
  if (classes.length < 2) return `training needs at least 2 classes; this model has ${classes.length}`;
  const empty = classes.filter((c) => c.count === 0).map((c) => `“${c.name}”`);
  if (empty.length) return `every class needs at least one example; add some to ${empty.join(', ')}`;
  return null;
}


export class Teaching {
  constructor(
    readonly store: TeachStore,
    private readonly engine: TeachEngine,
  ) {}

  /** The stored active model's id, or null for the default model (also when it was deleted). */
  async activeModelId(): Promise<string | null> {
    const id = await this.store.getSetting<string | null>(ACTIVE_MODEL_SETTING);
    if (typeof id !== 'string') return null;
    return (await this.store.getModel(id)) ? id : null;
  }

  /**
   * Makes `id` the active model (null: the default model) and has the worker serve it: a trained
   * model's file, or the default model for the default and for models not trained yet. When the
   * worker refuses the file, the setting is not changed and the error is thrown.
   */
  async activate(id: string | null, backend?: BackendChoice): Promise<{ info: EngineInfo; model: ModelInfo | null }> {
    let model: ModelInfo | null = null;
    if (id === null) {
      await this.engine.loadDefault(backend);
    } else {
      model = await this.store.getModel(id);
      if (!model) throw new Error(`model ${id} no longer exists`);
      const file = await this.store.loadModel(id);
      const current = await this.engine.info();
      if (file) await this.engine.loadFile(file, { name: model.name, source: 'trained' });
      else if (current.model?.source !== 'default-file' && current.model?.source !== 'built-in') await this.engine.loadDefault(backend);
    }
    await this.store.putSetting(ACTIVE_MODEL_SETTING, id);
    return { info: await this.engine.info(), model };
  }

  /**
   * Trains model `id` on its stored classes and examples (features cached in the store are
   * reused), stores the result and its new features in one transaction, and leaves the worker
   * serving it. Rejects (storing nothing) when canceled or refused.
   */
  async train(id: string, onProgress?: (p: TeachProgress) => void, options: TeachOptions = {}): Promise<TeachResult> {
    const model = await this.store.getModel(id);
    if (!model) throw new Error(`model ${id} no longer exists`);
    const classes = await this.store.listClasses(id);
    const examples = await this.store.listModelExamples(id);
    const blocker = trainingBlocker(classes.map((c) => ({ name: c.name, count: examples.filter((e) => e.classId === c.id).length })));
    if (blocker) throw new Error(blocker);
    // The worker trains on the backbone of the model it serves (the default model's, which taught
    // models keep), and keeps serving that model until the new one is ready.
    const result = await this.engine.train(
      classes.map((c) => ({ id: c.id, name: c.name })),
      examples.map((e: ExampleRecord) => ({ id: e.id, classId: e.classId, bytes: e.bytes, features: e.features, fingerprint: e.fingerprint })),
      onProgress,
      { name: model.name, ...options },
    );
    await this.store.saveTraining(id, result.file, result.computed, result.fingerprint);
    await this.store.putSetting(ACTIVE_MODEL_SETTING, id);
    return result;
  }

  /**
   * Measures FC compression of taught model `id` (which must be the one serving) on its stored
   * examples' held-out split; stores nothing.
   */
  async measureCompression(id: string, sparsity: number, encoding: DenseEncodingChoice): Promise<CompressionResult> {
    if (!this.engine.measureCompression) throw new Error('this engine cannot measure compression');
    const model = await this.store.getModel(id);
    if (!model) throw new Error(`model ${id} no longer exists`);
    const classes = await this.store.listClasses(id);
    const examples = await this.store.listModelExamples(id);
    return this.engine.measureCompression(
      classes.map((c) => ({ id: c.id, name: c.name })),
      examples.map((e: ExampleRecord) => ({ id: e.id, classId: e.classId, bytes: e.bytes, features: e.features, fingerprint: e.fingerprint })),
      sparsity,
      encoding,
    );
  }

  /**
   * Stores a compressed file as model `id`'s (the previous file is kept for rolling back) and
   * serves it. The store decodes the file first: a bad file changes nothing.
   */
  async applyCompression(id: string, file: Uint8Array): Promise<ModelSummary> {
    const model = await this.store.getModel(id);
    if (!model) throw new Error(`model ${id} no longer exists`);
    await this.store.saveModel(id, file);
    return this.engine.loadFile(file, { name: model.name, source: 'trained' });
  }

  /** What the worker serves now. */
  engineInfo(): Promise<EngineInfo> {
    return this.engine.info();
  }

  /** Cancels the running training (it rejects; nothing is stored); false when none runs. */
  cancel(): Promise<boolean> {
    return this.engine.cancelTraining();
  }

  /** Goes back to the previous training of `id` and serves it. */
  async rollBack(id: string): Promise<ModelSummary> {
    await this.store.rollBackModel(id);
    const file = await this.store.loadModel(id);
    const model = await this.store.getModel(id);
    if (!file || !model) throw new Error(`model ${id} has no training to serve`);
    return this.engine.loadFile(file, { name: model.name, source: 'trained' });
  }
}

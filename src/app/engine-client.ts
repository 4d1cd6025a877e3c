// The page's handle on the engine worker. The page talks to the engine only through this typed
// Comlink proxy; image bytes and probability buffers are transferred, not copied.
import * as Comlink from 'comlink';
import type { EngineApi, Prediction } from '../worker-api.ts';
import type { TeachEngine } from './teaching.ts';

export interface EngineClient {
  api: Comlink.Remote<EngineApi>;
  /**
   * Transfers `bytes` (and `into`, when given) to the worker, detaching them here; the result
   * carries both buffers back (result.bytes, result.probabilities) for reuse.
   */
  predict(bytes: Uint8Array, k?: number, into?: Float32Array): Promise<Prediction>;
  terminate(): void;
}

/**
 * Starts the engine worker. `onError` hears of a worker that failed to load or crashed: calls in
 * progress then never answer, so the page must stop waiting for them.
 */
export function startEngineWorker(onError: (message: string) => void = () => undefined): EngineClient {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
  worker.addEventListener('error', (e) => onError(e.message || 'the engine worker failed to load'));
  worker.addEventListener('messageerror', () => onError('a message from the engine worker could not be read'));
  const api = Comlink.wrap<EngineApi>(worker);
  return {
    api,
    predict: (bytes, k, into) =>
      into ? api.predict(Comlink.transfer(bytes, [bytes.buffer]), k, Comlink.transfer(into, [into.buffer])) : api.predict(Comlink.transfer(bytes, [bytes.buffer]), k),
    terminate: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** Teaching's view of the worker: the progress callback crosses to the worker as a Comlink proxy. */
export function teachEngine(client: EngineClient): TeachEngine {
  const { api } = client;
  return {
    loadDefault: (backend) => api.loadDefault(backend),
    loadFile: (file, options) => api.loadFile(file, options),
    train: (classes, examples, onProgress, options) => api.train(classes, examples, onProgress ? Comlink.proxy(onProgress) : undefined, options),
    cancelTraining: () => api.cancelTraining(),
    info: () => api.info(),
    measureCompression: (classes, examples, sparsity, encoding) => api.measureCompression(classes, examples, sparsity, encoding),
  };
}

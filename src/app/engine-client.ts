// The page's handle on the engine worker. The page talks to the engine only through this typed
// Comlink proxy; image bytes and probability buffers are transferred, not copied.
import * as Comlink from 'comlink';
import type { EngineApi, Prediction } from '../worker-api.ts';

export interface EngineClient {
  api: Comlink.Remote<EngineApi>;
  /**
   * Transfers `bytes` (and `into`, when given) to the worker, detaching them here; the result
   * carries both buffers back (result.bytes, result.probabilities) for reuse.
   */
  predict(bytes: Uint8Array, k?: number, into?: Float32Array): Promise<Prediction>;
  terminate(): void;
}

export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
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

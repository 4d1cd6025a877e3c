// The contestants of the browser benchmark, as they run inside its dedicated worker: this engine on
// WebGL2 (createSession with backend 'webgl'), on its CPU backend with the WebAssembly SIMD kernels
// (CpuSession.create) and with the TypeScript kernels, and TF.js 4.22 on its webgl, wasm and cpu
// backends — all built from the same spec and parameters and fed the same image bytes.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createSession } from '../../src/engine/backend.ts';
import { CpuSession } from '../../src/engine/session.ts';
import type { Model } from '../../src/engine/spec.ts';
import { loadWasmKernels } from '../../src/engine/wasm/load.ts';
import type { WebglSession } from '../../src/engine/webgl/session.ts';
import { buildTfjsModel } from '../bench-tfjs.ts';

export const BROWSER_BACKENDS = ['engine-webgl', 'engine-wasm', 'engine', 'tfjs-webgl', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type BrowserBackendId = (typeof BROWSER_BACKENDS)[number];

/** The model and the images every contestant sees. */
export interface Workload {
  model: Model;
  /** `count` images of H×W×C bytes, back to back. */
  images: Uint8Array;
  count: number;
  image(i: number): Uint8Array;
}

export interface Contestant {
  id: BrowserBackendId;
  /** What computes, e.g. "WebGL2, RGBA32F render targets" or "XNNPACK, SIMD on, 1 thread". */
  runsOn: string;
  /** Makes this contestant's backend the active one (TF.js has one global backend). */
  activate(): Promise<void>;
  /** Probabilities for image i alone (batch 1); may be a buffer that the next call reuses. */
  predictOne(i: number): ArrayLike<number>;
  /** Probabilities for all the workload's images in one batch. */
  predictBatch(): ArrayLike<number>;
  /** Throws if the contestant stopped being what it claims (e.g. frames moved off WebGL). */
  check(): void;
  dispose(): void;
  /** The engine's WebGL session, for the per-pass profile (engine-webgl only). */
  webgl?: WebglSession;
}

/**
 * TF.js settings for this worker, before any backend starts. The page is cross-origin isolated
 * (for a 5 µs timer), which would let tfjs-wasm start a thread pool; an app served without
 * COOP/COEP headers gets one thread, and this engine runs on one, so tfjs-wasm is held to one.
 */
export function configureTfjs(wasmPrefix: string): void {
  tf.enableProdMode();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(wasmPrefix);
}

export function makeWorkload(model: Model, images: Uint8Array): Workload {
  const { height, width, channels } = model.spec.input;
  const size = height * width * channels;
  const count = images.length / size;
  if (!Number.isInteger(count) || count < 1) throw new Error(`workload: ${images.length} bytes is not a whole number of ${size}-byte images`);
  const views = Array.from({ length: count }, (_, i) => images.subarray(i * size, (i + 1) * size));
  return { model, images, count, image: (i) => views[i % count] };
}

async function tfjsContestant(id: 'tfjs-webgl' | 'tfjs-wasm' | 'tfjs-cpu', w: Workload): Promise<Contestant> {
  const name = id.slice('tfjs-'.length);
  if (!(await tf.setBackend(name))) throw new Error(`${id}: TF.js backend "${name}" failed to initialise`);
  const model = buildTfjsModel(w.model.spec, w.model.params);
  let runsOn: string;
  if (name === 'webgl') {
    runsOn = `WebGL ${tf.env().getNumber('WEBGL_VERSION')}, ${tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') ? 'float32' : 'float16'} textures`;
  } else if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = getThreadsCount();
    runsOn = `XNNPACK, SIMD ${simd ? 'on' : 'off'}, ${threads} thread${threads === 1 ? '' : 's'}`;
  } else {
    runsOn = 'plain JavaScript';
  }
  return {
    id,
    runsOn,
    activate: async () => {
      if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`${id}: switching TF.js to "${name}" failed`);
    },
    predictOne: (i) => tf.tidy(() => model.forward(w.image(i), 1).dataSync() as Float32Array),
    predictBatch: () => tf.tidy(() => model.forward(w.images, w.count).dataSync() as Float32Array),
    check: () => {},
    dispose: () => model.dispose(),
  };
}

/** Builds a contestant: everything its first prediction needs except that prediction. */
export async function createContestant(id: BrowserBackendId, w: Workload): Promise<Contestant> {
  switch (id) {
    case 'engine-webgl': {
      let moved: string | null = null;
      const session = await createSession(w.model, {
        backend: 'webgl',
        onBackendChange: (backend, reason) => (moved ??= `${backend} (${reason})`),
      });
      if (session.backend !== 'webgl' || !session.webgl) throw new Error(`engine-webgl: createSession serves ${session.backend}: ${session.reason}`);
      const gl = session.webgl;
      return {
        id,
        runsOn: `WebGL2, ${gl.renderFormat === 'rgba32f' ? 'RGBA32F' : 'RGBA16F'} render targets`,
        activate: async () => {},
        predictOne: (i) => session.predict(w.image(i)),
        predictBatch: () => session.predictBatch(w.images, w.count),
        check: () => {
          if (moved) throw new Error(`engine-webgl: frames moved to ${moved} during the benchmark`);
        },
        dispose: () => session.dispose(),
        webgl: gl,
      };
    }
    case 'engine-wasm': {
      const session = await CpuSession.create(w.model);
      if (session.kernelName !== 'wasm-simd') {
        const why = await loadWasmKernels().then(
          () => 'they load now',
          (e: unknown) => String(e),
        );
        throw new Error(`engine-wasm: CpuSession.create chose the ${session.kernelName} kernels: ${why}`);
      }
      return {
        id,
        runsOn: 'WebAssembly SIMD kernels',
        activate: async () => {},
        predictOne: (i) => session.predict(w.image(i)),
        predictBatch: () => session.predictBatch(w.images, w.count),
        check: () => {},
        dispose: () => session.dispose(),
      };
    }
    case 'engine': {
      const session = new CpuSession(w.model);
      return {
        id,
        runsOn: 'TypeScript kernels',
        activate: async () => {},
        predictOne: (i) => session.predict(w.image(i)),
        predictBatch: () => session.predictBatch(w.images, w.count),
        check: () => {},
        dispose: () => session.dispose(),
      };
    }
    case 'tfjs-webgl':
    case 'tfjs-wasm':
    case 'tfjs-cpu':
      return tfjsContestant(id, w);
  }
}

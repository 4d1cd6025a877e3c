// The API the engine worker exposes through Comlink. The page imports only these types (and
// Comlink), never the engine itself; workers/engine.worker.ts exposes an EngineHost that
// implements this interface.
import type { BackendChoice, BackendName, ModelSpec } from './engine/index.ts';

/** Which backend the user asked for: 'auto' is WebGL2 when it passes its self-test, else the CPU. */
export type { BackendChoice };

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgl', 'cpu'];

export interface ModelSummary {
  name: string;
  /**
   * False for freshly initialised parameters: predictions are then meaningless and the UI must
   * say so.
   */
  trained: boolean;
  /**
   * Where the model came from: the app's default model file, the untrained network built into
   * the worker (used when no default model file is served), or a model handed to load().
   */
  source: 'default-file' | 'built-in' | 'loaded';
  /** Why the built-in network is in use (no file, or what was wrong with it); null otherwise. */
  fallbackReason: string | null;
  input: { height: number; width: number; channels: number };
  labels: string[];
  layers: number;
  params: number;
  /** Multiply-adds for one image. */
  macs: number;
}

export interface TopClass {
  index: number;
  label: string;
  probability: number;
}

export interface Prediction {
  /** One probability per label (softmax of the outputs when the model does not end in softmax). */
  probabilities: Float32Array;
  /** The k most probable classes, most probable first. */
  top: TopClass[];
  /** Time spent in the engine's forward pass, in the worker, in milliseconds. */
  inferenceMs: number;
  /** The backend that computed this prediction (WebGL frames move to the CPU on context loss). */
  backend: BackendName;
  /**
   * The input bytes, transferred back so the caller can reuse the buffer for the next frame
   * (the caller transfers it in, which detaches it on the caller's side).
   */
  bytes: Uint8Array;
}

export interface EngineInfo {
  /** The backend serving predictions now. */
  backend: BackendName;
  /** What was asked for. */
  backendChoice: BackendChoice;
  /** Why this backend serves the frames (a self-test result, a fallback reason, a context loss). */
  backendReason: string;
  model: ModelSummary | null;
}

export interface EngineStats {
  /** predict() calls answered since the worker started. */
  predictions: number;
  /** Sum of their inference times, ms. */
  inferenceMs: number;
}

export interface LoadOptions {
  name?: string;
  /** Whether the parameters come from training; default true. */
  trained?: boolean;
}

export interface EngineApi {
  /**
   * Loads the app's default model (models/default.cnn next to the app) on the chosen backend.
   * When no such file is served, or it cannot be read, the worker falls back to the classic
   * CIFAR-10 network with seeded, untrained parameters and says why in model.fallbackReason.
   * Resolves once the first (warm-up) inference has run.
   */
  loadDefault(backend?: BackendChoice): Promise<EngineInfo>;
  /** Loads a model; the spec is validated against the parameters (ModelError names the problem). */
  load(spec: ModelSpec, params: Float32Array, options?: LoadOptions): Promise<ModelSummary>;
  /**
   * Rebuilds the session of the current model on another backend. 'webgl' when WebGL2 does not
   * work here rejects with the reason and keeps the current session.
   */
  setBackend(backend: BackendChoice): Promise<EngineInfo>;
  /**
   * Classifies one H×W×C byte image (NHWC, as the model's input spec says). `into`, when given,
   * is a buffer of one float per label that the result's probabilities are written to (and which
   * comes back as result.probabilities), so a caller can keep passing the same buffer back and
   * forth instead of receiving a new one each time.
   */
  predict(bytes: Uint8Array, k?: number, into?: Float32Array): Promise<Prediction>;
  info(): Promise<EngineInfo>;
  stats(): Promise<EngineStats>;
}

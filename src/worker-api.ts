// The API the engine worker exposes through Comlink. The page imports only these types (and
// Comlink), never the engine itself; workers/engine.worker.ts exposes an EngineHost that
// implements this interface.
import type { BackendName, ModelSpec } from './engine/index.ts';

export interface ModelSummary {
  name: string;
  /**
   * False for freshly initialised parameters: predictions are then meaningless and the UI must
   * say so.
   */
  trained: boolean;
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
  /**
   * The input bytes, transferred back so the caller can reuse the buffer for the next frame
   * (the caller transfers it in, which detaches it on the caller's side).
   */
  bytes: Uint8Array;
}

export interface EngineInfo {
  backend: BackendName;
  model: ModelSummary | null;
}

export interface LoadOptions {
  name?: string;
  /** Whether the parameters come from training; default true. */
  trained?: boolean;
}

export interface EngineApi {
  /**
   * Loads the default model. Until a trained default model ships with the app this is the
   * classic CIFAR-10 network with freshly initialised (untrained) parameters.
   */
  loadDefault(): Promise<ModelSummary>;
  /** Loads a model; the spec is validated against the parameters (ModelError names the problem). */
  load(spec: ModelSpec, params: Float32Array, options?: LoadOptions): Promise<ModelSummary>;
  /** Classifies one H×W×C byte image (NHWC, as the model's input spec says). */
  predict(bytes: Uint8Array, k?: number): Promise<Prediction>;
  info(): Promise<EngineInfo>;
}

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
  source: 'default-file' | 'built-in' | 'loaded' | 'trained';
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
  /** predictFrame only: time spent reducing the camera frame to `bytes`, in the worker, in ms. */
  sampleMs?: number;
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

/** A class to teach; its position in the list is its output index in the trained model. */
export interface TeachClass {
  id: string;
  name: string;
}

export interface TeachExample {
  id: string;
  classId: string;
  /** One H×W×C image as the model's input spec says (32×32×3), preprocessed like live frames. */
  bytes: Uint8Array;
  /** Features cached from an earlier training (as returned in TeachResult.computed), if any. */
  features?: Float32Array | null;
  /** The backbone fingerprint `features` were computed with; they are used only if it matches. */
  fingerprint?: string | null;
}

export interface TeachOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  /** Train on mirrored and shifted copies too; default true. */
  augment?: boolean;
  /** Hold out a validation split when every class has at least this many examples; default 5. */
  minPerClassForValidation?: number;
  /** Share of each class held out; default 0.2 (at least one example). */
  validationFraction?: number;
  /** Epochs without validation improvement before stopping early; default 10. */
  patience?: number;
  /**
   * With a held-out split: train the head that serves on every example, for the number of
   * epochs the held-out examples chose (default true). The reported held-out accuracy and
   * confusion matrix are those of the head trained without them.
   */
  refit?: boolean;
  /** Name of the trained model; default "taught model". */
  name?: string;
}

export interface TeachProgress {
  /**
   * 'features': computing backbone features (done/total examples); 'training': epochs; 'final':
   * epochs of the head trained on every example after the held-out examples chose their number.
   */
  phase: 'features' | 'training' | 'final';
  done: number;
  total: number;
  epoch: number;
  epochs: number;
  loss: number | null;
  accuracy: number | null;
  validationAccuracy: number | null;
}

export interface TeachResult {
  labels: string[];
  /** Identifies the backbone the features were computed with (store it with the features). */
  fingerprint: string;
  /** Features computed in this call (VIEW_COUNT views × feature size per example), for the caller to cache. */
  computed: { id: string; features: Float32Array }[];
  trainCount: number;
  validationCount: number;
  /** Examples the serving head was trained on: all of them after a refit, else trainCount. */
  finalCount: number;
  epochs: number;
  stopped: 'done' | 'early' | 'canceled';
  loss: number;
  accuracy: number;
  /** Of the returned head on the held-out examples; null without a held-out split. */
  validationAccuracy: number | null;
  /** confusion[true][predicted] counts, on the held-out examples or (without them) the training examples. */
  confusionOn: 'validation' | 'training';
  confusion: number[][];
  scoredAccuracy: number;
  history: { epoch: number; loss: number; accuracy: number; validationAccuracy: number | null }[];
  featureMs: number;
  trainMs: number;
  totalMs: number;
  /** The trained model as a native .cnn file, to store. */
  file: Uint8Array;
  /** The model now serving predictions. */
  summary: ModelSummary;
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
   * Loads a native .cnn model file (a stored or imported taught model). A file that cannot be
   * read rejects with the format's message (ModelFileError) and the current model stays.
   */
  loadFile(file: Uint8Array, options?: LoadOptions & { source?: ModelSummary['source'] }): Promise<ModelSummary>;
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
  /**
   * Classifies a camera frame: reduces the VideoFrame's centre square into `bytes` (side × side × 3,
   * the model's input, as the page's SquareSampler does for photos), closes the frame, and predicts
   * as predict does. The page makes the frame (`new VideoFrame(video)`, no pixels read) and
   * transfers it with the two buffers, so reading the frame's pixels happens here, off the page's
   * main thread. result.bytes are the frame's input bytes. Rejects with an error named
   * FrameSamplingError when this worker cannot reduce frames (the page then samples them itself).
   */
  predictFrame(frame: VideoFrame, bytes: Uint8Array, k?: number, into?: Float32Array): Promise<Prediction>;
  info(): Promise<EngineInfo>;
  stats(): Promise<EngineStats>;
  /**
   * Trains a new final dense layer for `classes` on `examples`, keeping the current model's
   * backbone frozen, and then serves predictions with it. Predictions keep being answered (by
   * the previous model) while it trains. `onProgress` (a Comlink.proxy) hears of each feature
   * batch and epoch. Rejects when canceled (cancelTraining), when a training is already running,
   * or when the request is invalid (the message says what is wrong).
   */
  train(classes: TeachClass[], examples: TeachExample[], onProgress?: (p: TeachProgress) => void, options?: TeachOptions): Promise<TeachResult>;
  /** Cancels the running training (it rejects and the current model stays); false if none runs. */
  cancelTraining(): Promise<boolean>;
}

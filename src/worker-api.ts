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
  /**
   * When a maps buffer was handed in: every layer's output of this same forward pass (and a
   * readout head's features), laid out as InsideInfo.layout says, transferred back for reuse.
   */
  maps?: Float32Array;
}

/** One layer as the inside view shows it. */
export interface InsideLayer {
  index: number;
  name: string;
  kind: string;
  outputShape: [number, number, number];
  params: number;
  macs: number;
  /** Where its output starts in Prediction.maps, and how many floats it has. */
  offset: number;
  size: number;
}

export interface InsideInfo {
  layers: InsideLayer[];
  /** The features a readout head reads (e.g. a taught model's), in Prediction.maps; else null. */
  readout: { offset: number; size: number; head: number } | null;
  /** Floats a maps buffer needs. */
  total: number;
  params: number;
  macs: number;
  /** The first conv layer's weights (HWIO: kernel × kernel × channels × filters), or null. */
  firstConv: { name: string; kernel: [number, number]; channels: number; filters: number; weights: Float32Array } | null;
  /** Fraction of the dense weights that are exactly zero (a pruned model's). */
  denseZeros: number;
}

/** Median time per layer of single-image forward passes on the backend in use. */
export interface LayerTimesResult {
  backend: BackendName;
  /** Per layer, ms; 0 for a layer computed in another layer's pass (fusedInto says which). */
  ms: number[];
  fusedInto: (number | null)[];
  totalMs: number;
  reps: number;
}

export type DenseEncodingChoice = 'float32' | 'float16' | 'int8';

export interface CompressionResult {
  sparsity: number;
  encoding: DenseEncodingChoice;
  denseWeights: number;
  zeroed: number;
  /** Size of the serving model's file as stored now (float32 dense weights) and compressed. */
  originalBytes: number;
  bytes: number;
  /**
   * Of a head trained without the held-out examples (as the training report's), on them: before
   * and after the same compression.
   */
  accuracyBefore: number;
  accuracyAfter: number;
  heldOut: number;
  /** The compressed serving model, as a .cnn file to store and load if the user accepts. */
  file: Uint8Array;
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
  predict(bytes: Uint8Array, k?: number, into?: Float32Array, maps?: Float32Array): Promise<Prediction>;
  /**
   * Classifies a camera frame: reduces the VideoFrame's centre square into `bytes` (side × side × 3,
   * the model's input, as the page's SquareSampler does for photos), closes the frame, and predicts
   * as predict does. The page makes the frame (`new VideoFrame(video)`, no pixels read) and
   * transfers it with the two buffers, so reading the frame's pixels happens here, off the page's
   * main thread. result.bytes are the frame's input bytes. Rejects with an error named
   * FrameSamplingError when this worker cannot reduce frames (the page then samples them itself).
   */
  predictFrame(frame: VideoFrame, bytes: Uint8Array, k?: number, into?: Float32Array, maps?: Float32Array): Promise<Prediction>;
  /**
   * The current model as the inside view shows it: per-layer shapes, parameters, multiply-adds,
   * where each layer's output sits in a maps buffer (pass one of `total` floats to predict or
   * predictFrame to get them), and the first conv layer's filters. Also prepares the backend's
   * inside pass (on WebGL2: compiles its unfused programs), so the first maps frame is not slow.
   */
  inside(): Promise<InsideInfo>;
  /** Median per-layer time of `reps` (default 30) forward passes on the backend in use. */
  timeLayers(reps?: number): Promise<LayerTimesResult>;
  /**
   * Measures FC compression (magnitude pruning of the dense weights at `sparsity`, stored as
   * `encoding`) of the serving taught model on the user's own examples: a head trained without a
   * held-out fifth is scored on it before and after. Nothing changes until the caller stores and
   * loads result.file. Rejects when the model is not taught or a class has fewer than 5 examples.
   */
  measureCompression(classes: TeachClass[], examples: TeachExample[], sparsity: number, encoding: DenseEncodingChoice): Promise<CompressionResult>;
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

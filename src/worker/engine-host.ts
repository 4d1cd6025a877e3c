// The worker side of EngineApi: owns the model and the inference session (WebGL2 or CPU, chosen
// by createSession). Touches no DOM and no worker globals — the default model's URL and fetch
// are handed in — so it also runs in Node.
import * as Comlink from 'comlink';
import { createSession, type EngineSession } from '../engine/backend.ts';
import type { BackendName } from '../engine/session.ts';
import { decodeModel, denseSparsity, encodeModel, pruneDense, size3, validateModel, CpuSession, type Model, type ModelMeta, type ModelSpec } from '../engine/index.ts';
import { insideLayout } from '../engine/inside.ts';
import type {
  BackendChoice,
  CompressionResult,
  DenseEncodingChoice,
  EngineApi,
  InsideInfo,
  LayerTimesResult,
  EngineInfo,
  EngineStats,
  LoadOptions,
  ModelSummary,
  Prediction,
  TeachClass,
  TeachExample,
  TeachOptions,
  TeachProgress,
  TeachResult,
  TopClass,
} from '../worker-api.ts';
import { VideoFrameSampler } from '../camera/video-frame-sampler.ts';
import { fetchDefaultModel, UNTRAINED_DEFAULT_NAME, untrainedDefaultModel } from './default-model.ts';
import { Teacher, TeachError } from './teach.ts';

export interface EngineHostOptions {
  /** Absolute URL of the default model file (models/default.cnn under the app's base URL). */
  defaultModelUrl?: string;
  fetch?: typeof fetch;
  /** Reduces camera frames for predictFrame; default: a VideoFrameSampler (OffscreenCanvas). */
  frameSampler?: Pick<VideoFrameSampler, 'sample'>;
}

export class EngineHost implements EngineApi {
  private session: EngineSession | null = null;
  private model: Model | null = null;
  private summary: ModelSummary | null = null;
  private choice: BackendChoice = 'auto';
  /** Set when the requested backend could not be used at load. */
  private choiceNote: string | null = null;
  /**
   * What 'auto' chose at the last full decision (self-test and timing of both backends). Models
   * that share the backbone — taught models, switching between them — reuse it instead of
   * building and timing a WebGL2 session again (hundreds of ms on software WebGL).
   */
  private autoDecision: { backend: BackendName; reason: string } | null = null;
  /** Whether predict applies a softmax (the model ends in something other than softmax). */
  private needsSoftmax = false;
  private predictions = 0;
  private inferenceMs = 0;
  private readonly teacher = new Teacher();
  /** The running training's cancel flag, or null when none runs. */
  private training: { aborted: boolean } | null = null;
  private readonly frameSampler: Pick<VideoFrameSampler, 'sample'>;
  /** The serving model's file metadata (name, training summary), kept in a compressed copy. */
  private meta: ModelMeta = {};

  constructor(private readonly options: EngineHostOptions = {}) {
    this.frameSampler = options.frameSampler ?? new VideoFrameSampler();
  }

  async loadDefault(backend: BackendChoice = this.choice): Promise<EngineInfo> {
    this.choice = backend;
    const file = this.options.defaultModelUrl ? await fetchDefaultModel(this.options.defaultModelUrl, this.options.fetch) : null;
    if (file?.found) {
      await this.install(file.model, {
        name: file.meta.name ?? 'default model',
        trained: true,
        source: 'default-file',
        fallbackReason: null,
      });
    } else {
      await this.install(untrainedDefaultModel(), {
        name: UNTRAINED_DEFAULT_NAME,
        trained: false,
        source: 'built-in',
        fallbackReason: file ? file.reason : 'no default model file is configured',
      });
    }
    return this.info();
  }

  async load(spec: ModelSpec, params: Float32Array, options: LoadOptions = {}): Promise<ModelSummary> {
    return this.install({ spec, params }, { name: options.name ?? 'model', trained: options.trained ?? true, source: 'loaded', fallbackReason: null });
  }

  async loadFile(file: Uint8Array, options: LoadOptions & { source?: ModelSummary['source'] } = {}): Promise<ModelSummary> {
    // decodeModel validates everything (checksum, shapes, finite numbers) before anything changes.
    const { model, meta } = decodeModel(file);
    this.meta = meta;
    return this.install(model, { name: options.name ?? meta.name ?? 'model', trained: options.trained ?? true, source: options.source ?? 'loaded', fallbackReason: null }, true);
  }

  async setBackend(backend: BackendChoice): Promise<EngineInfo> {
    const { model } = this;
    if (!model) throw new Error('setBackend: no model loaded (call loadDefault or load first)');
    // 'webgl' rejects here when WebGL2 does not work, leaving the current session in place.
    const session = await createSession(model, { backend });
    warmUp(session);
    this.replaceSession(session);
    this.choice = backend;
    this.choiceNote = null;
    this.autoDecision = backend === 'auto' ? { backend: session.backend, reason: session.reason } : null;
    return this.info();
  }

  async predict(bytes: Uint8Array, k = 3, into?: Float32Array, maps?: Float32Array): Promise<Prediction> {
    const { session, summary } = this;
    if (!session || !summary) throw new Error('predict: no model loaded (call loadDefault or load first)');
    const started = performance.now();
    // The session's output buffer is reused by its next call; the answer goes out in `into`
    // (handed in by the caller and transferred back) or, without one, in a new array.
    const output = maps ? session.predictInside(bytes, maps) : session.predict(bytes);
    const inferenceMs = performance.now() - started;
    let probabilities: Float32Array;
    if (into && into.length === output.length) {
      into.set(output);
      probabilities = into;
    } else {
      probabilities = output.slice();
    }
    if (this.needsSoftmax) softmaxInPlace(probabilities);
    const top = topK(probabilities, summary.labels, k);
    this.predictions++;
    this.inferenceMs += inferenceMs;
    if (maps) return Comlink.transfer({ probabilities, top, inferenceMs, backend: session.backend, bytes, maps }, [probabilities.buffer, bytes.buffer, maps.buffer]);
    return Comlink.transfer({ probabilities, top, inferenceMs, backend: session.backend, bytes }, [probabilities.buffer, bytes.buffer]);
  }

  async predictFrame(frame: VideoFrame, bytes: Uint8Array, k = 3, into?: Float32Array, maps?: Float32Array): Promise<Prediction> {
    if (!this.session) {
      frame.close();
      throw new Error('predictFrame: no model loaded (call loadDefault or load first)');
    }
    const started = performance.now();
    try {
      this.frameSampler.sample(frame, bytes);
    } finally {
      // An unclosed frame holds one of the camera's buffers (closing twice is harmless).
      frame.close();
    }
    const sampleMs = performance.now() - started;
    const prediction = await this.predict(bytes, k, into, maps);
    prediction.sampleMs = sampleMs;
    return prediction;
  }

  async inside(): Promise<InsideInfo> {
    const { session, model } = this;
    if (!session || !model) throw new Error('inside: no model loaded (call loadDefault or load first)');
    await session.prepareInside();
    const info = session.info;
    const layout = insideLayout(info);
    const conv = info.layers.find((l) => l.kind === 'conv2d');
    return {
      layers: info.layers.map((l, i) => ({
        index: i,
        name: l.name,
        kind: l.kind === 'conv2d' && l.kh === 1 && l.kw === 1 ? 'conv2d 1×1' : l.kind,
        outputShape: [l.out.h, l.out.w, l.out.c],
        params: l.paramCount,
        macs: l.kind === 'conv2d' || l.kind === 'dense' ? l.macs : 0,
        offset: layout.maps[i].offset,
        size: layout.maps[i].size,
      })),
      readout: layout.readout,
      total: layout.total,
      params: info.paramCount,
      macs: info.macs,
      firstConv:
        conv && conv.kind === 'conv2d'
          ? {
              name: conv.name,
              kernel: [conv.kh, conv.kw],
              channels: conv.in.c,
              filters: conv.out.c,
              weights: model.params.slice(conv.paramOffset, conv.paramOffset + conv.kh * conv.kw * conv.in.c * conv.out.c),
            }
          : null,
      denseZeros: denseSparsity(model).fraction,
    };
  }

  async timeLayers(reps = 30): Promise<LayerTimesResult> {
    const { session } = this;
    if (!session) throw new Error('timeLayers: no model loaded (call loadDefault or load first)');
    const bytes = new Uint8Array(size3(session.info.input));
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 255;
    session.timeLayers(bytes, 2); // warm
    return session.timeLayers(bytes, Math.max(1, Math.min(1000, Math.floor(reps))));
  }

  async measureCompression(classes: TeachClass[], examples: TeachExample[], sparsity: number, encoding: DenseEncodingChoice): Promise<CompressionResult> {
    const { model, session, summary } = this;
    if (!model || !session || !summary) throw new Error('measureCompression: no model loaded (call loadDefault or load first)');
    if (summary.source !== 'trained') throw new TeachError('compression is measured on your own examples: teach classes and train first');
    if (!(encoding === 'float32' || encoding === 'float16' || encoding === 'int8')) throw new TeachError(`encoding ${JSON.stringify(encoding)} is not float32, float16 or int8`);
    if (this.training) throw new TeachError('a training is running; measure compression after it');
    // pruneDense checks the sparsity (a RangeError naming it) before anything is trained.
    const pruned = pruneDense(model, sparsity);
    const flag = { aborted: false };
    this.training = flag;
    try {
      const held = await this.teacher.train(model, session, classes, examples, { refit: false });
      if (!held.heldOut.length) throw new TeachError('compression is measured on held-out examples: every class needs at least 5');
      const byId = new Map(examples.map((e) => [e.id, e]));
      const imageSize = size3(session.info.input);
      const bytes = new Uint8Array(held.heldOut.length * imageSize);
      const want = held.heldOut.map((id, j) => {
        const e = byId.get(id)!;
        bytes.set(e.bytes, j * imageSize);
        return classes.findIndex((k) => k.id === e.classId);
      });
      const score = (m: Model): number => {
        const out = new CpuSession(m).predictBatch(bytes, want.length);
        const n = classes.length;
        let right = 0;
        want.forEach((k, j) => {
          let best = 0;
          for (let o = 1; o < n; o++) if (out[j * n + o] > out[j * n + best]) best = o;
          if (best === k) right++;
        });
        return right / want.length;
      };
      const squeeze = (m: Model): Uint8Array => encodeModel(pruneDense(m, sparsity).model, {}, { denseEncoding: encoding, denseSparse: true });
      const accuracyBefore = score(held.model);
      const accuracyAfter = score(decodeModel(squeeze(held.model)).model);
      const { denseEncoding: _e, denseSparse: _s, ...meta } = this.meta;
      const file = encodeModel(pruned.model, { ...meta, name: summary.name }, { denseEncoding: encoding, denseSparse: true });
      const originalBytes = encodeModel(model, { ...meta, name: summary.name }).length;
      const result: CompressionResult = {
        sparsity,
        encoding,
        denseWeights: pruned.denseWeights,
        zeroed: pruned.zeroed,
        originalBytes,
        bytes: file.length,
        accuracyBefore,
        accuracyAfter,
        heldOut: want.length,
        file,
      };
      return Comlink.transfer(result, [file.buffer]);
    } finally {
      this.training = null;
    }
  }

  async info(): Promise<EngineInfo> {
    const session = this.session;
    const reason = session ? (this.choiceNote ? `${this.choiceNote}; ${session.reason}` : session.reason) : 'no model loaded';
    return { backend: session?.backend ?? 'cpu', backendChoice: this.choice, backendReason: reason, model: this.summary };
  }

  async stats(): Promise<EngineStats> {
    return { predictions: this.predictions, inferenceMs: this.inferenceMs };
  }

  async train(classes: TeachClass[], examples: TeachExample[], onProgress?: (p: TeachProgress) => void, options: TeachOptions = {}): Promise<TeachResult> {
    const { model, session, summary } = this;
    if (!model || !session || !summary) throw new Error('train: no model loaded (call loadDefault or load first)');
    if (this.training) throw new TeachError('train: a training is already running');
    const flag = { aborted: false };
    this.training = flag;
    try {
      // Progress is not awaited: a slow page must not slow the training.
      const report = onProgress ? (p: TeachProgress) => void Promise.resolve(onProgress(p)).catch(() => undefined) : undefined;
      const outcome = await this.teacher.train(model, session, classes, examples, options, report, flag);
      const name = options.name ?? 'taught model';
      const file = encodeModel(outcome.model, {
        name,
        training: {
          epochs: outcome.epochs,
          batchSize: options.batchSize,
          lr: options.lr,
          weightDecay: options.weightDecay,
          seed: options.seed,
          dataset: `${examples.length} examples of ${classes.length} classes, taught on the device`,
          trainCount: outcome.trainCount,
          validationCount: outcome.validationCount,
          history: outcome.history.map((h) => ({ epoch: h.epoch, loss: h.loss, trainAccuracy: h.accuracy, validationAccuracy: h.validationAccuracy })),
        },
      });
      this.meta = decodeModel(file).meta;
      const newSummary = await this.install(outcome.model, { name, trained: true, source: 'trained', fallbackReason: null }, true);
      const { model: _model, heldOut: _heldOut, ...rest } = outcome;
      const result: TeachResult = { ...rest, file, summary: newSummary };
      // The computed features are copied, not transferred: the worker keeps them cached.
      return Comlink.transfer(result, [file.buffer]);
    } finally {
      this.training = null;
    }
  }

  async cancelTraining(): Promise<boolean> {
    if (!this.training) return false;
    this.training.aborted = true;
    return true;
  }

  /** `keepAutoChoice`: under 'auto', serve on the backend 'auto' chose before (see autoDecision). */
  private async install(model: Model, about: Pick<ModelSummary, 'name' | 'trained' | 'source' | 'fallbackReason'>, keepAutoChoice = false): Promise<ModelSummary> {
    const info = validateModel(model.spec, model.params);
    let session: EngineSession;
    const kept = this.choice === 'auto' && keepAutoChoice ? this.autoDecision : null;
    let note: string | null = null;
    try {
      session = await createSession(model, { backend: kept ? kept.backend : this.choice });
      // The kept decision says why this backend serves (the session would only say it was
      // requested); a later context loss replaces it as usual.
      if (kept) session.reason = `automatic choice kept from the last model load: ${kept.reason}`;
    } catch (err) {
      // Only 'webgl' throws: WebGL2 does not work here (or no longer passes its self-test).
      // Serve from the CPU and say so.
      note = `WebGL2 ${kept ? 'was chosen automatically before' : 'was requested'} but cannot be used here (${err instanceof Error ? err.message : String(err)})`;
      session = await createSession(model, { backend: 'cpu' });
    }
    this.choiceNote = note;
    if (this.choice === 'auto' && !kept) this.autoDecision = { backend: session.backend, reason: session.reason };
    warmUp(session);
    this.replaceSession(session);
    this.model = model;
    this.needsSoftmax = info.layers[info.layers.length - 1]?.kind !== 'softmax';
    this.summary = {
      ...about,
      input: { height: info.input.h, width: info.input.w, channels: info.input.c },
      labels: [...model.spec.labels],
      layers: info.layers.length,
      params: info.paramCount,
      macs: info.macs,
    };
    return this.summary;
  }

  private replaceSession(session: EngineSession): void {
    this.session?.dispose();
    this.session = session;
  }
}

/**
 * The first forward pass is several times slower than the rest (JIT compilation, shader
 * compilation on first draw); take it at load rather than on the first frame.
 */
function warmUp(session: EngineSession): void {
  session.predict(new Uint8Array(size3(session.info.input)));
}

function softmaxInPlace(x: Float32Array): void {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] = Math.exp(x[i] - max);
  for (let i = 0; i < x.length; i++) x[i] /= sum;
}

/** The k largest entries, largest first; ties keep the lower index first. */
export function topK(probabilities: Float32Array, labels: string[], k: number): TopClass[] {
  const count = Math.max(0, Math.min(Math.floor(k), probabilities.length));
  const top: TopClass[] = [];
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i];
    let at = top.length;
    while (at > 0 && top[at - 1].probability < p) at--;
    if (at >= count) continue;
    top.splice(at, 0, { index: i, label: labels[i] ?? String(i), probability: p });
    if (top.length > count) top.pop();
  }
  return top;
}

// The worker side of EngineApi: owns the inference session. Runs wherever the engine runs (a
// worker in the app; Node in tests), so it touches no DOM and no worker globals.
import * as Comlink from 'comlink';
import { CpuSession, type InferenceSession, type ModelSpec } from '../engine/index.ts';
import type { EngineApi, EngineInfo, LoadOptions, ModelSummary, Prediction, TopClass } from '../worker-api.ts';
import { UNTRAINED_DEFAULT_NAME, untrainedDefaultModel } from './default-model.ts';

export class EngineHost implements EngineApi {
  private session: InferenceSession | null = null;
  private summary: ModelSummary | null = null;
  /** Whether predict applies a softmax (the model ends in something other than softmax). */
  private needsSoftmax = false;

  async loadDefault(): Promise<ModelSummary> {
    const { spec, params } = untrainedDefaultModel();
    return this.load(spec, params, { name: UNTRAINED_DEFAULT_NAME, trained: false });
  }

  async load(spec: ModelSpec, params: Float32Array, options: LoadOptions = {}): Promise<ModelSummary> {
    const session = new CpuSession({ spec, params });
    const { info } = session;
    // The first forward pass is several times slower than the rest (JIT compilation); take it
    // here, at load, rather than on the first frame.
    session.predict(new Uint8Array(info.input.h * info.input.w * info.input.c));
    this.session?.dispose();
    this.session = session;
    this.needsSoftmax = info.layers[info.layers.length - 1]?.kind !== 'softmax';
    this.summary = {
      name: options.name ?? 'model',
      trained: options.trained ?? true,
      input: { height: info.input.h, width: info.input.w, channels: info.input.c },
      labels: [...spec.labels],
      layers: info.layers.length,
      params: info.paramCount,
      macs: info.macs,
    };
    return this.summary;
  }

  async predict(bytes: Uint8Array, k = 3): Promise<Prediction> {
    const { session, summary } = this;
    if (!session || !summary) throw new Error('predict: no model loaded (call load or loadDefault first)');
    const started = performance.now();
    const output = session.predict(bytes);
    const inferenceMs = performance.now() - started;
    // The session's output buffer is reused by the next call; the message needs its own copy,
    // which is transferred rather than copied again.
    const probabilities = output.slice();
    if (this.needsSoftmax) softmaxInPlace(probabilities);
    const top = topK(probabilities, summary.labels, k);
    return Comlink.transfer({ probabilities, top, inferenceMs, bytes }, [probabilities.buffer, bytes.buffer]);
  }

  async info(): Promise<EngineInfo> {
    return { backend: this.session?.backend ?? 'cpu', model: this.summary };
  }
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

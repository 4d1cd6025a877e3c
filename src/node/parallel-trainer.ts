// Data-parallel training on Node's worker threads: each step's batch is split between this thread
// and helper threads that compute gradients on their share with the same (shared) parameters; the
// gradients are combined, weighted by share size, and one SGD step is applied. The result equals
// single-thread training up to float rounding in the sum.
import { Worker } from 'node:worker_threads';
import type { KernelSet } from '../engine/cpu/network.ts';
import { Trainer, type SgdOptions, type StepResult } from '../engine/train.ts';
import { size3, validateModel } from '../engine/shapes.ts';
import type { Model } from '../engine/spec.ts';

interface Share {
  worker: Worker;
  input: Float32Array;
  labels: Int32Array;
  grads: Float32Array;
  /** The step this share is computing, settled by the worker's answer or error. */
  pending: { resolve: (r: StepResult) => void; reject: (e: unknown) => void } | null;
}

export class ParallelTrainer {
  readonly trainer: Trainer;
  private readonly shares: Share[] = [];
  private readonly inputSize: number;

  private constructor(model: Model, readonly batchSize: number, options: SgdOptions, threads: number, kernels: KernelSet | null) {
    const info = validateModel(model.spec, model.params);
    this.inputSize = size3(info.input);
    this.trainer = new Trainer(model, batchSize, options, kernels);
    const per = Math.ceil(batchSize / (threads + 1));
    for (let t = 0; t < threads; t++) {
      const input = new Float32Array(new SharedArrayBuffer(per * this.inputSize * 4));
      const labels = new Int32Array(new SharedArrayBuffer(per * 4));
      const grads = new Float32Array(new SharedArrayBuffer(info.paramCount * 4));
      const worker = new Worker(workerBootstrap(), {
        eval: true,
        workerData: { spec: model.spec, params: model.params, capacity: per, input, labels, grads, options, wasm: kernels !== null },
      });
      worker.unref();
      const share: Share = { worker, input, labels, grads, pending: null };
      worker.on('message', (m: StepResult) => share.pending?.resolve(m));
      worker.on('error', (e) => share.pending?.reject(e));
      this.shares.push(share);
    }
  }

  /**
   * `threads` helper threads besides this one; with `kernels` (the WebAssembly SIMD set), every
   * thread loads and uses that kind of kernels. The model's parameters must live in a
   * SharedArrayBuffer (see sharedParams) so that every thread sees each update.
   */
  static create(model: Model, batchSize: number, options: SgdOptions, threads: number, kernels: KernelSet | null = null): ParallelTrainer {
    if (threads > 0 && !(model.params.buffer instanceof SharedArrayBuffer)) {
      throw new Error('parallel training needs the parameters in a SharedArrayBuffer (use sharedParams)');
    }
    return new ParallelTrainer(model, batchSize, options, threads, kernels);
  }

  /** Input buffer for a whole batch (normalised images), as for Trainer. */
  get input(): Float32Array {
    return this.trainer.input;
  }

  get step(): number {
    return this.trainer.step;
  }

  async trainStep(labels: ArrayLike<number>, n: number): Promise<StepResult> {
    const parts = this.shares.length + 1;
    const per = Math.ceil(n / parts);
    const jobs = this.shares.map((share, t) => {
      const start = Math.min(n, per * (t + 1));
      const count = Math.min(per, n - start);
      share.input.set(this.trainer.input.subarray(start * this.inputSize, (start + count) * this.inputSize));
      for (let i = 0; i < count; i++) share.labels[i] = labels[start + i];
      return new Promise<StepResult & { count: number }>((resolve, reject) => {
        share.pending = { resolve: (m) => resolve({ ...m, count }), reject };
        share.worker.postMessage(count);
      });
    });
    const mine = Math.min(per, n);
    const own = this.trainer.computeGradients(labels, mine);
    const others = await Promise.all(jobs);
    const g = this.trainer.grads;
    // Each share's gradient is its own mean; re-weight to the mean over the whole batch.
    const scale = mine / n;
    for (let i = 0; i < g.length; i++) g[i] *= scale;
    let loss = own.loss * mine;
    let correct = own.correct;
    this.shares.forEach((share, t) => {
      const r = others[t];
      if (r.count === 0) return;
      const s = r.count / n;
      for (let i = 0; i < g.length; i++) g[i] += share.grads[i] * s;
      loss += r.loss * r.count;
      correct += r.correct;
    });
    this.trainer.applyGradients();
    return { loss: loss / n, correct };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.shares.map((s) => s.worker.terminate()));
  }
}

/** A copy of params in a SharedArrayBuffer. */
export function sharedParams(params: Float32Array): Float32Array {
  const shared = new Float32Array(new SharedArrayBuffer(params.length * 4));
  shared.set(params);
  return shared;
}

/**
 * Worker threads do not inherit tsx's TypeScript loader, so the worker first registers it and
 * then imports the TypeScript entry.
 */
function workerBootstrap(): string {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./gradient-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

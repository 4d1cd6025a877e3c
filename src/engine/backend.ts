// Backend choice for the engine: WebGL2 when it works here and agrees with the CPU, else the CPU,
// with the reason kept for the UI. A lost GL context never costs a frame: frames are served by the
// CPU from the moment of the loss until the context is restored, rebuilt and re-checked.
import type { LayerTimes } from './inside.ts';
import { CpuSession, type BackendName, type InferenceSession } from './session.ts';
import { size3, type NetworkInfo } from './shapes.ts';
import type { Model, ReadoutSpec } from './spec.ts';
import { WebglContextLostError } from './webgl/context.ts';
import { createWebglSession, type WebglSession } from './webgl/session.ts';

export type BackendChoice = 'auto' | 'webgl' | 'cpu';

export interface CreateSessionOptions {
  /**
   * 'auto' (default): WebGL2 if it passes the self-test and (see pickFaster) is the faster, else
   * the CPU. 'webgl' throws instead of falling back at load.
   */
  backend?: BackendChoice;
  /** Canvas for the GL context (default: a new OffscreenCanvas). */
  canvas?: OffscreenCanvas;
  /** Force half-float render targets (to measure them); default picks RGBA32F when it renders. */
  renderFormat?: 'auto' | 'rgba16f';
  /** Largest max-abs difference from the CPU allowed in the self-test (default 1e-3). */
  tolerance?: number;
  /**
   * With 'auto': after the self-test, time a few frames on each backend and keep the faster (a
   * software WebGL renderer is often slower than the CPU). Default true; false keeps WebGL2
   * whenever it passes the self-test.
   */
  pickFaster?: boolean;
  /** Called when frames move to another backend after load (context lost, restored). */
  onBackendChange?: (backend: BackendName, reason: string) => void;
}

const DEFAULT_TOLERANCE = 1e-3;

/** Fixed self-test inputs: a pattern touching every byte value and a smooth gradient image. */
function selfTestInputs(size: number): Uint8Array[] {
  const a = new Uint8Array(size);
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    a[i] = (i * 37 + 11) & 255;
    b[i] = Math.round(((i % 97) / 96) * 255);
  }
  return [a, b];
}

/** Largest |webgl − cpu| over the self-test inputs, with where it happened. */
function selfTest(webgl: WebglSession, cpu: CpuSession): { maxDiff: number; at: string } {
  let maxDiff = 0;
  let at = '';
  selfTestInputs(size3(webgl.info.input)).forEach((bytes, k) => {
    const g = webgl.predict(bytes);
    const c = cpu.predict(bytes);
    for (let i = 0; i < c.length; i++) {
      const d = Math.abs(g[i] - c[i]);
      if (!(d <= maxDiff)) {
        maxDiff = Number.isNaN(d) ? Infinity : d;
        at = `input ${k}, output ${i}: webgl ${g[i]} vs cpu ${c[i]}`;
      }
    }
  });
  return { maxDiff, at };
}

/** Median time of a few warm single-image predictions (the self-test has already warmed up both). */
function medianFrameMs(session: InferenceSession): number {
  const [input] = selfTestInputs(size3(session.info.input));
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    session.predict(input);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[3];
}

/**
 * An inference session that runs on WebGL2 or the CPU and can move between them. predict returns
 * this session's own output buffer, whichever backend filled it.
 */
export class EngineSession implements InferenceSession {
  readonly info: NetworkInfo;
  /** Why the current backend serves the frames (shown to the user). */
  reason: string;
  /** Largest difference from the CPU in the last WebGL self-test, or null if none ran. */
  selfTestDiff: number | null = null;
  private current: BackendName;
  private readonly output: Float32Array;

  constructor(
    readonly cpu: CpuSession,
    readonly webgl: WebglSession | null,
    reason: string,
    private readonly tolerance: number,
    private readonly onBackendChange?: (backend: BackendName, reason: string) => void,
  ) {
    this.info = cpu.info;
    this.current = webgl ? 'webgl' : 'cpu';
    this.reason = reason;
    this.output = new Float32Array(size3(cpu.info.output));
  }

  get backend(): BackendName {
    return this.current;
  }

  predict(bytes: Uint8Array): Float32Array {
    if (this.current === 'webgl' && this.webgl) {
      try {
        this.output.set(this.webgl.predict(bytes));
        return this.output;
      } catch (err) {
        if (!(err instanceof WebglContextLostError)) throw err;
        this.switchTo('cpu', `WebGL context lost (${err.message}); using the CPU until it is restored`);
      }
    }
    this.output.set(this.cpu.predict(bytes));
    return this.output;
  }

  predictInside(bytes: Uint8Array, maps: Float32Array): Float32Array {
    if (this.current === 'webgl' && this.webgl) {
      try {
        this.output.set(this.webgl.predictInside(bytes, maps));
        return this.output;
      } catch (err) {
        if (!(err instanceof WebglContextLostError)) throw err;
        this.switchTo('cpu', `WebGL context lost (${err.message}); using the CPU until it is restored`);
      }
    }
    this.output.set(this.cpu.predictInside(bytes, maps));
    return this.output;
  }

  /** Compiles what predictInside draws on WebGL2 ahead of the first inside frame (no-op on the CPU). */
  async prepareInside(): Promise<void> {
    if (this.current !== 'webgl' || !this.webgl) return;
    try {
      await this.webgl.prepareInside();
    } catch (err) {
      if (!(err instanceof WebglContextLostError)) throw err;
    }
  }

  timeLayers(bytes: Uint8Array, reps: number): LayerTimes {
    if (this.current === 'webgl' && this.webgl) {
      try {
        return this.webgl.timeLayers(bytes, reps);
      } catch (err) {
        if (!(err instanceof WebglContextLostError)) throw err;
        this.switchTo('cpu', `WebGL context lost (${err.message}); using the CPU until it is restored`);
      }
    }
    return this.cpu.timeLayers(bytes, reps);
  }

  predictBatch(bytes: Uint8Array, n: number): Float32Array {
    return this.features(bytes, n, this.info.layers.length);
  }

  features(bytes: Uint8Array, n: number, upTo: number): Float32Array {
    if (this.current === 'webgl' && this.webgl) {
      try {
        return this.webgl.features(bytes, n, upTo);
      } catch (err) {
        if (!(err instanceof WebglContextLostError)) throw err;
        this.switchTo('cpu', `WebGL context lost (${err.message}); using the CPU until it is restored`);
      }
    }
    return this.cpu.features(bytes, n, upTo);
  }

  readoutFeatures(bytes: Uint8Array, n: number, readout?: ReadoutSpec): Float32Array {
    if (this.current === 'webgl' && this.webgl) {
      try {
        return this.webgl.readoutFeatures(bytes, n, readout);
      } catch (err) {
        if (!(err instanceof WebglContextLostError)) throw err;
        this.switchTo('cpu', `WebGL context lost (${err.message}); using the CPU until it is restored`);
      }
    }
    return this.cpu.readoutFeatures(bytes, n, readout);
  }

  setParams(params: Float32Array): void {
    this.cpu.setParams(params);
    this.webgl?.setParams(params);
  }

  dispose(): void {
    this.webgl?.dispose();
    this.cpu.dispose();
  }

  /** Called by the WebGL session's loss/restore callbacks. */
  contextLost(): void {
    if (this.current === 'webgl') this.switchTo('cpu', 'WebGL context lost; using the CPU until it is restored');
  }

  contextRestored(): void {
    if (!this.webgl) return;
    try {
      const { maxDiff, at } = selfTest(this.webgl, this.cpu);
      this.selfTestDiff = maxDiff;
      if (maxDiff <= this.tolerance) {
        this.switchTo('webgl', `WebGL context restored; self-test max abs diff ${maxDiff.toExponential(2)} vs CPU`);
      } else {
        this.switchTo('cpu', `WebGL context restored but the self-test failed: max abs diff ${maxDiff} > ${this.tolerance} (${at})`);
      }
    } catch (err) {
      this.switchTo('cpu', `WebGL context restored but the self-test threw: ${String(err)}`);
    }
  }

  restoreFailed(error: Error): void {
    this.switchTo('cpu', `WebGL context restored but rebuilding failed: ${error.message}`);
  }

  private switchTo(backend: BackendName, reason: string): void {
    const changed = backend !== this.current;
    this.current = backend;
    this.reason = reason;
    if (changed) this.onBackendChange?.(backend, reason);
  }
}

/**
 * Creates the engine's inference session. 'auto' tries WebGL2 with a self-test against the CPU
 * (max abs diff ≤ tolerance on fixed inputs) and falls back to the CPU, saying why in `reason`.
 */
export async function createSession(model: Model, options: CreateSessionOptions = {}): Promise<EngineSession> {
  const choice = options.backend ?? 'auto';
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  // The CPU session serves frames while WebGL cannot, so it runs on the fastest CPU kernels.
  const cpu = await CpuSession.create(model);
  if (choice === 'cpu') return new EngineSession(cpu, null, 'CPU backend requested', tolerance, options.onBackendChange);

  let engine: EngineSession | null = null;
  let webgl: WebglSession;
  try {
    webgl = await createWebglSession(model, {
      canvas: options.canvas,
      renderFormat: options.renderFormat,
      onContextLost: () => engine?.contextLost(),
      onContextRestored: () => engine?.contextRestored(),
      onRestoreFailed: (e) => engine?.restoreFailed(e),
    });
  } catch (err) {
    if (choice === 'webgl') throw err;
    return new EngineSession(cpu, null, `using the CPU: ${err instanceof Error ? err.message : String(err)}`, tolerance, options.onBackendChange);
  }

  let test: { maxDiff: number; at: string };
  try {
    test = selfTest(webgl, cpu);
  } catch (err) {
    webgl.dispose();
    if (choice === 'webgl') throw err;
    return new EngineSession(cpu, null, `using the CPU: the WebGL self-test threw ${String(err)}`, tolerance, options.onBackendChange);
  }
  const format = webgl.renderFormat === 'rgba32f' ? 'RGBA32F' : 'RGBA16F';
  if (!(test.maxDiff <= tolerance)) {
    webgl.dispose();
    const why = `WebGL self-test failed (${format} on ${webgl.renderer}): max abs diff ${test.maxDiff} > ${tolerance} (${test.at})`;
    if (choice === 'webgl') throw new Error(why);
    const e = new EngineSession(cpu, null, `using the CPU: ${why}`, tolerance, options.onBackendChange);
    e.selfTestDiff = test.maxDiff;
    return e;
  }
  if (choice === 'auto' && options.pickFaster !== false) {
    const gl = medianFrameMs(webgl);
    const onCpu = medianFrameMs(cpu);
    if (onCpu < gl) {
      webgl.dispose();
      const why = `the CPU (${onCpu.toFixed(2)} ms a frame) is faster here than WebGL2 (${gl.toFixed(2)} ms, ${format} on ${webgl.renderer})`;
      const e = new EngineSession(cpu, null, `using ${why}`, tolerance, options.onBackendChange);
      e.selfTestDiff = test.maxDiff;
      return e;
    }
  }
  engine = new EngineSession(
    cpu,
    webgl,
    `WebGL2 (${format} on ${webgl.renderer}); self-test max abs diff ${test.maxDiff.toExponential(2)} vs CPU`,
    tolerance,
    options.onBackendChange,
  );
  engine.selfTestDiff = test.maxDiff;
  return engine;
}

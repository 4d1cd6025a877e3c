// Frame pacing between a playing <video> and the engine worker: at most one frame in flight, and
// the newest frame wins. A frame that arrives while the worker is busy is not queued; it only
// marks that a newer frame exists, and when the answer comes back the frame on screen at that
// moment (the newest) is sampled and sent at once. The input bytes and the probabilities travel
// to the worker and back (transferred, not copied), so the per-frame path reuses one buffer of
// each.

/** When a frame was captured (or, without that, presented), in performance.now() time. */
export type FrameTime = number;

/** Calls back once per new video frame: requestVideoFrameCallback where there is one, else rAF. */
export interface FrameClock {
  readonly kind: 'video-frame' | 'animation-frame';
  start(onFrame: (time: FrameTime) => void): void;
  stop(): void;
}

export function videoFrameClock(video: HTMLVideoElement): FrameClock {
  if (typeof video.requestVideoFrameCallback === 'function') {
    let handle = 0;
    let running = false;
    let onFrame: (time: FrameTime) => void = () => undefined;
    const tick = (now: number, meta: VideoFrameCallbackMetadata): void => {
      if (!running) return;
      handle = video.requestVideoFrameCallback(tick);
      onFrame(meta.captureTime ?? meta.presentationTime ?? now);
    };
    return {
      kind: 'video-frame',
      start(cb) {
        onFrame = cb;
        running = true;
        handle = video.requestVideoFrameCallback(tick);
      },
      stop() {
        running = false;
        video.cancelVideoFrameCallback(handle);
      },
    };
  }
  let handle = 0;
  let running = false;
  let onFrame: (time: FrameTime) => void = () => undefined;
  const tick = (now: number): void => {
    if (!running) return;
    handle = requestAnimationFrame(tick);
    onFrame(now);
  };
  return {
    kind: 'animation-frame',
    start(cb) {
      onFrame = cb;
      running = true;
      handle = requestAnimationFrame(tick);
    },
    stop() {
      running = false;
      cancelAnimationFrame(handle);
    },
  };
}

export interface PumpResult {
  /** The input buffer, handed back for the next frame. */
  bytes: Uint8Array;
  /** The probability buffer, handed back for the next frame. */
  probabilities: Float32Array;
}

export interface FramePumpStats {
  /** Frames sent to the worker. */
  sent: number;
  /** Answers received. */
  answered: number;
  /** Frames not sent because a frame was in flight and a newer one came before the answer. */
  superseded: number;
  /** Frames in flight now (0 or 1), and the most there ever were. */
  inFlight: number;
  maxInFlight: number;
}

export interface FramePumpDeps<R extends PumpResult> {
  /** Writes the current frame into `into`; false when there is no frame to read yet. */
  sample(into: Uint8Array): boolean;
  /** Sends the bytes and the probability buffer (both transferred) and resolves with the answer. */
  send(bytes: Uint8Array, probabilities: Float32Array): Promise<R>;
  /** Called with each answer and the time of the frame it belongs to. */
  onResult(result: R, frameTime: FrameTime): void;
  onError(error: unknown): void;
}

export class FramePump<R extends PumpResult> {
  readonly stats: FramePumpStats = { sent: 0, answered: 0, superseded: 0, inFlight: 0, maxInFlight: 0 };
  /** Null while it is in the worker. */
  private bytes: Uint8Array | null;
  private probabilities: Float32Array | null;
  /** Time of the newest frame not yet sent, or NaN when there is none. */
  private pendingTime: FrameTime = NaN;
  private running = false;
  /** Bumped by stop(): an answer for a frame sent before it is not reported. */
  private generation = 0;

  constructor(
    private readonly inputSize: number,
    private readonly classes: number,
    private readonly deps: FramePumpDeps<R>,
  ) {
    this.bytes = new Uint8Array(inputSize);
    this.probabilities = new Float32Array(classes);
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
    this.pendingTime = NaN;
    this.generation++;
  }

  /** Call once per new video frame. */
  frame(time: FrameTime): void {
    if (!this.running) return;
    if (this.stats.inFlight > 0) {
      if (!Number.isNaN(this.pendingTime)) this.stats.superseded++;
      this.pendingTime = time;
      return;
    }
    this.dispatch(time);
  }

  private dispatch(time: FrameTime): void {
    const { bytes, probabilities } = this;
    if (!bytes || !probabilities) return;
    let ok: boolean;
    try {
      ok = this.deps.sample(bytes);
    } catch (e) {
      this.deps.onError(e);
      return;
    }
    if (!ok) return;
    this.bytes = null;
    this.probabilities = null;
    this.stats.sent++;
    this.stats.inFlight++;
    if (this.stats.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.stats.inFlight;
    const generation = this.generation;
    this.deps.send(bytes, probabilities).then(
      (result) => {
        this.stats.inFlight--;
        this.stats.answered++;
        this.bytes = result.bytes;
        this.probabilities = result.probabilities;
        if (generation === this.generation) {
          try {
            this.deps.onResult(result, time);
          } catch (e) {
            this.deps.onError(e);
          }
        }
        this.sendPending();
      },
      (error: unknown) => {
        this.stats.inFlight--;
        // The buffers went to the worker with the failed call: start again with new ones.
        this.bytes = new Uint8Array(this.inputSize);
        this.probabilities = new Float32Array(this.classes);
        if (generation !== this.generation) return;
        this.deps.onError(error);
      },
    );
  }

  private sendPending(): void {
    if (!this.running || Number.isNaN(this.pendingTime)) return;
    const time = this.pendingTime;
    this.pendingTime = NaN;
    this.dispatch(time);
  }
}

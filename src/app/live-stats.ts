// Numbers the live view shows, smoothed so they can be read: class probabilities (exponential
// moving average with a time constant, so the smoothing is the same at 5 or 60 frames per
// second), the answer rate, and a throttle for what the screen reader announces. Every buffer is
// allocated at construction.

/** Exponential moving average of a probability vector, weighted by elapsed time. */
export class ProbabilitySmoother {
  readonly values: Float32Array;
  private lastTime = NaN;

  constructor(
    classes: number,
    /** After this many ms a change has moved the average 63 % of the way. */
    readonly timeConstantMs = 250,
  ) {
    this.values = new Float32Array(classes);
  }

  /** Folds in one frame's probabilities taken at `time` (ms); the first frame is taken as is. */
  update(probabilities: Float32Array, time: number): Float32Array {
    const v = this.values;
    if (probabilities.length !== v.length) {
      throw new RangeError(`ProbabilitySmoother: ${probabilities.length} probabilities for ${v.length} classes`);
    }
    if (Number.isNaN(this.lastTime)) {
      v.set(probabilities);
    } else {
      const dt = Math.max(0, time - this.lastTime);
      const a = 1 - Math.exp(-dt / this.timeConstantMs);
      for (let i = 0; i < v.length; i++) v[i] += a * (probabilities[i] - v[i]);
    }
    this.lastTime = time;
    return v;
  }

  reset(): void {
    this.values.fill(0);
    this.lastTime = NaN;
  }

  /** Index of the largest smoothed probability (the lowest index on ties), or -1 before any frame. */
  best(): number {
    if (Number.isNaN(this.lastTime)) return -1;
    let best = 0;
    for (let i = 1; i < this.values.length; i++) if (this.values[i] > this.values[best]) best = i;
    return best;
  }
}

/** Events per second over the last `windowMs`, from a ring of timestamps. */
export class RateMeter {
  private readonly times: Float64Array;
  private next = 0;
  private count = 0;

  constructor(
    readonly windowMs = 1000,
    capacity = 256,
  ) {
    this.times = new Float64Array(capacity);
  }

  tick(time: number): void {
    this.times[this.next] = time;
    this.next = (this.next + 1) % this.times.length;
    if (this.count < this.times.length) this.count++;
  }

  /** Rate at `now`: events in the window divided by the window (shorter while it is filling). */
  rate(now: number): number {
    const n = this.times.length;
    let inWindow = 0;
    let oldest = now;
    for (let k = 1; k <= this.count; k++) {
      const t = this.times[(this.next - k + n) % n];
      if (now - t > this.windowMs) break;
      inWindow++;
      oldest = t;
    }
    if (inWindow < 2) return 0;
    return ((inWindow - 1) * 1000) / Math.max(now - oldest, 1);
  }

  reset(): void {
    this.count = 0;
    this.next = 0;
  }
}

/**
 * Decides what an aria-live region says: the newest text, only when it differs from what was
 * last said, and no more often than every `minIntervalMs` (a change inside that interval is said
 * when it ends, if it still holds).
 */
export class AnnouncementThrottle {
  private said = '';
  private saidAt = -Infinity;
  private wanted = '';
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly say: (text: string) => void,
    readonly minIntervalMs = 3000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  propose(text: string): void {
    this.wanted = text;
    if (text === this.said || this.timer !== null) return;
    const wait = this.saidAt + this.minIntervalMs - this.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Forgets what was said (so the next proposal is said) and drops a pending one. */
  reset(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.said = '';
    this.wanted = '';
  }

  private flush(): void {
    this.timer = null;
    if (this.wanted === this.said) return;
    this.said = this.wanted;
    this.saidAt = this.now();
    this.say(this.said);
  }
}

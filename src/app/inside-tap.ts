// How the live view lends the inside panel a look at the network: while the panel is open, at
// most one frame every `interval` ms carries a maps buffer to the worker, which fills it from the
// same forward pass that gives the answer. One buffer travels back and forth (transferred); with
// the panel closed no frame carries one, so the live path is unchanged.
//
// The interval adapts to what a maps frame costs over a plain one (on the CPU well under a
// millisecond; on a software WebGL2 the unfused pass and its readbacks cost tens): it is kept so
// that the extra work stays within BUDGET of the time, between minIntervalMs and MAX_INTERVAL_MS.

export type InsideListener = (maps: Float32Array, bytes: Uint8Array, probabilities: Float32Array) => void;

/** Share of the time the maps frames may add over plain frames. */
const BUDGET = 0.04;
const MAX_INTERVAL_MS = 2000;
const SMOOTHING = 0.2;

export class InsideTap {
  /** Smoothed inference time of plain frames and of maps frames, ms (NaN until seen). */
  private plainMs = NaN;
  private mapsMs = NaN;
  /** Whether the panel wants maps (it is open and knows the layout). */
  private wanted = 0;
  private buffer: Float32Array | null = null;
  private lent = false;
  private last = -Infinity;
  private listener: InsideListener | null = null;

  constructor(readonly minIntervalMs = 250) {}

  /** The current gap between maps frames, ms. */
  get interval(): number {
    const extra = this.mapsMs - this.plainMs;
    if (!(extra > 0)) return this.minIntervalMs;
    return Math.min(MAX_INTERVAL_MS, Math.max(this.minIntervalMs, extra / BUDGET));
  }

  /** The panel opens with the current model's layout size, or closes (0). */
  want(total: number, listener: InsideListener | null): void {
    this.wanted = total;
    this.listener = listener;
    if (this.buffer && this.buffer.length !== total) this.buffer = null;
  }

  get open(): boolean {
    return this.wanted > 0;
  }

  /** For the frame about to be sent: the maps buffer if this frame should carry it, else undefined. */
  take(now: number): Float32Array | undefined {
    if (!this.wanted || this.lent || now - this.last < this.interval) return undefined;
    const b = this.buffer && this.buffer.length === this.wanted ? this.buffer : new Float32Array(this.wanted);
    this.buffer = null;
    this.lent = true;
    this.last = now;
    return b;
  }

  /**
   * A frame's answer came back (with the buffer, if it carried one), with its inference time in
   * the worker.
   */
  give(maps: Float32Array | undefined, bytes: Uint8Array, probabilities: Float32Array, inferenceMs = NaN): void {
    const ema = (old: number): number => (Number.isNaN(old) ? inferenceMs : old + SMOOTHING * (inferenceMs - old));
    if (Number.isFinite(inferenceMs)) {
      if (maps) this.mapsMs = ema(this.mapsMs);
      else if (this.wanted) this.plainMs = ema(this.plainMs);
    }
    if (!this.lent) return;
    this.lent = false;
    if (!maps) return;
    this.buffer = maps;
    if (maps.length === this.wanted) this.listener?.(maps, bytes, probabilities);
  }

  /** The frame carrying the buffer failed: the buffer is gone; the next one allocates anew. */
  lost(): void {
    this.lent = false;
  }
}

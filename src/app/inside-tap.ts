// How the live view lends the inside panel a look at the network: while the panel is open, at
// most one frame every `intervalMs` carries a maps buffer to the worker, which fills it from the
// same forward pass that gives the answer. One buffer travels back and forth (transferred); with
// the panel closed no frame carries one, so the live path is unchanged.

export type InsideListener = (maps: Float32Array, bytes: Uint8Array, probabilities: Float32Array) => void;

export class InsideTap {
  /** Whether the panel wants maps (it is open and knows the layout). */
  private wanted = 0;
  private buffer: Float32Array | null = null;
  private lent = false;
  private last = -Infinity;
  private listener: InsideListener | null = null;

  constructor(readonly intervalMs = 250) {}

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
    if (!this.wanted || this.lent || now - this.last < this.intervalMs) return undefined;
    const b = this.buffer && this.buffer.length === this.wanted ? this.buffer : new Float32Array(this.wanted);
    this.buffer = null;
    this.lent = true;
    this.last = now;
    return b;
  }

  /** A frame's answer came back (with the buffer, if it carried one); a failed frame passes undefined. */
  give(maps: Float32Array | undefined, bytes: Uint8Array, probabilities: Float32Array): void {
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

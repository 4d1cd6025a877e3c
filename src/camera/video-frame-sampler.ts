// The worker's half of live-frame sampling: a camera frame arrives as a VideoFrame (a handle the
// page makes without reading any pixels) and is reduced here, off the page's main thread, by the
// same SquareSampler the page uses for photos — centre square, canvas reduction to at most
// REDUCED_SIDE², area averaging by centerCropResize — so a live frame, a captured example and an
// uploaded photo of the same picture give the same bytes.
//
// Every frame is closed here, whether or not sampling succeeds: an unclosed VideoFrame holds one of
// the camera's few buffers, and the camera stalls when they run out.
import { SquareSampler } from './square-sampler.ts';

/** Thrown when this worker cannot reduce frames itself (no OffscreenCanvas): the page samples. */
export class FrameSamplingError extends Error {
  override name = 'FrameSamplingError';
}

/** The part of SquareSampler used here. */
export interface SourceSampler {
  sample(source: CanvasImageSource, width: number, height: number, out: Uint8Array): Uint8Array;
}

export function canSampleFramesHere(): boolean {
  return typeof OffscreenCanvas === 'function';
}

export class VideoFrameSampler {
  private sampler: SourceSampler | null;

  /** `sampler` defaults to a SquareSampler, made when the first frame arrives. */
  constructor(sampler?: SourceSampler) {
    this.sampler = sampler ?? null;
  }

  /**
   * Writes the frame's centre square into `out` as side × side × 3 RGB bytes (side =
   * √(out.length / 3)) and closes the frame. Returns out.
   */
  sample(frame: VideoFrame, out: Uint8Array): Uint8Array {
    try {
      const { displayWidth: w, displayHeight: h } = frame;
      if (!(w > 0 && h > 0)) throw new RangeError(`VideoFrameSampler: frame is ${w}×${h} pixels (closed, or never had a picture); nothing to sample`);
      if (!this.sampler) {
        if (!canSampleFramesHere()) throw new FrameSamplingError('camera frames cannot be reduced in this worker: it has no OffscreenCanvas');
        this.sampler = new SquareSampler();
      }
      return this.sampler.sample(frame, w, h, out);
    } finally {
      frame.close();
    }
  }
}

// The one way a picture — a live camera frame (reduced in the engine worker from a VideoFrame, see
// video-frame-sampler.ts, or on the page where that is not possible), a captured frame, an
// uploaded photo — becomes the network's side × side × 3 RGB bytes: the centred square crop, reduced on
// canvases to at most REDUCED_SIDE pixels, then area-averaged by centerCropResize (the function
// the command-line tool uses on PNG and JPEG files).
//
// Crops no larger than REDUCED_SIDE are copied pixel for pixel, so a small photo gives exactly the
// bytes the command-line tool computes from the same file. Larger crops are halved by the canvas
// (a bilinear 2× reduction averages each 2×2 block) until they are at most twice REDUCED_SIDE,
// then drawn at REDUCED_SIDE: every source pixel contributes, nothing aliases, and the readback
// stays small (REDUCED_SIDE² × 4 bytes).
//
// The canvases are made once per source size and reused, so the camera's frames allocate only
// what getImageData must return (the canvas API has no way to read into an existing buffer).
import { centerCropResize } from './center-crop-resize.ts';

/** Side of the canvas read back: 4 × the network's 32, so the final step is an exact 4×4 box. */
export const REDUCED_SIDE = 128;

type Context2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

interface Level {
  side: number;
  canvas: HTMLCanvasElement | OffscreenCanvas;
  ctx: Context2D;
}

/** Crop geometry: the largest centred square, as centerCropResize takes it. */
export function centerSquare(width: number, height: number): { x: number; y: number; side: number } {
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

/** The canvas sides a crop of `side` pixels is drawn at, largest first; the last is read back. */
export function reductionSteps(side: number, reduced = REDUCED_SIDE): number[] {
  if (!(Number.isInteger(side) && side > 0)) throw new RangeError(`reductionSteps: crop side ${side} must be a positive integer`);
  if (side <= reduced) return [side];
  const steps: number[] = [];
  let s = side;
  while (s > 2 * reduced) {
    s = Math.ceil(s / 2);
    steps.push(s);
  }
  steps.push(reduced);
  return steps;
}

function makeCanvas(side: number): Level {
  const canvas: HTMLCanvasElement | OffscreenCanvas =
    typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(side, side) : Object.assign(document.createElement('canvas'), { width: side, height: side });
  const ctx = canvas.getContext('2d', { willReadFrequently: true, alpha: false }) as Context2D | null;
  if (!ctx) throw new Error('SquareSampler: this browser gives no 2D canvas context');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  return { side, canvas, ctx };
}

export class SquareSampler {
  private levels: Level[] = [];
  private cropSide = 0;

  /**
   * Writes the centre square of `source` (width × height pixels, as shown: a video's videoWidth ×
   * videoHeight, an ImageBitmap's size) into `out` as side × side × 3 RGB bytes (NHWC, side =
   * √(out.length / 3)). Returns out.
   */
  sample(source: CanvasImageSource, width: number, height: number, out: Uint8Array): Uint8Array {
    if (!(width > 0 && height > 0)) throw new RangeError(`SquareSampler: source is ${width}×${height} pixels; nothing to sample`);
    const crop = centerSquare(width, height);
    if (crop.side !== this.cropSide) {
      this.levels = reductionSteps(crop.side).map(makeCanvas);
      this.cropSide = crop.side;
    }
    const { levels } = this;
    const first = levels[0];
    first.ctx.drawImage(source, crop.x, crop.y, crop.side, crop.side, 0, 0, first.side, first.side);
    for (let i = 1; i < levels.length; i++) {
      const from = levels[i - 1];
      const to = levels[i];
      to.ctx.drawImage(from.canvas, 0, 0, from.side, from.side, 0, 0, to.side, to.side);
    }
    const last = levels[levels.length - 1];
    const pixels = last.ctx.getImageData(0, 0, last.side, last.side).data;
    return centerCropResize(pixels, last.side, last.side, out);
  }
}

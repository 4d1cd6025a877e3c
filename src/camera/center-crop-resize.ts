// Centre crop to a square and resize by area averaging: the one way an image (a camera frame, a
// PNG or JPEG in a dataset folder) becomes the network's small RGB input. Pure and allocation-free,
// so it can run on every frame.

/**
 * Crops the largest centred square from an RGBA image of w×h pixels (row-major, 4 bytes per
 * pixel, alpha ignored) and resizes it to out's side × side × 3 RGB bytes (side = √(out.length / 3),
 * 32 for the network input) by area averaging: output pixel (oy, ox) is the mean of the source
 * square's area it covers, with partly covered pixels weighted by the covered fraction. When the
 * crop is smaller than the output this becomes a box filter (up to two source pixels blended).
 * Returns out.
 */
export function centerCropResize(rgba: Uint8Array | Uint8ClampedArray, w: number, h: number, out32: Uint8Array): Uint8Array {
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) {
    throw new RangeError(`centerCropResize: image size ${w}×${h} must be positive integers`);
  }
  if (rgba.length < w * h * 4) {
    throw new RangeError(`centerCropResize: ${rgba.length} bytes for a ${w}×${h} RGBA image (needs ${w * h * 4})`);
  }
  const side = Math.round(Math.sqrt(out32.length / 3));
  if (side === 0 || side * side * 3 !== out32.length) {
    throw new RangeError(`centerCropResize: output of ${out32.length} bytes is not side × side × 3 RGB`);
  }
  const s = Math.min(w, h);
  const x0 = Math.floor((w - s) / 2);
  const y0 = Math.floor((h - s) / 2);
  const step = s / side; // source pixels per output pixel along each axis
  const invArea = 1 / (step * step);
  for (let oy = 0; oy < side; oy++) {
    const ya = oy * step;
    const yb = ya + step;
    const yEnd = Math.min(Math.ceil(yb), s);
    for (let ox = 0; ox < side; ox++) {
      const xa = ox * step;
      const xb = xa + step;
      const xEnd = Math.min(Math.ceil(xb), s);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = Math.floor(ya); sy < yEnd; sy++) {
        const wy = Math.min(yb, sy + 1) - Math.max(ya, sy);
        const row = ((y0 + sy) * w + x0) * 4;
        for (let sx = Math.floor(xa); sx < xEnd; sx++) {
          const wxy = wy * (Math.min(xb, sx + 1) - Math.max(xa, sx));
          const p = row + sx * 4;
          r += rgba[p] * wxy;
          g += rgba[p + 1] * wxy;
          b += rgba[p + 2] * wxy;
        }
      }
      const o = (oy * side + ox) * 3;
      // Values stay within 0..255 up to rounding error; the clamp guards the last bit.
      out32[o] = Math.min(255, Math.max(0, Math.round(r * invArea)));
      out32[o + 1] = Math.min(255, Math.max(0, Math.round(g * invArea)));
      out32[o + 2] = Math.min(255, Math.max(0, Math.round(b * invArea)));
    }
  }
  return out32;
}

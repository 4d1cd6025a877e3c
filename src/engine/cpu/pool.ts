// Max and average pooling on the CPU, NHWC. Padded cells (from 'same' or explicit padding) are
// ignored: they never win a max and are not counted in an average, as in TF.
import type { PoolInfo } from '../shapes.ts';

/**
 * Forward for images [0, n). For max pooling, when `argmax` is given it receives, for each output
 * element, the index in x of the winning input element (used by the backward pass).
 */
export function poolForward(info: PoolInfo, x: Float32Array, y: Float32Array, n: number, argmax: Int32Array | null): void {
  const { h, w, c } = info.in;
  const { h: oh, w: ow } = info.out;
  const isMax = info.kind === 'maxpool';
  for (let img = 0; img < n; img++) {
    const xBase = img * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(oy * info.sh - info.padTop, 0);
      const y1 = Math.min(oy * info.sh - info.padTop + info.kh, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.max(ox * info.sw - info.padLeft, 0);
        const x1 = Math.min(ox * info.sw - info.padLeft + info.kw, w);
        const out = ((img * oh + oy) * ow + ox) * c;
        if (isMax) {
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity;
            let bestAt = -1;
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const at = xBase + (iy * w + ix) * c + ch;
                if (x[at] > best || bestAt < 0) {
                  best = x[at];
                  bestAt = at;
                }
              }
            }
            y[out + ch] = best;
            if (argmax) argmax[out + ch] = bestAt;
          }
        } else {
          const inv = 1 / ((y1 - y0) * (x1 - x0));
          for (let ch = 0; ch < c; ch++) y[out + ch] = 0;
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const at = xBase + (iy * w + ix) * c;
              for (let ch = 0; ch < c; ch++) y[out + ch] += x[at + ch];
            }
          }
          for (let ch = 0; ch < c; ch++) y[out + ch] *= inv;
        }
      }
    }
  }
}

/** dx for images [0, n) from dy. Max pooling routes each gradient to its argmax. */
export function poolBackward(info: PoolInfo, dy: Float32Array, dx: Float32Array, n: number, argmax: Int32Array | null): void {
  const { h, w, c } = info.in;
  const { h: oh, w: ow } = info.out;
  dx.fill(0, 0, n * h * w * c);
  const outCount = n * oh * ow * c;
  if (info.kind === 'maxpool') {
    if (!argmax) throw new Error(`maxpool "${info.name}": backward needs the argmax of a training forward pass`);
    for (let i = 0; i < outCount; i++) dx[argmax[i]] += dy[i];
    return;
  }
  for (let img = 0; img < n; img++) {
    const xBase = img * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(oy * info.sh - info.padTop, 0);
      const y1 = Math.min(oy * info.sh - info.padTop + info.kh, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.max(ox * info.sw - info.padLeft, 0);
        const x1 = Math.min(ox * info.sw - info.padLeft + info.kw, w);
        const inv = 1 / ((y1 - y0) * (x1 - x0));
        const out = ((img * oh + oy) * ow + ox) * c;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const at = xBase + (iy * w + ix) * c;
            for (let ch = 0; ch < c; ch++) dx[at + ch] += dy[out + ch] * inv;
          }
        }
      }
    }
  }
}

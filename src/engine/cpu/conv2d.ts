// conv2d on the CPU, NHWC.
// Convolve x(n, y, x, ci) with w(ky, kx, ci, co) (HWIO) to get y(n, oy, ox, co), plus bias, then
// the fused activation.
//
// The input is first copied into a zero-padded buffer (when the layer pads), so the inner loop has
// no bounds checks. In the padded input, one kernel row (kx = 0..KW-1, all ci) is KW·CI
// consecutive floats, and the packed weights store the same row consecutively for each block of
// four output channels. The inner loop therefore walks two contiguous arrays and keeps 2 output
// pixels × 4 output channels in locals (register blocking).
import type { Conv2dInfo } from '../shapes.ts';
import { activationForward } from './activation.ts';

/** Reusable state of one conv layer: packed weights and the padded-input scratch. */
export interface Conv2dPlan {
  info: Conv2dInfo;
  /** Padded input sizes. */
  hp: number;
  wp: number;
  padded: boolean;
  rowLen: number;
  coBlocks: number;
  /** packed[((cb·KH + ky)·rowLen + j)·4 + r] = w(ky, j / CI, j % CI, 4·cb + r), zero past CO. */
  packed: Float32Array;
  bias: Float32Array;
  /** Backward scratch: window offset of each output pixel in the batch (grown on demand). */
  pixelOffsets: Int32Array;
}

export function createConv2dPlan(info: Conv2dInfo): Conv2dPlan {
  const hp = info.in.h + info.padTop + info.padBottom;
  const wp = info.in.w + info.padLeft + info.padRight;
  const rowLen = info.kw * info.in.c;
  const coBlocks = Math.ceil(info.out.c / 4);
  return {
    info,
    hp,
    wp,
    padded: hp !== info.in.h || wp !== info.in.w,
    rowLen,
    coBlocks,
    packed: new Float32Array(coBlocks * info.kh * rowLen * 4),
    bias: new Float32Array(coBlocks * 4),
    pixelOffsets: new Int32Array(0),
  };
}

/** Copies the layer's weights and biases from the model parameters into the plan's packed form. */
export function packConv2dWeights(plan: Conv2dPlan, params: Float32Array): void {
  const { info, rowLen, coBlocks, packed, bias } = plan;
  const co = info.out.c;
  const w0 = info.paramOffset;
  for (let cb = 0; cb < coBlocks; cb++) {
    for (let ky = 0; ky < info.kh; ky++) {
      for (let j = 0; j < rowLen; j++) {
        const dst = ((cb * info.kh + ky) * rowLen + j) * 4;
        const src = w0 + (ky * rowLen + j) * co + cb * 4;
        for (let r = 0; r < 4; r++) packed[dst + r] = cb * 4 + r < co ? params[src + r] : 0;
      }
    }
  }
  bias.fill(0);
  if (info.biasOffset >= 0) for (let o = 0; o < co; o++) bias[o] = params[info.biasOffset + o];
}

export const paddedSize = (plan: Conv2dPlan): number => plan.hp * plan.wp * plan.info.in.c;

/**
 * Writes image `n` of x, zero-padded, into xp at image offset n. Border cells are written as zeros
 * every time, so xp may be reused without clearing.
 */
export function padInput(plan: Conv2dPlan, x: Float32Array, xp: Float32Array, n: number): void {
  const { info, hp, wp } = plan;
  const { h, w, c } = info.in;
  const src0 = n * h * w * c;
  const dst0 = n * hp * wp * c;
  const rowFloats = wp * c;
  for (let py = 0; py < hp; py++) {
    const iy = py - info.padTop;
    const d = dst0 + py * rowFloats;
    if (iy < 0 || iy >= h) {
      xp.fill(0, d, d + rowFloats);
      continue;
    }
    const left = info.padLeft * c;
    xp.fill(0, d, d + left);
    // A plain loop rather than set(subarray(...)): no view objects on the per-frame path.
    const s = src0 + iy * w * c;
    for (let i = 0; i < w * c; i++) xp[d + left + i] = x[s + i];
    xp.fill(0, d + left + w * c, d + rowFloats);
  }
}

/**
 * Forward for images [0, n). `xp` holds the padded input when plan.padded (see padInput), else it
 * is x itself.
 */
export function conv2dForward(plan: Conv2dPlan, xp: Float32Array, y: Float32Array, n: number): void {
  const { info, wp, rowLen, coBlocks, packed, bias } = plan;
  const { kh, sh, sw } = info;
  const ci = info.in.c;
  const { h: oh, w: ow, c: co } = info.out;
  const inImage = plan.hp * wp * ci;
  const outImage = oh * ow * co;
  const stepX = sw * ci; // input floats between horizontally adjacent output pixels
  const rowFloats = wp * ci;
  const blockStride = kh * rowLen * 4;
  for (let img = 0; img < n; img++) {
    const xBase = img * inImage;
    const yBase = img * outImage;
    for (let oy = 0; oy < oh; oy++) {
      const rowBase = xBase + oy * sh * rowFloats;
      let ox = 0;
      // Two output pixels at a time.
      for (; ox + 1 < ow; ox += 2) {
        const p0 = rowBase + ox * stepX;
        const y0 = yBase + (oy * ow + ox) * co;
        for (let cb = 0; cb < coBlocks; cb++) {
          const c0 = cb * 4;
          let a0 = bias[c0], a1 = bias[c0 + 1], a2 = bias[c0 + 2], a3 = bias[c0 + 3];
          let b0 = a0, b1 = a1, b2 = a2, b3 = a3;
          let q = cb * blockStride;
          for (let ky = 0; ky < kh; ky++) {
            const r0 = p0 + ky * rowFloats;
            const r1 = r0 + stepX;
            for (let j = 0; j < rowLen; j++, q += 4) {
              const u = xp[r0 + j];
              const v = xp[r1 + j];
              const w0 = packed[q], w1 = packed[q + 1], w2 = packed[q + 2], w3 = packed[q + 3];
              a0 += u * w0; a1 += u * w1; a2 += u * w2; a3 += u * w3;
              b0 += v * w0; b1 += v * w1; b2 += v * w2; b3 += v * w3;
            }
          }
          const o0 = y0 + c0;
          const o1 = o0 + co;
          if (c0 + 3 < co) {
            y[o0] = a0; y[o0 + 1] = a1; y[o0 + 2] = a2; y[o0 + 3] = a3;
            y[o1] = b0; y[o1 + 1] = b1; y[o1 + 2] = b2; y[o1 + 3] = b3;
          } else {
            // Last, partial block of output channels (CO not a multiple of 4).
            y[o0] = a0; y[o1] = b0;
            if (c0 + 1 < co) { y[o0 + 1] = a1; y[o1 + 1] = b1; }
            if (c0 + 2 < co) { y[o0 + 2] = a2; y[o1 + 2] = b2; }
          }
        }
      }
      // The odd pixel at the end of the row.
      if (ox < ow) {
        const p0 = rowBase + ox * stepX;
        const y0 = yBase + (oy * ow + ox) * co;
        for (let cb = 0; cb < coBlocks; cb++) {
          const c0 = cb * 4;
          let a0 = bias[c0], a1 = bias[c0 + 1], a2 = bias[c0 + 2], a3 = bias[c0 + 3];
          let q = cb * blockStride;
          for (let ky = 0; ky < kh; ky++) {
            const r0 = p0 + ky * rowFloats;
            for (let j = 0; j < rowLen; j++, q += 4) {
              const u = xp[r0 + j];
              a0 += u * packed[q]; a1 += u * packed[q + 1]; a2 += u * packed[q + 2]; a3 += u * packed[q + 3];
            }
          }
          const o0 = y0 + c0;
          if (c0 < co) y[o0] = a0;
          if (c0 + 1 < co) y[o0 + 1] = a1;
          if (c0 + 2 < co) y[o0 + 2] = a2;
          if (c0 + 3 < co) y[o0 + 3] = a3;
        }
      }
    }
  }
  activationForward(info.activation, y, 0, n * outImage);
}

/**
 * Backward for images [0, n), given dz = dL/d(pre-activation output) (the caller applies the
 * activation derivative). Accumulates dW and db into `grads` at the layer's parameter offsets and,
 * when dxp is given, writes dL/d(padded input) into dxp (caller un-pads). `w` is the model's
 * parameter array (HWIO weights).
 *
 * dW(k, co) = Σ_pixels xpatch(pixel, k) · dz(pixel, co), where k = (ky, kx, ci) runs over a kernel
 * row as in the forward pass; it is computed with k outer and 2 k × 4 co accumulators in locals.
 * dxpatch(pixel, k) = Σ_co w(k, co) · dz(pixel, co), with 4 k × 2 pixels in locals.
 */
export function conv2dBackward(
  plan: Conv2dPlan,
  xp: Float32Array,
  w: Float32Array,
  dz: Float32Array,
  grads: Float32Array,
  dxp: Float32Array | null,
  n: number,
): void {
  const { info, wp, rowLen } = plan;
  const { kh, sh, sw } = info;
  const ci = info.in.c;
  const { h: oh, w: ow, c: co } = info.out;
  const inImage = plan.hp * wp * ci;
  const rowFloats = wp * ci;
  const wOff = info.paramOffset;
  const pixels = n * oh * ow;
  // Input offset of each output pixel's window (top-left), over the whole batch.
  const at = plan.pixelOffsets.length >= pixels ? plan.pixelOffsets : (plan.pixelOffsets = new Int32Array(pixels));
  for (let img = 0, p = 0; img < n; img++) {
    for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) at[p++] = img * inImage + oy * sh * rowFloats + ox * sw * ci;
  }

  // dW, four output channels at a time.
  for (let c0 = 0; c0 < co; c0 += 4) {
    const cw = Math.min(4, co - c0);
    for (let ky = 0; ky < kh; ky++) {
      const kOff = ky * rowFloats;
      let j = 0;
      for (; j + 1 < rowLen; j += 2) {
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        const off = kOff + j;
        if (cw === 4) {
          for (let p = 0, d = c0; p < pixels; p++, d += co) {
            const u = xp[at[p] + off];
            const v = xp[at[p] + off + 1];
            const g0 = dz[d], g1 = dz[d + 1], g2 = dz[d + 2], g3 = dz[d + 3];
            a0 += u * g0; a1 += u * g1; a2 += u * g2; a3 += u * g3;
            b0 += v * g0; b1 += v * g1; b2 += v * g2; b3 += v * g3;
          }
        } else {
          for (let p = 0, d = c0; p < pixels; p++, d += co) {
            const u = xp[at[p] + off];
            const v = xp[at[p] + off + 1];
            const g0 = dz[d], g1 = cw > 1 ? dz[d + 1] : 0, g2 = cw > 2 ? dz[d + 2] : 0;
            a0 += u * g0; a1 += u * g1; a2 += u * g2;
            b0 += v * g0; b1 += v * g1; b2 += v * g2;
          }
        }
        const wa = wOff + (ky * rowLen + j) * co + c0;
        const wb = wa + co;
        grads[wa] += a0; grads[wb] += b0;
        if (cw > 1) { grads[wa + 1] += a1; grads[wb + 1] += b1; }
        if (cw > 2) { grads[wa + 2] += a2; grads[wb + 2] += b2; }
        if (cw > 3) { grads[wa + 3] += a3; grads[wb + 3] += b3; }
      }
      for (; j < rowLen; j++) {
        const off = kOff + j;
        const wa = wOff + (ky * rowLen + j) * co + c0;
        for (let r = 0; r < cw; r++) {
          let a = 0;
          for (let p = 0, d = c0 + r; p < pixels; p++, d += co) a += xp[at[p] + off] * dz[d];
          grads[wa + r] += a;
        }
      }
    }
  }

  if (info.biasOffset >= 0) {
    const b = info.biasOffset;
    for (let p = 0; p < pixels; p++) for (let o = 0; o < co; o++) grads[b + o] += dz[p * co + o];
  }

  if (!dxp) return;
  dxp.fill(0, 0, n * inImage);
  for (let p = 0; p < pixels; p++) {
    const d0 = p * co;
    for (let ky = 0; ky < kh; ky++) {
      const r = at[p] + ky * rowFloats;
      const wRow = wOff + ky * rowLen * co;
      let j = 0;
      for (; j + 3 < rowLen; j += 4) {
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const w0 = wRow + j * co;
        for (let o = 0; o < co; o++) {
          const g = dz[d0 + o];
          a0 += w[w0 + o] * g;
          a1 += w[w0 + co + o] * g;
          a2 += w[w0 + 2 * co + o] * g;
          a3 += w[w0 + 3 * co + o] * g;
        }
        dxp[r + j] += a0; dxp[r + j + 1] += a1; dxp[r + j + 2] += a2; dxp[r + j + 3] += a3;
      }
      for (; j < rowLen; j++) {
        let a = 0;
        const w0 = wRow + j * co;
        for (let o = 0; o < co; o++) a += w[w0 + o] * dz[d0 + o];
        dxp[r + j] += a;
      }
    }
  }
}

/** Copies the interior of the padded gradient dxp into dx (the inverse of padInput). */
export function unpadGradient(plan: Conv2dPlan, dxp: Float32Array, dx: Float32Array, n: number): void {
  const { info, hp, wp } = plan;
  const { h, w, c } = info.in;
  for (let img = 0; img < n; img++) {
    for (let iy = 0; iy < h; iy++) {
      const s = img * hp * wp * c + ((iy + info.padTop) * wp + info.padLeft) * c;
      dx.set(dxp.subarray(s, s + w * c), img * h * w * c + iy * w * c);
    }
  }
}

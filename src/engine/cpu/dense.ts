// Fully connected layer on the CPU. x is [n, IN] (the NHWC input flattened), w is [IN, OUT]
// (w(i, o) at i·OUT + o), y is [n, OUT]; y = act(x·w + b).
import type { DenseInfo } from '../shapes.ts';
import { activationForward } from './activation.ts';

export function denseForward(info: DenseInfo, params: Float32Array, x: Float32Array, y: Float32Array, n: number): void {
  const { inSize, units, paramOffset: w0, biasOffset } = info;
  for (let img = 0; img < n; img++) {
    const yo = img * units;
    for (let o = 0; o < units; o++) y[yo + o] = biasOffset >= 0 ? params[biasOffset + o] : 0;
    const xo = img * inSize;
    for (let i = 0; i < inSize; i++) {
      const xv = x[xo + i];
      if (xv === 0) continue; // common after relu
      const wi = w0 + i * units;
      for (let o = 0; o < units; o++) y[yo + o] += xv * params[wi + o];
    }
  }
  activationForward(info.activation, y, 0, n * units);
}

/**
 * Given dz = dL/d(pre-activation y) for images [0, n), accumulates dW, db into grads and, when dx
 * is given, writes dL/dx.
 */
export function denseBackward(
  info: DenseInfo,
  params: Float32Array,
  x: Float32Array,
  dz: Float32Array,
  grads: Float32Array,
  dx: Float32Array | null,
  n: number,
): void {
  const { inSize, units, paramOffset: w0, biasOffset } = info;
  for (let img = 0; img < n; img++) {
    const zo = img * units;
    const xo = img * inSize;
    for (let i = 0; i < inSize; i++) {
      const xv = x[xo + i];
      const wi = w0 + i * units;
      let acc = 0;
      for (let o = 0; o < units; o++) {
        const g = dz[zo + o];
        grads[wi + o] += xv * g;
        acc += params[wi + o] * g;
      }
      if (dx) dx[xo + i] = acc;
    }
    if (biasOffset >= 0) for (let o = 0; o < units; o++) grads[biasOffset + o] += dz[zo + o];
  }
}

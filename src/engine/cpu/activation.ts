// Element-wise activations on the CPU, in place. The backward pass uses the activation's
// *output* y (relu: y > 0, sigmoid: y(1 - y), tanh: 1 - y²), so no pre-activation is kept.
import type { Activation } from '../spec.ts';

export function activationForward(act: Activation, y: Float32Array, start: number, end: number): void {
  switch (act) {
    case 'linear':
      return;
    case 'relu':
      for (let i = start; i < end; i++) if (!(y[i] > 0)) y[i] = 0;
      return;
    case 'sigmoid':
      for (let i = start; i < end; i++) y[i] = sigmoid(y[i]);
      return;
    case 'tanh':
      for (let i = start; i < end; i++) y[i] = Math.tanh(y[i]);
      return;
  }
}

export function sigmoid(v: number): number {
  // Split by sign so that exp never overflows.
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** dz = dy · act'(y), written over dy. */
export function activationBackward(act: Activation, y: Float32Array, dy: Float32Array, start: number, end: number): void {
  switch (act) {
    case 'linear':
      return;
    case 'relu':
      for (let i = start; i < end; i++) if (!(y[i] > 0)) dy[i] = 0;
      return;
    case 'sigmoid':
      for (let i = start; i < end; i++) dy[i] *= y[i] * (1 - y[i]);
      return;
    case 'tanh':
      for (let i = start; i < end; i++) dy[i] *= 1 - y[i] * y[i];
      return;
  }
}

// Softmax over the channel axis at every position (Keras' axis=-1), NHWC.

/** y = softmax(x) over groups of `c` consecutive values; x and y may be the same array. */
export function softmaxForward(x: Float32Array, y: Float32Array, groups: number, c: number): void {
  for (let g = 0; g < groups; g++) {
    const o = g * c;
    let max = -Infinity;
    for (let i = 0; i < c; i++) if (x[o + i] > max) max = x[o + i];
    let sum = 0;
    for (let i = 0; i < c; i++) {
      const e = Math.exp(x[o + i] - max);
      y[o + i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = 0; i < c; i++) y[o + i] *= inv;
  }
}

/** dx = y ⊙ (dy − Σ dy·y) per group. */
export function softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, groups: number, c: number): void {
  for (let g = 0; g < groups; g++) {
    const o = g * c;
    let dot = 0;
    for (let i = 0; i < c; i++) dot += dy[o + i] * y[o + i];
    for (let i = 0; i < c; i++) dx[o + i] = y[o + i] * (dy[o + i] - dot);
  }
}

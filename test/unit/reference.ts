// An independent reference for the engine: every layer as the plainest nested loops, in float64,
// straight from the definitions (no padding buffers, no packing, no blocking).
import { inferShapes, type LayerInfo, type NetworkInfo } from '../../src/engine/shapes.ts';
import type { Activation, ModelSpec } from '../../src/engine/spec.ts';

function act(a: Activation, v: number): number {
  switch (a) {
    case 'linear':
      return v;
    case 'relu':
      return Math.max(v, 0);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-v));
    case 'tanh':
      return Math.tanh(v);
  }
}

/** One layer on one image (NHWC arrays, float64). */
export function referenceLayer(l: LayerInfo, p: ArrayLike<number>, x: Float64Array): Float64Array {
  const { h, w, c } = l.in;
  const o = l.out;
  const y = new Float64Array(o.h * o.w * o.c);
  const at = (yy: number, xx: number, cc: number) => (yy * w + xx) * c + cc;
  switch (l.kind) {
    case 'conv2d':
      for (let oy = 0; oy < o.h; oy++)
        for (let ox = 0; ox < o.w; ox++)
          for (let co = 0; co < o.c; co++) {
            let s = l.biasOffset >= 0 ? p[l.biasOffset + co] : 0;
            for (let ky = 0; ky < l.kh; ky++)
              for (let kx = 0; kx < l.kw; kx++) {
                const iy = oy * l.sh + ky - l.padTop;
                const ix = ox * l.sw + kx - l.padLeft;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ci = 0; ci < c; ci++) s += x[at(iy, ix, ci)] * p[l.paramOffset + ((ky * l.kw + kx) * c + ci) * o.c + co];
              }
            y[(oy * o.w + ox) * o.c + co] = act(l.activation, s);
          }
      return y;
    case 'maxpool':
    case 'avgpool':
      for (let oy = 0; oy < o.h; oy++)
        for (let ox = 0; ox < o.w; ox++)
          for (let cc = 0; cc < c; cc++) {
            let best = -Infinity;
            let sum = 0;
            let count = 0;
            for (let ky = 0; ky < l.kh; ky++)
              for (let kx = 0; kx < l.kw; kx++) {
                const iy = oy * l.sh + ky - l.padTop;
                const ix = ox * l.sw + kx - l.padLeft;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const v = x[at(iy, ix, cc)];
                best = Math.max(best, v);
                sum += v;
                count++;
              }
            y[(oy * o.w + ox) * c + cc] = l.kind === 'maxpool' ? best : sum / count;
          }
      return y;
    case 'dense':
      for (let u = 0; u < l.units; u++) {
        let s = l.biasOffset >= 0 ? p[l.biasOffset + u] : 0;
        for (let i = 0; i < l.inSize; i++) s += x[i] * p[l.paramOffset + i * l.units + u];
        y[u] = act(l.activation, s);
      }
      return y;
    case 'activation':
      for (let i = 0; i < y.length; i++) y[i] = act(l.activation, x[i]);
      return y;
    case 'softmax':
      for (let g = 0; g < o.h * o.w; g++) {
        let max = -Infinity;
        for (let i = 0; i < c; i++) max = Math.max(max, x[g * c + i]);
        let sum = 0;
        for (let i = 0; i < c; i++) sum += Math.exp(x[g * c + i] - max);
        for (let i = 0; i < c; i++) y[g * c + i] = Math.exp(x[g * c + i] - max) / sum;
      }
      return y;
  }
}

/** Whole network on one already-normalised image. */
export function referenceForward(info: NetworkInfo, p: ArrayLike<number>, x: Float64Array): Float64Array {
  let v = x;
  for (const l of info.layers) v = referenceLayer(l, p, v);
  return v;
}

export function referenceNormalise(spec: ModelSpec, bytes: Uint8Array): Float64Array {
  const info = inferShapes(spec);
  const c = info.input.c;
  return Float64Array.from(bytes, (b, i) => (b - info.mean[i % c]) * info.invStd[i % c]);
}

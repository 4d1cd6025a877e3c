// Fully connected layer as a fragment shader, bias and activation fused: one fragment writes 4
// output units of one image. The input (H, W, C) is read in NHWC flattening order (y, x, c), the
// order of the CPU layer and of Keras' Flatten.
//
// Weights: row s of the weight matrix holds, for every input texel t = (y · W + x) · CI4 + c, the
// mat4 whose column j is w(i = (y · W + x) · C + 4c + j, 4s .. 4s + 3): texels k = 4t + j.
// Channels past C or units past OUT have zero weights. Biases: a 1-row texture, texel s =
// b(4s .. 4s + 3).
import type { DenseInfo, SoftmaxInfo } from '../../shapes.ts';
import {
  glslLaneMask,
  glslMatrixFetch,
  glslOutputCoords,
  glslTensorFetch,
  matrixLayout,
  matrixTexelIndex,
    type MatrixLayout,
} from '../layout.ts';
import { GLSL_HEADER, glslActivation, type GpuProgram, type ProgramIO } from '../program.ts';

export function denseWeightLayout(info: DenseInfo, maxSize: number): MatrixLayout {
  const { h, w, c } = info.in;
  return matrixLayout(Math.ceil(info.units / 4), h * w * Math.ceil(c / 4) * 4, maxSize, `dense "${info.name}" weights`);
}

/** Writes the layer's weights and biases from the model parameters into texel arrays. */
export function packDenseParams(info: DenseInfo, params: Float32Array, m: MatrixLayout, weights: Float32Array, bias: Float32Array): void {
  const c = info.in.c;
  const c4 = Math.ceil(c / 4);
  const units = info.units;
  const pixels = info.in.h * info.in.w;
  weights.fill(0);
  for (let s = 0; s < m.rows; s++) {
    for (let p = 0; p < pixels; p++) {
      for (let ch = 0; ch < c; ch++) {
        const at = matrixTexelIndex(m, s, (p * c4 + (ch >> 2)) * 4 + (ch & 3));
        const src = info.paramOffset + (p * c + ch) * units;
        for (let r = 0; r < 4 && 4 * s + r < units; r++) weights[at + r] = params[src + 4 * s + r];
      }
    }
  }
  bias.fill(0);
  if (info.biasOffset >= 0) bias.set(params.subarray(info.biasOffset, info.biasOffset + units));
}

/** Largest layer whose softmax is fused into it: every fragment computes all units, so keep it small. */
const MAX_FUSED_SOFTMAX_UNITS = 32;

export const canFuseSoftmax = (info: DenseInfo): boolean => info.units <= MAX_FUSED_SOFTMAX_UNITS;

/**
 * y = act(x · W + b), one fragment per 4 units. With a fused softmax (small layers only), every
 * fragment computes all the units of its image, then writes its 4 softmax outputs: one draw less
 * per frame, for work that is tiny at class-score sizes.
 */
export class DenseProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X', 'W', 'B'] as const;
  readonly output;

  constructor(info: DenseInfo, io: ProgramIO, weights: MatrixLayout, softmax: SoftmaxInfo | null) {
    if (softmax && !canFuseSoftmax(info)) throw new Error(`softmax "${softmax.name}" cannot be fused into dense "${info.name}" of ${info.units} units`);
    this.name = softmax ? `dense "${info.name}" + softmax "${softmax.name}"` : `dense "${info.name}"`;
    this.output = io.output;
    const { h, w, c } = info.in;
    const slices = Math.ceil(info.units / 4);
    const decl = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', io.input, io.source)}
${glslMatrixFetch('fetchW', 'W', weights)}
uniform highp sampler2D B;
${glslActivation(info.activation)}
${glslLaneMask('laneMask', info.units)}
vec4 units(int n, int s) {
  vec4 acc = texelFetch(B, ivec2(s, 0), 0);
  int k = 0;
  for (int iy = 0; iy < ${h}; iy++) {
    for (int ix = 0; ix < ${w}; ix++) {
      for (int c = 0; c < ${Math.ceil(c / 4)}; c++) {
        acc += mat4(fetchW(s, k), fetchW(s, k + 1), fetchW(s, k + 2), fetchW(s, k + 3)) * fetchX(n, iy, ix, c);
        k += 4;
      }
    }
  }
  return act(acc);
}
`;
    this.source = softmax
      ? `${decl}
const float LOWEST = -3.4028234663852886e38;
void main() {
  ${glslOutputCoords(io.output)}
  vec4 z[${slices}];
  vec4 m4 = vec4(LOWEST);
  for (int t = 0; t < ${slices}; t++) {
    z[t] = units(n, t);
    m4 = max(m4, mix(vec4(LOWEST), z[t], greaterThan(laneMask(t), vec4(0.5))));
  }
  float m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  float sum = 0.0;
  // z − m ≤ 0 in real lanes; min() keeps exp finite in padding lanes.
  for (int t = 0; t < ${slices}; t++) sum += dot(exp(min(z[t] - m, 0.0)) * laneMask(t), vec4(1.0));
  result = exp(min(z[s] - m, 0.0)) * laneMask(s) * (1.0 / sum);
}
`
      : `${decl}
void main() {
  ${glslOutputCoords(io.output)}
  result = units(n, s) * laneMask(s);
}
`;
  }
}

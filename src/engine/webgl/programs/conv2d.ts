// conv2d as a fragment shader, with bias and activation fused, optionally followed by a fused
// 2×2 stride-2 max pool.
// Convolve x(n, iy, ix, ci) with w(ky, kx, ci, co) (HWIO) to get y(n, oy, ox, co); one fragment
// writes the 4 output channels 4s..4s+3 of one output pixel (of the pool's output when fused: the
// max of the 2×2 conv outputs (2y + dy, 2x + dx) after the activation, as pooling the CPU output
// would).
//
// Weights: row s of the weight matrix holds, for every tap (ky, kx) and input slice c, the mat4
// whose column j is w(ky, kx, 4c + j, 4s .. 4s + 3), i.e. texels
//     k = ((ky · KW + kx) · CI4 + c) · 4 + j,
// so `mat4(texel k .. k + 3) * x-texel` adds one tap of 4 input to 4 output channels. Channels
// past CI or CO have zero weights. Biases: a 1-row texture, texel s = b(4s .. 4s + 3).
import type { Conv2dInfo, PoolInfo } from '../../shapes.ts';
import {
  glslLaneMask,
  glslMatrixFetch,
  glslOutputCoords,
  glslTensorFetch,
  matrixLayout,
  matrixTexelIndex,
  type InputSource,
  type MatrixLayout,
} from '../layout.ts';
import { GLSL_HEADER, glslActivation, type GpuProgram } from '../program.ts';

export function conv2dWeightLayout(info: Conv2dInfo, maxSize: number): MatrixLayout {
  const ci4 = Math.ceil(info.in.c / 4);
  return matrixLayout(Math.ceil(info.out.c / 4), info.kh * info.kw * ci4 * 4, maxSize, `conv2d "${info.name}" weights`);
}

/** Writes the layer's weights and biases from the model parameters into texel arrays (zeros past CI, CO). */
export function packConv2dParams(info: Conv2dInfo, params: Float32Array, m: MatrixLayout, weights: Float32Array, bias: Float32Array): void {
  const { kh, kw } = info;
  const ci = info.in.c;
  const co = info.out.c;
  const ci4 = Math.ceil(ci / 4);
  weights.fill(0);
  for (let s = 0; s < m.rows; s++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        for (let i = 0; i < ci; i++) {
          const at = matrixTexelIndex(m, s, ((ky * kw + kx) * ci4 + (i >> 2)) * 4 + (i & 3));
          const src = info.paramOffset + ((ky * kw + kx) * ci + i) * co;
          for (let r = 0; r < 4 && 4 * s + r < co; r++) weights[at + r] = params[src + 4 * s + r];
        }
      }
    }
  }
  bias.fill(0);
  if (info.biasOffset >= 0) bias.set(params.subarray(info.biasOffset, info.biasOffset + co));
}

/** Whether a pool layer can be fused into the conv before it: max, 2×2, stride 2, no padding. */
export function canFusePool(pool: PoolInfo): boolean {
  return (
    pool.kind === 'maxpool' &&
    pool.kh === 2 && pool.kw === 2 && pool.sh === 2 && pool.sw === 2 &&
    pool.padTop === 0 && pool.padBottom === 0 && pool.padLeft === 0 && pool.padRight === 0
  );
}

export class Conv2dProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X', 'W', 'B'] as const;
  readonly output;

  constructor(info: Conv2dInfo, input: InputSource, weights: MatrixLayout, pool: PoolInfo | null) {
    if (pool && !canFusePool(pool)) throw new Error(`pool "${pool.name}" cannot be fused into conv2d "${info.name}"`);
    this.name = pool ? `conv2d "${info.name}" + maxpool "${pool.name}"` : `conv2d "${info.name}"`;
    this.output = pool ? pool.out : info.out;
    const { kh, kw, sh, sw, padTop, padLeft } = info;
    const ci4 = Math.ceil(info.in.c / 4);
    const decl = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', info.in, input)}
${glslMatrixFetch('fetchW', 'W', weights)}
uniform highp sampler2D B;
${glslActivation(info.activation)}
${glslLaneMask('laneMask', this.output.c)}
const int IH = ${info.in.h}, IW = ${info.in.w}, CI4 = ${ci4}, KH = ${kh}, KW = ${kw};
mat4 weight(int s, int k) { return mat4(fetchW(s, k), fetchW(s, k + 1), fetchW(s, k + 2), fetchW(s, k + 3)); }
vec4 tap(bool rowOk, int n, int iy, int ix, int c) {
  return (rowOk && ix >= 0 && ix < IW) ? fetchX(n, iy, ix, c) : vec4(0.0);
}
`;
    const coords = glslOutputCoords(this.output);
    this.source = decl + (pool ? fusedMain(coords, sh, sw, padTop, padLeft) : plainMain(coords, sh, sw, padTop, padLeft));
  }
}

// One conv output per fragment. Loops run over taps, then input slices, whose texels and weights
// are adjacent in their textures.
function plainMain(coords: string, sh: number, sw: number, padTop: number, padLeft: number): string {
  return `void main() {
  ${coords}
  vec4 acc = texelFetch(B, ivec2(s, 0), 0);
  int iy0 = y * ${sh} - ${padTop};
  int ix0 = x * ${sw} - ${padLeft};
  for (int ky = 0; ky < KH; ky++) {
    int iy = iy0 + ky;
    if (iy < 0 || iy >= IH) continue;
    for (int kx = 0; kx < KW; kx++) {
      int ix = ix0 + kx;
      if (ix < 0 || ix >= IW) continue;
      int k = (ky * KW + kx) * CI4 * 4;
      for (int c = 0; c < CI4; c++) {
        acc += weight(s, k) * fetchX(n, iy, ix, c);
        k += 4;
      }
    }
  }
  result = act(acc) * laneMask(s);
}
`;
}

// Four conv outputs (2y + dy, 2x + dx) per fragment share each weight mat4. With stride 1 the
// input columns slide: column kx + 1 read for dx = 1 is column kx for dx = 0 at the next tap, so a
// tap costs 2 input reads instead of 4.
function fusedMain(coords: string, sh: number, sw: number, padTop: number, padLeft: number): string {
  const inner =
    sw === 1
      ? `    for (int c = 0; c < CI4; c++) {
      vec4 p0 = tap(ok0, n, r0, ix0, c);
      vec4 p1 = tap(ok1, n, r1, ix0, c);
      int k = (ky * KW * CI4 + c) * 4;
      for (int kx = 0; kx < KW; kx++) {
        vec4 q0 = tap(ok0, n, r0, ix0 + kx + 1, c);
        vec4 q1 = tap(ok1, n, r1, ix0 + kx + 1, c);
        mat4 w = weight(s, k);
        a00 += w * p0; a01 += w * q0;
        a10 += w * p1; a11 += w * q1;
        p0 = q0; p1 = q1;
        k += CI4 * 4;
      }
    }`
      : `    for (int kx = 0; kx < KW; kx++) {
      int c0 = ix0 + kx;
      int c1 = c0 + ${sw};
      int k = (ky * KW + kx) * CI4 * 4;
      for (int c = 0; c < CI4; c++) {
        mat4 w = weight(s, k);
        a00 += w * tap(ok0, n, r0, c0, c); a01 += w * tap(ok0, n, r0, c1, c);
        a10 += w * tap(ok1, n, r1, c0, c); a11 += w * tap(ok1, n, r1, c1, c);
        k += 4;
      }
    }`;
  return `void main() {
  ${coords}
  vec4 bias = texelFetch(B, ivec2(s, 0), 0);
  vec4 a00 = bias, a01 = bias, a10 = bias, a11 = bias;
  int iy0 = 2 * y * ${sh} - ${padTop};
  int ix0 = 2 * x * ${sw} - ${padLeft};
  for (int ky = 0; ky < KH; ky++) {
    int r0 = iy0 + ky;
    int r1 = r0 + ${sh};
    bool ok0 = r0 >= 0 && r0 < IH;
    bool ok1 = r1 >= 0 && r1 < IH;
    if (!ok0 && !ok1) continue;
${inner}
  }
  result = max(max(act(a00), act(a01)), max(act(a10), act(a11))) * laneMask(s);
}
`;
}

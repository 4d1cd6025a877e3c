// conv2d as a fragment shader, with bias and activation fused, optionally followed by a fused
// 2×2 stride-2 max pool.
// Convolve x(n, iy, ix, ci) with w(ky, kx, ci, co) (HWIO) to get y(n, oy, ox, co); one fragment
// writes the 4 output channels 4s..4s+3 of one output pixel (of the pool's output when fused: the
// max of the 2×2 conv outputs (2y + dy, 2x + dx) after the activation, as pooling the CPU output
// would).
//
// The input is read from a texture whose zero border is as wide as the padding (layout.ts), so the
// loops have no bounds checks. When the input is the raw bytes, border bytes normalise to
// −mean/std rather than 0; a bias map, bias + Σ over the taps that fall in the padding of
// w · mean / std, per output position, cancels exactly that (packConv2dBiasMap).
//
// Weights: row s of the weight matrix holds, for every tap (ky, kx) and input slice c, the mat4
// whose column j is w(ky, kx, 4c + j, 4s .. 4s + 3), i.e. texels
//     k = ((ky · KW + kx) · CI4 + c) · 4 + j,
// so `mat4(texel k .. k + 3) * x-texel` adds one tap of 4 input to 4 output channels. Channels
// past CI or CO have zero weights. Biases: a 1-row texture, texel s = b(4s .. 4s + 3).
import type { Conv2dInfo, PoolInfo } from '../../shapes.ts';
import {
  activationBorder,
  glslLaneMask,
  glslMatrixFetch,
  glslOutputCoords,
  glslTensorFetch,
  matrixLayout,
  matrixTexelIndex,
  NO_BORDER,
  type InputSource,
  type MatrixLayout,
} from '../layout.ts';
import { GLSL_HEADER, glslActivation, type GpuProgram, type ProgramIO } from '../program.ts';

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

/** Whether a conv reading input bytes needs a bias map: it pads, and border bytes are not 0 after normalising. */
export const needsBiasMap = (info: Conv2dInfo, source: InputSource): boolean =>
  source.kind === 'bytes' && info.padTop + info.padBottom + info.padLeft + info.padRight > 0;

/**
 * Bias map for a conv reading padded input bytes: texel (ox · CO4 + s, oy) holds
 * b(co) + Σ over taps (ky, kx) in the padding, Σ_ci w(ky, kx, ci, co) · mean[ci] / std[ci], for
 * co = 4s .. 4s + 3 (computed in double precision).
 */
export function packConv2dBiasMap(info: Conv2dInfo, params: Float32Array, mean: Float32Array, invStd: Float32Array, out: Float32Array): void {
  const { kh, kw, sh, sw, padTop, padLeft } = info;
  const { h, w, c: ci } = info.in;
  const { h: oh, w: ow, c: co } = info.out;
  const co4 = Math.ceil(co / 4);
  out.fill(0);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let o = 0; o < co; o++) {
        let acc = info.biasOffset >= 0 ? params[info.biasOffset + o] : 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) continue;
            for (let i = 0; i < ci; i++) acc += params[info.paramOffset + ((ky * kw + kx) * ci + i) * co + o] * mean[i] * invStd[i];
          }
        }
        out[((oy * ow + ox) * co4 + (o >> 2)) * 4 + (o & 3)] = acc;
      }
    }
  }
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

  constructor(info: Conv2dInfo, io: ProgramIO, weights: MatrixLayout, pool: PoolInfo | null) {
    if (pool && !canFusePool(pool)) throw new Error(`pool "${pool.name}" cannot be fused into conv2d "${info.name}"`);
    const want = activationBorder(info);
    const got = io.input.border;
    if (got.top !== want.top || got.bottom !== want.bottom || got.left !== want.left || got.right !== want.right) {
      throw new Error(`conv2d "${info.name}": input border ${JSON.stringify(got)} differs from the padding ${JSON.stringify(want)}`);
    }
    this.name = pool ? `conv2d "${info.name}" + maxpool "${pool.name}"` : `conv2d "${info.name}"`;
    this.output = io.output;
    const ci4 = Math.ceil(info.in.c / 4);
    const biasMap = needsBiasMap(info, io.source);
    // Bias of conv output (oy, ox): the layer's bias texture, or the bias map (layout above).
    const bias = biasMap
      ? glslTensorFetch('fetchB', 'B', { shape: info.out, border: NO_BORDER }, { kind: 'float' }) +
        'vec4 bias(int oy, int ox, int s) { return fetchB(0, oy, ox, s); }\n'
      : 'uniform highp sampler2D B;\nvec4 bias(int oy, int ox, int s) { return texelFetch(B, ivec2(s, 0), 0); }\n';
    const decl = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', io.input, io.source)}
${glslMatrixFetch('fetchW', 'W', weights)}
${bias}
${glslActivation(info.activation)}
${glslLaneMask('laneMask', io.output.shape.c)}
const int CI4 = ${ci4}, KH = ${info.kh}, KW = ${info.kw};
${weightFunction(info.in.c)}
`;
    const coords = glslOutputCoords(io.output);
    const lanes = (v: string) => inputLanes(info.in.c, v);
    this.source = decl + (pool ? fusedMain(coords, info, lanes) : plainMain(coords, info, lanes));
  }
}

// With one input slice of C < 4 channels (an RGB input), the weight of a tap is a mat3x4 (C columns)
// applied to x.xyz: a quarter fewer weight reads and multiply-adds than a mat4 with a zero column.
const columns = (ci: number): number => (ci < 4 ? ci : 4);
const WEIGHT_TYPES = ['', 'vec4', 'mat2x4', 'mat3x4', 'mat4'];

function weightFunction(ci: number): string {
  const cols = columns(ci);
  const fetches = Array.from({ length: cols }, (_, j) => `fetchW(s, k${j ? ` + ${j}` : ''})`).join(', ');
  return `${WEIGHT_TYPES[cols]} weight(int s, int k) { return ${WEIGHT_TYPES[cols]}(${fetches}); }`;
}

/** The lanes of input texel expression `v` that the weight columns multiply. */
function inputLanes(ci: number, v: string): string {
  const cols = columns(ci);
  return cols === 4 ? v : `(${v}).${'xyz'.slice(0, cols)}`;
}

// One conv output per fragment. Loops run over taps, then input slices, whose texels and weights
// are adjacent in their textures.
function plainMain(coords: string, info: Conv2dInfo, x: (v: string) => string): string {
  return `void main() {
  ${coords}
  vec4 acc = bias(y, x, s);
  int iy0 = y * ${info.sh} - ${info.padTop};
  int ix0 = x * ${info.sw} - ${info.padLeft};
  for (int ky = 0; ky < KH; ky++) {
    for (int kx = 0; kx < KW; kx++) {
      int k = (ky * KW + kx) * CI4 * 4;
      for (int c = 0; c < CI4; c++) {
        acc += weight(s, k) * ${x('fetchX(n, iy0 + ky, ix0 + kx, c)')};
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
function fusedMain(coords: string, info: Conv2dInfo, x: (v: string) => string): string {
  const w = `${WEIGHT_TYPES[columns(info.in.c)]} w = weight(s, k);`;
  const { sh, sw } = info;
  const inner =
    sw === 1
      ? `    for (int c = 0; c < CI4; c++) {
      vec4 p0 = fetchX(n, r0, ix0, c);
      vec4 p1 = fetchX(n, r1, ix0, c);
      int k = (ky * KW * CI4 + c) * 4;
      for (int kx = 0; kx < KW; kx++) {
        vec4 q0 = fetchX(n, r0, ix0 + kx + 1, c);
        vec4 q1 = fetchX(n, r1, ix0 + kx + 1, c);
        ${w}
        a00 += w * ${x('p0')}; a01 += w * ${x('q0')};
        a10 += w * ${x('p1')}; a11 += w * ${x('q1')};
        p0 = q0; p1 = q1;
        k += CI4 * 4;
      }
    }`
      : `    for (int kx = 0; kx < KW; kx++) {
      int c0 = ix0 + kx;
      int c1 = c0 + ${sw};
      int k = (ky * KW + kx) * CI4 * 4;
      for (int c = 0; c < CI4; c++) {
        ${w}
        a00 += w * ${x('fetchX(n, r0, c0, c)')}; a01 += w * ${x('fetchX(n, r0, c1, c)')};
        a10 += w * ${x('fetchX(n, r1, c0, c)')}; a11 += w * ${x('fetchX(n, r1, c1, c)')};
        k += 4;
      }
    }`;
  return `void main() {
  ${coords}
  vec4 a00 = bias(2 * y, 2 * x, s), a01 = bias(2 * y, 2 * x + 1, s);
  vec4 a10 = bias(2 * y + 1, 2 * x, s), a11 = bias(2 * y + 1, 2 * x + 1, s);
  int iy0 = 2 * y * ${sh} - ${info.padTop};
  int ix0 = 2 * x * ${sw} - ${info.padLeft};
  for (int ky = 0; ky < KH; ky++) {
    int r0 = iy0 + ky;
    int r1 = r0 + ${sh};
${inner}
  }
  result = max(max(act(a00), act(a01)), max(act(a10), act(a11))) * laneMask(s);
}
`;
}

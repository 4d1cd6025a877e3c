// Texture layouts: the one place where a tensor becomes a texture of width × height RGBA texels.
// Programs never compute texel coordinates themselves; they paste the GLSL fetch functions made
// here and ask here for texture sizes.
//
// Activations [N, H, W, C] (NHWC) use 4 channels per texel. With S = ceil(C / 4) channel slices,
// element (n, y, x, c) is lane c % 4 of texel
//     (tx, ty) = (x · S + c / 4, n · H + y)
// so a texture is W·S texels wide and N·H texels tall: images are stacked vertically, and the
// slices of one pixel are neighbours. Lanes past C in the last slice hold 0 (every program writes
// them as 0), so consumers may read whole texels.
//
// Input bytes [N, H, W, C ≤ 4] use the same layout with S = 1 in an unsigned-integer texture
// (R8UI … RGBA8UI); the fetch function normalises them, (byte − mean[c]) / std[c].
//
// Weight matrices are `rows` rows of `rowTexels` texels each (programs decide what a row is). A
// row longer than the maximum texture width is folded over `fold` texture rows:
//     texel (row, k) is at (k % width, row · fold + k / width).
import type { NetworkInfo, Shape3 } from '../shapes.ts';
import { shapeText } from '../shapes.ts';

/** A tensor too large for this GPU's textures; the session cannot run and the caller uses the CPU. */
export class WebglCapacityError extends Error {
  override name = 'WebglCapacityError';
}

export interface TensorLayout {
  shape: Shape3;
  /** Images the texture holds. */
  capacity: number;
  /** Channel slices of 4: ceil(C / 4). */
  slices: number;
  /** Texture size in texels: W · S by N · H. */
  width: number;
  height: number;
}

export interface MatrixLayout {
  rows: number;
  rowTexels: number;
  fold: number;
  width: number;
  height: number;
}

/** Where a program's input comes from: a float activation texture or the raw input bytes. */
export type InputSource = { kind: 'float' } | { kind: 'bytes'; mean: Float32Array; invStd: Float32Array };

export function tensorLayout(shape: Shape3, capacity: number, maxSize: number, what: string): TensorLayout {
  const slices = Math.ceil(shape.c / 4);
  const width = shape.w * slices;
  const height = capacity * shape.h;
  if (width > maxSize || height > maxSize) {
    throw new WebglCapacityError(
      `${what}: ${capacity} × ${shapeText(shape)} needs a ${width}×${height} texture, above this GPU's limit of ${maxSize}`,
    );
  }
  return { shape, capacity, slices, width, height };
}

/** Texels (RGBA floats) per image in a layout: the rows of one image. */
export const imageTexels = (l: TensorLayout): number => l.width * l.shape.h;

export function matrixLayout(rows: number, rowTexels: number, maxSize: number, what: string): MatrixLayout {
  const width = Math.min(rowTexels, maxSize);
  const fold = Math.ceil(rowTexels / width);
  const height = rows * fold;
  if (height > maxSize) {
    throw new WebglCapacityError(`${what}: ${rows} rows of ${rowTexels} texels need ${height} texture rows, above this GPU's limit of ${maxSize}`);
  }
  return { rows, rowTexels, fold, width, height };
}

/** Index in a packed Float32Array (4 floats per texel, row-major texture) of texel (row, k). */
export function matrixTexelIndex(m: MatrixLayout, row: number, k: number): number {
  if (m.fold === 1) return (row * m.width + k) * 4;
  return ((row * m.fold + Math.floor(k / m.width)) * m.width + (k % m.width)) * 4;
}

/** The largest batch whose every activation texture fits, capped at `cap`. */
export function batchCapacity(info: NetworkInfo, maxSize: number, cap: number): number {
  const tallest = Math.max(info.input.h, ...info.layers.map((l) => l.out.h));
  return Math.max(1, Math.min(cap, Math.floor(maxSize / tallest)));
}

/** A GLSL float literal that parses back to exactly this float32 value. */
export function glslFloat(v: number): string {
  const f = Math.fround(v);
  if (f === Infinity) return '3.4028234663852886e38';
  if (f === -Infinity) return '-3.4028234663852886e38';
  const s = String(f);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export const glslVec4 = (v: ArrayLike<number>): string => `vec4(${[0, 1, 2, 3].map((i) => glslFloat(v[i] ?? 0)).join(', ')})`;

/**
 * GLSL for reading a tensor: `uniform <sampler> <sampler>;` and
 * `vec4 <fn>(int n, int y, int x, int s)` returning channels 4s..4s+3 of pixel (y, x) of image n
 * (no bounds checks: callers test y and x). Bytes are normalised; their padding lanes read 0.
 */
export function glslTensorFetch(fn: string, sampler: string, shape: Shape3, source: InputSource): string {
  const slices = Math.ceil(shape.c / 4);
  if (source.kind === 'float') {
    return `uniform highp sampler2D ${sampler};
vec4 ${fn}(int n, int y, int x, int s) { return texelFetch(${sampler}, ivec2(x * ${slices} + s, n * ${shape.h} + y), 0); }
`;
  }
  if (shape.c > 4) throw new Error(`input bytes have ${shape.c} channels; at most 4 fit one texel`);
  // Lanes past C get invStd 0; an integer texture's missing lanes read (0, 0, 1), times 0 is 0.
  const mean = Array.from({ length: 4 }, (_, c) => (c < shape.c ? source.mean[c] : 0));
  const invStd = Array.from({ length: 4 }, (_, c) => (c < shape.c ? source.invStd[c] : 0));
  return `uniform highp usampler2D ${sampler};
const vec4 ${fn}Mean = ${glslVec4(mean)};
const vec4 ${fn}InvStd = ${glslVec4(invStd)};
vec4 ${fn}(int n, int y, int x, int s) {
  return (vec4(texelFetch(${sampler}, ivec2(x, n * ${shape.h} + y), 0)) - ${fn}Mean) * ${fn}InvStd;
}
`;
}

/**
 * GLSL declaring `int n, y, x, s` (image, row, column, channel slice) of the output texel this
 * fragment writes, for an output of the given shape.
 */
export function glslOutputCoords(shape: Shape3): string {
  const slices = Math.ceil(shape.c / 4);
  return `ivec2 p_ = ivec2(gl_FragCoord.xy);
  int n = p_.y / ${shape.h};
  int y = p_.y - n * ${shape.h};
  int x = p_.x / ${slices};
  int s = p_.x - x * ${slices};`;
}

/** GLSL `vec4 <fn>(int s)`: 1 for the lanes of slice s that are real channels of a C-channel tensor, else 0. */
export function glslLaneMask(fn: string, channels: number): string {
  const slices = Math.ceil(channels / 4);
  const last = [0, 1, 2, 3].map((i) => ((slices - 1) * 4 + i < channels ? 1 : 0));
  return `vec4 ${fn}(int s) { return s < ${slices - 1} ? vec4(1.0) : ${glslVec4(last)}; }
`;
}

/** GLSL `vec4 <fn>(int row, int k)` reading texel (row, k) of a weight matrix. */
export function glslMatrixFetch(fn: string, sampler: string, m: MatrixLayout): string {
  const at = m.fold === 1 ? 'ivec2(k, row)' : `ivec2(k % ${m.width}, row * ${m.fold} + k / ${m.width})`;
  return `uniform highp sampler2D ${sampler};
vec4 ${fn}(int row, int k) { return texelFetch(${sampler}, ${at}, 0); }
`;
}

/**
 * Copies `count` images of read-back texels (rows of layout.width RGBA texels, image after image)
 * into `out` as NHWC floats starting at out[outOffset].
 */
export function unpackTensor(layout: TensorLayout, texels: Float32Array, count: number, out: Float32Array, outOffset = 0): void {
  const { h, w, c } = layout.shape;
  const { slices, width } = layout;
  if (c === slices * 4) {
    out.set(texels.subarray(0, count * h * w * c), outOffset);
    return;
  }
  let o = outOffset;
  for (let row = 0; row < count * h; row++) {
    for (let x = 0; x < w; x++) {
      const t = (row * width + x * slices) * 4;
      for (let ch = 0; ch < c; ch++) out[o++] = texels[t + ch];
    }
  }
}

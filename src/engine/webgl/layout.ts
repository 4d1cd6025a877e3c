// Texture layouts: the one place where a tensor becomes a texture of width × height RGBA texels.
// Programs never compute texel coordinates themselves; they paste the GLSL fetch functions made
// here and ask here for texture sizes.
//
// Activations [N, H, W, C] (NHWC) use 4 channels per texel. Each image is surrounded by a border
// of zero texels, T rows above, B below, L pixels left and R right, as wide as the padding of the
// conv layer that reads the tensor (see activationBorder), so convolutions read their padding
// without bounds checks. With S = ceil(C / 4) channel slices and R_img = T + H + B rows per image,
// element (n, y, x, c) is lane c % 4 of texel
//     (tx, ty) = ((x + L) · S + c / 4, n · R_img + T + y)
// so a texture is (L + W + R)·S texels wide and N·R_img tall: images are stacked vertically, and
// the slices of one pixel are neighbours. Programs write 0 in the border and in the lanes past C
// of the last slice, so consumers may read whole texels.
//
// Input bytes [N, H, W, C ≤ 4] use the same layout with S = 1 in an unsigned-integer texture
// (R8UI … RGBA8UI) whose border holds zero bytes; the fetch function normalises,
// (byte − mean[c]) / std[c], so a border byte reads as −mean/std, which the conv reading the
// bytes corrects for (programs/conv2d.ts).
//
// Weight matrices are `rows` rows of `rowTexels` texels each (programs decide what a row is). A
// row longer than the maximum texture width is folded over `fold` texture rows:
//     texel (row, k) is at (k % width, row · fold + k / width).
import type { LayerInfo, NetworkInfo, Shape3 } from '../shapes.ts';
import { shapeText } from '../shapes.ts';

/** A tensor too large for this GPU's textures; the session cannot run and the caller uses the CPU. */
export class WebglCapacityError extends Error {
  override name = 'WebglCapacityError';
}

/** Zero texels around each image: rows above and below, pixels left and right. */
export interface Border {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export const NO_BORDER: Border = { top: 0, bottom: 0, left: 0, right: 0 };

/** What a program needs to read or write a tensor (independent of the batch capacity). */
export interface TensorFormat {
  shape: Shape3;
  border: Border;
}

export interface TensorLayout extends TensorFormat {
  /** Images the texture holds. */
  capacity: number;
  /** Channel slices of 4: ceil(C / 4). */
  slices: number;
  /** Texel rows per image, border included. */
  imageRows: number;
  /** Texture size in texels: (L + W + R) · S by N · imageRows. */
  width: number;
  height: number;
}

const hasBorder = (b: Border): boolean => b.top + b.bottom + b.left + b.right > 0;

/**
 * The border of the tensor that `reader` reads: its padding for a padded conv2d (which then needs
 * no bounds checks), else none (pools skip padded cells rather than reading zeros).
 */
export function activationBorder(reader: LayerInfo | undefined): Border {
  if (reader?.kind !== 'conv2d') return NO_BORDER;
  return { top: reader.padTop, bottom: reader.padBottom, left: reader.padLeft, right: reader.padRight };
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

export function tensorLayout(format: TensorFormat, capacity: number, maxSize: number, what: string): TensorLayout {
  const { shape, border } = format;
  const slices = Math.ceil(shape.c / 4);
  const imageRows = border.top + shape.h + border.bottom;
  const width = (border.left + shape.w + border.right) * slices;
  const height = capacity * imageRows;
  if (width > maxSize || height > maxSize) {
    throw new WebglCapacityError(
      `${what}: ${capacity} × ${shapeText(shape)} (with its border) needs a ${width}×${height} texture, above this GPU's limit of ${maxSize}`,
    );
  }
  return { shape, border, capacity, slices, imageRows, width, height };
}

/** Texels (RGBA floats) per image in a layout: the rows of one image, border included. */
export const imageTexels = (l: TensorLayout): number => l.width * l.imageRows;

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
  const rows = (shape: Shape3, reader: LayerInfo | undefined) => {
    const b = activationBorder(reader);
    return b.top + shape.h + b.bottom;
  };
  const tallest = Math.max(rows(info.input, info.layers[0]), ...info.layers.map((l, i) => rows(l.out, info.layers[i + 1])));
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
 * `vec4 <fn>(int n, int y, int x, int s)` returning channels 4s..4s+3 of pixel (y, x) of image n.
 * y and x may reach into the border (reading zeros, or for bytes −mean/std); callers keep them
 * inside it. Bytes are normalised; their padding lanes read 0.
 */
export function glslTensorFetch(fn: string, sampler: string, format: TensorFormat, source: InputSource): string {
  const { shape, border } = format;
  const slices = Math.ceil(shape.c / 4);
  const rows = border.top + shape.h + border.bottom;
  const tx = slices === 1 ? `x + ${border.left}` : `(x + ${border.left}) * ${slices} + s`;
  const ty = `n * ${rows} + y + ${border.top}`;
  if (source.kind === 'float') {
    return `uniform highp sampler2D ${sampler};
vec4 ${fn}(int n, int y, int x, int s) { return texelFetch(${sampler}, ivec2(${tx}, ${ty}), 0); }
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
  return (vec4(texelFetch(${sampler}, ivec2(${tx}, ${ty}), 0)) - ${fn}Mean) * ${fn}InvStd;
}
`;
}

/**
 * GLSL declaring `int n, y, x, s` (image, row, column, channel slice) of the output texel this
 * fragment writes. Fragments in the border write 0 and return (whole 2×2 quads of border
 * fragments cost almost nothing).
 */
export function glslOutputCoords(format: TensorFormat): string {
  const { shape, border } = format;
  const slices = Math.ceil(shape.c / 4);
  const rows = border.top + shape.h + border.bottom;
  const coords = `ivec2 p_ = ivec2(gl_FragCoord.xy);
  int n = p_.y / ${rows};
  int y = p_.y - n * ${rows} - ${border.top};
  int x = p_.x / ${slices} - ${border.left};
  int s = p_.x - (x + ${border.left}) * ${slices};`;
  if (!hasBorder(border)) return coords;
  return `${coords}
  if (y < 0 || y >= ${shape.h} || x < 0 || x >= ${shape.w}) {
    result = vec4(0.0);
    return;
  }`;
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
 * Copies `count` images of read-back texels (rows of layout.width RGBA texels, image after image,
 * borders included) into `out` as NHWC floats starting at out[outOffset].
 */
export function unpackTensor(layout: TensorLayout, texels: Float32Array, count: number, out: Float32Array, outOffset = 0): void {
  const { h, w, c } = layout.shape;
  const { slices, width, border, imageRows } = layout;
  if (c === slices * 4 && !hasBorder(border)) {
    out.set(texels.subarray(0, count * h * w * c), outOffset);
    return;
  }
  let o = outOffset;
  for (let img = 0; img < count; img++) {
    for (let y = 0; y < h; y++) {
      const row = img * imageRows + border.top + y;
      for (let x = 0; x < w; x++) {
        const t = (row * width + (x + border.left) * slices) * 4;
        for (let ch = 0; ch < c; ch++) out[o++] = texels[t + ch];
      }
    }
  }
}

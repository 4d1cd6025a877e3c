// Shape inference and spec validation: the one place where a spec becomes concrete sizes,
// paddings and parameter offsets. Every backend, the trainer and the file formats use it.
import {
  ACTIVATIONS,
  LAYER_KINDS,
  type Activation,
  type LayerSpec,
  type ModelSpec,
  type Padding,
  type Pair,
  type ReadoutPool,
} from './spec.ts';

export interface Shape3 {
  h: number;
  w: number;
  c: number;
}

interface LayerInfoBase {
  name: string;
  index: number;
  in: Shape3;
  out: Shape3;
  /** Offset of this layer's parameters in the model's Float32Array, and their count. */
  paramOffset: number;
  paramCount: number;
}

/** Window geometry shared by conv2d and pooling. */
export interface WindowInfo {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

export interface Conv2dInfo extends LayerInfoBase, WindowInfo {
  kind: 'conv2d';
  activation: Activation;
  /** Weights (HWIO) start at paramOffset; biases at biasOffset, or -1 without bias. */
  biasOffset: number;
  macs: number;
}

export interface PoolInfo extends LayerInfoBase, WindowInfo {
  kind: 'maxpool' | 'avgpool';
}

export interface DenseInfo extends LayerInfoBase {
  kind: 'dense';
  inSize: number;
  units: number;
  activation: Activation;
  biasOffset: number;
  macs: number;
}

export interface ActivationInfo extends LayerInfoBase {
  kind: 'activation';
  activation: Activation;
}

export interface SoftmaxInfo extends LayerInfoBase {
  kind: 'softmax';
}

export type LayerInfo = Conv2dInfo | PoolInfo | DenseInfo | ActivationInfo | SoftmaxInfo;

/** One tap of a readout, resolved: where its C pooled values go in the head's input. */
export interface ReadoutTapInfo {
  layer: number;
  name: string;
  pool: ReadoutPool;
  /** The tapped layer's output shape (pooled over h × w, or over each quadrant). */
  shape: Shape3;
  /** First of its values in the feature vector. */
  offset: number;
  /** How many values it gives: shape.c, or 4 · shape.c for 'quadrants'. */
  size: number;
}

/** A readout resolved against a network (see ReadoutSpec in spec.ts). */
export interface ReadoutInfo {
  /** Index of the final dense layer, which reads the feature vector. */
  head: number;
  taps: ReadoutTapInfo[];
  /** Histogram bins per input channel, 0 without colour. */
  colourBins: number;
  /** First histogram value in the feature vector (after every tap). */
  colourOffset: number;
  /** Length of the feature vector. */
  size: number;
  /** Layers that must run before the readout: 1 + the highest tapped layer (0 with colour only). */
  upTo: number;
}

export interface NetworkInfo {
  spec: ModelSpec;
  /** The resolved spec.readout, or null when the final dense layer reads the previous layer's output. */
  readout: ReadoutInfo | null;
  input: Shape3;
  layers: LayerInfo[];
  output: Shape3;
  paramCount: number;
  macs: number;
  mean: Float32Array;
  /** 1 / std per channel, so normalisation is a multiply. */
  invStd: Float32Array;
}

/** A spec or parameter array that cannot work; the message names the layer and the numbers. */
export class ModelError extends Error {
  override name = 'ModelError';
}

export const LIMITS = {
  maxLayers: 64,
  maxParams: 16 * 1024 * 1024,
  maxInputSide: 256,
  maxInputChannels: 4,
  maxLabels: 1000,
  maxReadoutTaps: 64,
  maxColourCells: 4096,
} as const;

export const size3 = (s: Shape3): number => s.h * s.w * s.c;
export const shapeText = (s: Shape3): string => `${s.h}×${s.w}×${s.c}`;

/** JSON text of a value for an error message, bounded and never throwing. */
function safeJson(v: unknown): string {
  try {
    const t = JSON.stringify(v) ?? String(v);
    return t.length > 60 ? `${t.slice(0, 57)}...` : t;
  } catch {
    return typeof v;
  }
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function pair(v: Pair | undefined, fallback: [number, number], what: string, where: string): [number, number] {
  if (v === undefined) return fallback;
  const p: unknown[] = Array.isArray(v) ? v : [v, v];
  if (p.length !== 2 || !isPositiveInt(p[0]) || !isPositiveInt(p[1])) {
    throw new ModelError(`${where}: ${what} must be a positive integer or [rows, cols] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/**
 * Resolves a window (kernel k, stride s, padding) over an input of size `n` along one axis.
 * 'valid' and 'same' follow TF (output floor((n - k) / s) + 1 and ceil(n / s)); explicit padding
 * must give an integer output size, as in the classic (n - k + 2p) / s + 1 rule.
 */
function resolveAxis(
  n: number,
  k: number,
  s: number,
  padding: Padding,
  padBefore: number,
  padAfter: number,
  axis: string,
  where: string,
  after: string,
): { out: number; before: number; after: number } {
  if (padding === 'valid') {
    if (k > n) throw new ModelError(`${where}: kernel ${k} > input ${n} along ${axis}${after}`);
    return { out: Math.floor((n - k) / s) + 1, before: 0, after: 0 };
  }
  if (padding === 'same') {
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + k - n, 0);
    const before = Math.floor(total / 2);
    return { out, before, after: total - before };
  }
  const padded = n + padBefore + padAfter;
  if (k > padded) throw new ModelError(`${where}: kernel ${k} > padded input ${padded} along ${axis}${after}`);
  if ((padded - k) % s !== 0) {
    throw new ModelError(
      `${where}: output ${axis} (${n} + ${padBefore + padAfter} - ${k}) / ${s} + 1 = ${(padded - k) / s + 1} is not an integer${after}`,
    );
  }
  return { out: (padded - k) / s + 1, before: padBefore, after: padAfter };
}

function explicitPads(padding: Padding, where: string): [number, number, number, number] {
  if (padding === 'same' || padding === 'valid') return [0, 0, 0, 0];
  const p: unknown[] = Array.isArray(padding) ? padding : [padding, padding, padding, padding];
  if (p.length !== 4 || p.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
    throw new ModelError(
      `${where}: padding must be 'same', 'valid', a non-negative integer or [top, bottom, left, right], got ${JSON.stringify(padding)}`,
    );
  }
  return p as [number, number, number, number];
}

function resolveWindow(
  input: Shape3,
  kernel: Pair,
  stride: Pair | undefined,
  padding: Padding | undefined,
  strideDefault: [number, number] | null,
  where: string,
  after: string,
): WindowInfo & { oh: number; ow: number } {
  const [kh, kw] = pair(kernel, [0, 0], 'kernel', where);
  const [sh, sw] = pair(stride, strideDefault ?? [1, 1], 'stride', where);
  const pad = padding ?? 'valid';
  const [pt, pb, pl, pr] = explicitPads(pad, where);
  const ry = resolveAxis(input.h, kh, sh, pad, pt, pb, 'height', where, after);
  const rx = resolveAxis(input.w, kw, sw, pad, pl, pr, 'width', where, after);
  return {
    kh,
    kw,
    sh,
    sw,
    padTop: ry.before,
    padBottom: ry.after,
    padLeft: rx.before,
    padRight: rx.after,
    oh: ry.out,
    ow: rx.out,
  };
}

function activationOf(v: unknown, where: string): Activation {
  if (v === undefined) return 'linear';
  if (!ACTIVATIONS.includes(v as Activation)) {
    throw new ModelError(`${where}: unknown activation ${JSON.stringify(v)} (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  return v as Activation;
}

function channelVector(v: unknown, c: number, fallback: number, what: string): Float32Array {
  if (v === undefined) return new Float32Array(c).fill(fallback);
  if (!Array.isArray(v) || v.length !== c || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new ModelError(`input: ${what} must be ${c} finite numbers (one per channel), got ${JSON.stringify(v)}`);
  }
  return Float32Array.from(v as number[]);
}

/** Index of the last dense layer of a spec's layers (-1 if none), without trusting the entries. */
function lastDenseIndex(layers: unknown[]): number {
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    if (typeof l === 'object' && l !== null && (l as { kind?: unknown }).kind === 'dense') return i;
  }
  return -1;
}

/**
 * Resolves `readout` against the layers of a network whose final dense layer is layer `head`:
 * checks every tap and the colour histogram, and lays out the feature vector. `layers` must hold
 * the shapes of at least the layers before the head.
 */
export function resolveReadout(
  readout: unknown,
  layers: readonly { name: string; out: Shape3 }[],
  head: number,
  input: Shape3,
  headName = layers[head]?.name ?? String(head),
): ReadoutInfo {
  if (typeof readout !== 'object' || readout === null || Array.isArray(readout)) {
    throw new ModelError(`readout: expected {taps, colour?}, got ${safeJson(readout)}`);
  }
  if (head < 0) throw new ModelError('readout: the spec has no dense layer to read the pooled features');
  const r = readout as { taps?: unknown; colour?: unknown };
  if (!Array.isArray(r.taps)) throw new ModelError(`readout.taps: expected an array of {layer, pool}, got ${safeJson(r.taps)}`);
  if (r.taps.length > LIMITS.maxReadoutTaps) throw new ModelError(`readout.taps: ${r.taps.length} taps exceed the limit of ${LIMITS.maxReadoutTaps}`);
  const headText = `dense "${headName}"`;
  const taps: ReadoutTapInfo[] = [];
  let offset = 0;
  r.taps.forEach((raw: unknown, t) => {
    const tap = raw as { layer?: unknown; pool?: unknown };
    if (typeof tap !== 'object' || tap === null) throw new ModelError(`readout.taps[${t}]: expected {layer, pool}, got ${safeJson(raw)}`);
    const { layer, pool } = tap;
    if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0 || layer >= head) {
      throw new ModelError(`readout.taps[${t}]: layer ${safeJson(layer)} must be the index of a layer before the final ${headText} (0..${head - 1})`);
    }
    if (pool !== 'avg' && pool !== 'max' && pool !== 'quadrants') {
      throw new ModelError(`readout.taps[${t}] (layer ${layer} "${layers[layer].name}"): pool must be "avg", "max" or "quadrants", got ${safeJson(pool)}`);
    }
    const shape = layers[layer].out;
    if (pool === 'quadrants' && (shape.h < 2 || shape.w < 2)) {
      throw new ModelError(`readout.taps[${t}] (layer ${layer} "${layers[layer].name}"): quadrants need an output of at least 2×2, got ${shape.h}×${shape.w}`);
    }
    const size = pool === 'quadrants' ? 4 * shape.c : shape.c;
    taps.push({ layer, name: layers[layer].name, pool, shape, offset, size });
    offset += size;
  });
  let colourBins = 0;
  const colourOffset = offset;
  if (r.colour !== undefined) {
    const bins = (r.colour as { bins?: unknown } | null)?.bins;
    if (typeof bins !== 'number' || !Number.isInteger(bins) || bins < 1 || bins > 256) {
      throw new ModelError(`readout.colour: bins must be an integer 1..256, got ${safeJson(bins)}`);
    }
    const cells = bins ** input.c;
    if (cells > LIMITS.maxColourCells) {
      throw new ModelError(`readout.colour: ${bins} bins on ${input.c} channels make ${cells} cells, above the limit of ${LIMITS.maxColourCells}`);
    }
    colourBins = bins;
    offset += cells;
  }
  if (offset === 0) throw new ModelError(`readout: no taps and no colour histogram: the final ${headText} would read nothing`);
  const upTo = taps.reduce((m, t) => Math.max(m, t.layer + 1), 0);
  return { head, taps, colourBins, colourOffset, size: offset, upTo };
}

/**
 * Infers every layer's input and output shape and parameter offsets, checking that the spec can
 * run. Throws ModelError naming the layer and the numbers when it cannot. `checkLabels: false`
 * skips the check that there is one label per output (for specs still being built).
 */
export function inferShapes(spec: ModelSpec, checkLabels = true): NetworkInfo {
  if (typeof spec !== 'object' || spec === null) throw new ModelError('spec: expected an object');
  const inp = spec.input;
  if (typeof inp !== 'object' || inp === null) throw new ModelError('spec.input: expected {height, width, channels}');
  for (const key of ['height', 'width', 'channels'] as const) {
    if (!isPositiveInt(inp[key])) throw new ModelError(`input: ${key} must be a positive integer, got ${JSON.stringify(inp[key])}`);
  }
  if (inp.height > LIMITS.maxInputSide || inp.width > LIMITS.maxInputSide || inp.channels > LIMITS.maxInputChannels) {
    throw new ModelError(
      `input: ${inp.height}×${inp.width}×${inp.channels} exceeds the limit ${LIMITS.maxInputSide}×${LIMITS.maxInputSide}×${LIMITS.maxInputChannels}`,
    );
  }
  const mean = channelVector(inp.mean, inp.channels, 0, 'mean');
  const std = channelVector(inp.std, inp.channels, 255, 'std');
  const zeroStd = std.findIndex((s) => !(s > 0));
  if (zeroStd >= 0) throw new ModelError(`input: std[${zeroStd}] = ${std[zeroStd]} must be > 0`);
  const invStd = std.map((s) => 1 / s);

  if (!Array.isArray(spec.layers) || spec.layers.length === 0) throw new ModelError('spec.layers: expected a non-empty array');
  if (spec.layers.length > LIMITS.maxLayers) {
    throw new ModelError(`spec.layers: ${spec.layers.length} layers exceed the limit of ${LIMITS.maxLayers}`);
  }

  const input: Shape3 = { h: inp.height, w: inp.width, c: inp.channels };
  const layers: LayerInfo[] = [];
  const names = new Set<string>();
  let shape = input;
  let offset = 0;
  let macs = 0;
  let prevName = 'input';
  const head = lastDenseIndex(spec.layers);
  let readout: ReadoutInfo | null = null;
  if (spec.readout !== undefined && head < 0) throw new ModelError('readout: the spec has no dense layer to read the pooled features');

  spec.layers.forEach((raw: LayerSpec, index) => {
    const l = raw as LayerSpec & Record<string, unknown>;
    if (typeof l !== 'object' || l === null) throw new ModelError(`layer ${index}: expected an object`);
    if (typeof l.name !== 'string' || l.name.length === 0) throw new ModelError(`layer ${index}: name must be a non-empty string`);
    if (!LAYER_KINDS.includes(l.kind)) {
      throw new ModelError(`layer ${index} "${l.name}": unknown kind ${safeJson(l.kind)} (expected one of ${LAYER_KINDS.join(', ')})`);
    }
    const where = `${l.kind} "${l.name}"`;
    if (names.has(l.name)) throw new ModelError(`${where}: duplicate layer name`);
    names.add(l.name);
    if ('bias' in l && l.bias !== undefined && typeof l.bias !== 'boolean') {
      throw new ModelError(`${where}: bias must be true or false, got ${safeJson(l.bias)}`);
    }
    if ('padding' in l && l.padding === null) throw new ModelError(`${where}: padding must not be null`);
    if (index === head && spec.readout !== undefined) {
      // The head reads the pooled taps (and colour histogram) instead of the previous output.
      readout = resolveReadout(spec.readout, layers, head, input, l.name);
      shape = { h: 1, w: 1, c: readout.size };
      prevName = 'readout';
    }
    const after = ` (input ${shapeText(shape)} after ${prevName})`;
    const base = { name: l.name, index, in: shape };
    let info: LayerInfo;
    switch (l.kind) {
      case 'conv2d': {
        if (!isPositiveInt(l.filters)) throw new ModelError(`${where}: filters must be a positive integer, got ${JSON.stringify(l.filters)}`);
        const win = resolveWindow(shape, l.kernel, l.stride, l.padding, null, where, after);
        const out = { h: win.oh, w: win.ow, c: l.filters };
        const weights = win.kh * win.kw * shape.c * l.filters;
        const hasBias = l.bias !== false;
        const { oh: _oh, ow: _ow, ...window } = win;
        info = {
          ...base,
          ...window,
          kind: 'conv2d',
          out,
          activation: activationOf(l.activation, where),
          paramOffset: offset,
          paramCount: weights + (hasBias ? l.filters : 0),
          biasOffset: hasBias ? offset + weights : -1,
          macs: out.h * out.w * out.c * win.kh * win.kw * shape.c,
        };
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const win = resolveWindow(shape, l.size, l.stride, l.padding, pair(l.size, [1, 1], 'size', where), where, after);
        const { oh, ow, ...window } = win;
        info = { ...base, ...window, kind: l.kind, out: { h: oh, w: ow, c: shape.c }, paramOffset: offset, paramCount: 0 };
        break;
      }
      case 'dense': {
        if (!isPositiveInt(l.units)) throw new ModelError(`${where}: units must be a positive integer, got ${JSON.stringify(l.units)}`);
        const inSize = size3(shape);
        const hasBias = l.bias !== false;
        info = {
          ...base,
          kind: 'dense',
          out: { h: 1, w: 1, c: l.units },
          inSize,
          units: l.units,
          activation: activationOf(l.activation, where),
          paramOffset: offset,
          paramCount: inSize * l.units + (hasBias ? l.units : 0),
          biasOffset: hasBias ? offset + inSize * l.units : -1,
          macs: inSize * l.units,
        };
        break;
      }
      case 'activation':
        info = { ...base, kind: 'activation', out: shape, activation: activationOf(l.activation, where), paramOffset: offset, paramCount: 0 };
        break;
      case 'softmax':
        info = { ...base, kind: 'softmax', out: shape, paramOffset: offset, paramCount: 0 };
        break;
    }
    offset += info.paramCount;
    if (offset > LIMITS.maxParams) {
      throw new ModelError(`${where}: parameter count reaches ${offset}, above the limit of ${LIMITS.maxParams}`);
    }
    if (info.kind === 'conv2d' || info.kind === 'dense') macs += info.macs;
    layers.push(info);
    shape = info.out;
    prevName = `${l.kind} "${l.name}"`;
  });

  const outSize = size3(shape);
  if (!checkLabels) return { spec, readout, input, layers, output: shape, paramCount: offset, macs, mean, invStd };
  if (!Array.isArray(spec.labels) || spec.labels.some((s) => typeof s !== 'string')) {
    throw new ModelError('spec.labels: expected an array of strings');
  }
  if (spec.labels.length !== outSize) {
    throw new ModelError(`spec.labels: ${spec.labels.length} labels for ${outSize} outputs of the last layer (${shapeText(shape)})`);
  }
  return { spec, readout, input, layers, output: shape, paramCount: offset, macs, mean, invStd };
}

/** inferShapes plus a check of the parameters against it: count and finiteness. */
export function validateModel(spec: ModelSpec, params: Float32Array): NetworkInfo {
  const info = inferShapes(spec);
  if (!(params instanceof Float32Array)) throw new ModelError('params: expected a Float32Array');
  if (params.length !== info.paramCount) {
    throw new ModelError(`params: ${params.length} values, but the spec needs ${info.paramCount}`);
  }
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) {
      const layer = info.layers.find((l) => i >= l.paramOffset && i < l.paramOffset + l.paramCount);
      throw new ModelError(`params: value ${params[i]} at index ${i} (layer "${layer?.name}") is not finite`);
    }
  }
  return info;
}

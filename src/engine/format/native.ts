// The native model file (.cnn): one self-checking binary file holding a spec, metadata and the
// parameters. Framework-free and without Node built-ins: the same code reads files in the
// browser, a worker and the CLI.
//
// Layout (all integers little-endian):
//   offset 0   8 bytes  magic 89 43 4E 4E 0D 0A 1A 0A ("\x89CNN\r\n\x1a\n": the PNG trick, so
//                       text-mode transfers and truncation to 7 bits are caught at once)
//   offset 8   uint32   format version: 1, or 2 for a file with sparse dense weights (below)
//   offset 12  uint32   header length H in bytes (a multiple of 4: padded with spaces)
//   offset 16  uint32   parameter length P in bytes
//   offset 20  H bytes  header: UTF-8 JSON {spec, meta, params}
//   20 + H     P bytes  parameters, layer by layer in spec order (the Float32Array's order)
//   20 + H + P uint32   CRC-32 (IEEE, as zlib and PNG) of every byte before it
//
// Every tensor is float32 except the weights of dense layers, which may be stored as float16 or
// as int8 with one float32 scale per layer (value = q · scale, symmetric, q in −127..127; the
// scales are in header.params.scales). Dense biases and every conv2d tensor stay float32:
// they are few, and convolutions are the most sensitive to rounding.
//
// Sparse dense weights (format version 2, header.params.denseSparse true): each dense layer's
// weights are stored as a bitmask, ceil(weights / 8) bytes, bit i (byte i >> 3, bit i & 7, least
// significant first) set where weight i is stored, bits past the last weight 0; then the stored
// weights in index order, in the chosen encoding. Unset bits are weights of exactly 0. A weight is
// stored unless it encodes as 0 (float32 and float16: all bits 0, so −0 is kept; int8: q = 0).
// header.params.nonzero gives, per dense layer name, how many are stored, so the parameter length
// is checked before anything is read and each bitmask's popcount before its values are. Files
// without sparse weights are version 1, byte for byte as before version 2 existed, and readers of
// version 1 refuse version 2 files as made by a newer version.
//
// Decoding trusts nothing: sizes are checked against the file before anything is read, the
// checksum before the header is parsed, the spec against LIMITS and shape inference, and the
// values for finiteness. Each failure throws ModelFileError naming the field and the numbers.
import { inferShapes, LIMITS, ModelError, validateModel, type NetworkInfo } from '../shapes.ts';
import type { Model, ModelSpec } from '../spec.ts';

/** The newest format version this code reads and writes. */
export const FORMAT_VERSION = 2;
/** Every tensor stored whole. */
const WHOLE_VERSION = 1;
/** Dense weights stored as bitmask + nonzero values (header.params.denseSparse). */
const SPARSE_VERSION = 2;
export const MAGIC = Uint8Array.of(0x89, 0x43, 0x4e, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a);
/** magic + version + header length + parameter length. */
const PREAMBLE = 20;
const CRC_SIZE = 4;
/** A header is a spec of at most 64 layers and 1000 labels: a few kilobytes. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;
/**
 * A header nests 5 levels (header.meta.training.history[i], header.spec.layers[i].kernel). Deeper
 * JSON is refused before anything walks it recursively: JSON.stringify or String() in an error
 * message would overflow the stack on arrays nested thousands deep.
 */
const MAX_HEADER_DEPTH = 32;

export type DenseEncoding = 'float32' | 'float16' | 'int8';
export const DENSE_ENCODINGS: readonly DenseEncoding[] = ['float32', 'float16', 'int8'];

/** A short record of how a model was trained, kept in the file for `info` and the app. */
export interface TrainingSummary {
  epochs: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  /** Where the training data came from (a path or a description). */
  dataset?: string;
  trainCount?: number;
  validationCount?: number;
  /** One entry per epoch. */
  history?: { epoch: number; loss: number; trainAccuracy: number; validationAccuracy: number | null }[];
}

export interface ModelMeta {
  name?: string;
  /** ISO 8601 date; encodeModel fills in the current time when missing. */
  created?: string;
  training?: TrainingSummary;
  /** How dense weights are stored. Set by decodeModel; encodeModel takes it from its options. */
  denseEncoding?: DenseEncoding;
  /**
   * Set to true by decodeModel when the file stores dense weights sparsely (absent otherwise);
   * encodeModel takes it from its options.
   */
  denseSparse?: boolean;
}

export interface EncodeOptions {
  denseEncoding?: DenseEncoding;
  /**
   * Store each dense layer's weights as a bitmask of the nonzero ones plus only those values
   * (format version 2): smaller once pruned (see pruneDense), and the zeros stay exactly zero.
   */
  denseSparse?: boolean;
}

interface Header {
  spec: ModelSpec;
  meta: ModelMeta;
  params: {
    count: number;
    denseEncoding: DenseEncoding;
    /** int8 only: dense layer name → scale. */
    scales?: Record<string, number>;
    /** Version 2 only, and then true: dense weights stored as bitmask + stored values. */
    denseSparse?: true;
    /** With denseSparse: dense layer name → how many of its weights are stored. */
    nonzero?: Record<string, number>;
  };
}

/** A model file that cannot be read; the message names the field and the numbers. */
export class ModelFileError extends ModelError {
  override name = 'ModelFileError';
}

// --- CRC-32 (reflected polynomial 0xEDB88320) ---

let crcTable: Uint32Array | null = null;

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// --- float16 (IEEE 754 binary16), round to nearest even ---

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: units of 2^-24. The implicit leading 1 joins the mantissa.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && q & 1)) q++;
    return sign | q;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly moves to the next exponent (or to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const FLOAT16_MAX = 65504;

// --- parameter layout ---

interface Segment {
  start: number;
  count: number;
  encoding: DenseEncoding;
  /** Dense layer name for encoded segments. */
  layer?: string;
  /** Sparse dense weights: how many are stored after the ceil(count / 8) bitmask bytes. */
  stored?: number;
}

/**
 * Splits the parameter array into runs: float32 runs and encoded dense-weight runs. With
 * `stored` (sparse files: dense layer name → stored weights) every dense layer's weights are a
 * run of their own, even as float32.
 */
function segments(info: NetworkInfo, encoding: DenseEncoding, stored?: Record<string, number>): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  for (const l of info.layers) {
    if (l.kind !== 'dense' || (encoding === 'float32' && !stored)) continue;
    const weights = l.inSize * l.units;
    if (l.paramOffset > start) out.push({ start, count: l.paramOffset - start, encoding: 'float32' });
    out.push({ start: l.paramOffset, count: weights, encoding, layer: l.name, ...(stored ? { stored: stored[l.name] } : {}) });
    start = l.paramOffset + weights;
  }
  if (info.paramCount > start) out.push({ start, count: info.paramCount - start, encoding: 'float32' });
  return out;
}

const bytesPer = (e: DenseEncoding): number => (e === 'float32' ? 4 : e === 'float16' ? 2 : 1);
const maskBytes = (count: number): number => Math.ceil(count / 8);

function paramByteLength(segs: Segment[]): number {
  let n = 0;
  for (const s of segs) n += s.stored === undefined ? s.count * bytesPer(s.encoding) : maskBytes(s.count) + s.stored * bytesPer(s.encoding);
  return n;
}

/** The bits of a float32 value: nonzero for −0 too, so a sparse file stores it and reads back −0. */
function float32Bits(value: number): number {
  f32[0] = value;
  return u32[0];
}

// --- encoding ---

/**
 * Encodes a model as a .cnn file. Dense weights are stored as `options.denseEncoding` (default
 * float32, which round-trips bit for bit); everything else as float32. `options.denseSparse`
 * stores dense weights as bitmask + nonzero values (version 2); without it the file is version 1.
 */
export function encodeModel(model: Model, meta: ModelMeta = {}, options: EncodeOptions = {}): Uint8Array {
  const encoding = options.denseEncoding ?? 'float32';
  if (!DENSE_ENCODINGS.includes(encoding)) {
    throw new ModelFileError(`denseEncoding: ${JSON.stringify(encoding)} is not one of ${DENSE_ENCODINGS.join(', ')}`);
  }
  const sparse = options.denseSparse === true;
  const info = validateModel(model.spec, model.params);
  const { params } = model;
  // The dense-weight runs (none for whole float32 weights, which need no scale or range check).
  const dense = segments(info, encoding, sparse ? {} : undefined).filter((s) => s.layer !== undefined);
  // Keyed by layer name: without a prototype, a layer named "__proto__" is a key like any other.
  const scales: Record<string, number> = Object.create(null);
  for (const s of dense) {
    if (s.encoding === 'int8') {
      let max = 0;
      for (let i = s.start; i < s.start + s.count; i++) max = Math.max(max, Math.abs(params[i]));
      scales[s.layer!] = Math.fround(max / 127);
    } else if (s.encoding === 'float16') {
      for (let i = s.start; i < s.start + s.count; i++) {
        if (Math.abs(params[i]) > FLOAT16_MAX) {
          throw new ModelFileError(`dense "${s.layer}": weight ${params[i]} at index ${i} is outside the float16 range ±${FLOAT16_MAX}`);
        }
      }
    }
  }
  const int8 = (value: number, scale: number): number => (scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(value / scale))));
  /** The stored bits of a dense weight: 0 exactly when it is left out of a sparse file. */
  const code = (s: Segment, value: number): number =>
    s.encoding === 'float32' ? float32Bits(value) : s.encoding === 'float16' ? toFloat16Bits(value) : int8(value, scales[s.layer!]);
  const nonzero: Record<string, number> = Object.create(null);
  if (sparse) {
    for (const s of dense) {
      let n = 0;
      for (let i = s.start; i < s.start + s.count; i++) if (code(s, params[i]) !== 0) n++;
      nonzero[s.layer!] = n;
    }
  }
  const segs = segments(info, encoding, sparse ? nonzero : undefined);
  const { denseEncoding: _encoding, denseSparse: _sparse, ...restMeta } = meta;
  const header: Header = {
    spec: model.spec,
    meta: { ...restMeta, created: meta.created ?? new Date().toISOString() },
    params: {
      count: info.paramCount,
      denseEncoding: encoding,
      ...(encoding === 'int8' ? { scales } : {}),
      ...(sparse ? { denseSparse: true as const, nonzero } : {}),
    },
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (json.length % 4 !== 0) {
    const padded = new Uint8Array(json.length + 4 - (json.length % 4)).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const paramBytes = paramByteLength(segs);
  const total = PREAMBLE + json.length + paramBytes + CRC_SIZE;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, sparse ? SPARSE_VERSION : WHOLE_VERSION, true);
  view.setUint32(12, json.length, true);
  view.setUint32(16, paramBytes, true);
  out.set(json, PREAMBLE);
  let p = PREAMBLE + json.length;
  for (const s of segs) {
    const end = s.start + s.count;
    if (s.stored !== undefined) {
      // Bitmask, then the stored values.
      for (let i = s.start; i < end; i++) if (code(s, params[i]) !== 0) out[p + ((i - s.start) >> 3)] |= 1 << ((i - s.start) & 7);
      p += maskBytes(s.count);
      for (let i = s.start; i < end; i++) {
        const c = code(s, params[i]);
        if (c === 0) continue;
        if (s.encoding === 'float32') view.setUint32(p, c, true);
        else if (s.encoding === 'float16') view.setUint16(p, c, true);
        else view.setInt8(p, c);
        p += bytesPer(s.encoding);
      }
      continue;
    }
    switch (s.encoding) {
      case 'float32':
        for (let i = s.start; i < end; i++, p += 4) view.setFloat32(p, params[i], true);
        break;
      case 'float16':
        for (let i = s.start; i < end; i++, p += 2) view.setUint16(p, toFloat16Bits(params[i]), true);
        break;
      case 'int8': {
        const scale = scales[s.layer!];
        for (let i = s.start; i < end; i++, p += 1) view.setInt8(p, int8(params[i], scale));
        break;
      }
    }
  }
  view.setUint32(p, crc32(out, 0, p), true);
  return out;
}

// --- decoding ---

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

function fail(message: string): never {
  throw new ModelFileError(message);
}

function checkMeta(raw: unknown): ModelMeta {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`header.meta: expected an object, got ${typeOf(raw)}`);
  const m = raw as Record<string, unknown>;
  for (const key of ['name', 'created'] as const) {
    if (m[key] !== undefined && typeof m[key] !== 'string') fail(`header.meta.${key}: expected a string, got ${typeOf(m[key])}`);
  }
  if (m.training !== undefined) {
    const t = m.training as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) fail(`header.meta.training: expected an object, got ${typeOf(t)}`);
    if (t.history !== undefined && !Array.isArray(t.history)) fail(`header.meta.training.history: expected an array, got ${typeOf(t.history)}`);
  }
  return m as ModelMeta;
}

/** Whether parsed JSON nests deeper than `limit`; iterative, whatever the depth. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Runs a check of the header's spec. Its ModelErrors name the problem; anything else thrown there
 * (a layer kind whose string conversion throws, say) is still a bad file, not a crash.
 */
function checkSpec<T>(check: () => T, prefix: string): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof ModelError) fail(`${prefix}${e.message}`);
    fail(`${prefix}the spec cannot be checked (${e instanceof Error ? `${e.name}: ${e.message}` : typeof e})`);
  }
}

function checkHeader(raw: unknown): Header {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`header: expected a JSON object, got ${typeOf(raw)}`);
  const h = raw as Record<string, unknown>;
  if (typeof h.spec !== 'object' || h.spec === null || Array.isArray(h.spec)) fail(`header.spec: expected an object, got ${typeOf(h.spec)}`);
  const p = h.params as Record<string, unknown>;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`header.params: expected an object, got ${typeOf(p)}`);
  if (typeof p.count !== 'number' || !Number.isInteger(p.count) || p.count < 0) {
    fail(`header.params.count: expected a non-negative integer, got ${JSON.stringify(p.count)}`);
  }
  if (!DENSE_ENCODINGS.includes(p.denseEncoding as DenseEncoding)) {
    fail(`header.params.denseEncoding: ${JSON.stringify(p.denseEncoding)} is not one of ${DENSE_ENCODINGS.join(', ')}`);
  }
  if (p.scales !== undefined && (typeof p.scales !== 'object' || p.scales === null || Array.isArray(p.scales))) {
    fail(`header.params.scales: expected an object, got ${typeOf(p.scales)}`);
  }
  return { spec: h.spec as ModelSpec, meta: checkMeta(h.meta), params: p as Header['params'] };
}

/** Reads a .cnn file, checking everything (see the file comment); throws ModelFileError. */
export function decodeModel(bytes: Uint8Array): { model: Model; meta: ModelMeta } {
  if (!(bytes instanceof Uint8Array)) fail('model file: expected bytes (a Uint8Array)');
  const size = bytes.length;
  if (size >= MAGIC.length && !MAGIC.every((b, i) => bytes[i] === b)) {
    const start = bytes.subarray(0, MAGIC.length);
    const hint = bytes[0] === 0x7b ? ' (it starts with "{": a JSON file, perhaps a TF.js model.json?)' : '';
    fail(`not a model file: magic bytes are ${hexBytes(start)}, expected ${hexBytes(MAGIC)}${hint}`);
  }
  if (size < PREAMBLE + CRC_SIZE) {
    fail(`truncated: the file is ${size} bytes, shorter than the ${PREAMBLE + CRC_SIZE} bytes of an empty model file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version > FORMAT_VERSION) {
    fail(`made by a newer version (file version ${version}, this app reads up to ${FORMAT_VERSION})`);
  }
  if (version < WHOLE_VERSION) fail(`format version ${version} is not valid (versions start at 1)`);
  const headerLength = view.getUint32(12, true);
  const paramLength = view.getUint32(16, true);
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
  if (paramLength > LIMITS.maxParams * 4) {
    fail(`parameter length ${paramLength} bytes exceeds the limit of ${LIMITS.maxParams * 4} (${LIMITS.maxParams} float32 values)`);
  }
  const declared = PREAMBLE + headerLength + paramLength + CRC_SIZE;
  if (size < declared) {
    fail(`truncated: the file is ${size} bytes, but it declares ${declared} (${PREAMBLE} + header ${headerLength} + parameters ${paramLength} + checksum ${CRC_SIZE})`);
  }
  if (size > declared) {
    fail(`${size - declared} unexpected bytes after the end: the file is ${size} bytes, but it declares ${declared} (${PREAMBLE} + header ${headerLength} + parameters ${paramLength} + checksum ${CRC_SIZE})`);
  }
  const stored = view.getUint32(size - CRC_SIZE, true);
  const actual = crc32(bytes, 0, size - CRC_SIZE);
  if (stored !== actual) fail(`checksum mismatch: file says ${hex(stored)}, content gives ${hex(actual)}`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, PREAMBLE + headerLength));
  } catch {
    fail(`header: the ${headerLength} bytes at offset ${PREAMBLE} are not valid UTF-8`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(`header: invalid JSON (${(e as Error).message}) in the ${headerLength} bytes at offset ${PREAMBLE}`);
  }
  if (nestsDeeperThan(raw, MAX_HEADER_DEPTH)) fail(`header: JSON nested more than ${MAX_HEADER_DEPTH} levels deep`);
  const header = checkHeader(raw);

  const info: NetworkInfo = checkSpec(() => inferShapes(header.spec), 'header.spec: ');
  const { count, denseEncoding } = header.params;
  if (count !== info.paramCount) {
    fail(`header.params.count: the file declares ${count} parameters, but the spec needs ${info.paramCount}`);
  }
  const nonzero = checkSparse(header.params, info, version);
  const segs = segments(info, denseEncoding, nonzero ?? undefined);
  const needed = paramByteLength(segs);
  if (paramLength !== needed) {
    const stored = nonzero ? `, sparse (${segs.reduce((n, s) => n + (s.stored ?? 0), 0)} of ${segs.reduce((n, s) => n + (s.stored !== undefined ? s.count : 0), 0)} stored)` : '';
    fail(`parameters: the file has ${paramLength} bytes, but ${info.paramCount} parameters with dense weights as ${denseEncoding}${stored} need ${needed}`);
  }

  const params = new Float32Array(info.paramCount);
  let p = PREAMBLE + headerLength;
  for (const s of segs) {
    const end = s.start + s.count;
    let scale = 1;
    if (s.encoding === 'int8') {
      const v = header.params.scales?.[s.layer!];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        fail(`header.params.scales["${s.layer}"]: expected a finite scale ≥ 0 for int8 dense layer "${s.layer}", got ${JSON.stringify(v)}`);
      }
      scale = v;
    }
    if (s.stored !== undefined) {
      p = readSparse(view, p, s, scale, params);
      continue;
    }
    switch (s.encoding) {
      case 'float32':
        for (let i = s.start; i < end; i++, p += 4) params[i] = view.getFloat32(p, true);
        break;
      case 'float16':
        for (let i = s.start; i < end; i++, p += 2) params[i] = fromFloat16Bits(view.getUint16(p, true));
        break;
      case 'int8':
        for (let i = s.start; i < end; i++, p += 1) params[i] = view.getInt8(p) * scale;
        break;
    }
  }
  checkSpec(() => validateModel(header.spec, params), '');
  // How the weights were stored is what this file says, whatever its meta claims.
  const { denseSparse: _claimed, ...fileMeta } = header.meta;
  return { model: { spec: header.spec, params }, meta: { ...fileMeta, denseEncoding, ...(nonzero ? { denseSparse: true } : {}) } };
}

const own = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * The sparse-storage fields against the version and the network: null for a version 1 file
 * (which must not have them), else the stored count of every dense layer, each checked to be an
 * integer between 0 and the layer's weights.
 */
function checkSparse(p: Header['params'], info: NetworkInfo, version: number): Record<string, number> | null {
  const raw = p as Record<string, unknown>;
  if (version === WHOLE_VERSION) {
    for (const key of ['denseSparse', 'nonzero']) {
      if (raw[key] !== undefined) fail(`header.params.${key}: sparse dense weights need format version ${SPARSE_VERSION}, but the file is version ${version}`);
    }
    return null;
  }
  if (raw.denseSparse !== true) {
    fail(`header.params.denseSparse: a version ${SPARSE_VERSION} file stores dense weights sparsely and must say true, got ${JSON.stringify(raw.denseSparse) ?? 'nothing'}`);
  }
  const counts = raw.nonzero;
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) fail(`header.params.nonzero: expected an object, got ${typeOf(counts)}`);
  const dense = info.layers.filter((l) => l.kind === 'dense');
  const stored: Record<string, number> = Object.create(null);
  for (const l of dense) {
    const weights = l.inSize * l.units;
    const n = own(counts, l.name) ? (counts as Record<string, unknown>)[l.name] : undefined;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > weights) {
      fail(`header.params.nonzero["${l.name}"]: expected an integer 0..${weights} (the weights of dense layer "${l.name}"), got ${JSON.stringify(n) ?? 'nothing'}`);
    }
    stored[l.name] = n;
  }
  for (const key of Object.keys(counts)) {
    if (!dense.some((l) => l.name === key)) fail(`header.params.nonzero: ${JSON.stringify(key)} is not a dense layer of the spec`);
  }
  return stored;
}

/**
 * Reads one sparse dense-weight run at byte p (the sizes were checked against the file): the
 * bitmask must mark exactly the stored count and nothing past the last weight. Returns the
 * offset after it.
 */
function readSparse(view: DataView, p: number, s: Segment, scale: number, params: Float32Array): number {
  const mask = maskBytes(s.count);
  let marked = 0;
  for (let b = 0; b < mask; b++) {
    let x = view.getUint8(p + b);
    while (x) {
      x &= x - 1;
      marked++;
    }
  }
  if (marked !== s.stored) {
    fail(`dense "${s.layer}": the bitmask marks ${marked} stored weights, but header.params.nonzero["${s.layer}"] says ${s.stored}`);
  }
  const spare = mask * 8 - s.count;
  if (spare > 0 && view.getUint8(p + mask - 1) >> (8 - spare) !== 0) {
    fail(`dense "${s.layer}": bits past its ${s.count} weights are set in the bitmask's last byte (0x${view.getUint8(p + mask - 1).toString(16).padStart(2, '0')})`);
  }
  let v = p + mask;
  for (let j = 0; j < s.count; j++) {
    if (!(view.getUint8(p + (j >> 3)) & (1 << (j & 7)))) continue;
    const i = s.start + j;
    switch (s.encoding) {
      case 'float32':
        params[i] = view.getFloat32(v, true);
        break;
      case 'float16':
        params[i] = fromFloat16Bits(view.getUint16(v, true));
        break;
      case 'int8':
        params[i] = view.getInt8(v) * scale;
        break;
    }
    v += bytesPer(s.encoding);
  }
  return v;
}

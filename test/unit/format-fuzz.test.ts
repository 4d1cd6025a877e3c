// Fuzzing the native model file reader: thousands of damaged or edited .cnn files, made
// deterministically from a seed and a few valid models. Every file must either be rejected with a
// ModelFileError that says something, or — only where the edit is valid by construction — decode
// to exactly the model an independent reader gets from those bytes. Decoding must never throw
// anything else, never take long and never write to its input.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  decodeModel,
  encodeModel,
  MAGIC,
  ModelFileError,
  type DenseEncoding,
  type ModelMeta,
} from '../../src/engine/format/native.ts';
import { pruneDense } from '../../src/engine/compress.ts';
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import { inferShapes, LIMITS } from '../../src/engine/shapes.ts';
import type { Model, ModelSpec } from '../../src/engine/spec.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';

/** Headers are edited as plain JSON, whatever their type says. */
type Json = any;

const SEED = 0x5eed_cafe;

/** CPU time of this process in milliseconds. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const PREAMBLE = 20;

// --- the valid models the mutations start from ---

function tinySpec(): ModelSpec {
  return {
    input: { height: 6, width: 6, channels: 2, mean: [100, 120], std: [50, 70] },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 3, kernel: 3, activation: 'relu' }, // 'valid': 6 → 4
      { kind: 'maxpool', name: 'p1', size: 2 }, // 4 → 2
      { kind: 'dense', name: 'd1', units: 5, activation: 'tanh' },
      { kind: 'dense', name: 'd2', units: 3, bias: false },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['cat', 'dog', 'owl'],
  };
}

function withNonZeroBiases(spec: ModelSpec, seed: number): Model {
  const params = initParams(spec, seed);
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = ((i % 7) - 3) * 0.01 + 0.001;
  return { spec, params };
}

interface Expected {
  spec: ModelSpec;
  meta: ModelMeta;
  params: Float32Array;
}

interface Base {
  name: string;
  /** Format version: 1, or 2 with sparse dense weights. */
  version: number;
  sparse: boolean;
  file: Uint8Array;
  header: Json;
  headerLength: number;
  paramBytes: Uint8Array;
  expected: Expected;
  /** Where each parameter is stored: absolute file offset and encoding. */
  slots: Slot[];
  /** Sparse files: where each dense layer's bitmask is. */
  masks: Mask[];
}

interface Slot {
  index: number;
  offset: number;
  encoding: DenseEncoding;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const u32 = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const concat = (...parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

/** The file's fields, read without the decoder. */
function fields(file: Uint8Array) {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getUint32(12, true);
  const paramLength = view.getUint32(16, true);
  const headerText = Buffer.from(file.subarray(PREAMBLE, PREAMBLE + headerLength)).toString('utf8');
  return {
    headerLength,
    header: JSON.parse(headerText) as Json,
    paramBytes: file.subarray(PREAMBLE + headerLength, PREAMBLE + headerLength + paramLength),
  };
}

/** IEEE binary16 → number, by building the float32 bit pattern (independent of the module's). */
function halfToNumber(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return (sign ? -1 : 1) * mant * 2 ** -24;
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = exp === 0x1f ? sign | 0x7f800000 | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
  return f[0];
}

/**
 * Where each parameter lives in the file: parameters in order; dense weights (not biases) take
 * 2 bytes as float16 or 1 byte as int8, everything else 4. Layer offsets come from inferShapes.
 */
function slotsOf(spec: ModelSpec, encoding: DenseEncoding, paramStart: number): { slots: Slot[]; denseLayer: (string | null)[] } {
  const key = `${JSON.stringify(spec)} ${encoding} ${paramStart}`;
  const known = layouts.get(key);
  if (known) return known;
  const denseLayer = denseLayerOf(spec);
  const slots: Slot[] = [];
  let offset = paramStart;
  for (let i = 0; i < denseLayer.length; i++) {
    const e: DenseEncoding = denseLayer[i] !== null ? encoding : 'float32';
    slots.push({ index: i, offset, encoding: e });
    offset += e === 'float32' ? 4 : e === 'float16' ? 2 : 1;
  }
  layouts.set(key, { slots, denseLayer });
  return { slots, denseLayer };
}
const layouts = new Map<string, ReturnType<typeof slotsOf>>();
const sizeOf = (e: DenseEncoding): number => (e === 'float32' ? 4 : e === 'float16' ? 2 : 1);

/** For every parameter, the name of the dense layer whose weight it is, or null. */
function denseLayerOf(spec: ModelSpec): (string | null)[] {
  const info = inferShapes(spec);
  const denseLayer: (string | null)[] = new Array(info.paramCount).fill(null);
  for (const l of info.layers) {
    if (l.kind === 'dense') for (let i = 0; i < l.inSize * l.units; i++) denseLayer[l.paramOffset + i] = l.name;
  }
  return denseLayer;
}

/**
 * The sparse layout (format version 2), read from the file as the README describes it: each
 * dense layer's weights are a bitmask of ceil(n / 8) bytes (bit i & 7 of byte i >> 3) and then
 * the marked weights, in the dense encoding; unmarked weights are 0. Null when a bitmask does
 * not mark exactly header.params.nonzero[layer] weights or marks bits past the last weight.
 */
function sparseSlotsOf(file: Uint8Array, spec: ModelSpec, encoding: DenseEncoding, nonzero: Record<string, number>, paramStart: number): Layout | null {
  const denseLayer = denseLayerOf(spec);
  const slots: Slot[] = [];
  const masks: Mask[] = [];
  let offset = paramStart;
  let i = 0;
  while (i < denseLayer.length) {
    const name = denseLayer[i];
    if (name === null) {
      slots.push({ index: i++, offset, encoding: 'float32' });
      offset += 4;
      continue;
    }
    let n = 0;
    while (denseLayer[i + n] === name) n++;
    const mask = file.subarray(offset, offset + Math.ceil(n / 8));
    masks.push({ layer: name, offset, weights: n });
    offset += mask.length;
    let marked = 0;
    for (let bit = 0; bit < mask.length * 8; bit++) {
      if (!(mask[bit >> 3] & (1 << (bit & 7)))) continue;
      if (bit >= n) return null;
      marked++;
      slots.push({ index: i + bit, offset, encoding });
      offset += sizeOf(encoding);
    }
    if (marked !== nonzero[name]) return null;
    i += n;
  }
  return { slots, denseLayer, masks };
}

/** A sparse dense layer's bitmask: file offset and how many weights (bits) it covers. */
interface Mask {
  layer: string;
  offset: number;
  weights: number;
}

interface Layout {
  slots: Slot[];
  denseLayer: (string | null)[];
  /** Sparse files only. */
  masks?: Mask[];
}

/** Where each parameter of a file is (dense weights left out of a sparse file have no slot). */
function layoutOf(file: Uint8Array): Layout | null {
  const { header, headerLength } = fields(file);
  const { spec, params } = header;
  return params.denseSparse
    ? sparseSlotsOf(file, spec, params.denseEncoding, params.nonzero, PREAMBLE + headerLength)
    : slotsOf(spec, params.denseEncoding, PREAMBLE + headerLength);
}

/** The parameters a correct reader gets from a file whose layout matches its spec; null if a sparse bitmask disagrees with its count. */
function referenceParams(file: Uint8Array): Float32Array | null {
  const { header } = fields(file);
  const layout = layoutOf(file);
  if (!layout) return null;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out = new Float32Array(layout.denseLayer.length);
  for (const s of layout.slots) {
    if (s.encoding === 'float32') out[s.index] = view.getFloat32(s.offset, true);
    else if (s.encoding === 'float16') out[s.index] = halfToNumber(view.getUint16(s.offset, true));
    else out[s.index] = view.getInt8(s.offset) * header.params.scales[layout.denseLayer[s.index]!];
  }
  return out;
}

/** referenceParams of a file that is valid by construction. */
function validParams(file: Uint8Array): Float32Array {
  const params = referenceParams(file);
  if (!params) throw new Error('a file meant to be valid has a bitmask that disagrees with its count');
  return params;
}

function makeBase(name: string, model: Model, encoding: DenseEncoding, sparse = false): Base {
  const meta: ModelMeta = {
    name,
    created: '2024-05-01T12:00:00.000Z',
    training: { epochs: 2, seed: 5, history: [{ epoch: 1, loss: 1.25, trainAccuracy: 0.5, validationAccuracy: null }] },
  };
  const file = encodeModel(model, meta, { denseEncoding: encoding, denseSparse: sparse });
  const { header, headerLength, paramBytes } = fields(file);
  const params = validParams(file);
  // The independent reader agrees with the writer: exact for float32, within rounding otherwise.
  const { denseLayer } = slotsOf(model.spec, encoding, 0);
  for (let i = 0; i < params.length; i++) {
    const v = model.params[i];
    const tol = denseLayer[i] === null || encoding === 'float32' ? 0
      : encoding === 'float16' ? Math.abs(v) * 2 ** -11 + 2 ** -25
      : header.params.scales[denseLayer[i]!] / 2 + 1e-9;
    if (!(Math.abs(params[i] - v) <= tol)) throw new Error(`${name}: reference reader gives ${params[i]} for ${v} at ${i}`);
  }
  return {
    name,
    version: sparse ? 2 : 1,
    sparse,
    file,
    header,
    headerLength,
    paramBytes,
    expected: { spec: clone(model.spec), meta: { ...meta, denseEncoding: encoding, ...(sparse ? { denseSparse: true } : {}) }, params },
    slots: layoutOf(file)!.slots,
    masks: layoutOf(file)!.masks ?? [],
  };
}

// --- building (possibly broken) files ---

/** UTF-8 header text padded with `pad` to a multiple of 4 bytes (unless `align` is false). */
function headerBytes(text: string, pad = ' ', align = true): Uint8Array {
  const body = Buffer.from(text, 'utf8');
  if (!align) return new Uint8Array(body);
  let padding = '';
  for (let i = 0; (body.length + padding.length) % 4 !== 0; i++) padding += pad[i % pad.length];
  return new Uint8Array(Buffer.concat([body, Buffer.from(padding, 'latin1')]));
}

/** A file from its parts, lengths as declared, with a correct checksum. */
function assemble(header: Uint8Array, params: Uint8Array, version: number): Uint8Array {
  const out = new Uint8Array(PREAMBLE + header.length + params.length + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, version, true);
  view.setUint32(12, header.length, true);
  view.setUint32(16, params.length, true);
  out.set(header, PREAMBLE);
  out.set(params, PREAMBLE + header.length);
  return fixCrc(out);
}

/** Rewrites the last 4 bytes as the CRC-32 of everything before them (in place). */
function fixCrc(file: Uint8Array): Uint8Array {
  new DataView(file.buffer, file.byteOffset, file.byteLength).setUint32(file.length - 4, crc32(file, 0, file.length - 4), true);
  return file;
}

function setU32(file: Uint8Array, offset: number, value: number): Uint8Array {
  const out = file.slice();
  new DataView(out.buffer).setUint32(offset, value >>> 0, true);
  return out;
}

/** Stand-in for raw JSON text (Infinity as 1e999, deep nesting…) that JSON.stringify cannot write. */
const RAW = '\u0000raw\u0000';
function withRaw(h: Json, raw: string | undefined): string {
  const text = JSON.stringify(h);
  if (raw === undefined) return text;
  const marker = JSON.stringify(RAW);
  if (text.split(marker).length !== 2) throw new Error('raw marker must occur exactly once');
  return text.replace(marker, () => raw);
}

const deepArray = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
/** Deep enough to overflow the stack of any recursive walk (JSON.stringify, String()). */
const DEPTH = 10_000;
const DEEP = deepArray(DEPTH);

/** JSON with every number written by `num` and every string written by `str`. */
function serialize(v: Json, num: (n: number) => string, str: (s: string) => string = JSON.stringify, keys = (o: object) => Object.keys(o)): string {
  if (typeof v === 'number') return num(v);
  if (typeof v === 'string') return str(v);
  if (Array.isArray(v)) return `[${v.map((x) => serialize(x, num, str, keys)).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${keys(v).map((k) => `${str(k)}:${serialize(v[k], num, str, keys)}`).join(',')}}`;
  return JSON.stringify(v);
}
const unicodeEscaped = (s: string): string => `"${Array.from(s, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;

/** Positions of JSON structural characters outside strings. */
function structuralOffsets(text: string, chars: string): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (chars.includes(c)) out.push(i);
  }
  return out;
}

// --- the cases ---

type Expectation = 'reject' | Expected;

interface Case {
  kind: string;
  what: string;
  bytes: Uint8Array;
  expect: Expectation;
}

/** Makes the cases one at a time and hands each to `sink` (they are not kept: some are 90 kB). */
function makeCases(bases: Base[], rng: Random, sink: (c: Case) => void): void {
  const add = (kind: string, what: string, bytes: Uint8Array, expect: Expectation = 'reject'): void => {
    sink({ kind, what, bytes, expect });
  };

  for (const b of bases) {
    const { file, headerLength: H } = b;
    const P = b.paramBytes.length;
    const size = file.length;
    const regions: [string, number, number][] = [
      ['magic', 0, 8],
      ['version', 8, 12],
      ['header-length', 12, 16],
      ['param-length', 16, 20],
      ['header', 20, 20 + H],
      ['params', 20 + H, 20 + H + P],
      ['checksum', 20 + H + P, size],
    ];
    const regionOf = (n: number): string => regions.find(([, s, e]) => n >= s && n < e)![0];
    const pick = (): number => {
      const [, s, e] = regions[rng.int(regions.length)];
      return s + rng.int(e - s);
    };

    add('identity', `${b.name} as written`, file, b.expected);

    // Truncation: every length for the first base; for the others the fixed fields, every
    // boundary and samples inside the header and the parameters.
    const lengths = new Set<number>();
    if (b === bases[0]) for (let n = 0; n < size; n++) lengths.add(n);
    else {
      for (let n = 0; n <= 24; n++) lengths.add(n);
      for (const [, s, e] of regions) for (const n of [s, s + 1, e - 1]) lengths.add(n);
      for (let k = 0; k < 30; k++) lengths.add(20 + rng.int(H));
      for (let k = 0; k < 30; k++) lengths.add(20 + H + rng.int(P));
      for (let n = size - 4; n < size; n++) lengths.add(n);
    }
    for (const n of lengths) add(`truncate/${regionOf(n)}`, `${b.name} cut to ${n} of ${size} bytes`, file.subarray(0, n));

    // Random bit flips without a new checksum: CRC-32 catches every single flip and every burst
    // up to 32 bits; the fixed fields are checked before it.
    for (let k = 0; k < 120; k++) {
      const at = pick();
      const bit = rng.int(8);
      const out = file.slice();
      out[at] ^= 1 << bit;
      add('bitflip', `${b.name} byte ${at} (${regionOf(at)}) bit ${bit}`, out);
    }
    for (let k = 0; k < 40; k++) {
      const out = file.slice();
      const at = pick();
      const burst = 1 + rng.int(4);
      for (let i = 0; i < burst && at + i < size; i++) out[at + i] ^= 1 + rng.int(255);
      add('bitflip', `${b.name} ${burst}-byte burst at ${at} (${regionOf(at)})`, out);
    }

    // Bit flips in the parameters with the checksum recomputed: another valid encoding, which must
    // decode to exactly the changed values — or be rejected when a value becomes NaN or ±Infinity.
    for (let k = 0; k < 150; k++) {
      const at = 20 + H + rng.int(P);
      const bit = rng.int(8);
      const out = file.slice();
      out[at] ^= 1 << bit;
      fixCrc(out);
      const params = referenceParams(out);
      if (!params) {
        // A bit of a sparse bitmask: the count no longer matches.
        add('param-bitflip+crc', `${b.name} byte ${at} bit ${bit} (a bitmask)`, out);
        continue;
      }
      const [now, was] = [u32(params), u32(b.expected.params)];
      let changed = 0;
      for (let i = 0; i < params.length; i++) if (now[i] !== was[i]) changed++;
      if (changed !== 1) throw new Error(`param flip at ${at}: ${changed} values changed`);
      const finite = params.every(Number.isFinite);
      add('param-bitflip+crc', `${b.name} byte ${at} bit ${bit}`, out, finite ? { ...b.expected, params } : 'reject');
    }

    // A stored weight moved to another place in its layer's bitmask (one set bit cleared, one
    // clear bit set, checksum recomputed): the count still matches, so the file is valid and the
    // values land on the new places.
    for (const m of b.masks) {
      const isSet = (bit: number) => (file[m.offset + (bit >> 3)] & (1 << (bit & 7))) !== 0;
      const bits = Array.from({ length: m.weights }, (_, bit) => bit);
      const set = bits.filter(isSet);
      const clear = bits.filter((bit) => !isSet(bit));
      if (set.length === 0 || clear.length === 0) continue;
      for (let k = 0; k < 8; k++) {
        const from = set[rng.int(set.length)];
        const to = clear[rng.int(clear.length)];
        const out = file.slice();
        out[m.offset + (from >> 3)] ^= 1 << (from & 7);
        out[m.offset + (to >> 3)] ^= 1 << (to & 7);
        fixCrc(out);
        add('sparse-mask-moved', `${b.name} "${m.layer}" weight ${from} → ${to}`, out, { ...b.expected, params: validParams(out) });
      }
      // A bit past the last weight (format-native.test.ts has it with a matching count too).
      const spare = Math.ceil(m.weights / 8) * 8 - m.weights;
      if (spare > 0) {
        const out = file.slice();
        out[m.offset + (m.weights >> 3)] |= 0x80;
        add('sparse-mask-moved', `${b.name} "${m.layer}" spare bitmask bit set`, fixCrc(out));
      }
    }

    // NaN and ±Infinity written into the parameters (checksum recomputed).
    const f32Slots = b.slots.filter((s) => s.encoding === 'float32');
    const f16Slots = b.slots.filter((s) => s.encoding === 'float16');
    const i8Slots = b.slots.filter((s) => s.encoding === 'int8');
    const sample = <T>(a: T[], n: number): T[] => (a.length === 0 ? [] : [a[0], a[a.length - 1], ...Array.from({ length: n }, () => a[rng.int(a.length)])]);
    const writeSlot = (s: Slot, bits: number): Uint8Array => {
      const out = file.slice();
      const view = new DataView(out.buffer);
      if (s.encoding === 'float32') view.setUint32(s.offset, bits, true);
      else if (s.encoding === 'float16') view.setUint16(s.offset, bits, true);
      else view.setInt8(s.offset, bits);
      return fixCrc(out);
    };
    for (const s of sample(f32Slots, 3)) {
      for (const [name, bits] of [
        ['NaN', 0x7fc00000],
        ['-NaN', 0xffc00000],
        ['signalling NaN', 0x7f800001],
        ['Infinity', 0x7f800000],
        ['-Infinity', 0xff800000],
      ] as const) {
        add('nan-inf', `${b.name} float32 param ${s.index} = ${name}`, writeSlot(s, bits));
      }
    }
    for (const s of sample(f16Slots, 3)) {
      for (const [name, bits] of [['NaN', 0x7e00], ['NaN payload', 0x7c01], ['Infinity', 0x7c00], ['-Infinity', 0xfc00]] as const) {
        add('nan-inf', `${b.name} float16 weight ${s.index} = ${name}`, writeSlot(s, bits));
      }
    }
    // Extreme but finite values: valid files, decoded exactly. int8 −128 is outside the writer's
    // symmetric range but still means q · scale.
    const edges: [Slot[], string, number][] = [
      [f32Slots, 'largest float32', 0x7f7fffff],
      [f32Slots, 'smallest subnormal float32', 0x00000001],
      [f32Slots, '-0', 0x80000000],
      [f16Slots, 'largest float16', 0x7bff],
      [f16Slots, 'smallest subnormal float16', 0x0001],
      [i8Slots, 'int8 -128', -128],
      [i8Slots, 'int8 127', 127],
    ];
    for (const [slots, name, bits] of edges) {
      for (const s of sample(slots, 1)) {
        const out = writeSlot(s, bits);
        add('param-edge', `${b.name} param ${s.index} = ${name}`, out, { ...b.expected, params: validParams(out) });
      }
    }

    // Length fields: wrong values, with the old and with a recomputed checksum.
    const lengthValues = (v: number): number[] =>
      [0, 1, 3, v - 4, v - 1, v + 1, v + 4, 2 * v, size, 0x7fffffff, 0x80000000, 0xffffffff, 4 * 1024 * 1024 + 4, LIMITS.maxParams * 4 + 4]
        .filter((x) => x >= 0 && x !== v);
    for (const [field, at, v] of [['header length', 12, H], ['param length', 16, P]] as const) {
      for (const x of lengthValues(v)) {
        add('length-field', `${b.name} ${field} ${v} → ${x}`, setU32(file, at, x));
        add('length-field', `${b.name} ${field} ${v} → ${x}, checksum recomputed`, fixCrc(setU32(file, at, x)));
      }
    }
    for (const d of [-4, -1, 1, 4]) {
      // The boundary between header and parameters moved, total unchanged.
      const out = setU32(setU32(file, 12, H + d), 16, P - d);
      add('length-field', `${b.name} header/param boundary moved by ${d}`, out);
      add('length-field', `${b.name} header/param boundary moved by ${d}, checksum recomputed`, fixCrc(out.slice()));
    }
    add('length-field', `${b.name} lengths swapped`, fixCrc(setU32(setU32(file, 12, P), 16, H)));
    // Parameters resized to match a changed parameter length.
    for (const d of [-8, -4, -1, 1, 4, 8]) {
      const params = new Uint8Array(P + d);
      params.set(b.paramBytes.subarray(0, Math.min(P, P + d)));
      const what = `${b.name} ${Math.abs(d)} parameter bytes ${d > 0 ? 'added' : 'removed'}, lengths and checksum consistent`;
      add('length-field', what, assemble(file.subarray(20, 20 + H), params, b.version));
    }

    // Wrong magic.
    for (let i = 0; i < 8; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const out = file.slice();
        out[i] ^= x;
        add('magic', `${b.name} magic byte ${i} ^ ${x}`, i % 2 ? fixCrc(out) : out);
      }
    }
    const seven = file.slice();
    seven[0] &= 0x7f;
    add('magic', `${b.name} 7-bit transfer`, seven);
    add('magic', `${b.name} CRLF → LF`, fixCrc(concat(file.subarray(0, 4), file.subarray(5))));
    add('magic', `${b.name} LF → CRLF`, concat(file.subarray(0, 6), [0x0d], file.subarray(6)));
    add('magic', `${b.name} one byte prepended`, concat([0], file));
    add('magic', `${b.name} header JSON alone`, file.slice(20, 20 + H));
    add('magic', `${b.name} magic zeroed`, fixCrc(new Uint8Array(file).fill(0, 0, 8)));

    // Versions this reader does not know, and the other known version (version 1 is whole
    // dense weights, version 2 sparse ones: the header cannot be read as the other).
    for (const v of [0, 1, 2, 3, 255, 0x100, 0x10000, 0x01000000, 0x7fffffff, 0xffffffff].filter((v) => v !== b.version)) {
      add('version', `${b.name} version ${v}`, setU32(file, 8, v));
      add('version', `${b.name} version ${v}, checksum recomputed`, fixCrc(setU32(file, 8, v)));
    }

    // Trailing garbage, and a file followed by a copy of itself.
    for (const n of [1, 2, 3, 4, 5, 8, 64]) {
      const junk = Uint8Array.from({ length: n }, () => rng.int(256));
      add('trailing', `${b.name} + ${n} random bytes`, concat(file, junk));
      add('trailing', `${b.name} + ${n} zero bytes`, concat(file, new Uint8Array(n)));
      // A checksum rewritten at the new end does not make the extra bytes part of the file.
      add('trailing', `${b.name} + ${n} bytes, checksum at the new end`, fixCrc(concat(file, new Uint8Array(n))));
    }
    add('trailing', `${b.name} twice`, concat(file, file));

    headerCases(b, rng, sink, { deep: b === bases[0], absurd: b !== bases[bases.length - 1] });
  }
}

/**
 * An object with key `from` renamed to `to`, first, as an own property even for "__proto__"
 * (JSON.parse makes one; assignment would set the prototype).
 */
function renamedKey(o: Record<string, unknown>, from: string, to: string): Json {
  const entries = [[to, o[from]], ...Object.entries(o).filter(([n]) => n !== from)];
  return JSON.parse(`{${entries.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`);
}

type Edit = (kind: string, what: string, change: (h: Json) => void, valid?: boolean, raw?: string) => void;

/** Edits of the sparse-storage fields; only moving a bitmask bit within a layer keeps the file valid. */
function sparseCases(b: Base, edit: Edit): void {
  const counts: Record<string, number> = b.header.params.nonzero;
  const names = Object.keys(counts);
  const [first, second] = names;
  const bad = (what: string, change: (h: Json) => void, raw?: string): void => edit('sparse-header', what, change, false, raw);
  bad(`nonzero["${first}"] + 1`, (h) => (h.params.nonzero[first] += 1));
  bad(`nonzero["${first}"] - 1`, (h) => (h.params.nonzero[first] -= 1));
  bad(`nonzero["${first}"] + 4 (a float32 value's bytes)`, (h) => (h.params.nonzero[first] += 4));
  if (second !== undefined) {
    // Same total size when both layers' values are as wide: only the popcount can tell.
    bad(`one count moved from "${first}" to "${second}"`, (h) => {
      h.params.nonzero[first] -= 1;
      h.params.nonzero[second] += 1;
    });
    bad('counts swapped', (h) => ([h.params.nonzero[first], h.params.nonzero[second]] = [counts[second], counts[first]]));
  }
  for (const v of ['-1', '0.5', '1e999', '"1"', 'null', '[]', '{}', '9007199254740993']) bad(`nonzero["${first}"] = ${v}`, (h) => (h.params.nonzero[first] = RAW), v);
  bad(`nonzero["${first}"] missing`, (h) => delete h.params.nonzero[first]);
  bad('nonzero with an extra layer', (h) => (h.params.nonzero.extra = 0));
  bad('nonzero with only "__proto__"', (h) => (h.params.nonzero = JSON.parse(`{"__proto__":${counts[first]}}`)));
  bad('nonzero missing', (h) => delete h.params.nonzero);
  for (const v of ['[]', 'null', '5', '"x"']) bad(`nonzero = ${v}`, (h) => (h.params.nonzero = RAW), v);
  for (const v of ['false', '"true"', '1', 'null']) bad(`denseSparse = ${v}`, (h) => (h.params.denseSparse = RAW), v);
  bad('denseSparse missing', (h) => delete h.params.denseSparse);
  bad('denseSparse and nonzero missing', (h) => {
    delete h.params.denseSparse;
    delete h.params.nonzero;
  });
}

/** Edits of the JSON header, the file rebuilt around the same parameter bytes (checksum valid). */
/**
 * `deep`: also the (slow to parse) deeply nested values; `absurd`: the absurd dimensions (they do
 * not depend on the parameter encoding, so not for every base).
 */
function headerCases(b: Base, rng: Random, sink: (c: Case) => void, { deep, absurd: withAbsurd }: { deep: boolean; absurd: boolean }): void {
  const layers: Json[] = b.header.spec.layers;
  const conv = layers.findIndex((l) => l.kind === 'conv2d');
  const pool = layers.findIndex((l) => l.kind === 'maxpool');
  const dense = layers.findIndex((l) => l.kind === 'dense');
  const softmax = layers.findIndex((l) => l.kind === 'softmax');
  const encoding: DenseEncoding = b.header.params.denseEncoding;
  const rebuild = (text: string, pad?: string, align?: boolean): Uint8Array => assemble(headerBytes(text, pad, align), b.paramBytes, b.version);

  /** An edit; accepted only when `valid`, then decoding to the edited spec and meta with the same parameters. */
  const edit = (kind: string, what: string, change: (h: Json) => void, valid = false, raw?: string): void => {
    const h = clone(b.header);
    change(h);
    const bytes = rebuild(withRaw(h, raw));
    let expect: Expectation = 'reject';
    if (valid) {
      const params = validParams(bytes);
      expect = { spec: h.spec, meta: { ...h.meta, denseEncoding: h.params.denseEncoding, ...(b.sparse ? { denseSparse: true } : {}) }, params };
    }
    sink({ kind, what: `${b.name} ${what}`, bytes, expect });
  };

  // Shape edits that change the number of parameters or the output size: rejected, since the
  // parameter bytes no longer fit. (Sizes for the tiny net 6×6×2 → conv 3×3 valid → pool 2 → 2×2×3,
  // for the classic net 32 → 16 → 8 → 4 with 'same' convolutions.)
  const shape = (what: string, change: (h: Json) => void): void => edit('shape', what, change);
  const f = layers[conv].filters;
  shape(`conv filters ${f} → ${f + 1}`, (h) => (h.spec.layers[conv].filters = f + 1));
  shape(`conv filters ${f} → ${f - 1}`, (h) => (h.spec.layers[conv].filters = f - 1));
  shape(`conv filters ${f} → ${2 * f}`, (h) => (h.spec.layers[conv].filters = 2 * f));
  const k = layers[conv].kernel;
  shape(`conv kernel ${k} → ${k + 2}`, (h) => (h.spec.layers[conv].kernel = k + 2));
  shape(`conv kernel ${k} → ${k - 2}`, (h) => (h.spec.layers[conv].kernel = k - 2));
  shape(`conv kernel ${k} → [${k}, ${k + 1}]`, (h) => (h.spec.layers[conv].kernel = [k, k + 1]));
  shape('conv padding toggled', (h) => (h.spec.layers[conv].padding = h.spec.layers[conv].padding === 'same' ? 'valid' : 'same'));
  shape('conv stride 2', (h) => (h.spec.layers[conv].stride = 2));
  shape('conv bias removed', (h) => (h.spec.layers[conv].bias = false));
  shape('pool size 1', (h) => (h.spec.layers[pool].size = 1));
  shape('pool size 4', (h) => (h.spec.layers[pool].size = 4));
  shape('first conv removed', (h) => h.spec.layers.splice(conv, 1));
  shape('first pool removed', (h) => h.spec.layers.splice(pool, 1));
  shape('first pool repeated', (h) => h.spec.layers.splice(pool, 0, { ...h.spec.layers[pool], name: 'extra-pool' }));
  const u = layers[dense].units;
  shape(`dense units ${u} → ${u + 1}`, (h) => (h.spec.layers[dense].units = u + 1));
  shape(`dense units ${u} → ${u - 1}`, (h) => (h.spec.layers[dense].units = u - 1));
  shape('dense bias toggled', (h) => (h.spec.layers[dense].bias = h.spec.layers[dense].bias === false));
  shape('last dense bias toggled', (h) => {
    const l = h.spec.layers[softmax - 1];
    l.bias = l.bias === false;
  });
  shape('last dense removed', (h) => h.spec.layers.splice(softmax - 1, 1));
  const c = b.header.spec.input.channels;
  shape(`input channels ${c} → ${c + 1} (mean and std too)`, (h) => {
    h.spec.input.channels = c + 1;
    h.spec.input.mean.push(100);
    h.spec.input.std.push(50);
  });
  shape(`input channels ${c} → ${c - 1} (mean and std too)`, (h) => {
    h.spec.input.channels = c - 1;
    h.spec.input.mean.pop();
    h.spec.input.std.pop();
  });
  shape('input channels changed, mean and std not', (h) => (h.spec.input.channels = c - 1));
  const height = b.header.spec.input.height;
  shape(`input height ${height} → ${2 * height}`, (h) => (h.spec.input.height = 2 * height));
  shape(`input width ${height} → ${height / 2}`, (h) => (h.spec.input.width = height / 2));
  shape('label added', (h) => h.spec.labels.push('extra'));
  shape('label removed', (h) => h.spec.labels.pop());
  shape('label not a string', (h) => (h.spec.labels[0] = 7));
  shape('duplicate layer name', (h) => (h.spec.layers[pool].name = h.spec.layers[conv].name));
  shape('conv2d → dense', (h) => (h.spec.layers[conv].kind = 'dense'));
  shape('dense → conv2d', (h) => (h.spec.layers[dense].kind = 'conv2d'));
  shape('unknown kind conv3d', (h) => (h.spec.layers[conv].kind = 'conv3d'));
  shape('unknown activation gelu', (h) => (h.spec.layers[conv].activation = 'gelu'));
  shape('std 0', (h) => (h.spec.input.std[0] = 0));
  shape('std negative', (h) => (h.spec.input.std[0] = -1));
  shape('mean one value too many', (h) => h.spec.input.mean.push(0));
  shape('no layers', (h) => (h.spec.layers = []));
  shape(`${LIMITS.maxLayers + 1} layers`, (h) => {
    for (let i = h.spec.layers.length; i <= LIMITS.maxLayers; i++) h.spec.layers.push({ kind: 'activation', name: `a${i}`, activation: 'linear' });
  });
  shape('spec not an object', (h) => (h.spec = []));
  shape('spec missing', (h) => delete h.spec);
  shape('params.count + 1', (h) => (h.params.count += 1));
  shape('params.count - 1', (h) => (h.params.count -= 1));
  shape('params.count as a string', (h) => (h.params.count = String(h.params.count)));
  shape('params missing', (h) => delete h.params);
  for (const e of ['float32', 'float16', 'int8', 'float64', null]) {
    if (e !== encoding) shape(`denseEncoding ${encoding} → ${e}`, (h) => (h.params.denseEncoding = e));
  }
  shape('meta not an object', (h) => (h.meta = [1]));
  shape('meta.name a number', (h) => (h.meta.name = 5));
  shape('meta.training a string', (h) => (h.meta.training = 'yes'));
  shape('meta.training.history an object', (h) => (h.meta.training.history = {}));

  // Edits that leave a valid model by construction: decoded as edited, same parameters.
  const same = (what: string, change: (h: Json) => void): void => edit('spec-edit-valid', what, change, true);
  same('conv activation relu → tanh', (h) => (h.spec.layers[conv].activation = 'tanh'));
  same('dense activation → sigmoid', (h) => (h.spec.layers[dense].activation = 'sigmoid'));
  same('maxpool → avgpool', (h) => (h.spec.layers[pool].kind = 'avgpool'));
  same('softmax removed', (h) => h.spec.layers.splice(softmax, 1));
  same('second softmax', (h) => h.spec.layers.push({ kind: 'softmax', name: 'sm-again' }));
  same('label renamed', (h) => (h.spec.labels[0] = 'renamed ✓'));
  same('conv renamed', (h) => (h.spec.layers[conv].name = 'renamed-conv'));
  same('std and mean changed', (h) => {
    h.spec.input.std[0] = 1;
    h.spec.input.mean[0] = -3.5;
  });
  // Pooling floors: an odd extra row or column vanishes (tiny: 7 → conv 5 → pool 2; classic: 33 → 16).
  same(`input height ${height} → ${height + 1}`, (h) => (h.spec.input.height = height + 1));
  same(`input width ${height} → ${height + 1}`, (h) => (h.spec.input.width = height + 1));
  same('meta renamed, unknown meta field', (h) => {
    h.meta.name = 'other';
    h.meta.note = { any: ['thing'] };
  });
  same('unknown layer field', (h) => (h.spec.layers[dense].comment = 'kept as is'));
  // Dense layer names key the int8 scales and the sparse counts: renaming one is valid unless the
  // weights are int8 or sparse.
  const keyed = encoding === 'int8' || b.sparse;
  edit(keyed ? 'shape' : 'spec-edit-valid', 'dense renamed', (h) => (h.spec.layers[dense].name = 'renamed-dense'), !keyed);
  if (b.sparse) {
    const name = layers[dense].name;
    edit('spec-edit-valid', 'dense renamed with its count', (h) => {
      h.spec.layers[dense].name = 'renamed-dense';
      h.params.nonzero = renamedKey(h.params.nonzero, name, 'renamed-dense');
      if (h.params.scales) h.params.scales = renamedKey(h.params.scales, name, 'renamed-dense');
    }, true);
    sparseCases(b, edit);
  }

  if (encoding === 'int8') {
    const name = layers[dense].name;
    const scale = b.header.params.scales[name];
    edit('int8-scale', `scale ×2`, (h) => (h.params.scales[name] = Math.fround(scale * 2)), true);
    edit('int8-scale', `scale 0`, (h) => (h.params.scales[name] = 0), true);
    edit('int8-scale', `scale 1e-30`, (h) => (h.params.scales[name] = 1e-30), true);
    edit('int8-scale', `scale -scale`, (h) => (h.params.scales[name] = -scale));
    edit('int8-scale', `scale 1e39 (q · scale overflows float32)`, (h) => (h.params.scales[name] = 1e39));
    edit('int8-scale', `scale 1e999`, (h) => (h.params.scales[name] = RAW), false, '1e999');
    edit('int8-scale', `scale a string`, (h) => (h.params.scales[name] = String(scale)));
    edit('int8-scale', `scale null`, (h) => (h.params.scales[name] = null));
    edit('int8-scale', `scale missing`, (h) => delete h.params.scales[name]);
    edit('int8-scale', `scales missing`, (h) => delete h.params.scales);
    edit('int8-scale', `scales an array`, (h) => (h.params.scales = [scale]));
    // A layer named "__proto__" is just a name: its scale is an own property of the parsed JSON.
    edit('int8-scale', `dense layer and scale named "__proto__"`, (h) => {
      h.spec.layers[dense].name = '__proto__';
      h.params.scales = renamedKey(h.params.scales, name, '__proto__');
      if (h.params.nonzero) h.params.nonzero = renamedKey(h.params.nonzero, name, '__proto__');
    }, true);
    edit('int8-scale', `dense layer named "__proto__", scale still under the old name`, (h) => (h.spec.layers[dense].name = '__proto__'));
    edit('int8-scale', `dense layer named "toString", scale still under the old name`, (h) => (h.spec.layers[dense].name = 'toString'));
  }

  // Absurd values in the dimensions, as raw JSON text.
  const deepValues = deep ? [DEEP] : [];
  const absurd = [
    '0', '-1', '-32', '0.5', '1.5', '1e9', '2147483648', '4294967296', '9007199254740993', '1e308', '1e999', '-1e999',
    '"3"', '"abc"', '""', 'null', 'true', 'false', '[]', '[2]', '[2,2,2]', '[0,2]', '[2,-1]', '[1.5,2]', '[1e9,1e9]', '[1e999,1]',
    '{}', '{"toString":0}', '{"toString":0,"valueOf":0}', ...deepValues,
  ];
  // 'null' and 0 are the default and explicit 'valid' padding: not absurd there.
  const absurdPadding = [
    '-1', '1.5', '1e9', '1e999', '-1e999', '"3"', '"full"', '""', 'true', '[]', '[1,1]', '[1,1,1,1,1]', '[-1,0,0,0]', '[0.5,0,0,0]',
    '[1e999,0,0,0]', '{}', '{"toString":0}', ...deepValues,
  ];
  const absurdKind = ['5', 'null', '"Conv2D"', '""', '[]', '["conv2d"]', '{}', '{"toString":0}', '{"toString":0,"valueOf":0}', ...deepValues];
  const targets: [string, (h: Json) => Json, string, string[]][] = [
    ['input.height', (h) => h.spec.input, 'height', absurd],
    ['input.width', (h) => h.spec.input, 'width', absurd],
    ['input.channels', (h) => h.spec.input, 'channels', absurd],
    ['conv.filters', (h) => h.spec.layers[conv], 'filters', absurd],
    ['conv.kernel', (h) => h.spec.layers[conv], 'kernel', absurd],
    ['conv.stride', (h) => h.spec.layers[conv], 'stride', absurd],
    ['conv.padding', (h) => h.spec.layers[conv], 'padding', absurdPadding],
    ['pool.size', (h) => h.spec.layers[pool], 'size', absurd],
    ['pool.stride', (h) => h.spec.layers[pool], 'stride', absurd],
    ['dense.units', (h) => h.spec.layers[dense], 'units', absurd],
    ['params.count', (h) => h.params, 'count', absurd],
    ['conv.kind', (h) => h.spec.layers[conv], 'kind', absurdKind],
    ['softmax.kind', (h) => h.spec.layers[softmax], 'kind', absurdKind],
    ['conv.name', (h) => h.spec.layers[conv], 'name', ['""', '5', 'null', '{"toString":0}', ...deepValues]],
  ];
  for (const [where, target, key, values] of withAbsurd ? targets : []) {
    for (const v of values) {
      edit('absurd-dimension', `${where} = ${v.length > 40 ? `${v.slice(0, 12)}… (${v.length} chars)` : v}`, (h) => (target(h)[key] = RAW), false, v);
    }
  }

  // Malformed JSON, lengths and checksum consistent.
  const text = JSON.stringify(b.header);
  const bad = (what: string, t: string | Uint8Array, pad = ' '): void => {
    const bytes = assemble(typeof t === 'string' ? headerBytes(t, pad) : t, b.paramBytes, b.version);
    sink({ kind: 'malformed-json', what: `${b.name} ${what}`, bytes, expect: 'reject' });
  };
  for (let k = 0; k < 20; k++) {
    const n = 1 + rng.int(text.length - 1);
    bad(`JSON cut to ${n} of ${text.length} characters`, text.slice(0, n));
  }
  const structural = structuralOffsets(text, '{}[]:');
  for (let k = 0; k < 20; k++) {
    const at = structural[rng.int(structural.length)];
    bad(`'${text[at]}' at ${at} deleted`, text.slice(0, at) + text.slice(at + 1));
  }
  bad('empty header', new Uint8Array(0));
  bad('only spaces', '    ');
  bad('trailing comma', text.replace(/}$/, ',}'));
  bad('single quotes', text.replace('"spec"', "'spec'"));
  bad('unquoted key', text.replace('"spec"', 'spec'));
  bad('NaN literal', text.replace(/"count":\d+/, '"count":NaN'));
  bad('comment', `/* model */${text}`);
  bad('garbage after the object', `${text}x`);
  bad('two objects', `${text}${text}`);
  bad('NUL padding', headerBytes(`${text}\u0000\u0000\u0000\u0000`, '\u0000'));
  for (const v of ['[]', 'null', '42', '"spec"', 'true', '{}', '{"spec":null,"params":{}}', ...deepValues]) {
    bad(`header is ${v.length > 40 ? 'a deeply nested array' : v}`, v);
  }
  const label = text.indexOf(JSON.stringify(b.header.spec.labels[0]));
  for (const [name, seq] of [
    ['byte 0xFF', [0xff]],
    ['lone continuation byte', [0x80]],
    ['overlong "/"', [0xc0, 0xaf]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['truncated 3-byte sequence', [0xe2, 0x82]],
  ] as const) {
    const body = Buffer.concat([Buffer.from(text.slice(0, label + 1)), Buffer.from(seq), Buffer.from(text.slice(label + 1))]);
    const padded = new Uint8Array(Math.ceil(body.length / 4) * 4).fill(0x20);
    padded.set(body);
    bad(`invalid UTF-8 in a label: ${name}`, padded);
  }
  // Nesting deep enough to overflow a recursive walk, where the reader does not look at the values.
  for (const [where, change] of !deep ? [] : ([
    ['meta.training.history', (h: Json) => (h.meta.training.history = RAW)],
    ['meta.extra', (h: Json) => (h.meta.extra = RAW)],
    ['spec.extra', (h: Json) => (h.spec.extra = RAW)],
    ['a layer field', (h: Json) => (h.spec.layers[dense].extra = RAW)],
    ['header.extra', (h: Json) => (h.extra = RAW)],
  ] as const)) {
    edit('deep-nesting', `${DEPTH} nested arrays in ${where}`, change, false, DEEP);
  }

  // The same header written differently: must decode to the same model.
  const alike = (what: string, t: string | Uint8Array, pad?: string, align?: boolean): void => {
    sink({
      kind: 'equivalent-header',
      what: `${b.name} ${what}`,
      bytes: typeof t === 'string' ? rebuild(t, pad, align) : assemble(t, b.paramBytes, b.version),
      expect: b.expected,
    });
  };
  alike('pretty-printed', JSON.stringify(b.header, null, 2));
  alike('tab-indented', JSON.stringify(b.header, null, '\t'));
  alike('keys in reverse order', serialize(b.header, (n) => JSON.stringify(n), JSON.stringify, (o) => Object.keys(o).reverse()));
  alike('numbers in exponent notation', serialize(b.header, (n) => n.toExponential()));
  alike('numbers with e0', serialize(b.header, (n) => (/e/.test(String(n)) ? String(n) : `${n}e0`)));
  alike('strings as \\u escapes', serialize(b.header, (n) => JSON.stringify(n), unicodeEscaped));
  alike('leading whitespace', ` \n\t\r${text}`);
  alike('padded with tabs, newlines and CRs', text, '\t\n\r');
  alike('16 extra spaces', text + ' '.repeat(16));
  alike('UTF-8 byte order mark (RFC 8259 lets readers ignore it)', headerBytes(`\ufeff${text}`));
  // The writer pads to 4 bytes; nothing depends on it, and the reader does not require it.
  alike('not padded to 4 bytes', `${text}${text.length % 4 === 0 ? ' ' : ''}`, ' ', false);
}

// --- running them ---

interface Tally {
  cases: number;
  rejected: number;
  accepted: number;
  /** Files valid by construction. */
  valid: number;
}

describe('decodeModel under fuzzing', () => {
  it('rejects every damaged file with a ModelFileError, accepts only valid edits, exactly, quickly, read-only', () => {
    const classic = classicCifarSpec();
    const bases = [
      makeBase('tiny/float32', withNonZeroBiases(tinySpec(), 13), 'float32'),
      makeBase('tiny/float16', withNonZeroBiases(tinySpec(), 14), 'float16'),
      makeBase('tiny/int8', withNonZeroBiases(tinySpec(), 15), 'int8'),
      makeBase('tiny/float32+sparse', pruneDense(withNonZeroBiases(tinySpec(), 16), 0.5).model, 'float32', true),
      makeBase('tiny/float16+sparse', pruneDense(withNonZeroBiases(tinySpec(), 17), 0.3).model, 'float16', true),
      makeBase('tiny/int8+sparse', pruneDense(withNonZeroBiases(tinySpec(), 18), 0.7).model, 'int8', true),
      makeBase('classic/float32', { spec: classic, params: initParams(classic, 11) }, 'float32'),
      makeBase('classic/int8+sparse', pruneDense({ spec: classic, params: initParams(classic, 19) }, 0.5).model, 'int8', true),
      makeBase('classic/int8', { spec: classic, params: initParams(classic, 12) }, 'int8'),
    ];

    const tally = new Map<string, Tally>();
    const failures: string[] = [];
    let files = 0;
    let decodes = 0;
    let decodeMs = 0;
    let slowest = { ms: 0, what: '' };
    const started = performance.now();
    const startedCpu = cpuMs();

    makeCases(bases, new Random(SEED), (c) => {
      files++;
      const t = tally.get(c.kind) ?? { cases: 0, rejected: 0, accepted: 0, valid: 0 };
      tally.set(c.kind, t);
      t.cases++;
      if (c.expect !== 'reject') t.valid++;
      const failed = (message: string): void => {
        failures.push(`${c.kind}: ${c.what}: ${message}`);
      };
      const outcomes: string[] = [];
      // Each file is read on its own and again at an odd offset inside a larger buffer whose other
      // bytes must not matter (for the 90 kB files, every 8th: a read costs about a millisecond).
      const offsets = c.bytes.length <= 8192 || files % 8 === 0 ? [0, 3] : [0];
      for (const offset of offsets) {
        const backing = new Uint8Array(c.bytes.length + 8).fill(0xa5);
        backing.set(c.bytes, offset);
        const input = backing.subarray(offset, offset + c.bytes.length);
        const before = backing.slice();
        let result: ReturnType<typeof decodeModel> | undefined;
        let error: unknown;
        const t0 = cpuMs();
        try {
          result = decodeModel(input);
        } catch (e) {
          error = e;
        }
        let ms = cpuMs() - t0;
        decodes++;
        decodeMs += ms;
        // A slow read is timed again (a garbage collection may have landed in it): the best of three counts.
        for (let k = 0; k < 2 && ms > 20; k++) {
          const again = input.slice();
          const t1 = cpuMs();
          try {
            decodeModel(again);
          } catch {
            // timing only
          }
          ms = Math.min(ms, cpuMs() - t1);
        }
        if (ms > slowest.ms) slowest = { ms, what: `${c.kind}: ${c.what}` };
        if (!bytesEqual(backing, before)) failed('decoding changed the input buffer');

        if (result === undefined) {
          outcomes.push('rejected');
          if (!(error instanceof ModelFileError)) {
            failed(`threw ${error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : String(error)}, not a ModelFileError`);
          } else if (typeof error.message !== 'string' || error.message.trim() === '') {
            failed('ModelFileError without a message');
          } else if (c.expect !== 'reject') {
            failed(`a valid file was rejected: ${error.message.slice(0, 200)}`);
          }
          continue;
        }
        outcomes.push('accepted');
        if (c.expect === 'reject') {
          failed('accepted, but the file is not valid');
          continue;
        }
        const { model, meta } = result;
        if (!isDeepStrictEqual(model.spec, c.expect.spec)) failed(`spec differs: ${JSON.stringify(model.spec).slice(0, 200)}`);
        if (!isDeepStrictEqual(meta, c.expect.meta)) failed(`meta differs: ${JSON.stringify(meta).slice(0, 200)}`);
        const got = model.params;
        const want = c.expect.params;
        if (!(got instanceof Float32Array) || got.length !== want.length) {
          failed(`params: ${got?.length} values, expected ${want.length}`);
        } else {
          const g = u32(got);
          const w = u32(want);
          const i = g.findIndex((x, j) => x !== w[j]);
          if (i >= 0) failed(`param ${i} is ${got[i]}, expected ${want[i]}`);
          if (got.buffer === backing.buffer) failed('params share the input buffer');
        }
      }
      if (outcomes.length === 2 && outcomes[0] !== outcomes[1]) failed(`outcome depends on the buffer offset: ${outcomes.join(' / ')}`);
      if (outcomes[0] === 'rejected') t.rejected++;
      else t.accepted++;
    });
    const totalMs = performance.now() - started;
    const totalCpuMs = cpuMs() - startedCpu;

    const rows = [...tally].map(
      ([kind, t]) =>
        `${kind.padEnd(24)} ${String(t.cases).padStart(5)} files ` +
        `${String(t.rejected).padStart(5)} rejected ${String(t.accepted).padStart(4)} accepted`,
    );
    console.log(
      `format fuzz (seed ${SEED}): ${files} files, ${decodes} decodes taking ${decodeMs.toFixed(0)} ms of CPU time ` +
        `(${totalCpuMs.toFixed(0)} ms CPU, ${totalMs.toFixed(0)} ms wall for the whole run), ` +
        `slowest ${slowest.ms.toFixed(1)} ms (${slowest.what.slice(0, 80)})\n${rows.join('\n')}`,
    );

    expect(failures.slice(0, 40), `${failures.length} failures`).toEqual([]);
    expect(files).toBeGreaterThanOrEqual(1000);
    // The accepted files are exactly the valid-by-construction ones (checked file by file above);
    // the positive controls really were accepted, so the comparisons ran.
    for (const [kind, t] of tally) expect(t.accepted, kind).toBe(t.valid);
    for (const kind of ['identity', 'equivalent-header', 'spec-edit-valid', 'param-edge', 'param-bitflip+crc', 'int8-scale', 'sparse-mask-moved']) {
      expect(tally.get(kind)?.accepted ?? 0, kind).toBeGreaterThan(0);
    }
    // Milliseconds per file, and the whole run bounded. CPU time, so that other processes on a
    // busy machine do not count; a hang ends at the test's timeout.
    expect(slowest.ms, slowest.what).toBeLessThan(50);
    expect(decodeMs).toBeLessThan(6000);
  }, 60_000);
});

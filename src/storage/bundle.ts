// The teach bundle (.teach): one self-checking file holding a taught model — its .cnn file (if
// trained), its classes and their examples — so the user can back it up and restore it.
// Cached features are not exported: they are recomputed by whichever backbone imports them.
//
// Layout (integers little-endian), built like the .cnn file:
//   offset 0   8 bytes  magic 89 54 43 48 0D 0A 1A 0A ("\x89TCH\r\n\x1a\n")
//   offset 8   uint32   bundle version (BUNDLE_VERSION)
//   offset 12  uint32   header length H in bytes (a multiple of 4: padded with spaces)
//   offset 16  uint32   payload length P in bytes
//   offset 20  H bytes  header: UTF-8 JSON BundleHeader
//   20 + H     P bytes  payload: the .cnn file (header.modelBytes bytes, possibly 0), then every
//                       example's EXAMPLE_BYTES bytes, class by class in header order
//   20 + H + P uint32   CRC-32 (IEEE) of every byte before it
//
// Decoding checks everything — sizes, checksum, header fields, class limits, the .cnn file
// itself — before returning, so an import can validate fully and then write in one transaction.
import { crc32, decodeModel } from '../engine/format/native.ts';
import { EXAMPLE_BYTES } from './schema.ts';
import { MAX_CLASSES, MIN_CLASSES, checkClassName } from './limits.ts';

export const BUNDLE_VERSION = 1;
export const BUNDLE_MAGIC = Uint8Array.of(0x89, 0x54, 0x43, 0x48, 0x0d, 0x0a, 0x1a, 0x0a);
const PREAMBLE = 20;
const CRC_SIZE = 4;
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface BundleClass {
  name: string;
  /** Creation time (ISO 8601) of each example, in payload order. */
  examples: string[];
}

interface BundleHeader {
  name: string;
  created: string;
  /** Byte length of the .cnn file at the start of the payload; 0 when the model is untrained. */
  modelBytes: number;
  /** Size of one example in bytes (32×32×3). */
  exampleBytes: number;
  classes: BundleClass[];
}

export interface Bundle {
  name: string;
  created: string;
  file: Uint8Array | null;
  classes: { name: string; examples: { bytes: Uint8Array; created: string }[] }[];
}

/** A bundle file that cannot be read; the message names the field and the numbers. */
export class BundleError extends Error {
  override name = 'BundleError';
}

function fail(message: string): never {
  throw new BundleError(`teach bundle: ${message}`);
}

export function encodeBundle(bundle: Bundle): Uint8Array {
  const header: BundleHeader = {
    name: bundle.name,
    created: bundle.created,
    modelBytes: bundle.file?.length ?? 0,
    exampleBytes: EXAMPLE_BYTES,
    classes: bundle.classes.map((c) => ({ name: c.name, examples: c.examples.map((e) => e.created) })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const h = Math.ceil(json.length / 4) * 4;
  const count = bundle.classes.reduce((s, c) => s + c.examples.length, 0);
  const p = header.modelBytes + count * EXAMPLE_BYTES;
  const out = new Uint8Array(PREAMBLE + h + p + CRC_SIZE);
  const view = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC, 0);
  view.setUint32(8, BUNDLE_VERSION, true);
  view.setUint32(12, h, true);
  view.setUint32(16, p, true);
  out.fill(0x20, PREAMBLE, PREAMBLE + h);
  out.set(json, PREAMBLE);
  let at = PREAMBLE + h;
  if (bundle.file) {
    out.set(bundle.file, at);
    at += bundle.file.length;
  }
  for (const c of bundle.classes) {
    for (const e of c.examples) {
      if (e.bytes.length !== EXAMPLE_BYTES) fail(`example of class "${c.name}" has ${e.bytes.length} bytes, expected ${EXAMPLE_BYTES}`);
      out.set(e.bytes, at);
      at += EXAMPLE_BYTES;
    }
  }
  view.setUint32(at, crc32(out, 0, at), true);
  return out;
}

/** Reads and fully validates a bundle (see the file comment); throws BundleError. */
export function decodeBundle(bytes: Uint8Array): Bundle {
  if (!(bytes instanceof Uint8Array)) fail('expected bytes (a Uint8Array)');
  if (bytes.length >= BUNDLE_MAGIC.length && !BUNDLE_MAGIC.every((b, i) => bytes[i] === b)) {
    fail(`not a teach bundle: the first bytes are ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  }
  if (bytes.length < PREAMBLE + CRC_SIZE) fail(`truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE + CRC_SIZE} bytes of an empty bundle`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version < 1 || version > BUNDLE_VERSION) fail(`version ${version} is not supported (this app reads version 1..${BUNDLE_VERSION})`);
  const h = view.getUint32(12, true);
  const p = view.getUint32(16, true);
  if (h > MAX_HEADER_BYTES) fail(`header length ${h} exceeds ${MAX_HEADER_BYTES}`);
  const want = PREAMBLE + h + p + CRC_SIZE;
  if (bytes.length !== want) fail(`file is ${bytes.length} bytes but its lengths (header ${h}, payload ${p}) say ${want}${bytes.length < want ? ' (truncated?)' : ''}`);
  const stored = view.getUint32(want - CRC_SIZE, true);
  const actual = crc32(bytes, 0, want - CRC_SIZE);
  if (stored !== actual) fail(`checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is damaged`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, PREAMBLE + h)));
  } catch (err) {
    fail(`header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const hd = checkHeader(header);
  const count = hd.classes.reduce((s, c) => s + c.examples.length, 0);
  if (hd.modelBytes + count * EXAMPLE_BYTES !== p) {
    fail(`payload is ${p} bytes but the header lists a ${hd.modelBytes}-byte model and ${count} examples of ${EXAMPLE_BYTES} bytes (${hd.modelBytes + count * EXAMPLE_BYTES})`);
  }
  let at = PREAMBLE + h;
  let file: Uint8Array | null = null;
  if (hd.modelBytes > 0) {
    file = bytes.slice(at, at + hd.modelBytes);
    // Throws ModelFileError naming what is wrong with the model file.
    decodeModel(file);
    at += hd.modelBytes;
  }
  const classes = hd.classes.map((c) => ({
    name: c.name,
    examples: c.examples.map((created) => {
      const e = { bytes: bytes.slice(at, at + EXAMPLE_BYTES), created };
      at += EXAMPLE_BYTES;
      return e;
    }),
  }));
  return { name: hd.name, created: hd.created, file, classes };
}

function checkHeader(x: unknown): BundleHeader {
  if (!isObject(x)) fail('header is not a JSON object');
  if (typeof x.name !== 'string' || x.name.trim() === '') fail('header.name must be a non-empty string');
  if (typeof x.created !== 'string' || Number.isNaN(Date.parse(x.created))) fail(`header.created ${JSON.stringify(x.created)} is not a date`);
  if (!Number.isInteger(x.modelBytes) || (x.modelBytes as number) < 0) fail(`header.modelBytes ${JSON.stringify(x.modelBytes)} is not a byte count`);
  if (x.exampleBytes !== EXAMPLE_BYTES) fail(`header.exampleBytes is ${JSON.stringify(x.exampleBytes)}, this app stores ${EXAMPLE_BYTES}-byte (32×32×3) examples`);
  if (!Array.isArray(x.classes)) fail('header.classes must be an array');
  if (x.classes.length < MIN_CLASSES || x.classes.length > MAX_CLASSES) fail(`${x.classes.length} classes; a model has ${MIN_CLASSES} to ${MAX_CLASSES}`);
  const seen = new Set<string>();
  x.classes.forEach((c: unknown, i: number) => {
    if (!isObject(c)) fail(`header.classes[${i}] is not an object`);
    if (typeof c.name !== 'string') fail(`header.classes[${i}].name is not a string`);
    const problem = checkClassName(c.name, seen);
    if (problem) fail(`header.classes[${i}]: ${problem}`);
    seen.add(c.name.trim().toLowerCase());
    if (!Array.isArray(c.examples)) fail(`header.classes[${i}].examples must be an array`);
    c.examples.forEach((t: unknown, j: number) => {
      if (typeof t !== 'string' || Number.isNaN(Date.parse(t))) fail(`header.classes[${i}].examples[${j}] ${JSON.stringify(t)} is not a date`);
    });
  });
  return x as unknown as BundleHeader;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

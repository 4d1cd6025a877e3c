import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  decodeModel,
  encodeModel,
  FORMAT_VERSION,
  fromFloat16Bits,
  ModelFileError,
  toFloat16Bits,
} from '../../src/engine/format/native.ts';
import { pruneDense } from '../../src/engine/compress.ts';
import { initParams } from '../../src/engine/init.ts';
import { ModelError, inferShapes } from '../../src/engine/shapes.ts';
import type { Model, ModelSpec } from '../../src/engine/spec.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';

function smallSpec(): ModelSpec {
  return {
    input: { height: 8, width: 8, channels: 3, mean: [120, 115, 100], std: [60, 61, 62] },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'p1', size: 2 },
      { kind: 'dense', name: 'd1', units: 6, activation: 'relu' },
      { kind: 'dense', name: 'd2', units: 3 },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['a', 'b', 'c'],
  };
}

function smallModel(seed = 3): Model {
  const spec = smallSpec();
  const params = initParams(spec, seed);
  // Non-zero biases, so their storage is exercised too.
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = (i % 7) * 0.01 - 0.03;
  return { spec, params };
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** The file's parts, read independently of the decoder: [magic, version, header, params]. */
function parts(file: Uint8Array) {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getUint32(12, true);
  const paramLength = view.getUint32(16, true);
  return {
    version: view.getUint32(8, true),
    header: JSON.parse(Buffer.from(file.subarray(20, 20 + headerLength)).toString('utf8')),
    headerBytes: file.subarray(20, 20 + headerLength),
    params: file.subarray(20 + headerLength, 20 + headerLength + paramLength),
  };
}

/** Assembles a file as a (possibly faulty) writer would, with a correct checksum from zlib. */
function assemble(headerBytes: Uint8Array, params: Uint8Array, version = 1): Uint8Array {
  const out = new Uint8Array(20 + headerBytes.length + params.length + 4);
  const view = new DataView(out.buffer);
  out.set([0x89, 0x43, 0x4e, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a]);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  view.setUint32(16, params.length, true);
  out.set(headerBytes, 20);
  out.set(params, 20 + headerBytes.length);
  view.setUint32(out.length - 4, zlibCrc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

function decodeError(bytes: Uint8Array): ModelFileError {
  try {
    decodeModel(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelFileError;
  }
  throw new Error('decodeModel accepted a bad file');
}

describe('crc32', () => {
  it('matches zlib on the standard check value and random data', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const data = new Uint8Array(10_000).map((_, i) => (i * 7919 + (i >> 3)) & 0xff);
    expect(crc32(data)).toBe(zlibCrc32(data));
    expect(crc32(data, 100, 5000)).toBe(zlibCrc32(data.subarray(100, 5000)));
  });
});

describe('float16', () => {
  it('encodes known IEEE 754 binary16 values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1 / 3, 0x3555],
      [0.1, 0x2e66],
      [65520, 0x7c00], // rounds up to infinity
      [2 ** -26, 0x0000], // below half the smallest subnormal
      [1 + 2 ** -11, 0x3c00], // halfway: ties to even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway: ties to even (up)
    ];
    for (const [v, h] of cases) expect(toFloat16Bits(v), `${v}`).toBe(h);
  });

  it('decodes every finite half and re-encodes it to the same bits', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if (((h >> 10) & 0x1f) !== 0x1f && toFloat16Bits(fromFloat16Bits(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(fromFloat16Bits(0x7e00)).toBeNaN();
  });
});

describe('encodeModel / decodeModel', () => {
  it('round-trips float32 bit for bit, with spec and metadata', () => {
    const model = smallModel();
    const meta = {
      name: 'small',
      created: '2024-05-01T12:00:00.000Z',
      training: { epochs: 2, seed: 7, history: [{ epoch: 1, loss: 1.5, trainAccuracy: 0.4, validationAccuracy: null }] },
    };
    const file = encodeModel(model, meta);
    const { model: back, meta: backMeta } = decodeModel(file);
    expect(back.spec).toEqual(model.spec);
    expect(Array.from(bits(back.params))).toEqual(Array.from(bits(model.params)));
    expect(backMeta).toEqual({ ...meta, denseEncoding: 'float32' });
    // Re-encoding the decoded model gives the same bytes.
    expect(encodeModel(back, backMeta)).toEqual(file);
    // The layout the format documents: version, 4-byte aligned header, float32 params in order.
    const p = parts(file);
    expect(p.version).toBe(1);
    expect(p.headerBytes.length % 4).toBe(0);
    expect(p.params.length).toBe(model.params.length * 4);
    expect(new DataView(p.params.buffer, p.params.byteOffset).getFloat32(8, true)).toBe(model.params[2]);
  });

  it('round-trips the classic CIFAR net and fills in a creation date', () => {
    const spec = classicCifarSpec();
    const model = { spec, params: initParams(spec, 1) };
    const before = Date.now();
    const { model: back, meta } = decodeModel(encodeModel(model));
    expect(Array.from(bits(back.params))).toEqual(Array.from(bits(model.params)));
    const created = Date.parse(meta.created!);
    expect(created).toBeGreaterThanOrEqual(before - 1000);
    expect(created).toBeLessThanOrEqual(Date.now());
  });

  it('stores dense weights as float16 within half-precision error; conv and biases stay exact', () => {
    const model = smallModel();
    const file = encodeModel(model, {}, { denseEncoding: 'float16' });
    const info = inferShapes(model.spec);
    const dense = info.layers.filter((l) => l.kind === 'dense');
    const denseWeights = dense.reduce((s, l) => s + (l.kind === 'dense' ? l.inSize * l.units : 0), 0);
    expect(parts(file).params.length).toBe((model.params.length - denseWeights) * 4 + denseWeights * 2);
    const { model: back, meta } = decodeModel(file);
    expect(meta.denseEncoding).toBe('float16');
    let maxRel = 0;
    for (const l of info.layers) {
      for (let i = l.paramOffset; i < l.paramOffset + l.paramCount; i++) {
        const isDenseWeight = l.kind === 'dense' && i < l.biasOffset;
        if (!isDenseWeight) {
          expect(back.params[i], `${l.name}[${i}]`).toBe(model.params[i]);
        } else {
          const v = model.params[i];
          const err = Math.abs(back.params[i] - v);
          // Half precision: 11 significant bits, relative error ≤ 2^-11 (plus 2^-25 absolute for subnormals).
          expect(err).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
          if (v !== 0) maxRel = Math.max(maxRel, err / Math.abs(v));
        }
      }
    }
    expect(maxRel).toBeGreaterThan(0); // really rounded, not stored as float32
  });

  it('stores dense weights as int8 with one scale per layer, error ≤ scale / 2', () => {
    const model = smallModel();
    const file = encodeModel(model, {}, { denseEncoding: 'int8' });
    const header = parts(file).header;
    const info = inferShapes(model.spec);
    const { model: back } = decodeModel(file);
    for (const l of info.layers) {
      if (l.kind !== 'dense') continue;
      let maxAbs = 0;
      for (let i = l.paramOffset; i < l.biasOffset; i++) maxAbs = Math.max(maxAbs, Math.abs(model.params[i]));
      const scale = header.params.scales[l.name];
      expect(scale).toBeCloseTo(maxAbs / 127, 9);
      const levels = new Set<number>();
      for (let i = l.paramOffset; i < l.biasOffset; i++) {
        expect(Math.abs(back.params[i] - model.params[i])).toBeLessThanOrEqual(scale / 2 + 1e-9);
        levels.add(Math.round(back.params[i] / scale));
      }
      expect(Math.max(...levels)).toBeLessThanOrEqual(127);
      expect(Math.min(...levels)).toBeGreaterThanOrEqual(-127);
      for (let i = l.biasOffset; i < l.paramOffset + l.paramCount; i++) expect(back.params[i]).toBe(model.params[i]);
    }
    // Conv weights untouched.
    for (let i = 0; i < info.layers[0].paramCount; i++) expect(back.params[i]).toBe(model.params[i]);
  });

  it('refuses to encode what cannot be stored', () => {
    const model = smallModel();
    const d2 = inferShapes(model.spec).layers[3];
    model.params[d2.paramOffset] = 1e6;
    expect(() => encodeModel(model, {}, { denseEncoding: 'float16' })).toThrow(/dense "d2": weight 1000000 at index \d+ is outside the float16 range ±65504/);
    model.params[d2.paramOffset] = NaN;
    expect(() => encodeModel(model)).toThrow(/value NaN at index \d+ \(layer "d2"\) is not finite/);
  });
});

describe('decodeModel on damaged or hostile files', () => {
  const good = encodeModel(smallModel(), { name: 'small', created: '2024-05-01T00:00:00.000Z' });
  const { headerBytes, params, header } = parts(good);

  it('accepts the file reassembled by the independent writer', () => {
    expect(assemble(headerBytes, params)).toEqual(good);
    expect(decodeModel(assemble(headerBytes, params)).meta.name).toBe('small');
  });

  it('truncated', () => {
    const cut = good.subarray(0, good.length - 10);
    expect(decodeError(cut).message).toBe(
      `truncated: the file is ${cut.length} bytes, but it declares ${good.length} (20 + header ${headerBytes.length} + parameters ${params.length} + checksum 4)`,
    );
    expect(decodeError(good.subarray(0, 12)).message).toMatch(/^truncated: the file is 12 bytes, shorter than the 24 bytes/);
    expect(decodeError(new Uint8Array(0)).message).toMatch(/^truncated: the file is 0 bytes/);
  });

  it('trailing bytes', () => {
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expect(decodeError(longer).message).toMatch(/^3 unexpected bytes after the end: the file is \d+ bytes, but it declares \d+/);
  });

  it('bad magic', () => {
    const bad = good.slice();
    bad.set([0x50, 0x4b, 0x03, 0x04], 0);
    expect(decodeError(bad).message).toBe('not a model file: magic bytes are 50 4b 03 04 0d 0a 1a 0a, expected 89 43 4e 4e 0d 0a 1a 0a');
    const jsonFile = new TextEncoder().encode('{"modelTopology": {}}');
    expect(decodeError(jsonFile).message).toMatch(/not a model file: .*a JSON file, perhaps a TF\.js model\.json\?/);
  });

  it('newer version', () => {
    expect(decodeError(assemble(headerBytes, params, FORMAT_VERSION + 6)).message).toBe(
      `made by a newer version (file version ${FORMAT_VERSION + 6}, this app reads up to ${FORMAT_VERSION})`,
    );
    expect(decodeError(assemble(headerBytes, params, 0)).message).toMatch(/format version 0 is not valid/);
  });

  it('flipped byte → checksum mismatch, wherever it is', () => {
    const stored = new DataView(good.buffer).getUint32(good.length - 4, true);
    for (const at of [9 + 11, 20 + 5, good.length - 4 - 1]) {
      const bad = good.slice();
      bad[at] ^= 0x10;
      const content = zlibCrc32(bad.subarray(0, bad.length - 4));
      expect(decodeError(bad).message).toBe(
        `checksum mismatch: file says 0x${stored.toString(16).padStart(8, '0')}, content gives 0x${content.toString(16).padStart(8, '0')}`,
      );
    }
  });

  it('header length running past the end', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(12, 1_000_000, true);
    expect(decodeError(bad).message).toMatch(/^truncated: the file is \d+ bytes, but it declares \d+ \(20 \+ header 1000000 \+ parameters/);
    new DataView(bad.buffer).setUint32(12, 0xffffffff, true);
    expect(decodeError(bad).message).toMatch(/header length 4294967295 bytes exceeds the limit of 4194304/);
  });

  it('bad JSON', () => {
    const text = new TextEncoder().encode('{"spec": {"input": ');
    expect(decodeError(assemble(text, params)).message).toMatch(/^header: invalid JSON \(.+\) in the 19 bytes at offset 20$/);
    expect(decodeError(assemble(Uint8Array.of(0xff, 0xfe, 0x20, 0x20), params)).message).toBe('header: the 4 bytes at offset 20 are not valid UTF-8');
    expect(decodeError(assemble(json([1, 2]), params)).message).toBe('header: expected a JSON object, got an array');
    expect(decodeError(assemble(json({ ...header, params: { ...header.params, denseEncoding: 'bf16' } }), params)).message).toBe(
      'header.params.denseEncoding: "bf16" is not one of float32, float16, int8',
    );
    expect(decodeError(assemble(json({ ...header, meta: { name: 5 } }), params)).message).toBe('header.meta.name: expected a string, got number');
  });

  it('shape mismatch in the spec', () => {
    const spec = smallSpec();
    spec.layers[1] = { kind: 'maxpool', name: 'p1', size: 16 };
    expect(decodeError(assemble(json({ ...header, spec }), params)).message).toBe(
      'header.spec: maxpool "p1": kernel 16 > input 8 along height (input 8×8×4 after conv2d "c1")',
    );
    const fewerLabels = { ...smallSpec(), labels: ['a', 'b'] };
    expect(decodeError(assemble(json({ ...header, spec: fewerLabels }), params)).message).toBe(
      'header.spec: spec.labels: 2 labels for 3 outputs of the last layer (1×1×3)',
    );
  });

  it('parameter count and byte length that do not fit the spec', () => {
    const bigger = smallSpec();
    bigger.layers[3] = { kind: 'dense', name: 'd2', units: 3, bias: false };
    expect(decodeError(assemble(json({ ...header, spec: bigger }), params)).message).toBe(
      `header.params.count: the file declares ${header.params.count} parameters, but the spec needs ${header.params.count - 3}`,
    );
    const fewer = params.subarray(0, params.length - 8);
    expect(decodeError(assemble(headerBytes, fewer)).message).toBe(
      `parameters: the file has ${fewer.length} bytes, but ${header.params.count} parameters with dense weights as float32 need ${params.length}`,
    );
  });

  it('NaN or infinite parameter', () => {
    const bad = params.slice();
    new DataView(bad.buffer).setFloat32(4 * 5, NaN, true);
    expect(decodeError(assemble(headerBytes, bad)).message).toBe('params: value NaN at index 5 (layer "c1") is not finite');
    const f16 = parts(encodeModel(smallModel(), {}, { denseEncoding: 'float16' }));
    const dense = f16.params.slice();
    const d1 = inferShapes(smallSpec()).layers[2];
    new DataView(dense.buffer).setUint16(d1.paramOffset * 4, 0x7c00, true); // first d1 weight = +Infinity
    expect(decodeError(assemble(f16.headerBytes, dense)).message).toBe(`params: value Infinity at index ${d1.paramOffset} (layer "d1") is not finite`);
  });

  it('int8 without a usable scale', () => {
    const q = parts(encodeModel(smallModel(), {}, { denseEncoding: 'int8' }));
    const noScale = { ...q.header, params: { ...q.header.params, scales: { d1: q.header.params.scales.d1 } } };
    expect(decodeError(assemble(json(noScale), q.params)).message).toBe(
      'header.params.scales["d2"]: expected a finite scale ≥ 0 for int8 dense layer "d2", got undefined',
    );
  });

  it('too many layers, too large an input', () => {
    const many: ModelSpec = {
      input: { height: 4, width: 4, channels: 1 },
      layers: Array.from({ length: 65 }, (_, i) => ({ kind: 'activation' as const, name: `a${i}`, activation: 'relu' as const })),
      labels: Array.from({ length: 16 }, (_, i) => `l${i}`),
    };
    expect(decodeError(assemble(json({ spec: many, meta: {}, params: { count: 0, denseEncoding: 'float32' } }), new Uint8Array(0))).message).toBe(
      'header.spec: spec.layers: 65 layers exceed the limit of 64',
    );
    const huge = { ...smallSpec(), input: { height: 512, width: 512, channels: 3 } };
    expect(decodeError(assemble(json({ ...header, spec: huge }), params)).message).toBe(
      'header.spec: input: 512×512×3 exceeds the limit 256×256×4',
    );
  });
});

describe('sparse dense weights (format version 2)', () => {
  /** smallModel pruned to 50 % in each dense layer, with a −0 kept among the survivors' places. */
  function pruned(): Model {
    const { model } = pruneDense(smallModel(), 0.5);
    const d1 = inferShapes(model.spec).layers[2];
    // The largest-magnitude weight of d1 survives pruning; put −0 in a pruned place instead.
    const zeroAt = Array.from(model.params.subarray(d1.paramOffset, d1.paramOffset + 96)).findIndex((v) => v === 0);
    model.params[d1.paramOffset + zeroAt] = -0;
    return model;
  }
  const info = inferShapes(smallSpec());
  const dense = info.layers.filter((l) => l.kind === 'dense');
  const weightsOf = (l: (typeof dense)[number]) => (l.kind === 'dense' ? l.inSize * l.units : 0);
  const isDenseWeight = (i: number) => dense.some((l) => i >= l.paramOffset && i < l.paramOffset + weightsOf(l));

  /** Reads the parameter bytes of a sparse file without the decoder: per dense layer, bitmask then values. */
  function independentRead(file: Uint8Array, bytesPerValue: number, value: (view: DataView, at: number, layer: string) => number): Float32Array {
    const p = parts(file);
    const view = new DataView(p.params.buffer, p.params.byteOffset, p.params.byteLength);
    const out = new Float32Array(info.paramCount);
    let at = 0;
    let i = 0;
    while (i < info.paramCount) {
      const l = dense.find((d) => d.paramOffset === i);
      if (!l) {
        out[i++] = view.getFloat32(at, true);
        at += 4;
        continue;
      }
      const n = weightsOf(l);
      const mask = p.params.subarray(at, at + Math.ceil(n / 8));
      at += mask.length;
      for (let j = 0; j < n; j++, i++) {
        if (mask[j >> 3] & (1 << (j & 7))) {
          out[i] = value(view, at, l.name);
          at += bytesPerValue;
        }
      }
    }
    expect(at).toBe(p.params.length);
    return out;
  }

  it('float32: round trip bit for bit (−0 included), version 2, header counts and layout as documented', () => {
    const model = pruned();
    const meta = { name: 'sparse', created: '2024-05-01T12:00:00.000Z' };
    const file = encodeModel(model, meta, { denseSparse: true });
    const { model: back, meta: backMeta } = decodeModel(file);
    expect(back.spec).toEqual(model.spec);
    expect(Array.from(bits(back.params))).toEqual(Array.from(bits(model.params)));
    expect(backMeta).toEqual({ ...meta, denseEncoding: 'float32', denseSparse: true });
    expect(encodeModel(back, backMeta, { denseSparse: true })).toEqual(file);
    const p = parts(file);
    expect(p.version).toBe(2);
    expect(p.header.params.denseSparse).toBe(true);
    for (const l of dense) {
      const w = model.params.subarray(l.paramOffset, l.paramOffset + weightsOf(l));
      expect(p.header.params.nonzero[l.name], l.name).toBe(w.filter((v) => !Object.is(v, 0)).length);
    }
    const read = independentRead(file, 4, (view, at) => view.getFloat32(at, true));
    expect(Array.from(bits(read))).toEqual(Array.from(bits(model.params)));
  });

  it('float16 and int8: within the dense encodings’ error bounds; zeros stay exactly zero', () => {
    const model = pruned();
    for (const encoding of ['float16', 'int8'] as const) {
      const file = encodeModel(model, {}, { denseEncoding: encoding, denseSparse: true });
      const { model: back, meta } = decodeModel(file);
      expect(meta).toMatchObject({ denseEncoding: encoding, denseSparse: true });
      const header = parts(file).header;
      // The same values as the dense file of that encoding gives.
      const whole = decodeModel(encodeModel(model, {}, { denseEncoding: encoding })).model;
      expect(Array.from(bits(back.params))).toEqual(Array.from(bits(whole.params)));
      const independent =
        encoding === 'int8'
          ? independentRead(file, 1, (view, at, layer) => view.getInt8(at) * header.params.scales[layer])
          : independentRead(file, 2, (view, at) => fromFloat16Bits(view.getUint16(at, true)));
      expect(Array.from(bits(independent))).toEqual(Array.from(bits(back.params)));
      for (let i = 0; i < model.params.length; i++) {
        const v = model.params[i];
        if (!isDenseWeight(i)) expect(back.params[i], `${encoding} [${i}]`).toBe(v);
        // Exactly zero (int8 has no −0; float16 keeps the sign of the one −0).
        else if (v === 0) expect(Math.abs(back.params[i]), `${encoding} zero [${i}]`).toBe(0);
        else {
          const layer = dense.find((l) => i >= l.paramOffset && i < l.paramOffset + weightsOf(l))!;
          const bound = encoding === 'int8' ? header.params.scales[layer.name] / 2 + 1e-9 : Math.abs(v) * 2 ** -11 + 2 ** -25;
          expect(Math.abs(back.params[i] - v), `${encoding} [${i}]`).toBeLessThanOrEqual(bound);
        }
      }
    }
  });

  it('at 50 % sparsity the file is smaller than with whole dense weights, by the documented sizes', () => {
    const model = pruneDense(smallModel(), 0.5).model;
    const stored = dense.map((l) => model.params.subarray(l.paramOffset, l.paramOffset + weightsOf(l)).filter((v) => v !== 0).length);
    const others = info.paramCount - dense.reduce((s, l) => s + weightsOf(l), 0);
    for (const [encoding, size] of [['float32', 4], ['float16', 2], ['int8', 1]] as const) {
      const sparse = encodeModel(model, {}, { denseEncoding: encoding, denseSparse: true });
      const whole = encodeModel(model, {}, { denseEncoding: encoding });
      expect(sparse.length, encoding).toBeLessThan(whole.length);
      const expected = others * 4 + dense.reduce((s, l, k) => s + Math.ceil(weightsOf(l) / 8) + stored[k] * size, 0);
      expect(parts(sparse).params.length, encoding).toBe(expected);
    }
  });

  it('without the option files stay version 1, and a decoded meta does not carry sparseness into them', () => {
    const model = pruned();
    const meta = { created: '2024-05-01T12:00:00.000Z' };
    const plain = encodeModel(model, meta);
    expect(parts(plain).version).toBe(1);
    expect(Object.keys(parts(plain).header.params)).toEqual(['count', 'denseEncoding']);
    expect(encodeModel(model, { ...meta, denseSparse: true })).toEqual(plain);
    expect(encodeModel(model, meta, { denseSparse: false })).toEqual(plain);
    expect(decodeModel(plain).meta.denseSparse).toBeUndefined();
  });

  describe('refused with the field and the numbers', () => {
    const model = pruneDense(smallModel(), 0.5).model;
    const file = encodeModel(model, { created: '2024-05-01T00:00:00.000Z' }, { denseSparse: true });
    const { header, params } = parts(file);
    const [d1, d2] = dense;
    const [d1Weights, d2Weights] = [weightsOf(d1), weightsOf(d2)];
    const d1Stored = header.params.nonzero.d1;
    const withParams = (p: Record<string, unknown>, version = 2, body = params) => assemble(json({ ...header, params: { ...header.params, ...p } }), body, version);

    it('version and flag must agree', () => {
      expect(decodeError(assemble(json(header), params, 1)).message).toBe('header.params.denseSparse: sparse dense weights need format version 2, but the file is version 1');
      expect(decodeError(withParams({ denseSparse: false })).message).toBe(
        'header.params.denseSparse: a version 2 file stores dense weights sparsely and must say true, got false',
      );
      const whole = parts(encodeModel(model, {}));
      expect(decodeError(assemble(whole.headerBytes, whole.params, 2)).message).toMatch(/^header\.params\.denseSparse: .* must say true, got nothing$/);
      expect(decodeError(assemble(json(header), params, 3)).message).toBe('made by a newer version (file version 3, this app reads up to 2)');
      expect(FORMAT_VERSION).toBe(2);
    });

    it('stored counts: type, range, names', () => {
      expect(decodeError(withParams({ nonzero: [1, 2] })).message).toBe('header.params.nonzero: expected an object, got an array');
      expect(decodeError(withParams({ nonzero: { d2: 9 } })).message).toBe(`header.params.nonzero["d1"]: expected an integer 0..${d1Weights} (the weights of dense layer "d1"), got nothing`);
      expect(decodeError(withParams({ nonzero: { ...header.params.nonzero, d1: d1Weights + 1 } })).message).toMatch(new RegExp(`nonzero\\["d1"\\]: expected an integer 0\\.\\.${d1Weights} .*, got ${d1Weights + 1}$`));
      expect(decodeError(withParams({ nonzero: { ...header.params.nonzero, d1: 1.5 } })).message).toMatch(/got 1\.5$/);
      expect(decodeError(withParams({ nonzero: { ...header.params.nonzero, extra: 0 } })).message).toBe('header.params.nonzero: "extra" is not a dense layer of the spec');
    });

    it('sizes are checked against the counts before anything is read', () => {
      const msg = decodeError(withParams({ nonzero: { ...header.params.nonzero, d1: d1Stored + 1 } })).message;
      expect(msg).toBe(
        `parameters: the file has ${params.length} bytes, but ${info.paramCount} parameters with dense weights as float32, sparse (${d1Stored + 1 + header.params.nonzero.d2} of ${d1Weights + d2Weights} stored) need ${params.length + 4}`,
      );
    });

    it('the bitmask popcount must match the count, and bits past the last weight must be 0', () => {
      // One stored weight moved from d1's count to d2's: the same total size, the masks disagree.
      const shifted = withParams({ nonzero: { d1: d1Stored - 1, d2: header.params.nonzero.d2 + 1 } });
      expect(decodeError(shifted).message).toBe(`dense "d1": the bitmask marks ${d1Stored} stored weights, but header.params.nonzero["d1"] says ${d1Stored - 1}`);
      // d2 has 6·3 = 18 weights: 3 mask bytes, the last 6 bits spare. Set one, count it, and
      // add 4 bytes so that the sizes agree; only the spare bit is wrong.
      expect(d2Weights).toBe(18);
      const d2Mask = d1.paramOffset * 4 + Math.ceil(d1Weights / 8) + d1Stored * 4 + d1.units * 4;
      expect(d2Mask).toBe(d2.paramOffset * 4 - d1Weights * 4 + Math.ceil(d1Weights / 8) + d1Stored * 4);
      const body = new Uint8Array(params.length + 4);
      body.set(params);
      body[d2Mask + 2] |= 0x80;
      const bytes = withParams({ nonzero: { ...header.params.nonzero, d2: header.params.nonzero.d2 + 1 } }, 2, body);
      expect(decodeError(bytes).message).toBe(`dense "d2": bits past its 18 weights are set in the bitmask's last byte (0x${body[d2Mask + 2].toString(16).padStart(2, '0')})`);
    });
  });
});

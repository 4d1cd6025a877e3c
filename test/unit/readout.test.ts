// The multi-scale readout (spec.readout): shape validation, the CPU backends (TypeScript and
// WebAssembly kernels) against plain loops, the native file format, the TF.js exporter's refusal,
// training's refusal, the readouts few-shot training chooses from, and the folding of the
// standardisation into the head.
import { describe, expect, it } from 'vitest';
import {
  CpuSession,
  decodeModel,
  encodeModel,
  exportTfjsLayers,
  addPrototypes,
  headLayerIndex,
  inferShapes,
  loadWasmKernels,
  ModelError,
  Random,
  replaceHead,
  Trainer,
  trainHead,
  wideCifarSpec,
  type DenseInfo,
  type Model,
  type ModelSpec,
  type ReadoutSpec,
} from '../../src/engine/index.ts';
import { multiscaleTapLayers, readoutFor } from '../../src/engine/readout.ts';
import { ODD_READOUT, oddSpec, paramsWithBiases } from './model-cases.ts';
import { referenceLayer, referenceNormalise } from './reference.ts';




function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Random(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/**
 * The readout features of one image by plain loops: every layer by the reference, each tap pooled
 * over H×W, the colour histogram counted from the raw bytes.
 */
function referenceReadout(spec: ModelSpec, p: Float32Array, bytes: Uint8Array, readout: ReadoutSpec): Float64Array {
  const info = inferShapes(spec);
  const outs: Float64Array[] = [];
  let v = referenceNormalise(spec, bytes);
  const last = Math.max(-1, ...readout.taps.map((t: { layer: number }) => t.layer));
  for (let i = 0; i <= last; i++) outs.push((v = referenceLayer(info.layers[i], p, v)));
  const features: number[] = [];
  for (const tap of readout.taps) {
    const { h, w, c } = info.layers[tap.layer].out;
    if (tap.pool === 'quadrants') {
      // Rows [0, floor(h/2)) and [floor(h/2), h), columns likewise; quadrant-major.
      const top = Math.floor(h / 2);
      const left = Math.floor(w / 2);
      for (const [y0, y1, x0, x1] of [[0, top, 0, left], [0, top, left, w], [top, h, 0, left], [top, h, left, w]]) {
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += outs[tap.layer][(y * w + x) * c + ch];
          features.push(sum / ((y1 - y0) * (x1 - x0)));
        }
      }
      continue;
    }
    for (let ch = 0; ch < c; ch++) {
      const values = Array.from({ length: h * w }, (_, px) => outs[tap.layer][px * c + ch]);
      features.push(tap.pool === 'max' ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / values.length);
    }
  }
  if (readout.colour) {
    const bins = readout.colour.bins;
    const { h, w, c } = info.input;
    const hist = new Array<number>(bins ** c).fill(0);
    for (let px = 0; px < h * w; px++) {
      let cell = 0;
      for (let ch = 0; ch < c; ch++) cell = cell * bins + Math.floor((bytes[px * c + ch] * bins) / 256);
      hist[cell] += 1 / (h * w);
    }
    features.push(...hist);
  }
  return Float64Array.from(features);
}

/** Whole readout model by plain loops: readout, then the head and the layers after it. */
function referencePredict(model: Model, bytes: Uint8Array): Float64Array {
  const info = inferShapes(model.spec);
  let v = referenceReadout(model.spec, model.params, bytes, model.spec.readout!);
  for (const l of info.layers.slice(headLayerIndex(info))) v = referenceLayer(l, model.params, v);
  return v;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('readout shapes', () => {
  it('lays out the feature vector and sizes the head by it', () => {
    const info = inferShapes(oddSpec(ODD_READOUT));
    const r = info.readout!;
    expect(r.taps.map((t) => [t.name, t.offset, t.size])).toEqual([
      ['c1', 0, 5],
      ['p1', 5, 5],
      ['c2', 10, 6],
      ['p2', 16, 6],
      ['mix', 22, 7],
      ['mix', 29, 7],
      ['p1', 36, 20],
      ['mix', 56, 28],
    ]);
    expect(r).toMatchObject({ head: 5, colourBins: 2, colourOffset: 84, size: 92, upTo: 5 });
    const fc = info.layers[5] as DenseInfo;
    expect(fc.in).toEqual({ h: 1, w: 1, c: 92 });
    expect(fc.inSize).toBe(92);
    expect(fc.paramCount).toBe(92 * 4 + 4);
    expect(inferShapes(oddSpec()).readout).toBeNull();
  });

  it('refuses bad readouts, naming the tap, the layer and the numbers', () => {
    const bad = (readout: unknown) => () => inferShapes(oddSpec(readout as ReadoutSpec));
    expect(bad({ taps: [{ layer: 5, pool: 'avg' }] })).toThrow(/readout.taps\[0\]: layer 5 must be the index of a layer before the final dense "fc" \(0..4\)/);
    expect(bad({ taps: [{ layer: -1, pool: 'avg' }] })).toThrow(/layer -1/);
    expect(bad({ taps: [{ layer: 1.5, pool: 'avg' }] })).toThrow(/layer 1.5/);
    expect(bad({ taps: [{ layer: 2, pool: 'sum' }] })).toThrow(/readout.taps\[0\] \(layer 2 "c2"\): pool must be "avg", "max" or "quadrants", got "sum"/);
    const tiny: ModelSpec = { ...oddSpec(), layers: [oddSpec().layers[0], { kind: 'maxpool', name: 'all', size: 10 }, ...oddSpec().layers.slice(5)] };
    expect(() => inferShapes({ ...tiny, readout: { taps: [{ layer: 1, pool: 'quadrants' }] } })).toThrow(/readout.taps\[0\] \(layer 1 "all"\): quadrants need an output of at least 2×2, got 1×1/);
    expect(bad({ taps: 'all' })).toThrow(/readout.taps: expected an array/);
    expect(bad({ taps: [] })).toThrow(/no taps and no colour histogram/);
    expect(bad({ taps: [], colour: { bins: 0 } })).toThrow(/bins must be an integer 1..256, got 0/);
    expect(bad({ taps: [], colour: { bins: 17 } })).toThrow(/17 bins on 3 channels make 4913 cells, above the limit of 4096/);
    expect(() => inferShapes({ ...oddSpec(), readout: null as unknown as ReadoutSpec })).toThrow(/readout: expected \{taps, colour\?\}, got null/);
    const noDense: ModelSpec = { ...oddSpec(), layers: oddSpec().layers.slice(0, 5), labels: Array.from({ length: 7 }, (_, i) => `${i}`), readout: { taps: [{ layer: 0, pool: 'avg' }] } };
    expect(() => inferShapes(noDense)).toThrow(/readout: the spec has no dense layer/);
    for (const r of [{ taps: [{ layer: 5, pool: 'avg' }] }, { taps: [] }]) expect(bad(r)).toThrow(ModelError);
  });
});

describe('readout on the CPU', () => {
  const spec = oddSpec(ODD_READOUT);
  const model = { spec, params: paramsWithBiases(spec, 3) };
  const n = 5;
  const bytes = randomBytes(n * 300, 11);

  it('predict, predictBatch and readoutFeatures match plain loops (TypeScript and WebAssembly kernels)', async () => {
    const wasm = await loadWasmKernels();
    for (const session of [new CpuSession(model), new CpuSession(model, wasm)]) {
      const batch = session.predictBatch(bytes, n);
      const features = session.readoutFeatures(bytes, n);
      let worst = 0;
      let worstFeature = 0;
      let spread = 0;
      for (let i = 0; i < n; i++) {
        const img = bytes.subarray(i * 300, (i + 1) * 300);
        const want = referencePredict(model, img);
        worst = Math.max(worst, maxDiff(session.predict(img), want), maxDiff(batch.subarray(i * 4, (i + 1) * 4), want));
        const f = referenceReadout(spec, model.params, img, ODD_READOUT);
        worstFeature = Math.max(worstFeature, maxDiff(features.subarray(i * 92, (i + 1) * 92), f));
        spread = Math.max(spread, ...want);
      }
      expect(spread, session.kernelName).toBeGreaterThan(0.3); // not a uniform 0.25
      expect(worst, session.kernelName).toBeLessThan(1e-5);
      expect(worstFeature, session.kernelName).toBeLessThan(1e-5);
    }
  });

  it('readoutFeatures with a readout given: any readout over a model without one, or the model’s own', () => {
    const plain = { spec: oddSpec(), params: paramsWithBiases(oddSpec(), 4) };
    const session = new CpuSession(plain);
    const r: ReadoutSpec = { taps: [{ layer: 3, pool: 'max' }, { layer: 0, pool: 'avg' }], colour: { bins: 3 } };
    const got = session.readoutFeatures(bytes, n, r);
    expect(got.length).toBe(n * (6 + 5 + 27));
    for (let i = 0; i < n; i++) {
      expect(maxDiff(got.subarray(i * 38, (i + 1) * 38), referenceReadout(plain.spec, plain.params, bytes.subarray(i * 300, (i + 1) * 300), r))).toBeLessThan(1e-5);
    }
    // Colour only: no layer runs.
    const colour = session.readoutFeatures(bytes, 1, { taps: [], colour: { bins: 4 } });
    expect(colour.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(() => session.readoutFeatures(bytes, n)).toThrow(/the model has no readout/);
    expect(() => session.readoutFeatures(bytes, n, { taps: [{ layer: 9, pool: 'avg' }] })).toThrow(/layer 9/);
  });

  it('the per-frame path allocates nothing new: predict returns the same buffer', () => {
    const session = new CpuSession(model);
    const a = session.predict(bytes.subarray(0, 300));
    const b = session.predict(bytes.subarray(300, 600));
    expect(a).toBe(b);
  });

  it('whole-network training refuses a readout model with a clear message', () => {
    expect(() => new Trainer(model, 4, { lr: 0.01 })).toThrow(/multi-scale readout \(92 pooled features\); only that head can be trained/);
  });
});

describe('readout in files', () => {
  const spec = oddSpec(ODD_READOUT);
  const model = { spec, params: paramsWithBiases(spec, 5) };

  it('the native format round-trips it, with identical predictions', () => {
    const back = decodeModel(encodeModel(model, { name: 'readout' })).model;
    expect(back.spec.readout).toEqual(ODD_READOUT);
    const bytes = randomBytes(300, 2);
    expect(Array.from(new CpuSession(back).predict(bytes))).toEqual(Array.from(new CpuSession(model).predict(bytes)));
  });

  it('the TF.js exporter refuses it, saying why', () => {
    expect(() => exportTfjsLayers(model)).toThrow(/dense "fc" reads a multi-scale readout \(8 pools and a colour histogram, 92 features\).*keep this model as a .cnn file/);
  });
});

describe('few-shot readouts', () => {
  it('multiscale taps the end of every conv block of the wide net: each pool and the 1×1 mix conv', () => {
    const info = inferShapes(wideCifarSpec());
    expect(multiscaleTapLayers(info, headLayerIndex(info))).toEqual([1, 3, 5, 6]);
    const r = readoutFor('multiscale', info, 7)!;
    expect(inferShapes({ ...wideCifarSpec(), readout: r }).readout!.size).toBe(2 * (32 + 64 + 64 + 64));
    expect(readoutFor('multiscale+colour', info, 7)!.colour).toEqual({ bins: 4 });
    expect(readoutFor('colour', info, 7)!.taps).toEqual([]);
    expect(readoutFor('last', info, 7)).toBeNull();
    // A model that already has a readout: the same backbone gives the same taps.
    const taught = inferShapes({ ...wideCifarSpec(), readout: r });
    expect(readoutFor('multiscale', taught, 7)).toEqual(r);
  });

  it('folding the standardisation into the head gives the predictions of explicit standardisation', () => {
    const base = { spec: oddSpec(), params: paramsWithBiases(oddSpec(), 6) };
    const session = new CpuSession(base);
    const readout = readoutFor('multiscale+colour', session.info, 5)!;
    const n = 40;
    const bytes = randomBytes(n * 300, 21);
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const x = session.readoutFeatures(bytes, n, readout);
    const dim = x.length / n;
    const head = trainHead(x, labels, n, dim, 3, { seed: 2, epochs: 30 });
    const taught = replaceHead(base, ['x', 'y', 'z'], head, readout);
    expect(taught.spec.readout).toEqual(readout);
    const folded = new CpuSession(taught);
    const { mean, sd, weights, bias } = head.standardised;
    expect(Math.max(...sd)).toBeGreaterThan(3 * Math.min(...sd)); // the dimensions really differ in scale
    let worst = 0;
    for (let i = 0; i < n; i++) {
      // Explicit: z = (x − mean) / sd, logits = z · W + b, softmax.
      const logits = [0, 1, 2].map((o) => {
        let s = bias[o];
        for (let d = 0; d < dim; d++) s += ((x[i * dim + d] - mean[d]) / sd[d]) * weights[d * 3 + o];
        return s;
      });
      const m = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      worst = Math.max(worst, maxDiff(folded.predict(bytes.subarray(i * 300, (i + 1) * 300)), e.map((v) => v / sum)));
    }
    expect(worst).toBeLessThan(1e-5);
    // replaceHead checks the head against the readout's size.
    expect(() => replaceHead(base, ['x', 'y', 'z'], head, null)).toThrow(/for 63 features × 3 classes/);
  });

  it('shrinking toward the class means adds (k/dim)·(z·μc − |μc|²/2) to each score, folded into one dense layer', () => {
    const base = { spec: oddSpec(), params: paramsWithBiases(oddSpec(), 7) };
    const session = new CpuSession(base);
    const readout = readoutFor('spatial', session.info, 5)!;
    const n = 30;
    const bytes = randomBytes(n * 300, 23);
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const x = session.readoutFeatures(bytes, n, readout);
    const dim = x.length / n;
    const head = trainHead(x, labels, n, dim, 3, { seed: 3, epochs: 20 });
    const strength = 10;
    const shrunk = addPrototypes(head, x, labels, n, 3, strength);
    const { mean, sd } = head.standardised;
    // Class means of the standardised features, by plain loops.
    const z = (i: number, d: number) => (x[i * dim + d] - mean[d]) / sd[d];
    const mu = [0, 1, 2].map((c) => Array.from({ length: dim }, (_, d) => {
      const members = labels.flatMap((l, i) => (l === c ? [i] : []));
      return members.reduce((s, i) => s + z(i, d), 0) / members.length;
    }));
    let worst = 0;
    let moved = 0;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        let plain = head.standardised.bias[c];
        let proto = 0;
        let norm = 0;
        for (let d = 0; d < dim; d++) {
          plain += z(i, d) * head.standardised.weights[d * 3 + c];
          proto += z(i, d) * mu[c][d];
          norm += mu[c][d] ** 2;
        }
        const want = plain + (strength / dim) * (proto - norm / 2);
        let folded = shrunk.bias[c];
        for (let d = 0; d < dim; d++) folded += x[i * dim + d] * shrunk.weights[d * 3 + c];
        worst = Math.max(worst, Math.abs(folded - want));
        moved = Math.max(moved, Math.abs(want - plain));
      }
    }
    expect(moved).toBeGreaterThan(0.05); // the prototypes really change the scores
    expect(worst).toBeLessThan(1e-3);
    // Strength 0 leaves the head as it was.
    expect(Array.from(addPrototypes(head, x, labels, n, 3, 0).weights)).toEqual(Array.from(head.weights));
  });
});

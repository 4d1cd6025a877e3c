// TF.js Layers interop against TF.js itself: models built and saved by tfjs-layers are imported and
// run by the engine's CpuSession; engine models are exported and run by tf.loadLayersModel. Both
// sides see the same random weights and the same normalised inputs, and must agree to 1e-5.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportTfjsLayers, importTfjsLayers, type TfjsModelJson, type TfjsWeightEntry } from '../../src/engine/format/tfjs.ts';
import { initParams } from '../../src/engine/init.ts';
import { Random } from '../../src/engine/random.ts';
import { CpuSession } from '../../src/engine/session.ts';
import { ModelError, inferShapes, size3 } from '../../src/engine/shapes.ts';
import type { Model, ModelSpec } from '../../src/engine/spec.ts';
import { classicCifarSpec } from '../../src/engine/zoo.ts';

const TOLERANCE = 1e-5;
const N = 4; // images per comparison

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Saved {
  modelJson: Record<string, unknown>;
  weightData: ArrayBuffer;
}

/** Saves a tfjs model in memory and returns model.json (through JSON text) and its weight file. */
async function save(model: tfl.LayersModel): Promise<Saved> {
  let saved: Saved | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const modelJson = {
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['model.weights.bin'], weights: a.weightSpecs }],
      };
      saved = { modelJson: JSON.parse(JSON.stringify(modelJson)), weightData: tf.io.CompositeArrayBuffer.join(a.weightData!) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

/** Seeded weights for every tfjs weight, biases included, so runs are reproducible. */
function randomize(model: tfl.LayersModel, seed: number): void {
  const rng = new Random(seed);
  const weights = model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.normal() * 0.4), w.shape));
  model.setWeights(weights);
  weights.forEach((w) => w.dispose());
}

function randomBytes(count: number, seed: number): Uint8Array {
  const rng = new Random(seed);
  return Uint8Array.from({ length: count }, () => rng.int(256));
}

/** (byte − mean[c]) / std[c] over NHWC bytes, as the engine normalises its input. */
function normalise(bytes: Uint8Array, c: number, mean: number[], std: number[]): Float32Array {
  return Float32Array.from(bytes, (b, i) => (b - mean[i % c]) / std[i % c]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Engine and tfjs outputs on the same N random images; both flattened NHWC per image. */
function predictBoth(model: Model, tfModel: tfl.LayersModel, seed: number): { ours: Float32Array; theirs: Float32Array } {
  const info = inferShapes(model.spec);
  const { h, w, c } = info.input;
  const bytes = randomBytes(N * h * w * c, seed);
  const mean = model.spec.input.mean ?? new Array(c).fill(0);
  const std = model.spec.input.std ?? new Array(c).fill(255);
  const ours = new CpuSession(model).predictBatch(bytes, N);
  const theirs = tf.tidy(() => (tfModel.predict(tf.tensor4d(normalise(bytes, c, mean, std), [N, h, w, c])) as tf.Tensor).dataSync() as Float32Array);
  return { ours, theirs };
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('import of tfjs-layers models', () => {
  const cases: [string, () => tfl.LayersModel, { mean?: number[]; std?: number[] }][] = [
    [
      'x=[12,12,3] conv3 same relu, maxpool2, conv1×1 valid sigmoid no-bias, avgpool3 s2 same, flatten, dropout, dense tanh, dense softmax',
      () =>
        tfl.sequential({
          layers: [
            tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
            tfl.layers.maxPooling2d({ poolSize: 2 }),
            tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'sigmoid', useBias: false }),
            tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
            tfl.layers.flatten(),
            tfl.layers.dropout({ rate: 0.5 }),
            tfl.layers.dense({ units: 7, activation: 'tanh' }),
            tfl.layers.dense({ units: 4, activation: 'softmax' }),
          ],
        }),
      { mean: [120, 110, 100], std: [60, 65, 70] },
    ],
    [
      'x=[11,9,4] conv3 s2 valid tanh, conv [3,2] s[1,2] same softmax, maxpool3 s2 same, flatten, dense, relu, dense no-bias, softmax',
      () =>
        tfl.sequential({
          layers: [
            tfl.layers.conv2d({ inputShape: [11, 9, 4], filters: 4, kernelSize: 3, strides: 2, activation: 'tanh' }),
            tfl.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: [1, 2], padding: 'same', activation: 'softmax' }),
            tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
            tfl.layers.flatten(),
            tfl.layers.dense({ units: 6 }),
            tfl.layers.reLU(),
            tfl.layers.dense({ units: 5, useBias: false }),
            tfl.layers.softmax(),
          ],
        }),
      {},
    ],
    [
      'x=[10,10,1] avgpool2 valid, conv2 s2 valid linear, activation sigmoid, conv1×1 relu, softmax per pixel (4-D output)',
      () =>
        tfl.sequential({
          layers: [
            tfl.layers.averagePooling2d({ inputShape: [10, 10, 1], poolSize: 2 }),
            tfl.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2 }),
            tfl.layers.activation({ activation: 'sigmoid' }),
            tfl.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }),
            tfl.layers.activation({ activation: 'softmax' }),
          ],
        }),
      { mean: [128], std: [64] },
    ],
    [
      'functional chain: input [8,8,2], conv3 same tanh, maxpool [2,1] s[2,1], flatten, dense relu, dense, activation tanh',
      () => {
        const input = tfl.input({ shape: [8, 8, 2] });
        let y = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(input) as tfl.SymbolicTensor;
        y = tfl.layers.maxPooling2d({ poolSize: [2, 1], strides: [2, 1] }).apply(y) as tfl.SymbolicTensor;
        y = tfl.layers.flatten().apply(y) as tfl.SymbolicTensor;
        y = tfl.layers.dense({ units: 5, activation: 'relu' }).apply(y) as tfl.SymbolicTensor;
        y = tfl.layers.dense({ units: 3 }).apply(y) as tfl.SymbolicTensor;
        y = tfl.layers.activation({ activation: 'tanh' }).apply(y) as tfl.SymbolicTensor;
        return tfl.model({ inputs: input, outputs: y });
      },
      { std: [127.5, 127.5] },
    ],
  ];

  cases.forEach(([name, build, options], k) => {
    it(name, async () => {
      const tfModel = build();
      randomize(tfModel, 100 + k);
      const saved = await save(tfModel);
      const model = importTfjsLayers(saved.modelJson, saved.weightData, options);
      const { ours, theirs } = predictBoth(model, tfModel, 200 + k);
      expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
      // The outputs are not trivially equal (e.g. all zeros or a constant).
      expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3);
      const out = size3(inferShapes(model.spec).output);
      expect(model.spec.labels).toEqual(Array.from({ length: out }, (_, i) => `class ${i}`));
      if (options.mean) expect(model.spec.input.mean).toEqual(options.mean);
      tfModel.dispose();
    });
  });

  it('maps layers to the engine spec (fused activations, softmax split off, Flatten and Dropout dropped)', async () => {
    const tfModel = cases[0][1]();
    const saved = await save(tfModel);
    const model = importTfjsLayers(saved.modelJson, saved.weightData, { labels: ['a', 'b', 'c', 'd'] });
    expect(model.spec.layers.map((l) => l.kind)).toEqual(['conv2d', 'maxpool', 'conv2d', 'avgpool', 'dense', 'dense', 'softmax']);
    expect(model.spec.layers[0]).toMatchObject({ kernel: 3, padding: 'same', activation: 'relu' });
    expect(model.spec.layers[2]).toMatchObject({ kernel: 1, bias: false, activation: 'sigmoid' });
    expect(model.spec.layers[3]).toMatchObject({ size: 3, stride: 2, padding: 'same' });
    expect(model.spec.layers[5]).not.toHaveProperty('activation');
    expect(model.spec.input).toEqual({ height: 12, width: 12, channels: 3 });
    expect(model.spec.labels).toEqual(['a', 'b', 'c', 'd']);
    tfModel.dispose();
  });

  it('takes the weight file split into shards in manifest order', async () => {
    const tfModel = cases[1][1]();
    randomize(tfModel, 7);
    const saved = await save(tfModel);
    const bytes = new Uint8Array(saved.weightData);
    const cut = [0, 100, 333, bytes.length];
    const shards = cut.slice(1).map((end, i) => bytes.slice(cut[i], end));
    const json = structuredClone(saved.modelJson) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0].paths = ['g1-shard1of3.bin', 'g1-shard2of3.bin', 'g1-shard3of3.bin'];
    const whole = importTfjsLayers(saved.modelJson, saved.weightData);
    const sharded = importTfjsLayers(json, shards);
    expect(bits(sharded.params)).toEqual(bits(whole.params));
    expect(() => importTfjsLayers(json, shards.slice(0, 2))).toThrow(/2 shard\(s\) given, but the manifest lists 3 path/);
    tfModel.dispose();
  });

  it('reads a Keras 3 functional topology as written by tensorflowjs_converter (model_config, batch_shape, keras_history)', async () => {
    const tfModel = cases[3][1]();
    randomize(tfModel, 9);
    const saved = await save(tfModel);
    const topo = saved.modelJson.modelTopology as { config: { layers: Record<string, unknown>[]; input_layers: unknown; output_layers: unknown[] } };
    const config = structuredClone(topo.config);
    for (const l of config.layers) {
      const nodes = l.inbound_nodes as [string, number, number, object][][];
      l.inbound_nodes = nodes.map((node) => ({
        args: node.map(([from]) => ({ class_name: '__keras_tensor__', config: { shape: [], dtype: 'float32', keras_history: [from, 0, 0] } })),
        kwargs: {},
      }));
      const c = l.config as Record<string, unknown>;
      if (c.batch_input_shape) {
        c.batch_shape = c.batch_input_shape;
        delete c.batch_input_shape;
      }
    }
    config.input_layers = (config.input_layers as unknown[][])[0]; // a single input, unnested in Keras 3
    const weights = (saved.modelJson.weightsManifest as { weights: TfjsWeightEntry[] }[])[0].weights.map((w) => ({ ...w, name: `model/${w.name}` }));
    const keras = {
      format: 'layers-model',
      generatedBy: 'keras v3',
      convertedBy: 'TensorFlow.js Converter',
      modelTopology: { keras_version: '3.0', backend: 'tensorflow', model_config: { class_name: 'Functional', config } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }],
    };
    const model = importTfjsLayers(keras, saved.weightData, { std: [127.5, 127.5] });
    const { ours, theirs } = predictBoth(model, tfModel, 19);
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
    tfModel.dispose();
  });
});

/** Replaces the kernels' float32 bytes by a quantised encoding, as tensorflowjs_converter writes. */
function quantise(saved: Saved, dtype: 'uint8' | 'uint16' | 'float16'): Saved {
  const json = structuredClone(saved.modelJson) as { weightsManifest: { weights: TfjsWeightEntry[] }[] };
  const src = new DataView(saved.weightData);
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const e of json.weightsManifest[0].weights) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, (_, i) => src.getFloat32(offset + 4 * i, true));
    offset += 4 * n;
    if (!e.name.endsWith('/kernel')) {
      parts.push(new Uint8Array(values.buffer));
      continue;
    }
    if (dtype === 'float16') {
      e.quantization = { dtype };
      parts.push(new Uint8Array(Uint16Array.from(values, toHalf).buffer));
    } else {
      const levels = dtype === 'uint8' ? 255 : 65535;
      const lo = Math.min(...values);
      const scale = (Math.max(...values) - lo) / levels;
      const min = Math.round(lo / scale) * scale; // the converter nudges min onto the grid
      e.quantization = { dtype, min, scale };
      const q = Array.from(values, (v) => Math.min(levels, Math.max(0, Math.round((v - min) / scale))));
      parts.push(new Uint8Array(dtype === 'uint8' ? Uint8Array.from(q).buffer : Uint16Array.from(q).buffer));
    }
  }
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return { modelJson: json as unknown as Record<string, unknown>, weightData: data.buffer };
}

/** float32 → IEEE half bits, round to nearest even (normal range is enough for these weights). */
function toHalf(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 112;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign; // below the half range: flush to zero
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

describe('import of quantised weights', () => {
  for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
    it(`${dtype} kernels decode as TF.js decodes them`, async () => {
      const tfModel = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 5, activation: 'softmax' }),
        ],
      });
      randomize(tfModel, 31);
      const q = quantise(await save(tfModel), dtype);
      tfModel.dispose();
      const json = q.modelJson as { modelTopology: object; weightsManifest: { weights: TfjsWeightEntry[] }[] };
      const loaded = await tfl.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: q.weightData }),
      );
      const model = importTfjsLayers(q.modelJson, q.weightData);
      // Parameters equal TF.js' own dequantised weights bit for bit, and differ from float32 ones.
      const theirParams = new Float32Array(loaded.getWeights().flatMap((w) => Array.from(w.dataSync())));
      expect(bits(model.params)).toEqual(bits(theirParams));
      const { ours, theirs } = predictBoth(model, loaded, 41);
      expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
      expect(new Uint8Array(q.weightData).length).toBeLessThan(model.params.length * 4);
      loaded.dispose();
    });
  }
});

describe('import errors name the layer and the numbers', () => {
  async function saved(layers: tfl.layers.Layer[]): Promise<Saved> {
    const m = tfl.sequential({ layers });
    const s = await save(m);
    m.dispose();
    return s;
  }

  it('an unsupported layer (BatchNormalization)', async () => {
    const s = await saved([
      tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3 }),
      tfl.layers.batchNormalization({ name: 'bn1' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2 }),
    ]);
    expect(() => importTfjsLayers(s.modelJson, s.weightData)).toThrow(ModelError);
    expect(() => importTfjsLayers(s.modelJson, s.weightData)).toThrow(/unsupported layer BatchNormalization "bn1"/);
  });

  it('an unsupported activation', async () => {
    const s = await saved([tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3, activation: 'elu', name: 'c_elu' })]);
    expect(() => importTfjsLayers(s.modelJson, s.weightData)).toThrow(/Conv2D "c_elu": activation "elu" is not supported/);
  });

  it('weight bytes that do not match the manifest', async () => {
    const s = await saved([tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3 })]);
    // 3·3·3·2 kernel + 2 biases = 56 floats = 224 bytes.
    expect(() => importTfjsLayers(s.modelJson, s.weightData.slice(0, 220))).toThrow(
      /weight data: 220 bytes, but the manifest's 2 weights take 224 bytes/,
    );
  });

  it('a kernel whose shape disagrees with the inferred one', async () => {
    const s = await saved([tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3, name: 'conv' })]);
    const json = structuredClone(s.modelJson) as { weightsManifest: { weights: TfjsWeightEntry[] }[] };
    json.weightsManifest[0].weights[0].shape = [3, 3, 2, 3]; // same byte count, wrong layout
    expect(() => importTfjsLayers(json, s.weightData)).toThrow(/Conv2D "conv": kernel "conv\/kernel" has shape \[3, 3, 2, 3\], expected \[3, 3, 3, 2\] \(input 6×6×3\)/);
  });

  it('a weight that belongs to no layer', async () => {
    const s = await saved([tfl.layers.dense({ inputShape: [1, 1, 3], units: 2, useBias: false, name: 'd' })]);
    const json = structuredClone(s.modelJson) as { weightsManifest: { weights: TfjsWeightEntry[] }[] };
    json.weightsManifest[0].weights.push({ name: 'extra/bias', shape: [1], dtype: 'float32' });
    const data = new Uint8Array(s.weightData.byteLength + 4);
    data.set(new Uint8Array(s.weightData));
    expect(() => importTfjsLayers(json, data.buffer)).toThrow(/weight "extra\/bias" \[1\] in the manifest belongs to no layer/);
  });

  it('Dense on a feature map without Flatten', async () => {
    const s = await saved([tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 3 }), tfl.layers.dense({ units: 2, name: 'd' })]);
    expect(() => importTfjsLayers(s.modelJson, s.weightData)).toThrow(/Dense "d": Dense on a 4×4×2 feature map without Flatten/);
  });

  it('a functional model that branches', async () => {
    const input = tfl.input({ shape: [6, 6, 3] });
    const c = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'trunk' }).apply(input) as tfl.SymbolicTensor;
    const a = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'left' }).apply(c) as tfl.SymbolicTensor;
    const b = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'right' }).apply(c) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: input, outputs: tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor });
    const s = await save(m);
    m.dispose();
    expect(() => importTfjsLayers(s.modelJson, s.weightData)).toThrow(/Add "add_\w+": takes 2 inputs \(left, right\); only a chain/);
  });

  it('labels and normalisation of the wrong length', async () => {
    const s = await saved([tfl.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 4 })]);
    expect(() => importTfjsLayers(s.modelJson, s.weightData, { labels: ['a'] })).toThrow(/1 labels for 2 outputs/);
    expect(() => importTfjsLayers(s.modelJson, s.weightData, { mean: [0] })).toThrow(/mean must be 3 finite numbers/);
  });

  it('a graph model', () => {
    expect(() => importTfjsLayers({ format: 'graph-model', modelTopology: {}, weightsManifest: [] }, new ArrayBuffer(0))).toThrow(
      /format "graph-model" is not a Layers model/,
    );
  });
});

/** Random engine parameters with non-zero biases. */
function randomModel(spec: ModelSpec, seed: number): Model {
  const params = initParams(spec, seed);
  const rng = new Random(seed + 1);
  for (const l of inferShapes(spec).layers) {
    if ((l.kind === 'conv2d' || l.kind === 'dense') && l.biasOffset >= 0) {
      for (let o = 0; o < l.out.c; o++) params[l.biasOffset + o] = rng.normal() * 0.3;
    }
  }
  return { spec, params };
}

/** Loads an export with tf.loadLayersModel, as a page would from model.json and the weight file. */
async function loadExport(model: Model) {
  const { modelJson, weightData } = exportTfjsLayers(model);
  const json = JSON.parse(JSON.stringify(modelJson)) as TfjsModelJson;
  const weights = weightData.slice().buffer;
  const loaded = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: weights,
      format: json.format,
      generatedBy: json.generatedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
  return { json, weights, loaded };
}

describe('export for tf.loadLayersModel', () => {
  const specs: [string, ModelSpec][] = [
    ['the classic CIFAR-10 network (same padding, maxpool, dense, softmax)', classicCifarSpec()],
    [
      'x=[9,7,3] conv [3,2] s[2,1] padding [1,1,0,1] tanh, conv1×1 no-bias sigmoid, avgpool3 s2 same, dense no-bias relu, relu, dense, softmax',
      {
        input: { height: 9, width: 7, channels: 3, mean: [10, 20, 30], std: [50, 60, 70] },
        layers: [
          { kind: 'conv2d', name: 'c1', filters: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 1, 0, 1], activation: 'tanh' },
          { kind: 'conv2d', name: 'c2', filters: 3, kernel: 1, bias: false, activation: 'sigmoid' },
          { kind: 'avgpool', name: 'p1', size: 3, stride: 2, padding: 'same' },
          { kind: 'dense', name: 'd1', units: 6, bias: false, activation: 'relu' },
          { kind: 'activation', name: 'a1', activation: 'relu' },
          { kind: 'dense', name: 'd2', units: 3 },
          { kind: 'softmax', name: 's' },
        ],
        labels: ['cat', 'dog', 'bird'],
      },
    ],
    [
      'x=[8,8,1] conv3 padding 1 (= same), maxpool3 s1 same, conv2 s2 valid, softmax per pixel, dense → conv1×1 (Reshape)',
      {
        input: { height: 8, width: 8, channels: 1 },
        layers: [
          { kind: 'conv2d', name: 'conv a', filters: 2, kernel: 3, padding: 1, activation: 'relu' },
          { kind: 'maxpool', name: 'p', size: 3, stride: 1, padding: 'same' },
          { kind: 'conv2d', name: 'c2', filters: 3, kernel: 2, stride: 2 },
          { kind: 'softmax', name: 'sm' },
          { kind: 'dense', name: 'd', units: 4, activation: 'sigmoid' },
          { kind: 'conv2d', name: 'head', filters: 2, kernel: 1 },
        ],
        labels: ['yes', 'no'],
      },
    ],
  ];

  specs.forEach(([name, spec], k) => {
    it(name, async () => {
      const model = randomModel(spec, 300 + k);
      const { json, loaded } = await loadExport(model);
      const { ours, theirs } = predictBoth(model, loaded, 400 + k);
      expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
      expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(1e-3);
      const meta = loaded.getUserDefinedMetadata() as { edgeClassifier: { mean: number[]; std: number[]; labels: string[] } };
      expect(meta.edgeClassifier.mean).toEqual(spec.input.mean ?? new Array(spec.input.channels).fill(0));
      expect(meta.edgeClassifier.std).toEqual(spec.input.std ?? new Array(spec.input.channels).fill(255));
      expect(meta.edgeClassifier.labels).toEqual(spec.labels);
      expect(json.format).toBe('layers-model');
      loaded.dispose();
    });
  });

  it('export → import gives bit-identical parameters and the same spec', () => {
    for (const [k, [, spec]] of specs.entries()) {
      const model = randomModel(spec, 500 + k);
      const { modelJson, weightData } = exportTfjsLayers(model);
      const back = importTfjsLayers(JSON.parse(JSON.stringify(modelJson)), weightData.slice().buffer);
      expect(bits(back.params)).toEqual(bits(model.params));
      const c = spec.input.channels;
      // Import states the normalisation explicitly, defaults included.
      expect(back.spec.input).toEqual({ ...spec.input, mean: spec.input.mean ?? new Array(c).fill(0), std: spec.input.std ?? new Array(c).fill(255) });
      expect(back.spec.labels).toEqual(spec.labels);
      expect(back.spec.layers.map((l) => l.kind)).toEqual(spec.layers.map((l) => l.kind));
      if (k === 0) expect(back.spec).toEqual(spec);
      // Same numbers through the same engine.
      const bytes = randomBytes(N * size3(inferShapes(spec).input), 600 + k);
      expect(bits(new CpuSession(back).predictBatch(bytes, N))).toEqual(bits(new CpuSession(model).predictBatch(bytes, N)));
    }
  });

  it('loads as files: model.json and model.weights.bin fetched over tfjs http IO', async () => {
    const model = randomModel(classicCifarSpec(), 700);
    const { modelJson, weightData } = exportTfjsLayers(model);
    const served: string[] = [];
    const fetchFunc = async (input: URL | RequestInfo) => {
      const url = String(input);
      served.push(url);
      if (url === 'https://example.test/m/model.json') return new Response(JSON.stringify(modelJson));
      if (url === 'https://example.test/m/model.weights.bin') return new Response(weightData.slice());
      return new Response('not found', { status: 404 });
    };
    const loaded = await tfl.loadLayersModel(tf.io.http('https://example.test/m/model.json', { fetchFunc }));
    expect(served).toEqual(['https://example.test/m/model.json', 'https://example.test/m/model.weights.bin']);
    const { ours, theirs } = predictBoth(model, loaded, 701);
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(TOLERANCE);
    loaded.dispose();
  });

  it('refuses pooling padding that TF.js cannot express', () => {
    const spec: ModelSpec = {
      input: { height: 6, width: 6, channels: 1 },
      layers: [{ kind: 'maxpool', name: 'p', size: 2, padding: 1 }],
      labels: Array.from({ length: 16 }, (_, i) => `${i}`),
    };
    expect(() => exportTfjsLayers({ spec, params: new Float32Array(0) })).toThrow(/maxpool "p": padding \[1, 1, 1, 1\] has no TF.js equivalent/);
  });
});

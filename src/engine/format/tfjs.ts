// TF.js Layers interop: import a `model.json` and its weight shards, as written by tfjs
// `model.save()` or by `tensorflowjs_converter` from Keras, and export a model in the same format
// for `tf.loadLayersModel`. No TF.js dependency and no Node APIs: runs in a page, a worker and Node.
//
// Layouts need no conversion. Keras channels-last activations are NHWC, Conv2D kernels are
// [KH, KW, IN, OUT] (HWIO) and Dense kernels [IN, OUT], the engine's layouts (spec.ts); Flatten on
// channels-last data flattens (y, x, c) as the engine's dense does. Weights copy as they are.
//
// Input normalisation is not part of a Layers model. Import takes it from the options (default
// mean 0, std 255: inputs scaled to 0–1). Export writes a model that expects normalised input,
// x = (byte − mean[c]) / std[c], and records mean, std and labels in
// `userDefinedMetadata.edgeClassifier`, which import reads back when the options leave them out.
import { ModelError, inferShapes, shapeText, size3, validateModel, type Shape3 } from '../shapes.ts';
import type { Activation, InputSpec, LayerSpec, Model, ModelSpec, Padding, Pair } from '../spec.ts';

export interface TfjsImportOptions {
  /** Per-channel input mean and std (x = (byte − mean) / std); default mean 0, std 255. */
  mean?: number[];
  std?: number[];
  /** One label per output; default "class 0" … "class N−1". */
  labels?: string[];
}

export interface TfjsExportOptions {
  /** Weight file name listed in the manifest; default "model.weights.bin". */
  weightsPath?: string;
  /** Name of the Sequential model; default "sequential". */
  modelName?: string;
}

/** One entry of a weights manifest group (tfjs `WeightsManifestEntry`). */
export interface TfjsWeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  group?: string;
  /** Stored as uint8/uint16 (value = q · scale + min) or float16 instead of float32. */
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightEntry[];
}

/** What export records in `userDefinedMetadata.edgeClassifier`. */
export interface TfjsMetadata {
  input: string;
  mean: number[];
  std: number[];
  labels: string[];
}

export interface KerasLayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: {
    class_name: 'Sequential';
    config: { name: string; layers: KerasLayerJson[] };
    keras_version: string;
    backend: string;
  };
  weightsManifest: TfjsWeightsGroup[];
  userDefinedMetadata: { edgeClassifier: TfjsMetadata };
}

export interface TfjsExport {
  modelJson: TfjsModelJson;
  /** The single weight file named in the manifest: every weight, float32 little-endian. */
  weightData: Uint8Array;
}

/** A Keras layer as read from the topology. */
interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const SUPPORTED = [
  'InputLayer',
  'Conv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'Flatten',
  'Dense',
  'Activation',
  'ReLU',
  'Softmax',
  'Dropout',
  'ZeroPadding2D (before a valid Conv2D)',
  'Reshape (to the current shape)',
];

const INPUT_NOTE = 'The model expects x = (byte - mean[c]) / std[c] per channel c of NHWC input, not raw bytes.';

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const where = (l: KerasLayer): string => `${l.className} "${l.name}"`;

// ---------------------------------------------------------------------------------------------
// Import

/**
 * Builds a Model from a TF.js Layers `model.json` (parsed object or text) and its weights: one
 * ArrayBuffer holding every shard back to back, or the shard files in manifest order.
 * Throws ModelError naming the layer or weight and the numbers when anything does not fit.
 */
export function importTfjsLayers(
  modelJson: unknown,
  weightData: ArrayBuffer | Uint8Array | Uint8Array[],
  options: TfjsImportOptions = {},
): Model {
  const json = parseModelJson(modelJson);
  const chain = readTopology(json.modelTopology as Json);
  const input = readInputShape(chain[0]);
  const layers = chain[0].className === 'InputLayer' ? chain.slice(1) : chain;
  const { specs, sources } = convertLayers(layers, input);
  if (specs.length === 0) throw new ModelError('tfjs model: no layers after the input');

  const meta = isObject(json.userDefinedMetadata) && isObject(json.userDefinedMetadata.edgeClassifier)
    ? json.userDefinedMetadata.edgeClassifier
    : {};
  const mean = options.mean ?? (Array.isArray(meta.mean) ? (meta.mean as number[]) : undefined);
  const std = options.std ?? (Array.isArray(meta.std) ? (meta.std as number[]) : undefined);
  const inputSpec: InputSpec = { ...input, ...(mean ? { mean } : {}), ...(std ? { std } : {}) };
  const outputs = size3(shapeAfter(input, specs));
  const metaLabels = Array.isArray(meta.labels) && meta.labels.length === outputs ? (meta.labels as string[]) : undefined;
  const labels = options.labels ?? metaLabels ?? Array.from({ length: outputs }, (_, i) => `class ${i}`);
  const spec: ModelSpec = { input: inputSpec, layers: specs, labels };
  const info = inferShapes(spec);

  const store = new WeightStore(json.weightsManifest, weightData);
  const params = new Float32Array(info.paramCount);
  for (const l of info.layers) {
    if (l.kind !== 'conv2d' && l.kind !== 'dense') continue;
    const src = sources.get(l.name)!;
    const kernelShape = l.kind === 'conv2d' ? [l.kh, l.kw, l.in.c, l.out.c] : [l.inSize, l.units];
    const after = ` (input ${shapeText(l.in)})`;
    params.set(store.take(src, 'kernel', kernelShape, after), l.paramOffset);
    if (l.biasOffset >= 0) params.set(store.take(src, 'bias', [l.out.c], ''), l.biasOffset);
  }
  store.checkAllUsed();
  validateModel(spec, params);
  return { spec, params };
}

function parseModelJson(modelJson: unknown): Json {
  let json = modelJson;
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      throw new ModelError(`model.json: not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(json)) throw new ModelError('model.json: expected an object with modelTopology and weightsManifest');
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new ModelError(`model.json: format ${show(json.format)} is not a Layers model ("layers-model"); graph models are not supported`);
  }
  if (!isObject(json.modelTopology)) throw new ModelError('model.json: modelTopology is missing');
  if (!Array.isArray(json.weightsManifest)) throw new ModelError('model.json: weightsManifest is missing');
  return json;
}

/** The layers of a Sequential model, or of a Functional model that is a single chain, in order. */
function readTopology(topology: Json): KerasLayer[] {
  // tensorflowjs_converter wraps the Keras config in model_config; tfjs writes it directly.
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const cls = model.class_name;
  const config = model.config;
  if (cls === 'Sequential') {
    // Keras before 2.3 wrote a Sequential config as the bare list of layers.
    const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
    if (!Array.isArray(list) || list.length === 0) throw new ModelError('Sequential model: config.layers is missing or empty');
    return list.map((raw, i) => readLayer(raw, i));
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isObject(config) || !Array.isArray(config.layers)) throw new ModelError(`${cls} model: config.layers is missing`);
    return functionalChain(config, cls);
  }
  throw new ModelError(`modelTopology: model class ${show(cls)} is not supported (expected Sequential, or Model/Functional as a chain)`);
}

function readLayer(raw: unknown, index: number): KerasLayer {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
    throw new ModelError(`layer ${index}: expected {class_name, config}, got ${show(raw)?.slice(0, 80)}`);
  }
  const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
  if (typeof name !== 'string' || name.length === 0) throw new ModelError(`layer ${index} (${raw.class_name}): has no name`);
  return { className: raw.class_name, name, config: raw.config };
}

/** Names of the layers whose outputs feed a Functional layer (tfjs/Keras 2 and Keras 3 forms). */
function inboundNames(nodes: unknown, l: KerasLayer): string[] {
  if (nodes === undefined || nodes === null) return [];
  if (!Array.isArray(nodes)) throw new ModelError(`${where(l)}: inbound_nodes must be an array`);
  if (nodes.length > 1) throw new ModelError(`${where(l)}: applied ${nodes.length} times; shared layers are not supported`);
  const names: string[] = [];
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) {
      // Keras 2 / tfjs: [layerName, nodeIndex, tensorIndex, kwargs].
      if (typeof v[0] === 'string') names.push(v[0]);
      else v.forEach(collect);
    } else if (isObject(v)) {
      // Keras 3: {args: [...], kwargs: {...}} holding {class_name: '__keras_tensor__', config: {keras_history}}.
      if (isObject(v.config) && Array.isArray(v.config.keras_history) && typeof v.config.keras_history[0] === 'string') {
        names.push(v.config.keras_history[0]);
      } else {
        collect(v.args);
        collect(v.kwargs ? Object.values(v.kwargs) : undefined);
      }
    }
  };
  nodes.forEach(collect);
  return names;
}

/** The single input or output of a Functional model: [["name", 0, 0]] or, in Keras 3, ["name", 0, 0]. */
function endpoint(v: unknown, what: string, cls: string): string {
  const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length !== 1 || !Array.isArray(list[0]) || typeof list[0][0] !== 'string') {
    const n = Array.isArray(list) ? list.length : 0;
    throw new ModelError(`${cls} model: ${n} ${what}s; only a single-input, single-output chain is supported`);
  }
  return list[0][0];
}

function functionalChain(config: Json, cls: string): KerasLayer[] {
  const rawLayers = config.layers as unknown[];
  const layers = rawLayers.map((raw, i) => readLayer(raw, i));
  const byName = new Map<string, KerasLayer>();
  const consumers = new Map<string, string[]>();
  for (const [i, l] of layers.entries()) {
    if (byName.has(l.name)) throw new ModelError(`${cls} model: duplicate layer name "${l.name}"`);
    byName.set(l.name, l);
    const from = inboundNames((rawLayers[i] as Json).inbound_nodes, l);
    if (l.className !== 'InputLayer' && from.length !== 1) {
      throw new ModelError(`${where(l)}: takes ${from.length} inputs (${from.join(', ')}); only a chain of single-input layers is supported`);
    }
    for (const f of from) consumers.set(f, [...(consumers.get(f) ?? []), l.name]);
  }
  const start = endpoint(config.input_layers, 'input', cls);
  const end = endpoint(config.output_layers, 'output', cls);
  const chain: KerasLayer[] = [];
  let name: string | undefined = start;
  while (name !== undefined) {
    const l = byName.get(name);
    if (!l) throw new ModelError(`${cls} model: layer "${name}" is referenced but not defined`);
    chain.push(l);
    if (name === end) break;
    const next: string[] = consumers.get(name) ?? [];
    if (next.length > 1) throw new ModelError(`${where(l)}: feeds ${next.length} layers (${next.join(', ')}); only a chain is supported`);
    name = next[0];
  }
  if (chain[chain.length - 1].name !== end) {
    throw new ModelError(`${cls} model: the chain from input "${start}" ends at "${chain[chain.length - 1].name}", not at output "${end}"`);
  }
  if (chain.length !== layers.length) {
    const off = layers.filter((l) => !chain.includes(l)).map((l) => l.name);
    throw new ModelError(`${cls} model: layers ${off.join(', ')} are not on the chain from "${start}" to "${end}"`);
  }
  return chain;
}

/** [batch, height, width, channels] from the InputLayer or the first layer's batch_input_shape. */
function readInputShape(first: KerasLayer): { height: number; width: number; channels: number } {
  const c = first.config;
  let shape = c.batch_input_shape ?? c.batch_shape ?? c.build_input_shape;
  if (shape === undefined && Array.isArray(c.input_shape)) shape = [null, ...c.input_shape];
  if (shape === undefined) {
    throw new ModelError(`${where(first)}: no input shape (batch_input_shape) on the first layer or an InputLayer`);
  }
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.slice(1).every(isPositiveInt)) {
    throw new ModelError(`${where(first)}: input shape ${show(shape)} is not an image [batch, height, width, channels]`);
  }
  return { height: shape[1], width: shape[2], channels: shape[3] };
}

/** Output shape of `layers` applied to `input`, by the engine's own shape inference. */
function shapeAfter(input: InputSpec, layers: LayerSpec[]): Shape3 {
  if (layers.length === 0) return { h: input.height, w: input.width, c: input.channels };
  // inferShapes needs a label per output; a one-unit dense closing the chain fixes that number.
  const names = new Set(layers.map((l) => l.name));
  let probe = 'shape-probe';
  while (names.has(probe)) probe += '_';
  const info = inferShapes({
    input: { height: input.height, width: input.width, channels: input.channels },
    layers: [...layers, { kind: 'dense', name: probe, units: 1 }],
    labels: ['probe'],
  });
  return info.layers[layers.length - 1].out;
}

function pairOf(v: unknown, fallback: [number, number] | null, what: string, l: KerasLayer): [number, number] {
  if ((v === undefined || v === null) && fallback) return fallback;
  const p = Array.isArray(v) ? v : [v, v];
  if (p.length !== 2 || !isPositiveInt(p[0]) || !isPositiveInt(p[1])) {
    throw new ModelError(`${where(l)}: ${what} must be a positive integer or two of them, got ${show(v)}`);
  }
  return [p[0], p[1]];
}

const compact = (p: [number, number]): Pair => (p[0] === p[1] ? p[0] : p);

function paddingOf(l: KerasLayer): 'same' | 'valid' {
  const p = l.config.padding ?? 'valid';
  if (p !== 'same' && p !== 'valid') throw new ModelError(`${where(l)}: padding ${show(p)} is not supported (same or valid)`);
  return p;
}

function checkChannelsLast(l: KerasLayer): void {
  const f = l.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') {
    throw new ModelError(`${where(l)}: data_format ${show(f)} is not supported (channels_last only)`);
  }
}

/** Keras activation name → engine activation, or 'softmax' (a separate layer in the engine). */
function activationOf(l: KerasLayer, key = 'activation'): Activation | 'softmax' {
  let a = l.config[key];
  // Keras 3 may serialise a built-in activation as {class_name: 'function', config: 'relu'}.
  if (isObject(a) && typeof a.config === 'string') a = a.config;
  if (a === undefined || a === null) return 'linear';
  if (a === 'linear' || a === 'relu' || a === 'sigmoid' || a === 'tanh' || a === 'softmax') return a;
  throw new ModelError(`${where(l)}: activation ${show(a)} is not supported (linear, relu, sigmoid, tanh, softmax)`);
}

/**
 * Keras layers → engine layer specs. `sources` maps each conv2d/dense spec to the Keras layer
 * whose weights it takes. `flat` tracks whether the Keras tensor is rank 2 (after Flatten or a
 * Dense on rank-2 data), because Keras Dense and softmax act on the last axis: per pixel on a
 * feature map, whereas the engine's dense flattens and its softmax is per pixel.
 */
function convertLayers(layers: KerasLayer[], input: { height: number; width: number; channels: number }) {
  const specs: LayerSpec[] = [];
  const sources = new Map<string, KerasLayer>();
  const names = new Set(layers.map((l) => l.name));
  const inputSpec: InputSpec = input;
  const current = (): Shape3 => shapeAfter(inputSpec, specs);
  let flat = false;
  let pad: { pads: [number, number, number, number]; from: KerasLayer } | null = null;

  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  const addSoftmax = (l: KerasLayer, name: string): void => {
    const s = current();
    if (flat && s.h * s.w > 1) {
      throw new ModelError(
        `${where(l)}: softmax over ${s.h * s.w * s.c} flattened values of a ${shapeText(s)} feature map is not supported (the engine's softmax is over channels per pixel)`,
      );
    }
    specs.push({ kind: 'softmax', name });
  };
  const notFlat = (l: KerasLayer): void => {
    if (flat) throw new ModelError(`${where(l)}: needs a feature map, but follows a Flatten or Dense (rank-2 data)`);
  };

  for (const l of layers) {
    if (pad && l.className !== 'Conv2D') {
      throw new ModelError(`${where(pad.from)}: ZeroPadding2D is supported only directly before a Conv2D with padding 'valid', not before ${where(l)}`);
    }
    switch (l.className) {
      case 'InputLayer':
        throw new ModelError(`${where(l)}: an InputLayer after the first layer is not supported`);
      case 'Conv2D': {
        notFlat(l);
        checkChannelsLast(l);
        const c = l.config;
        if (!isPositiveInt(c.filters)) throw new ModelError(`${where(l)}: filters must be a positive integer, got ${show(c.filters)}`);
        const dilation = pairOf(c.dilation_rate, [1, 1], 'dilation_rate', l);
        if (dilation[0] !== 1 || dilation[1] !== 1) throw new ModelError(`${where(l)}: dilation_rate ${show(c.dilation_rate)} is not supported (1 only)`);
        if (c.groups !== undefined && c.groups !== 1) throw new ModelError(`${where(l)}: groups ${show(c.groups)} is not supported (1 only)`);
        const kernel = pairOf(c.kernel_size, null, 'kernel_size', l);
        const stride = pairOf(c.strides, [1, 1], 'strides', l);
        let padding: Padding = paddingOf(l);
        if (pad) {
          if (padding !== 'valid') {
            throw new ModelError(`${where(pad.from)}: ZeroPadding2D before ${where(l)} with padding '${padding}' is not supported (only 'valid')`);
          }
          padding = pad.pads;
          pad = null;
        }
        const useBias = c.use_bias ?? true;
        if (typeof useBias !== 'boolean') throw new ModelError(`${where(l)}: use_bias must be true or false, got ${show(useBias)}`);
        const activation = activationOf(l);
        specs.push({
          kind: 'conv2d',
          name: l.name,
          filters: c.filters,
          kernel: compact(kernel),
          ...(stride[0] !== 1 || stride[1] !== 1 ? { stride: compact(stride) } : {}),
          ...(padding !== 'valid' ? { padding } : {}),
          ...(useBias ? {} : { bias: false }),
          ...(activation !== 'linear' && activation !== 'softmax' ? { activation } : {}),
        });
        sources.set(l.name, l);
        current(); // surfaces kernel-larger-than-input and similar errors at this layer
        if (activation === 'softmax') addSoftmax(l, fresh(`${l.name}_softmax`));
        break;
      }
      case 'MaxPooling2D':
      case 'MaxPool2D':
      case 'AveragePooling2D':
      case 'AvgPool2D': {
        notFlat(l);
        checkChannelsLast(l);
        const size = pairOf(l.config.pool_size, [2, 2], 'pool_size', l);
        const stride = pairOf(l.config.strides, size, 'strides', l);
        const padding = paddingOf(l);
        specs.push({
          kind: l.className.startsWith('Max') ? 'maxpool' : 'avgpool',
          name: l.name,
          size: compact(size),
          ...(stride[0] !== size[0] || stride[1] !== size[1] ? { stride: compact(stride) } : {}),
          ...(padding !== 'valid' ? { padding } : {}),
        });
        current();
        break;
      }
      case 'Dense': {
        const c = l.config;
        if (!isPositiveInt(c.units)) throw new ModelError(`${where(l)}: units must be a positive integer, got ${show(c.units)}`);
        const s = current();
        if (!flat && s.h * s.w > 1) {
          throw new ModelError(
            `${where(l)}: Dense on a ${shapeText(s)} feature map without Flatten acts per pixel, which is not supported (add Flatten before it)`,
          );
        }
        const useBias = c.use_bias ?? true;
        if (typeof useBias !== 'boolean') throw new ModelError(`${where(l)}: use_bias must be true or false, got ${show(useBias)}`);
        const activation = activationOf(l);
        specs.push({
          kind: 'dense',
          name: l.name,
          units: c.units,
          ...(useBias ? {} : { bias: false }),
          ...(activation !== 'linear' && activation !== 'softmax' ? { activation } : {}),
        });
        sources.set(l.name, l);
        if (activation === 'softmax') addSoftmax(l, fresh(`${l.name}_softmax`));
        break;
      }
      case 'Flatten':
        checkChannelsLast(l);
        flat = true;
        break;
      case 'Dropout':
        break;
      case 'Activation': {
        const a = activationOf(l);
        if (a === 'softmax') addSoftmax(l, l.name);
        else specs.push({ kind: 'activation', name: l.name, activation: a });
        break;
      }
      case 'ReLU': {
        const c = l.config;
        const plain = (v: unknown, neutral: number) => v === undefined || v === null || v === neutral;
        if (!plain(c.max_value, Infinity) || !plain(c.negative_slope, 0) || !plain(c.threshold, 0)) {
          throw new ModelError(
            `${where(l)}: only a plain ReLU is supported (max_value ${show(c.max_value)}, negative_slope ${show(c.negative_slope)}, threshold ${show(c.threshold)})`,
          );
        }
        specs.push({ kind: 'activation', name: l.name, activation: 'relu' });
        break;
      }
      case 'Softmax': {
        const axis = Array.isArray(l.config.axis) && l.config.axis.length === 1 ? l.config.axis[0] : l.config.axis;
        const last = flat ? 1 : 3;
        if (axis !== undefined && axis !== null && axis !== -1 && axis !== last) {
          throw new ModelError(`${where(l)}: softmax over axis ${show(l.config.axis)} is not supported (last axis only)`);
        }
        addSoftmax(l, l.name);
        break;
      }
      case 'ZeroPadding2D': {
        notFlat(l);
        checkChannelsLast(l);
        const p = l.config.padding ?? 1;
        const nonNeg = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
        let pads: [number, number, number, number] | null = null;
        if (nonNeg(p)) pads = [p, p, p, p];
        else if (Array.isArray(p) && p.length === 2 && nonNeg(p[0]) && nonNeg(p[1])) pads = [p[0], p[0], p[1], p[1]];
        else if (Array.isArray(p) && p.length === 2 && Array.isArray(p[0]) && Array.isArray(p[1]) && [...p[0], ...p[1]].every(nonNeg)) {
          pads = [p[0][0], p[0][1], p[1][0], p[1][1]];
        }
        if (!pads) throw new ModelError(`${where(l)}: padding ${show(p)} is not a size, [rows, cols] or [[top, bottom], [left, right]]`);
        const prev: [number, number, number, number] = pad ? pad.pads : [0, 0, 0, 0];
        pad = { pads: [prev[0] + pads[0], prev[1] + pads[1], prev[2] + pads[2], prev[3] + pads[3]], from: pad ? pad.from : l };
        break;
      }
      case 'Reshape': {
        const s = current();
        const t = l.config.target_shape;
        if (!Array.isArray(t) || t.length !== 3 || t[0] !== s.h || t[1] !== s.w || t[2] !== s.c) {
          throw new ModelError(`${where(l)}: target_shape ${show(t)} is not supported (only [${s.h}, ${s.w}, ${s.c}], the current shape)`);
        }
        flat = false;
        break;
      }
      default:
        throw new ModelError(`unsupported layer ${where(l)} (supported: ${SUPPORTED.join(', ')})`);
    }
  }
  if (pad) throw new ModelError(`${where(pad.from)}: ZeroPadding2D at the end of the model is not supported`);
  return { specs, sources };
}

/** The weights manifest laid over the weight bytes; each weight is taken once, by layer. */
class WeightStore {
  private readonly slots = new Map<string, { entry: TfjsWeightEntry; offset: number; used: boolean }>();
  private readonly view: DataView;

  constructor(manifest: unknown, data: ArrayBuffer | Uint8Array | Uint8Array[]) {
    const groups = manifest as unknown[];
    let paths = 0;
    let offset = 0;
    for (const [gi, g] of groups.entries()) {
      if (!isObject(g) || !Array.isArray(g.weights) || !Array.isArray(g.paths)) {
        throw new ModelError(`weightsManifest[${gi}]: expected {paths, weights}`);
      }
      paths += g.paths.length;
      for (const e of g.weights as unknown[]) {
        const entry = checkEntry(e, gi);
        if (this.slots.has(entry.name)) throw new ModelError(`weightsManifest: weight "${entry.name}" is listed twice`);
        this.slots.set(entry.name, { entry, offset, used: false });
        offset += byteLength(entry);
      }
    }
    const bytes = joinShards(data, paths);
    if (bytes.length !== offset) {
      throw new ModelError(
        `weight data: ${bytes.length} bytes, but the manifest's ${this.slots.size} weights take ${offset} bytes`,
      );
    }
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The values of layer `l`'s weight `kind` ("kernel" or "bias"), checked against `shape`. */
  take(l: KerasLayer, kind: 'kernel' | 'bias', shape: number[], after: string): Float32Array {
    const want = `${l.name}/${kind}`;
    let names = [...this.slots.keys()].filter((n) => n === want || n === `${want}:0`);
    // tensorflowjs_converter may prefix weight names with the model's name scope.
    if (names.length === 0) names = [...this.slots.keys()].filter((n) => n.endsWith(`/${want}`) || n.endsWith(`/${want}:0`));
    if (names.length !== 1) {
      const listed = [...this.slots.keys()];
      throw new ModelError(
        names.length === 0
          ? `${where(l)}: no weight "${want}" in the manifest (it lists ${listed.slice(0, 8).join(', ')}${listed.length > 8 ? ', …' : ''})`
          : `${where(l)}: weight "${want}" matches ${names.length} manifest entries (${names.join(', ')})`,
      );
    }
    const slot = this.slots.get(names[0])!;
    const { entry } = slot;
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new ModelError(`${where(l)}: ${kind} "${entry.name}" has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}]${after}`);
    }
    if (entry.dtype !== 'float32') throw new ModelError(`${where(l)}: ${kind} "${entry.name}" has dtype ${entry.dtype}, expected float32`);
    slot.used = true;
    return decodeWeight(entry, this.view, slot.offset);
  }

  /** A weight no layer took means the topology and the weights disagree. */
  checkAllUsed(): void {
    for (const { entry, used } of this.slots.values()) {
      if (!used && entry.group !== 'optimizer') {
        throw new ModelError(`weight "${entry.name}" [${entry.shape.join(', ')}] in the manifest belongs to no layer of the model`);
      }
    }
  }
}

function checkEntry(e: unknown, gi: number): TfjsWeightEntry {
  if (!isObject(e) || typeof e.name !== 'string' || typeof e.dtype !== 'string' || !Array.isArray(e.shape)) {
    throw new ModelError(`weightsManifest[${gi}]: entry ${show(e)?.slice(0, 80)} lacks name, shape or dtype`);
  }
  if (!e.shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new ModelError(`weight "${e.name}": shape ${show(e.shape)} is not a list of sizes`);
  }
  const q = e.quantization;
  if (q !== undefined && q !== null) {
    if (!isObject(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16')) {
      throw new ModelError(`weight "${e.name}": quantization ${show(q)} is not supported (uint8, uint16 or float16)`);
    }
    if (q.dtype !== 'float16') {
      if (typeof q.scale !== 'number' || !Number.isFinite(q.scale)) {
        throw new ModelError(`weight "${e.name}": ${q.dtype} quantization needs a finite scale, got ${show(q.scale)}`);
      }
      if (q.min !== undefined && (typeof q.min !== 'number' || !Number.isFinite(q.min))) {
        throw new ModelError(`weight "${e.name}": quantization min ${show(q.min)} is not a finite number`);
      }
    }
  }
  return e as unknown as TfjsWeightEntry;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function byteLength(e: TfjsWeightEntry): number {
  const count = e.shape.reduce((a, b) => a * b, 1);
  const dtype = e.quantization ? e.quantization.dtype : e.dtype;
  const size = BYTES[dtype];
  // A string weight's length is only known by reading it, and no supported layer has one.
  if (size === undefined) throw new ModelError(`weight "${e.name}": dtype ${show(e.dtype)} is not supported`);
  return count * size;
}

function joinShards(data: ArrayBuffer | Uint8Array | Uint8Array[], paths: number): Uint8Array {
  if (Array.isArray(data)) {
    if (data.length !== paths) throw new ModelError(`weight data: ${data.length} shard(s) given, but the manifest lists ${paths} path(s)`);
    if (!data.every((d) => d instanceof Uint8Array)) throw new ModelError('weight data: every shard must be a Uint8Array');
    const out = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
    let at = 0;
    for (const d of data) {
      out.set(d, at);
      at += d.length;
    }
    return out;
  }
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]') return new Uint8Array(data);
  throw new ModelError('weight data: expected an ArrayBuffer, a Uint8Array or an array of Uint8Array shards');
}

/** IEEE 754 half precision bits → number (exact). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Little-endian weight bytes at `offset` → float32 values, dequantised as tfjs does. */
function decodeWeight(e: TfjsWeightEntry, view: DataView, offset: number): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const q = e.quantization;
  if (!q) {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  } else if (q.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
  } else {
    const scale = q.scale!;
    // tfjs itself requires min for uint8/uint16; without one the grid is taken to start at 0.
    const min = q.min ?? 0;
    if (q.dtype === 'uint8') for (let i = 0; i < n; i++) out[i] = view.getUint8(offset + i) * scale + min;
    else for (let i = 0; i < n; i++) out[i] = view.getUint16(offset + 2 * i, true) * scale + min;
  }
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new ModelError(`weight "${e.name}": value ${out[bad]} at index ${bad} is not finite`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Export

const glorotNormal = { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'normal', seed: null } };
const zeros = { class_name: 'Zeros', config: {} };
const noExtras = {
  kernel_regularizer: null,
  kernel_constraint: null,
  bias_regularizer: null,
  activity_regularizer: null,
  bias_constraint: null,
};

/** TF's 'same' padding before and after along one axis. */
function samePads(n: number, k: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Writes the model as a TF.js Layers Sequential model (format "layers-model", the layer configs
 * tfjs-layers 4.x writes) plus one weight file. `tf.loadLayersModel` loads it and predicts what the
 * engine predicts, given input already normalised as (byte − mean) / std: TF.js has no place for
 * the normalisation, so it is recorded in `userDefinedMetadata.edgeClassifier` with the labels.
 *
 * Dense layers get a Flatten in front (the engine's dense flattens); explicit conv padding that is
 * not TF's 'same' becomes a ZeroPadding2D; layer names are made valid TF.js tensor names.
 */
export function exportTfjsLayers(model: Model, options: TfjsExportOptions = {}): TfjsExport {
  const info = validateModel(model.spec, model.params);
  if (info.readout) {
    const r = info.readout;
    throw new ModelError(
      `TF.js export: dense "${info.layers[r.head].name}" reads a multi-scale readout (${r.taps.length} pools${r.colourBins ? ' and a colour histogram' : ''}, ${r.size} features), which a TF.js Sequential model cannot express; keep this model as a .cnn file`,
    );
  }
  const { h, w, c } = info.input;
  const used = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  // TF.js names variables "<layer>/kernel" and accepts only /^[A-Za-z0-9][-A-Za-z0-9._/]*$/.
  const names = info.layers.map((l) => {
    const clean = l.name.replace(/[^-A-Za-z0-9._]/g, '_');
    return /^[A-Za-z0-9]/.test(clean) ? clean : `l${clean}`;
  });
  names.forEach((n) => used.add(n));
  if (used.size !== names.length) {
    used.clear();
    names.forEach((n, i) => (names[i] = unique(n)));
  }

  const layers: KerasLayerJson[] = [];
  const weights: TfjsWeightEntry[] = [];
  const push = (className: string, config: Record<string, unknown>): void => {
    const first = layers.length === 0 ? { batch_input_shape: [null, h, w, c], dtype: 'float32' } : {};
    layers.push({ class_name: className, config: { ...config, trainable: true, ...first } });
  };
  let flat = false;

  for (const [i, l] of info.layers.entries()) {
    const name = names[i];
    if ((l.kind === 'conv2d' || l.kind === 'maxpool' || l.kind === 'avgpool') && flat) {
      push('Reshape', { target_shape: [l.in.h, l.in.w, l.in.c], name: unique('reshape') });
      flat = false;
    }
    if (l.kind === 'conv2d' || l.kind === 'maxpool' || l.kind === 'avgpool') {
      const pads = [l.padTop, l.padBottom, l.padLeft, l.padRight];
      const same = [...samePads(l.in.h, l.kh, l.sh), ...samePads(l.in.w, l.kw, l.sw)];
      const declared = (model.spec.layers[i] as { padding?: Padding }).padding;
      let padding: 'same' | 'valid';
      if (declared === 'same' || declared === 'valid') padding = declared;
      else if (pads.every((p) => p === 0)) padding = 'valid';
      else if (pads.every((p, j) => p === same[j])) padding = 'same';
      else if (l.kind === 'conv2d') {
        push('ZeroPadding2D', { padding: [[l.padTop, l.padBottom], [l.padLeft, l.padRight]], data_format: 'channels_last', name: unique('zero_padding2d') });
        padding = 'valid';
      } else {
        throw new ModelError(
          `${l.kind} "${l.name}": padding [${pads.join(', ')}] has no TF.js equivalent (TF pads ${shapeText(l.in)} with [${same.join(', ')}] for 'same'; ZeroPadding2D would add zeros to the pooled values)`,
        );
      }
      if (l.kind === 'conv2d') {
        push('Conv2D', {
          filters: l.out.c,
          kernel_initializer: glorotNormal,
          kernel_size: [l.kh, l.kw],
          strides: [l.sh, l.sw],
          padding,
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: l.activation,
          use_bias: l.biasOffset >= 0,
          bias_initializer: zeros,
          ...noExtras,
          name,
        });
        weights.push({ name: `${name}/kernel`, shape: [l.kh, l.kw, l.in.c, l.out.c], dtype: 'float32' });
        if (l.biasOffset >= 0) weights.push({ name: `${name}/bias`, shape: [l.out.c], dtype: 'float32' });
      } else {
        push(l.kind === 'maxpool' ? 'MaxPooling2D' : 'AveragePooling2D', {
          pool_size: [l.kh, l.kw],
          padding,
          strides: [l.sh, l.sw],
          data_format: 'channels_last',
          name,
        });
      }
    } else if (l.kind === 'dense') {
      if (!flat) push('Flatten', { data_format: 'channels_last', name: unique('flatten') });
      flat = true;
      push('Dense', {
        units: l.units,
        activation: l.activation,
        use_bias: l.biasOffset >= 0,
        kernel_initializer: glorotNormal,
        bias_initializer: zeros,
        ...noExtras,
        name,
      });
      weights.push({ name: `${name}/kernel`, shape: [l.inSize, l.units], dtype: 'float32' });
      if (l.biasOffset >= 0) weights.push({ name: `${name}/bias`, shape: [l.units], dtype: 'float32' });
    } else if (l.kind === 'activation') {
      push('Activation', { activation: l.activation, name });
    } else {
      // The engine's softmax is over channels per pixel: Keras' last axis, flat or not.
      push('Softmax', { axis: -1, name });
    }
  }

  // Each layer's parameters are its kernel then its bias, layers in order: the manifest's order.
  const weightData = new Uint8Array(model.params.length * 4);
  const view = new DataView(weightData.buffer);
  model.params.forEach((v, i) => view.setFloat32(4 * i, v, true));

  const mean = model.spec.input.mean ?? new Array<number>(c).fill(0);
  const std = model.spec.input.std ?? new Array<number>(c).fill(255);
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'edge-classifier engine',
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: options.modelName ?? 'sequential', layers },
        keras_version: 'tfjs-layers 4.22.0',
        backend: 'tensor_flow.js',
      },
      weightsManifest: [{ paths: [options.weightsPath ?? 'model.weights.bin'], weights }],
      userDefinedMetadata: {
        edgeClassifier: { input: INPUT_NOTE, mean: [...mean], std: [...std], labels: [...model.spec.labels] },
      },
    },
    weightData,
  };
}

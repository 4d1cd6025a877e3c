// The model spec: a JSON description of the network. Parameters live separately in one
// Float32Array; shapes.ts turns a spec into per-layer shapes and parameter offsets.
//
// Conventions (shared by every backend, the file formats and TF.js interop):
// - Activations are NHWC, batch first: element (n, y, x, c) of a [N, H, W, C] tensor is at
//   ((n * H + y) * W + x) * C + c.
// - conv2d weights are HWIO: w(ky, kx, ci, co) at ((ky * KW + kx) * CI + ci) * CO + co, followed
//   by CO biases. This is TF.js / Keras' layout, so import and export copy bytes as they are.
// - dense weights are [IN, OUT]: w(i, o) at i * OUT + o, followed by OUT biases. A dense layer
//   flattens its input in NHWC order (y, x, c), as Keras' Flatten does on channels-last data.

export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh';

/** 'same' and 'valid' as in TF; a number pads every side; [top, bottom, left, right] pads each. */
export type Padding = 'same' | 'valid' | number | [number, number, number, number];

/** A size or stride given once for both axes, or as [rows, cols]. */
export type Pair = number | [number, number];

export interface Conv2dSpec {
  kind: 'conv2d';
  name: string;
  filters: number;
  kernel: Pair;
  stride?: Pair; // default 1
  padding?: Padding; // default 'valid'
  bias?: boolean; // default true
  activation?: Activation; // fused; default 'linear'
}

export interface PoolSpec {
  kind: 'maxpool' | 'avgpool';
  name: string;
  size: Pair;
  stride?: Pair; // default = size
  padding?: Padding; // default 'valid'; padded cells are ignored (not counted in averages)
}

export interface DenseSpec {
  kind: 'dense';
  name: string;
  units: number;
  bias?: boolean; // default true
  activation?: Activation; // fused; default 'linear'
}

export interface ActivationSpec {
  kind: 'activation';
  name: string;
  activation: Activation;
}

export interface SoftmaxSpec {
  kind: 'softmax';
  name: string;
}

export type LayerSpec = Conv2dSpec | PoolSpec | DenseSpec | ActivationSpec | SoftmaxSpec;
export type LayerKind = LayerSpec['kind'];
export const LAYER_KINDS: readonly LayerKind[] = ['conv2d', 'maxpool', 'avgpool', 'dense', 'activation', 'softmax'];

export interface InputSpec {
  height: number;
  width: number;
  channels: number;
  /**
   * Per-channel normalisation applied to 0–255 bytes: x = (byte - mean[c]) / std[c].
   * Default mean 0, std 255 (inputs scaled to 0–1).
   */
  mean?: number[];
  std?: number[];
}

/** Global pooling of one layer's output over H×W: one value per channel. */
/**
 * How a readout tap pools a layer's H×W×C output: 'avg' / 'max' over all of H×W (C values);
 * 'quadrants': the average over each quadrant of a 2 × 2 grid (4·C values, quadrant-major: top-left,
 * top-right, bottom-left, bottom-right; the top half is rows 0..floor(H/2)−1, the left half
 * columns 0..floor(W/2)−1), which keeps where in the picture a feature is.
 */
export type ReadoutPool = 'avg' | 'max' | 'quadrants';

export interface ReadoutTap {
  /** Index of the layer (in `layers`) whose output is pooled; it must come before the final dense layer. */
  layer: number;
  pool: ReadoutPool;
}

/**
 * What feeds the final dense layer (the head) when it is not simply the previous layer's output:
 * the concatenation, in this order, of every tap's pooled output (C values each in channel order,
 * 4·C for 'quadrants', see ReadoutPool), then, with `colour`, a colour histogram of the input bytes: bins per channel, bin of a
 * byte b = floor(b · bins / 256), cell (r, g, b) at (r · bins + g) · bins + b, each cell the
 * fraction of the image's pixels in it. The head's weights are [that length, units].
 */
export interface ReadoutSpec {
  taps: ReadoutTap[];
  colour?: { bins: number };
}

export interface ModelSpec {
  input: InputSpec;
  layers: LayerSpec[];
  /** Multi-scale readout for the final dense layer; absent: it reads the previous layer's output. */
  readout?: ReadoutSpec;
  /** One label per output unit of the last layer. */
  labels: string[];
}

/** A spec plus its parameters: everything needed to run the network. */
export interface Model {
  spec: ModelSpec;
  params: Float32Array;
}

export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'sigmoid', 'tanh'];

// An engine model (spec + parameters) rebuilt from TF.js ops, as an independent reference and as
// the baseline of the benchmark. Layouts need no conversion: the engine's NHWC activations, HWIO
// conv weights and [IN, OUT] dense weights are TF.js' own. Conv and dense layers use the fused
// ops (bias and activation in one kernel), which is what tfjs-layers runs for Conv2D and Dense,
// so the baseline is TF.js at its best rather than a chain of unfused ops.
//
// Padding is handed to TF.js as the spec states it ('same', 'valid' or explicit), so TF.js
// resolves it itself rather than reusing the engine's shape inference.
import * as tf from '@tensorflow/tfjs-core';
import { inferShapes, type NetworkInfo } from '../src/engine/shapes.ts';
import type { Activation, ModelSpec, Padding, Pair } from '../src/engine/spec.ts';

type FusedActivation = 'linear' | 'relu' | 'sigmoid';

interface TfjsLayer {
  /** Applies the layer to x (NHWC, or [n, units] after a dense layer). */
  apply(x: tf.Tensor): tf.Tensor;
}

export interface TfjsModel {
  readonly info: NetworkInfo;
  /** The backend whose memory holds the weights; run the model only while it is active. */
  readonly backend: string;
  /**
   * Runs layers [0, upTo) on n images of H×W×C bytes, normalised as (byte − mean) / std inside
   * the graph. Call within tf.tidy; the result is NHWC, or [n, units] after a dense layer.
   */
  forward(bytes: Uint8Array, n: number, upTo?: number): tf.Tensor;
  /** Every layer's output for n images (entry i: layer i), from one pass. Call within tf.tidy. */
  layerOutputs(bytes: Uint8Array, n: number): tf.Tensor[];
  dispose(): void;
}

const pairOf = (p: Pair | undefined, fallback: [number, number]): [number, number] =>
  p === undefined ? fallback : Array.isArray(p) ? p : [p, p];

function convPadding(p: Padding | undefined): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  const pad = p ?? 'valid';
  if (pad === 'same' || pad === 'valid') return pad;
  const [t, b, l, r] = Array.isArray(pad) ? pad : [pad, pad, pad, pad];
  return [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
}

function poolPadding(p: Padding | undefined, where: string): 'same' | 'valid' | number {
  const pad = p ?? 'valid';
  if (typeof pad === 'string' || typeof pad === 'number') return pad;
  throw new Error(`${where}: TF.js pooling takes 'same', 'valid' or one padding for all sides, not ${JSON.stringify(pad)}`);
}

/** TF.js' fused kernels have no tanh: it runs as a separate op after a linear fused kernel. */
function splitActivation(a: Activation): { fused: FusedActivation; after: ((x: tf.Tensor) => tf.Tensor) | null } {
  return a === 'tanh' ? { fused: 'linear', after: (x) => tf.tanh(x) } : { fused: a, after: null };
}

/**
 * Builds the TF.js version of a model on the active backend. Weight tensors are created once
 * here, so a forward pass only creates activations.
 */
export function buildTfjsModel(spec: ModelSpec, params: Float32Array): TfjsModel {
  const info = inferShapes(spec);
  if (params.length !== info.paramCount) {
    throw new Error(`params: ${params.length} values, but the spec needs ${info.paramCount}`);
  }
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const slice = (start: number, count: number) => params.slice(start, start + count);
  const { h, w, c } = info.input;
  const mean = keep(tf.tensor1d(Array.from(info.mean)));
  const std = keep(tf.tensor1d(spec.input.std ?? new Array<number>(c).fill(255)));

  const layers: TfjsLayer[] = info.layers.map((l, i): TfjsLayer => {
    const s = spec.layers[i];
    switch (l.kind) {
      case 'conv2d': {
        if (s.kind !== 'conv2d') throw new Error(`layer ${i}: spec and shapes disagree`);
        const nw = l.kh * l.kw * l.in.c * l.out.c;
        const filter = keep(tf.tensor4d(slice(l.paramOffset, nw), [l.kh, l.kw, l.in.c, l.out.c]));
        const bias = l.biasOffset >= 0 ? keep(tf.tensor1d(slice(l.biasOffset, l.out.c))) : undefined;
        const strides = pairOf(s.stride, [1, 1]);
        const pad = convPadding(s.padding);
        const { fused, after } = splitActivation(l.activation);
        return {
          apply: (x) => {
            const y = tf.fused.conv2d({ x: x as tf.Tensor4D, filter, strides, pad, bias, activation: fused });
            return after ? after(y) : y;
          },
        };
      }
      case 'maxpool':
      case 'avgpool': {
        if (s.kind !== 'maxpool' && s.kind !== 'avgpool') throw new Error(`layer ${i}: spec and shapes disagree`);
        const size = pairOf(s.size, [1, 1]);
        const strides = pairOf(s.stride, size);
        const pad = poolPadding(s.padding, `${s.kind} "${s.name}"`);
        const op = l.kind === 'maxpool' ? tf.maxPool : tf.avgPool;
        return { apply: (x) => op(x as tf.Tensor4D, size, strides, pad) };
      }
      case 'dense': {
        const kernel = keep(tf.tensor2d(slice(l.paramOffset, l.inSize * l.units), [l.inSize, l.units]));
        const bias = l.biasOffset >= 0 ? keep(tf.tensor1d(slice(l.biasOffset, l.units))) : undefined;
        const { fused, after } = splitActivation(l.activation);
        return {
          apply: (x) => {
            const flat = tf.reshape(x, [x.shape[0], l.inSize]) as tf.Tensor2D;
            const y = tf.fused.matMul({ a: flat, b: kernel, bias, activation: fused });
            return after ? after(y) : y;
          },
        };
      }
      case 'activation': {
        const a = l.activation;
        return {
          apply: (x) => (a === 'relu' ? tf.relu(x) : a === 'sigmoid' ? tf.sigmoid(x) : a === 'tanh' ? tf.tanh(x) : x),
        };
      }
      case 'softmax':
        // Over the channel axis, per pixel: the last axis in both NHWC and [n, units].
        return { apply: (x) => tf.softmax(x) };
    }
  });

  const normalised = (bytes: Uint8Array, n: number): tf.Tensor => {
    const pixels = tf.tensor4d(bytes.subarray(0, n * h * w * c), [n, h, w, c], 'int32');
    return tf.div(tf.sub(tf.cast(pixels, 'float32'), mean), std);
  };

  return {
    info,
    backend: tf.getBackend(),
    forward(bytes, n, upTo = layers.length) {
      let x = normalised(bytes, n);
      for (let i = 0; i < upTo; i++) x = layers[i].apply(x);
      return x;
    },
    layerOutputs(bytes, n) {
      let x = normalised(bytes, n);
      return layers.map((layer) => (x = layer.apply(x)));
    },
    dispose() {
      for (const t of owned) t.dispose();
      owned.length = 0;
    },
  };
}

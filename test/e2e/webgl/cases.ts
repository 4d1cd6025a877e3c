// The table of single-layer (or conv + pool) cases run on WebGL and on the CPU, named by shape as
// in 'conv2d x=[7,7,3] k=3 s=2 p=same'. x is the input of the layer under test. Cases marked
// `bytes` put the layer first, so it reads (and normalises) the input bytes itself; the others get
// a float input with negative values from a 1×1 'pre' conv.
import type { LayerSpec, Padding, Pair } from '../../../src/engine/spec.ts';

type Unnamed<T> = T extends LayerSpec ? Omit<T, 'name'> : never;

export interface LayerCase {
  name: string;
  input: [number, number, number];
  layers: Unnamed<LayerSpec>[];
  bytes?: boolean;
}

const text = (v: Pair | Padding | undefined, fallback: string): string =>
  v === undefined ? fallback : Array.isArray(v) ? `[${v.join(',')}]` : String(v);

function describe(l: Unnamed<LayerSpec>): string {
  switch (l.kind) {
    case 'conv2d':
      return `conv2d k=${text(l.kernel, '')} s=${text(l.stride, '1')} p=${text(l.padding, 'valid')} f=${l.filters}${l.activation ? ` ${l.activation}` : ''}${l.bias === false ? ' nobias' : ''}`;
    case 'maxpool':
    case 'avgpool':
      return `${l.kind} k=${text(l.size, '')} s=${text(l.stride, text(l.size, ''))} p=${text(l.padding, 'valid')}`;
    case 'dense':
      return `dense units=${l.units}${l.activation ? ` ${l.activation}` : ''}${l.bias === false ? ' nobias' : ''}`;
    case 'activation':
      return `activation ${l.activation}`;
    case 'softmax':
      return 'softmax';
  }
}

function make(input: [number, number, number], layers: Unnamed<LayerSpec>[], bytes = false): LayerCase {
  const [first, ...rest] = layers.map(describe);
  const [kind, ...details] = first.split(' ');
  const parts = [kind, `x=[${input.join(',')}]`, ...details, ...rest.map((r) => `+ ${r}`), ...(bytes ? ['(bytes)'] : [])];
  const name = parts.join(' ');
  return { name, input, layers, bytes };
}

export const LAYER_CASES: LayerCase[] = [
  // conv2d
  make([7, 7, 3], [{ kind: 'conv2d', filters: 4, kernel: 3, stride: 2, padding: 'same' }], true),
  make([7, 7, 3], [{ kind: 'conv2d', filters: 4, kernel: 3, stride: 2, padding: 'same' }]),
  make([7, 7, 3], [{ kind: 'conv2d', filters: 5, kernel: 3, padding: 'valid', activation: 'relu' }]),
  make([8, 8, 5], [{ kind: 'conv2d', filters: 6, kernel: 3, padding: 'same', activation: 'relu' }]),
  make([9, 6, 8], [{ kind: 'conv2d', filters: 4, kernel: [3, 2], stride: [2, 1], padding: 'valid' }]),
  make([5, 5, 16], [{ kind: 'conv2d', filters: 20, kernel: 5, padding: 'same', activation: 'relu' }]),
  make([6, 7, 2], [{ kind: 'conv2d', filters: 3, kernel: 1, activation: 'sigmoid' }]),
  make([7, 7, 3], [{ kind: 'conv2d', filters: 9, kernel: 3, padding: [1, 0, 2, 1], activation: 'tanh' }]),
  make([4, 4, 4], [{ kind: 'conv2d', filters: 1, kernel: 4, bias: false }], true),
  make([12, 10, 6], [{ kind: 'conv2d', filters: 7, kernel: 5, stride: 3, padding: 'same', activation: 'relu' }]),
  make([5, 5, 1], [{ kind: 'conv2d', filters: 2, kernel: 3, padding: 'same', activation: 'tanh' }]),
  // conv2d + 2×2 max pool (fused on WebGL) and pools that are not fused
  make([8, 8, 3], [{ kind: 'conv2d', filters: 16, kernel: 5, padding: 'same', activation: 'relu' }, { kind: 'maxpool', size: 2 }], true),
  make([9, 9, 6], [{ kind: 'conv2d', filters: 5, kernel: 3, padding: 'same', activation: 'relu' }, { kind: 'maxpool', size: 2 }]),
  make([6, 6, 1], [{ kind: 'conv2d', filters: 3, kernel: 3, padding: 'same', activation: 'relu' }, { kind: 'maxpool', size: 2 }], true),
  make([7, 6, 2], [{ kind: 'conv2d', filters: 5, kernel: 3, padding: [2, 1, 0, 1] }, { kind: 'maxpool', size: 2 }], true),
  make([10, 10, 4], [{ kind: 'conv2d', filters: 6, kernel: 3, stride: 2, padding: 'valid', activation: 'tanh' }, { kind: 'maxpool', size: 2 }]),
  make([8, 8, 7], [{ kind: 'conv2d', filters: 3, kernel: 3, padding: 'same', activation: 'sigmoid' }, { kind: 'maxpool', size: 2 }]),
  make([8, 8, 5], [{ kind: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation: 'relu' }, { kind: 'avgpool', size: 2 }]),
  make([9, 9, 4], [{ kind: 'conv2d', filters: 4, kernel: 3, padding: 'same' }, { kind: 'maxpool', size: 3, stride: 2 }]),
  // pools
  make([8, 8, 5], [{ kind: 'maxpool', size: 2 }]),
  make([7, 7, 3], [{ kind: 'maxpool', size: 3, stride: 2, padding: 'same' }]),
  make([7, 7, 6], [{ kind: 'avgpool', size: 3, stride: 2, padding: 'same' }]),
  make([6, 6, 4], [{ kind: 'avgpool', size: 2, stride: 1, padding: 1 }]),
  make([5, 6, 3], [{ kind: 'avgpool', size: [2, 3], stride: [1, 2] }], true),
  // dense
  make([4, 4, 20], [{ kind: 'dense', units: 10 }]),
  make([1, 1, 7], [{ kind: 'dense', units: 5, activation: 'relu' }]),
  make([3, 3, 3], [{ kind: 'dense', units: 13, activation: 'sigmoid' }], true),
  make([2, 2, 6], [{ kind: 'dense', units: 4, activation: 'tanh', bias: false }]),
  // dense + softmax (fused on WebGL up to 32 units) and a dense too large to fuse
  make([4, 4, 20], [{ kind: 'dense', units: 10 }, { kind: 'softmax' }]),
  make([2, 3, 4], [{ kind: 'dense', units: 7, activation: 'relu' }, { kind: 'softmax' }], true),
  make([2, 2, 9], [{ kind: 'dense', units: 40 }, { kind: 'softmax' }]),
  // activation
  make([5, 5, 6], [{ kind: 'activation', activation: 'relu' }]),
  make([5, 5, 6], [{ kind: 'activation', activation: 'sigmoid' }]),
  make([5, 5, 6], [{ kind: 'activation', activation: 'tanh' }]),
  make([3, 4, 2], [{ kind: 'activation', activation: 'linear' }], true),
  // softmax
  make([1, 1, 10], [{ kind: 'softmax' }]),
  make([3, 3, 7], [{ kind: 'softmax' }]),
  make([2, 2, 4], [{ kind: 'softmax' }], true),
];

// Compression of the fully connected layers: magnitude pruning of dense weights. In a CNN the
// convolutions carry the computation and the dense layers most of the parameters, so this is
// where zeros are cheap. The native format stores the zeros compactly (EncodeOptions.denseSparse);
// inference still runs the dense layer as it is.
import { validateModel, type DenseInfo, type NetworkInfo } from './shapes.ts';
import type { Model } from './spec.ts';

export interface PruneOptions {
  /** Names of the dense layers to prune; default every dense layer. */
  layers?: string[];
}

export interface DenseLayerZeros {
  name: string;
  /** Weights of the layer (inSize · units, biases not counted). */
  weights: number;
  /** Of them, how many are exactly zero. */
  zeroed: number;
}

export interface PruneResult {
  /** The pruned model: the same spec, a new parameter array. */
  model: Model;
  /** Zero weights in the pruned layers afterwards, weights that were zero already included. */
  zeroed: number;
  /** Weights in the pruned layers. */
  denseWeights: number;
  perLayer: DenseLayerZeros[];
}

export interface DenseSparsity {
  /** Weights of every dense layer (biases not counted). */
  weights: number;
  /** Of them, how many are exactly zero. */
  zeros: number;
  /** zeros / weights, 0 without dense layers. */
  fraction: number;
  perLayer: DenseLayerZeros[];
}

const denseLayers = (info: NetworkInfo): DenseInfo[] => info.layers.filter((l): l is DenseInfo => l.kind === 'dense');

function countZeros(params: Float32Array, start: number, count: number): number {
  let zeros = 0;
  for (let i = start; i < start + count; i++) if (params[i] === 0) zeros++;
  return zeros;
}

/**
 * Magnitude pruning: in each dense layer (or the named ones), the round(sparsity · weights)
 * weights of smallest |w| become 0; equal magnitudes go in index order (the lower index first),
 * so the result does not depend on the sort. Biases, conv layers and the input model are
 * untouched. Weights are the layer's [IN, OUT] block at paramOffset (see spec.ts).
 */
export function pruneDense(model: Model, sparsity: number, options: PruneOptions = {}): PruneResult {
  if (typeof sparsity !== 'number' || !Number.isFinite(sparsity) || sparsity < 0 || sparsity >= 1) {
    throw new RangeError(`pruneDense: sparsity ${typeof sparsity === 'number' ? sparsity : JSON.stringify(sparsity)} must be a finite number in [0, 1)`);
  }
  const info = validateModel(model.spec, model.params);
  const dense = denseLayers(info);
  let chosen = dense;
  if (options.layers !== undefined) {
    const unknown = options.layers.filter((n) => !dense.some((l) => l.name === n));
    if (unknown.length > 0) {
      const kinds = unknown.map((n) => {
        const l = info.layers.find((x) => x.name === n);
        return l ? `"${n}" (${l.kind})` : `"${n}"`;
      });
      throw new RangeError(
        `pruneDense: ${kinds.join(', ')} ${unknown.length === 1 ? 'is not a dense layer' : 'are not dense layers'} of this model (dense layers: ${dense.map((l) => l.name).join(', ') || 'none'})`,
      );
    }
    chosen = dense.filter((l) => options.layers!.includes(l.name));
  }

  const params = model.params.slice();
  const perLayer: DenseLayerZeros[] = [];
  for (const l of chosen) {
    const weights = l.inSize * l.units;
    const k = Math.round(sparsity * weights);
    if (k > 0) {
      const start = l.paramOffset;
      const order = new Uint32Array(weights);
      for (let i = 0; i < weights; i++) order[i] = i;
      const magnitude = new Float32Array(weights);
      for (let i = 0; i < weights; i++) magnitude[i] = Math.abs(params[start + i]);
      order.sort((a, b) => magnitude[a] - magnitude[b] || a - b);
      for (let j = 0; j < k; j++) params[start + order[j]] = 0;
    }
    perLayer.push({ name: l.name, weights, zeroed: countZeros(params, l.paramOffset, weights) });
  }
  return {
    model: { spec: model.spec, params },
    zeroed: perLayer.reduce((s, l) => s + l.zeroed, 0),
    denseWeights: perLayer.reduce((s, l) => s + l.weights, 0),
    perLayer,
  };
}

/** How many dense weights (not biases) are exactly zero, in total and per dense layer. */
export function denseSparsity(model: Model): DenseSparsity {
  const info = validateModel(model.spec, model.params);
  const perLayer = denseLayers(info).map((l) => {
    const weights = l.inSize * l.units;
    return { name: l.name, weights, zeroed: countZeros(model.params, l.paramOffset, weights) };
  });
  const weights = perLayer.reduce((s, l) => s + l.weights, 0);
  const zeros = perLayer.reduce((s, l) => s + l.zeroed, 0);
  return { weights, zeros, fraction: weights === 0 ? 0 : zeros / weights, perLayer };
}

// Parameter initialisation from a seeded RNG: He (normal, std √(2 / fan-in)) for layers followed
// by relu, Xavier/Glorot (normal, std √(2 / (fan-in + fan-out))) otherwise; biases zero.
import { inferShapes, type LayerInfo } from './shapes.ts';
import type { ModelSpec } from './spec.ts';
import { Random } from './random.ts';

/** `reluFollows`: the layer's output goes through a separate relu activation layer. */
export function initLayerParams(layer: LayerInfo, params: Float32Array, rng: Random, reluFollows = false): void {
  if (layer.kind !== 'conv2d' && layer.kind !== 'dense') return;
  const fanIn = layer.kind === 'conv2d' ? layer.kh * layer.kw * layer.in.c : layer.inSize;
  const fanOut = layer.kind === 'conv2d' ? layer.kh * layer.kw * layer.out.c : layer.units;
  const std = layer.activation === 'relu' || reluFollows ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
  const weights = layer.biasOffset >= 0 ? layer.biasOffset - layer.paramOffset : layer.paramCount;
  for (let i = 0; i < weights; i++) params[layer.paramOffset + i] = rng.normal() * std;
  params.fill(0, layer.paramOffset + weights, layer.paramOffset + layer.paramCount);
}

/** Fresh parameters for a spec; the same seed gives the same parameters. */
export function initParams(spec: ModelSpec, seed: number): Float32Array {
  const info = inferShapes(spec);
  const params = new Float32Array(info.paramCount);
  const rng = new Random(seed);
  info.layers.forEach((layer, i) => {
    const next = info.layers[i + 1];
    initLayerParams(layer, params, rng, next?.kind === 'activation' && next.activation === 'relu');
  });
  return params;
}

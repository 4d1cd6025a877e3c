// The model the app starts with. No trained default model ships yet, so this is the classic
// CIFAR-10 network with parameters from a fixed seed: deterministic, runnable, and untrained.
import { classicCifarSpec, initParams, type Model } from '../engine/index.ts';

export const UNTRAINED_DEFAULT_SEED = 1;
export const UNTRAINED_DEFAULT_NAME = 'classic CIFAR-10 net (untrained, seed 1)';

export function untrainedDefaultModel(): Model {
  const spec = classicCifarSpec();
  return { spec, params: initParams(spec, UNTRAINED_DEFAULT_SEED) };
}

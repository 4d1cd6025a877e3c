// Reference architectures.
import type { ModelSpec } from './spec.ts';

/** 32×32 RGB bytes, normalised with CIFAR-10's per-channel mean and std (fresh arrays each call). */
const cifarInput = () => ({ height: 32, width: 32, channels: 3, mean: [125.3, 123.0, 113.9], std: [63.0, 62.1, 66.7] });

export const CIFAR10_LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * The classic CIFAR-10 network: conv 5×5×16 relu, maxpool 2; conv 5×5×20 relu, maxpool 2;
 * conv 5×5×20 relu, maxpool 2; dense 10; softmax (≈ 3.9 M multiply-adds, 22,466 parameters).
 * 'same' padding keeps 32 → 16 → 8 → 4.
 */
export function classicCifarSpec(labels: string[] = CIFAR10_LABELS): ModelSpec {
  return {
    input: cifarInput(),
    layers: [
      { kind: 'conv2d', name: 'conv1', filters: 16, kernel: 5, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool1', size: 2 },
      { kind: 'conv2d', name: 'conv2', filters: 20, kernel: 5, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool2', size: 2 },
      { kind: 'conv2d', name: 'conv3', filters: 20, kernel: 5, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool3', size: 2 },
      { kind: 'dense', name: 'fc', units: labels.length },
      { kind: 'softmax', name: 'softmax' },
    ],
    labels,
  };
}

/**
 * A wider network of 3×3 convolutions (≈ 8.4 M multiply-adds): conv 3×3×32, maxpool; conv 3×3×64,
 * maxpool; conv 3×3×64, maxpool; 1×1 conv ×64 channel mixing; dense; softmax.
 */
export function wideCifarSpec(labels: string[] = CIFAR10_LABELS): ModelSpec {
  return {
    input: cifarInput(),
    layers: [
      { kind: 'conv2d', name: 'conv1', filters: 32, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool1', size: 2 },
      { kind: 'conv2d', name: 'conv2', filters: 64, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool2', size: 2 },
      { kind: 'conv2d', name: 'conv3', filters: 64, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool3', size: 2 },
      { kind: 'conv2d', name: 'mix', filters: 64, kernel: 1, activation: 'relu' },
      { kind: 'dense', name: 'fc', units: labels.length },
      { kind: 'softmax', name: 'softmax' },
    ],
    labels,
  };
}

/**
 * A deeper network (≈ 19.9 M multiply-adds): conv 3×3×32, maxpool; conv 3×3×64 twice, maxpool;
 * conv 3×3×128, maxpool; 1×1 conv ×128 channel mixing; dense; softmax.
 */
export function deepCifarSpec(labels: string[] = CIFAR10_LABELS): ModelSpec {
  return {
    input: cifarInput(),
    layers: [
      { kind: 'conv2d', name: 'conv1', filters: 32, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool1', size: 2 },
      { kind: 'conv2d', name: 'conv2', filters: 64, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'conv2d', name: 'conv2b', filters: 64, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool2', size: 2 },
      { kind: 'conv2d', name: 'conv3', filters: 128, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'pool3', size: 2 },
      { kind: 'conv2d', name: 'mix', filters: 128, kernel: 1, activation: 'relu' },
      { kind: 'dense', name: 'fc', units: labels.length },
      { kind: 'softmax', name: 'softmax' },
    ],
    labels,
  };
}

export const ARCHITECTURES: Record<string, (labels?: string[]) => ModelSpec> = {
  classic: classicCifarSpec,
  wide: wideCifarSpec,
  deep: deepCifarSpec,
};

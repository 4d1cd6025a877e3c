// The engine's public API. Framework-free: no DOM, no Node built-ins, so it runs unchanged in
// Node, a Web Worker and a page.
export type {
  Activation,
  ActivationSpec,
  Conv2dSpec,
  DenseSpec,
  InputSpec,
  LayerKind,
  LayerSpec,
  Model,
  ModelSpec,
  Padding,
  Pair,
  PoolSpec,
  ReadoutPool,
  ReadoutSpec,
  ReadoutTap,
  SoftmaxSpec,
} from './spec.ts';
export { ACTIVATIONS, LAYER_KINDS } from './spec.ts';
export { inferShapes, validateModel, resolveReadout, ModelError, LIMITS, size3, shapeText } from './shapes.ts';
export type { LayerInfo, NetworkInfo, Shape3, Conv2dInfo, DenseInfo, PoolInfo, ReadoutInfo, ReadoutTapInfo } from './shapes.ts';
export { readoutForward, readoutFor, multiscaleTapLayers, FEATURE_CHOICES, COLOUR_BINS, type FeatureChoice } from './readout.ts';
export { CpuSession, type InferenceSession, type BackendName } from './session.ts';
export { CpuNetwork, type KernelSet, type NetworkKernels } from './cpu/network.ts';
export { createCpuKernels, loadWasmKernels, wasmSimdSupported, WasmKernels } from './wasm/load.ts';
export { initParams } from './init.ts';
export { Random } from './random.ts';
export { Trainer, augmentBatch, jitterColours, rotateImages, learningRate, type SgdOptions, type Schedule, type StepResult, type AugmentOptions } from './train.ts';
export { fit, evaluate, type Dataset, type FitOptions, type EpochReport, type Evaluation, type Stepper } from './fit.ts';
export { trainHead, replaceHead, addPrototypes, uprightOutputs, headLayerIndex, featureSize, HeadTrainer, type Head, type HeadOptions, type HeadEpoch } from './fewshot.ts';
export { classicCifarSpec, wideCifarSpec, ARCHITECTURES, CIFAR10_LABELS } from './zoo.ts';
export { pruneDense, denseSparsity, type PruneOptions, type PruneResult, type DenseSparsity, type DenseLayerZeros } from './compress.ts';
export { encodeModel, decodeModel, ModelFileError, FORMAT_VERSION, DENSE_ENCODINGS, crc32 } from './format/native.ts';
export type { ModelMeta, TrainingSummary, DenseEncoding, EncodeOptions } from './format/native.ts';
export { importTfjsLayers, exportTfjsLayers } from './format/tfjs.ts';
export type { TfjsImportOptions, TfjsExportOptions, TfjsExport, TfjsModelJson, TfjsMetadata, TfjsWeightEntry } from './format/tfjs.ts';
export { createSession, EngineSession, type BackendChoice, type CreateSessionOptions } from './backend.ts';
export { WebglSession, createWebglSession, type WebglSessionOptions, type WebglStatus } from './webgl/session.ts';

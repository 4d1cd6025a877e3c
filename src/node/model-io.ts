// Reading and writing model files from Node (the CLI, scripts). Every model the tools load goes
// through loadModelFile, which picks the reader by format.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { decodeModel, encodeModel, ModelFileError, type EncodeOptions, type ModelMeta } from '../engine/format/native.ts';
import type { Model } from '../engine/spec.ts';

export type ModelFormat = 'cnn' | 'tfjs-layers';

export interface LoadedModelFile {
  model: Model;
  meta: ModelMeta;
  format: ModelFormat;
}

/** The format of a model file, from its name: `.cnn`, or a TF.js Layers `model.json`. */
export function modelFormatOf(path: string): ModelFormat {
  const name = basename(path).toLowerCase();
  if (name.endsWith('.cnn')) return 'cnn';
  if (name.endsWith('.json')) return 'tfjs-layers';
  throw new ModelFileError(`${path}: unknown model file type (expected a .cnn file or a TF.js Layers model.json)`);
}

export function loadModelFile(path: string): LoadedModelFile {
  const format = modelFormatOf(path);
  if (!existsSync(path)) throw new ModelFileError(`${path}: no such model file`);
  if (statSync(path).isDirectory()) throw new ModelFileError(`${path}: is a folder, not a model file`);
  switch (format) {
    case 'cnn': {
      const bytes = new Uint8Array(readFileSync(path));
      try {
        return { ...decodeModel(bytes), format };
      } catch (e) {
        if (e instanceof Error) e.message = `${path}: ${e.message}`;
        throw e;
      }
    }
    case 'tfjs-layers':
      // The TF.js Layers reader belongs here: parse model.json, read the weight files its
      // weightsManifest lists (paths relative to the model.json folder) and convert.
      throw new ModelFileError(`${path}: reading TF.js Layers models (model.json) is not supported by this tool yet; use a .cnn file`);
  }
}

/** Writes a .cnn file (creating its folder); returns its size in bytes. */
export function saveModelFile(path: string, model: Model, meta: ModelMeta = {}, options: EncodeOptions = {}): number {
  if (modelFormatOf(path) !== 'cnn') throw new ModelFileError(`${path}: models are written as .cnn files; give the output a .cnn name`);
  const bytes = encodeModel(model, meta, options);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return bytes.length;
}

// Reading and writing model files from Node (the CLI, scripts). Every model the tools load goes
// through loadModelFile, which picks the reader by format.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeModel, encodeModel, ModelFileError, type EncodeOptions, type ModelMeta } from '../engine/format/native.ts';
import { exportTfjsLayers, importTfjsLayers, type TfjsImportOptions } from '../engine/format/tfjs.ts';
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

/**
 * Reads a `.cnn` file or a TF.js Layers `model.json` (with the weight files its manifest lists,
 * relative to its folder). `tfjs` gives what model.json cannot hold: input normalisation and
 * labels (by default those recorded by our own export, else inputs scaled to 0–1).
 */
export function loadModelFile(path: string, tfjs: TfjsImportOptions = {}): LoadedModelFile {
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
      try {
        const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
        const manifest = (json as { weightsManifest?: unknown }).weightsManifest;
        if (!Array.isArray(manifest)) throw new ModelFileError('model.json: no weightsManifest array');
        const shards = manifest.flatMap((group: { paths?: unknown }) => {
          if (!Array.isArray(group?.paths)) throw new ModelFileError('model.json: a weightsManifest group has no paths');
          return group.paths.map((p: unknown) => {
            const file = resolve(dirname(path), String(p));
            if (!existsSync(file)) throw new ModelFileError(`weight file ${p} (listed in the manifest) is missing`);
            return new Uint8Array(readFileSync(file));
          });
        });
        return { model: importTfjsLayers(json, shards, tfjs), meta: { name: basename(dirname(resolve(path))) }, format };
      } catch (e) {
        if (e instanceof SyntaxError) throw new ModelFileError(`${path}: not valid JSON (${e.message})`);
        if (e instanceof Error) e.message = `${path}: ${e.message}`;
        throw e;
      }
  }
}

/**
 * Writes a `.cnn` file, or a TF.js Layers `model.json` plus its weight file `model.weights.bin`
 * beside it (creating the folder); returns the bytes written.
 */
export function saveModelFile(path: string, model: Model, meta: ModelMeta = {}, options: EncodeOptions = {}): number {
  const format = modelFormatOf(path);
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'tfjs-layers') {
    const weightsPath = `${basename(path, '.json')}.weights.bin`;
    const { modelJson, weightData } = exportTfjsLayers(model, { weightsPath });
    const text = JSON.stringify(modelJson);
    writeFileSync(join(dirname(path), weightsPath), weightData);
    writeFileSync(path, text);
    return text.length + weightData.length;
  }
  const bytes = encodeModel(model, meta, options);
  writeFileSync(path, bytes);
  return bytes.length;
}

// Loading labelled image datasets from disk (Node only), and splitting them.
//
// Two layouts:
// - binary: a folder with images.u8 (N × H × W × C bytes, NHWC, RGB), labels.u8 (N bytes) and
//   meta.json ({"classes": [...]}, optionally "height", "width", "channels" — default 32×32×3 —
//   and "count"), the layout of the cifar10-4k set;
// - image folders: a folder with one sub-folder per class (the class name is the folder name,
//   classes in code-point order), each holding .png / .jpg / .jpeg images; every image is centre-
//   cropped to a square and resized to 32×32 RGB by area averaging.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { centerCropResize } from '../camera/center-crop-resize.ts';
import type { Dataset } from '../engine/fit.ts';
import { Random } from '../engine/random.ts';

/** A dataset that cannot be read or used; the message names the file and the numbers. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** A Dataset plus the image shape it was stored with. */
export interface LoadedDataset extends Dataset, ImageShape {}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** Labels are bytes. */
const MAX_CLASSES = 256;
const IMAGE_SIDE = 32;

function fail(message: string): never {
  throw new DatasetError(message);
}

/** Loads either layout (see the file comment). */
export function loadDataset(path: string): LoadedDataset {
  if (!existsSync(path)) fail(`dataset ${path}: no such file or folder`);
  if (!statSync(path).isDirectory()) {
    fail(`dataset ${path}: is a file; expected a folder with images.u8, labels.u8 and meta.json, or one sub-folder of images per class`);
  }
  return existsSync(join(path, 'images.u8')) || existsSync(join(path, 'labels.u8')) || existsSync(join(path, 'meta.json'))
    ? loadBinaryDataset(path)
    : loadImageFolders(path);
}

function positiveInt(v: unknown, fallback: number, what: string, file: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`${file}: "${what}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function checkClasses(classes: unknown, where: string): string[] {
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string' || c.length === 0)) {
    fail(`${where}: "classes" must be a non-empty array of class names, got ${JSON.stringify(classes)?.slice(0, 80)}`);
  }
  if (classes.length > MAX_CLASSES) fail(`${where}: ${classes.length} classes exceed the limit of ${MAX_CLASSES} (labels are bytes)`);
  const seen = new Set<string>();
  for (const c of classes as string[]) {
    if (seen.has(c)) fail(`${where}: class "${c}" appears twice`);
    seen.add(c);
  }
  return classes as string[];
}

function loadBinaryDataset(dir: string): LoadedDataset {
  for (const f of ['images.u8', 'labels.u8', 'meta.json']) {
    if (!existsSync(join(dir, f))) fail(`dataset ${dir}: missing ${f} (expected images.u8, labels.u8 and meta.json)`);
  }
  const metaFile = join(dir, 'meta.json');
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  } catch (e) {
    fail(`${metaFile}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) fail(`${metaFile}: expected a JSON object`);
  const classes = checkClasses(meta.classes, metaFile);
  const height = positiveInt(meta.height, IMAGE_SIDE, 'height', metaFile);
  const width = positiveInt(meta.width, IMAGE_SIDE, 'width', metaFile);
  const channels = positiveInt(meta.channels, 3, 'channels', metaFile);
  const imageSize = height * width * channels;

  const images = new Uint8Array(readFileSync(join(dir, 'images.u8')));
  const labels = new Uint8Array(readFileSync(join(dir, 'labels.u8')));
  if (images.length % imageSize !== 0) {
    fail(`${join(dir, 'images.u8')}: ${images.length} bytes is not a multiple of ${imageSize} (${height}×${width}×${channels} per image)`);
  }
  const count = images.length / imageSize;
  if (labels.length !== count) fail(`${join(dir, 'labels.u8')}: ${labels.length} labels for ${count} images in images.u8`);
  if (meta.count !== undefined && meta.count !== count) fail(`${metaFile}: "count" is ${JSON.stringify(meta.count)}, but images.u8 holds ${count} images`);
  checkLabels(labels, classes.length, join(dir, 'labels.u8'));
  return { images, labels, count, classes, height, width, channels };
}

function checkLabels(labels: Uint8Array, classes: number, where: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) fail(`${where}: label ${labels[i]} of image ${i} is outside 0..${classes - 1} (${classes} classes)`);
  }
}

/** Decodes a PNG or JPEG file to RGBA. */
export function decodeImageFile(file: string): { data: Uint8Array; width: number; height: number } {
  const bytes = readFileSync(file);
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(bytes);
      return { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), width: png.width, height: png.height };
    }
    const jpg = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 100 });
    return { data: jpg.data, width: jpg.width, height: jpg.height };
  } catch (e) {
    fail(`${file}: cannot decode as ${ext === '.png' ? 'PNG' : 'JPEG'} (${(e as Error).message})`);
  }
}

function loadImageFolders(dir: string): LoadedDataset {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const classDirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classDirs.length === 0) {
    fail(`dataset ${dir}: no images.u8, labels.u8, meta.json and no class sub-folders; expected one of the two dataset layouts`);
  }
  const classes = checkClasses(classDirs, `dataset ${dir}`);
  const files: { file: string; label: number }[] = [];
  classes.forEach((name, label) => {
    const images = readdirSync(join(dir, name))
      .filter((f) => !f.startsWith('.') && IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort();
    if (images.length === 0) fail(`dataset ${dir}: class folder "${name}" has no .png, .jpg or .jpeg images`);
    for (const f of images) files.push({ file: join(dir, name, f), label });
  });
  const imageSize = IMAGE_SIDE * IMAGE_SIDE * 3;
  const images = new Uint8Array(files.length * imageSize);
  const labels = new Uint8Array(files.length);
  files.forEach(({ file, label }, i) => {
    const img = decodeImageFile(file);
    centerCropResize(img.data, img.width, img.height, images.subarray(i * imageSize, (i + 1) * imageSize));
    labels[i] = label;
  });
  return { images, labels, count: files.length, classes, height: IMAGE_SIDE, width: IMAGE_SIDE, channels: 3 };
}

/** The images at `indices`, in that order, with their labels and the same classes. */
export function pickImages<D extends Dataset>(ds: D, indices: ArrayLike<number>): D {
  const size = ds.count === 0 ? 0 : ds.images.length / ds.count;
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(Number.isInteger(j) && j >= 0 && j < ds.count)) throw new RangeError(`pickImages: index ${j} is outside 0..${ds.count - 1}`);
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = ds.labels[j];
  }
  return { ...ds, images, labels, count: indices.length };
}

/** Indices of each class's images, in dataset order: byClass[c] lists the images with label c. */
export function indicesByClass(ds: Dataset): number[][] {
  const byClass = ds.classes.map(() => [] as number[]);
  for (let i = 0; i < ds.count; i++) byClass[ds.labels[i]].push(i);
  return byClass;
}

/**
 * Splits off `fraction` of every class (rounded per class) as the held-out part, chosen at random
 * with `seed`; both parts keep dataset order. The same seed gives the same split.
 */
export function splitDataset<D extends Dataset>(ds: D, fraction: number, seed: number): { train: D; held: D } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`split: fraction ${fraction} must be in [0, 1)`);
  const rng = new Random(seed);
  const train: number[] = [];
  const held: number[] = [];
  for (const indices of indicesByClass(ds)) {
    const shuffled = rng.shuffle(indices.slice());
    const k = Math.round(fraction * indices.length);
    held.push(...shuffled.slice(0, k));
    train.push(...shuffled.slice(k));
  }
  const byIndex = (a: number, b: number) => a - b;
  return { train: pickImages(ds, train.sort(byIndex)), held: pickImages(ds, held.sort(byIndex)) };
}

/**
 * The images of the given classes (names or indices), relabelled 0..k−1 in the order given.
 */
export function subsetByClasses<D extends Dataset>(ds: D, classes: readonly (string | number)[]): D {
  if (classes.length === 0) throw new RangeError('subset: no classes given');
  const picked = classes.map((c) => {
    const index = typeof c === 'number' ? c : ds.classes.indexOf(c);
    if (!(Number.isInteger(index) && index >= 0 && index < ds.classes.length)) {
      throw new RangeError(`subset: no class ${JSON.stringify(c)} (classes: ${ds.classes.join(', ')})`);
    }
    return index;
  });
  const newLabel = new Int16Array(ds.classes.length).fill(-1);
  picked.forEach((c, i) => {
    if (newLabel[c] >= 0) throw new RangeError(`subset: class "${ds.classes[c]}" given twice`);
    newLabel[c] = i;
  });
  const indices: number[] = [];
  for (let i = 0; i < ds.count; i++) if (newLabel[ds.labels[i]] >= 0) indices.push(i);
  const sub = pickImages(ds, indices);
  for (let i = 0; i < sub.count; i++) sub.labels[i] = newLabel[sub.labels[i]];
  return { ...sub, classes: picked.map((c) => ds.classes[c]) };
}

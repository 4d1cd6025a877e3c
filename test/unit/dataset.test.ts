import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { centerCropResize } from '../../src/camera/center-crop-resize.ts';
import { DatasetError, loadDataset, splitDataset, subsetByClasses } from '../../src/node/dataset.ts';

const CIFAR = fileURLToPath(new URL('../../../shared/data/cifar10-4k', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'dataset-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A deterministic RGBA test image with structure in every channel. */
function pattern(w: number, h: number): Uint8Array {
  const img = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      img[p] = (x * 37 + y * 11) & 0xff;
      img[p + 1] = (x * y + 3 * y) & 0xff;
      img[p + 2] = ((x ^ y) * 9) & 0xff;
      img[p + 3] = 255;
    }
  return img;
}

/**
 * Reference: upsample the centred square crop by nearest neighbour to a grid both sizes divide
 * (lcm), then take plain block means. Returns unrounded means.
 */
function referenceResize(rgba: Uint8Array, w: number, h: number, side: number): Float64Array {
  const s = Math.min(w, h);
  const x0 = Math.floor((w - s) / 2);
  const y0 = Math.floor((h - s) / 2);
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const fine = (s * side) / gcd(s, side);
  const up = fine / s;
  const block = fine / side;
  const out = new Float64Array(side * side * 3);
  for (let fy = 0; fy < fine; fy++)
    for (let fx = 0; fx < fine; fx++) {
      const sy = y0 + Math.floor(fy / up);
      const sx = x0 + Math.floor(fx / up);
      const o = (Math.floor(fy / block) * side + Math.floor(fx / block)) * 3;
      for (let c = 0; c < 3; c++) out[o + c] += rgba[(sy * w + sx) * 4 + c];
    }
  return out.map((v) => v / (block * block));
}

function expectRoundedFrom(actual: Uint8Array, means: Float64Array): void {
  let worst = 0;
  for (let i = 0; i < means.length; i++) worst = Math.max(worst, Math.abs(actual[i] - means[i]));
  expect(worst).toBeLessThanOrEqual(0.5 + 1e-9);
}

describe('centerCropResize', () => {
  it('averages 2×2 blocks for a 64×64 image', () => {
    const img = pattern(64, 64);
    const out = centerCropResize(img, 64, 64, new Uint8Array(32 * 32 * 3));
    expectRoundedFrom(out, referenceResize(img, 64, 64, 32));
    // Spot check by hand: output (0, 0) red = mean of the four top-left reds.
    const reds = [img[0], img[4], img[64 * 4], img[64 * 4 + 4]];
    expect(out[0]).toBe(Math.round(reds.reduce((a, b) => a + b) / 4));
  });

  it('crops the centre of a landscape image and weights partly covered pixels (48×40 → 32)', () => {
    const img = pattern(48, 40);
    const out = centerCropResize(img, 48, 40, new Uint8Array(32 * 32 * 3));
    expectRoundedFrom(out, referenceResize(img, 48, 40, 32));
  });

  it('crops the centre of a portrait image (30×47 → 32, upsampling)', () => {
    const img = pattern(30, 47);
    const out = centerCropResize(img, 30, 47, new Uint8Array(32 * 32 * 3));
    expectRoundedFrom(out, referenceResize(img, 30, 47, 32));
  });

  it('repeats pixels when the crop is half the output size', () => {
    const img = pattern(16, 16);
    const out = centerCropResize(img, 16, 16, new Uint8Array(32 * 32 * 3));
    const want = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        for (let c = 0; c < 3; c++) want[(y * 32 + x) * 3 + c] = img[((y >> 1) * 16 + (x >> 1)) * 4 + c];
    expect(out).toEqual(want);
  });

  it('rejects sizes that do not fit', () => {
    expect(() => centerCropResize(new Uint8Array(10), 4, 4, new Uint8Array(3072))).toThrow('centerCropResize: 10 bytes for a 4×4 RGBA image (needs 64)');
    expect(() => centerCropResize(new Uint8Array(64), 4, 4, new Uint8Array(100))).toThrow('output of 100 bytes is not side × side × 3 RGB');
  });
});

describe('loadDataset: binary layout', () => {
  it('reads cifar10-4k as stored', () => {
    const ds = loadDataset(CIFAR);
    expect(ds.count).toBe(4000);
    expect(ds.classes).toHaveLength(10);
    expect(ds.classes[0]).toBe('airplane');
    expect([ds.height, ds.width, ds.channels]).toEqual([32, 32, 3]);
    const raw = readFileSync(join(CIFAR, 'images.u8'));
    expect(Buffer.from(ds.images.subarray(3072 * 17, 3072 * 18)).equals(raw.subarray(3072 * 17, 3072 * 18))).toBe(true);
    const meta = JSON.parse(readFileSync(join(CIFAR, 'meta.json'), 'utf8'));
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    expect(counts).toEqual(meta.countsPerClass);
  });

  function writeBinary(name: string, images: number, labels: number[], meta: unknown): string {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'images.u8'), new Uint8Array(images));
    writeFileSync(join(dir, 'labels.u8'), Uint8Array.from(labels));
    writeFileSync(join(dir, 'meta.json'), typeof meta === 'string' ? meta : JSON.stringify(meta));
    return dir;
  }

  const message = (dir: string): string => {
    try {
      loadDataset(dir);
    } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
      return (e as Error).message;
    }
    throw new Error('loadDataset accepted a bad dataset');
  };

  it('names what is wrong', () => {
    expect(message(writeBinary('size', 3072 * 2 + 5, [0, 1], { classes: ['a', 'b'] }))).toMatch(
      /images\.u8: 6149 bytes is not a multiple of 3072 \(32×32×3 per image\)$/,
    );
    expect(message(writeBinary('count', 3072 * 2, [0, 1, 1], { classes: ['a', 'b'] }))).toMatch(/labels\.u8: 3 labels for 2 images in images\.u8$/);
    expect(message(writeBinary('label', 3072 * 2, [0, 2], { classes: ['a', 'b'] }))).toMatch(/labels\.u8: label 2 of image 1 is outside 0\.\.1 \(2 classes\)$/);
    expect(message(writeBinary('json', 3072, [0], '{"classes": ['))).toMatch(/meta\.json: invalid JSON/);
    expect(message(writeBinary('classes', 3072, [0], { classes: [] }))).toMatch(/"classes" must be a non-empty array of class names/);
    const missing = writeBinary('missing', 3072, [0], { classes: ['a'] });
    rmSync(join(missing, 'labels.u8'));
    expect(message(missing)).toMatch(/missing labels\.u8/);
    expect(message(join(tmp, 'nowhere'))).toMatch(/nowhere: no such file or folder$/);
    expect(message(join(missing, 'images.u8'))).toMatch(/is a file; expected a folder/);
    // A different image shape from meta.json.
    const small = loadDataset(writeBinary('shape', 8 * 8 * 1 * 3, [0, 0, 0], { classes: ['a'], height: 8, width: 8, channels: 1 }));
    expect([small.count, small.height, small.channels]).toEqual([3, 8, 1]);
  });
});

describe('loadDataset: one folder of images per class', () => {
  const root = join(tmp, 'folders');
  const cat = pattern(64, 48);
  mkdirSync(join(root, 'cat'), { recursive: true });
  mkdirSync(join(root, 'Dog'), { recursive: true });
  const png = new PNG({ width: 64, height: 48 });
  png.data.set(cat);
  writeFileSync(join(root, 'cat', 'b.png'), PNG.sync.write(png));
  writeFileSync(join(root, 'cat', 'notes.txt'), 'not an image');
  const solid = new Uint8Array(40 * 30 * 4);
  for (let i = 0; i < solid.length; i += 4) solid.set([200, 40, 90, 255], i);
  writeFileSync(join(root, 'cat', 'a.JPG'), jpeg.encode({ data: solid, width: 40, height: 30 }, 100).data);
  writeFileSync(join(root, 'Dog', 'x.png'), PNG.sync.write(png));

  it('loads, crops and resizes every image, classes in code-point order', () => {
    const ds = loadDataset(root);
    expect(ds.classes).toEqual(['Dog', 'cat']);
    expect(ds.count).toBe(3);
    expect(Array.from(ds.labels)).toEqual([0, 1, 1]);
    // Dog/x.png and cat/b.png are the same pattern, resized exactly as the reference does.
    expectRoundedFrom(ds.images.subarray(0, 3072), referenceResize(cat, 64, 48, 32));
    expect(ds.images.subarray(2 * 3072)).toEqual(ds.images.subarray(0, 3072));
    // cat/a.JPG: a solid colour survives JPEG at quality 100 within a few levels.
    const jpg = ds.images.subarray(3072, 2 * 3072);
    for (let i = 0; i < 3072; i += 3) {
      expect(Math.abs(jpg[i] - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(jpg[i + 1] - 40)).toBeLessThanOrEqual(3);
      expect(Math.abs(jpg[i + 2] - 90)).toBeLessThanOrEqual(3);
    }
  });

  it('reports empty class folders and undecodable images', () => {
    mkdirSync(join(tmp, 'empty', 'a'), { recursive: true });
    expect(() => loadDataset(join(tmp, 'empty'))).toThrow(/class folder "a" has no \.png, \.jpg or \.jpeg images/);
    mkdirSync(join(tmp, 'broken', 'a'), { recursive: true });
    writeFileSync(join(tmp, 'broken', 'a', 'x.png'), 'not really a png');
    expect(() => loadDataset(join(tmp, 'broken'))).toThrow(/x\.png: cannot decode as PNG/);
  });
});

describe('splitDataset and subsetByClasses', () => {
  const ds = loadDataset(CIFAR);

  it('splits every class by the fraction, deterministically, without overlap', () => {
    const { train, held } = splitDataset(ds, 0.1, 5);
    expect(train.count + held.count).toBe(ds.count);
    const count = (d: typeof ds, c: number) => d.labels.filter((l) => l === c).length;
    for (let c = 0; c < 10; c++) expect(count(held, c)).toBe(Math.round(0.1 * count(ds, c)));
    // Together the parts hold exactly the dataset's images and labels (as multisets).
    const keys = (d: typeof ds) =>
      Array.from({ length: d.count }, (_, i) => createHash('sha1').update(d.images.subarray(i * 3072, (i + 1) * 3072)).digest('hex') + d.labels[i]);
    expect([...keys(train), ...keys(held)].sort().join()).toBe(keys(ds).sort().join());
    const again = splitDataset(ds, 0.1, 5);
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    expect(same(again.held.images, held.images)).toBe(true);
    expect(same(again.train.labels, train.labels)).toBe(true);
    expect(same(splitDataset(ds, 0.1, 6).held.images, held.images)).toBe(false);
  });

  it('keeps and relabels the chosen classes in the order given', () => {
    const sub = subsetByClasses(ds, ['ship', 1]);
    expect(sub.classes).toEqual(['ship', 'automobile']);
    expect(sub.count).toBe(407 + 366);
    const firstShip = ds.labels.indexOf(8);
    // Labels follow the order given: ship → 0, automobile → 1, and dataset order is kept.
    const expected = Array.from(ds.labels).filter((l) => l === 8 || l === 1).map((l) => (l === 8 ? 0 : 1));
    expect(Array.from(sub.labels)).toEqual(expected);
    const at = Array.from(ds.labels).filter((l, i) => i < firstShip && (l === 8 || l === 1)).length;
    expect(sub.images.subarray(at * 3072, (at + 1) * 3072)).toEqual(ds.images.subarray(firstShip * 3072, (firstShip + 1) * 3072));
    expect(() => subsetByClasses(ds, ['unicorn'])).toThrow(/no class "unicorn"/);
  });
});

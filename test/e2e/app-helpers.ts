// Shared pieces of the app's browser tests: watching for errors and foreign requests, test
// images written as PNG files, the model the app runs, and the command-line tool's answer for
// the same image.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { decodeModel, encodeModel, MAGIC } from '../../src/engine/format/native.ts';
import { untrainedDefaultModel } from '../../src/worker/default-model.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The folder the preview server serves (the built app). */
export const DIST = resolve(ROOT, process.env.E2E_DIST_DIR ?? 'dist');

const scratch = mkdtempSync(join(tmpdir(), 'app-e2e-'));

export function scratchPath(name: string): string {
  return join(scratch, name);
}

/** Collects page errors and console errors (a CSP violation is logged as one). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Every URL the context requests, from pages, workers and the service worker. */
export function watchRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (r) => urls.push(r.url()));
  return urls;
}

export function foreignRequests(urls: string[], origin: string): string[] {
  return urls.filter((u) => !(u.startsWith('data:') || u.startsWith('blob:') || new URL(u).origin === origin));
}

/** Waits until the engine has loaded its model and the app is interactive. */
export async function openApp(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
}

export interface TestImage {
  path: string;
  width: number;
  height: number;
  /** RGBA bytes, row-major. */
  rgba: Uint8Array;
}

/**
 * A deterministic picture with structure at several scales (gradients, a disc, stripes), so a
 * network's outputs differ clearly between images and between classes.
 */
export function writeTestPng(name: string, width: number, height: number, variant = 0): TestImage {
  const png = new PNG({ width, height, colorType: 6 });
  const cx = width * (0.55 + 0.1 * variant);
  const cy = height * 0.45;
  const r = Math.min(width, height) * 0.28;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
      const stripe = Math.floor((x + 2 * y) / Math.max(2, Math.round(width / 24))) % 2;
      const gx = x / (width - 1);
      const gy = y / (height - 1);
      png.data[i] = inDisc ? 230 - 40 * gy : Math.round(255 * gx * (variant % 2 ? 1 - gy : gy));
      png.data[i + 1] = inDisc ? 200 * gx : stripe ? 40 + 30 * variant : 170;
      png.data[i + 2] = inDisc ? 60 : Math.round(255 * (1 - gx) * (0.5 + 0.5 * stripe));
      png.data[i + 3] = 255;
    }
  }
  const path = scratchPath(name);
  writeFileSync(path, PNG.sync.write(png));
  return { path, width, height, rgba: new Uint8Array(png.data) };
}

/**
 * The model file the app runs: models/default.cnn as the app serves it when that is a model
 * file, else the untrained network the worker falls back to, written as a .cnn file.
 */
export async function appModelFile(page: Page): Promise<{ path: string; trained: boolean; labels: string[] }> {
  const response = await page.request.get('/models/default.cnn');
  const body = new Uint8Array(await response.body());
  const path = scratchPath('app-model.cnn');
  if (response.ok() && MAGIC.every((b, i) => body[i] === b)) {
    const { model } = decodeModel(body); // fails the test here if the served file is broken
    writeFileSync(path, body);
    return { path, trained: true, labels: model.spec.labels };
  }
  const model = untrainedDefaultModel();
  writeFileSync(path, encodeModel(model, { name: 'untrained default' }));
  return { path, trained: false, labels: model.spec.labels };
}

/** `npm run cli -- predict --model <model> --images <png>`: the probabilities it prints. */
export function cliPredict(model: string, image: string): number[] {
  const out = execFileSync('npm', ['run', '--silent', 'cli', '--', 'predict', '--model', model, '--images', image], { cwd: ROOT, encoding: 'utf8' });
  const lines = out.trim().split('\n');
  expect(lines, `cli predict printed ${out}`).toHaveLength(1);
  return JSON.parse(lines[0]) as number[];
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * Counts the page's predict calls to the engine worker at the postMessage level, independently
 * of the app's own counters: calls in flight (sent, not yet answered), the most at once, and
 * whether each call's image buffer was transferred (detached here after sending).
 */
export const PREDICT_PROBE = `(() => {
  const probe = { sent: 0, answered: 0, inFlight: 0, maxInFlight: 0, transferred: 0, copied: 0, sizes: [] };
  const open = new Set();
  globalThis.__predictProbe = probe;
  // The answer listener must run before the app's own (Comlink's), which may send the next
  // frame as soon as it has the answer: listeners run in the order they were added, so add it
  // when the worker is made.
  const NativeWorker = globalThis.Worker;
  globalThis.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const id = e.data && e.data.id;
        if (open.has(id)) {
          open.delete(id);
          probe.inFlight--;
          probe.answered++;
        }
      });
    }
  };
  const post = NativeWorker.prototype.postMessage;
  NativeWorker.prototype.postMessage = function (message, transfer) {
    // Live frames go as predict(bytes, …) or, where the worker reads the frame, predictFrame(frame, bytes, …).
    const method = message && message.type === 'APPLY' && Array.isArray(message.path) ? message.path[0] : null;
    const isPredict = method === 'predict' || method === 'predictFrame';
    const at = method === 'predictFrame' ? 1 : 0;
    const bytes = isPredict ? message.argumentList[at] && message.argumentList[at].value : null;
    const size = bytes instanceof Uint8Array ? bytes.byteLength : -1;
    const result = post.call(this, message, transfer);
    if (isPredict) {
      open.add(message.id);
      probe.sent++;
      probe.inFlight++;
      probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
      if (bytes instanceof Uint8Array && bytes.buffer.byteLength === 0) probe.transferred++;
      else probe.copied++;
      if (probe.sizes.length < 4) probe.sizes.push(size);
    }
    return result;
  };
})();`;

export interface PredictProbe {
  sent: number;
  answered: number;
  inFlight: number;
  maxInFlight: number;
  transferred: number;
  copied: number;
  sizes: number[];
}

export async function readProbe(page: Page): Promise<PredictProbe> {
  return page.evaluate(() => (globalThis as unknown as { __predictProbe: PredictProbe }).__predictProbe);
}

/**
 * Writes `image` as a Y4M video (4:2:0, studio range) of `frames` identical frames, for
 * Chromium's --use-file-for-fake-video-capture. BT.709 coefficients: Chromium takes the file's
 * untagged frames as BT.709 (BT.601 here comes back 5–10 levels darker in red and green).
 */
export function writeY4m(path: string, image: TestImage, frames = 2): void {
  writeY4mSequence(path, [image], frames);
}

/**
 * A Y4M video (4:2:0, BT.709 studio range, 20 frames/s) showing each picture for `framesEach`
 * frames in turn; Chromium's fake camera plays it in a loop.
 */
export function writeY4mSequence(path: string, images: Pick<TestImage, 'width' | 'height' | 'rgba'>[], framesEach: number): void {
  const { width: w, height: h } = images[0];
  if (w % 2 || h % 2) throw new Error(`writeY4m: ${w}×${h} must be even for 4:2:0`);
  if (images.some((im) => im.width !== w || im.height !== h)) throw new Error('writeY4m: every picture must have the same size');
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  const frameOf = (rgba: Uint8Array): Buffer => {
    const y = new Uint8Array(w * h);
    const u = new Uint8Array((w / 2) * (h / 2));
    const v = new Uint8Array((w / 2) * (h / 2));
    for (let i = 0; i < w * h; i++) {
      const r = rgba[i * 4] / 255;
      const g = rgba[i * 4 + 1] / 255;
      const b = rgba[i * 4 + 2] / 255;
      y[i] = clamp(16 + 46.559 * r + 156.629 * g + 15.812 * b);
    }
    for (let cy = 0; cy < h / 2; cy++) {
      for (let cx = 0; cx < w / 2; cx++) {
        let cb = 0;
        let cr = 0;
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
          const p = ((2 * cy + dy) * w + 2 * cx + dx) * 4;
          const r = rgba[p] / 255;
          const g = rgba[p + 1] / 255;
          const b = rgba[p + 2] / 255;
          cb += 128 - 25.664 * r - 86.336 * g + 112 * b;
          cr += 128 + 112 * r - 101.73 * g - 10.27 * b;
        }
        u[cy * (w / 2) + cx] = clamp(cb / 4);
        v[cy * (w / 2) + cx] = clamp(cr / 4);
      }
    }
    return Buffer.concat([Buffer.from('FRAME\n'), y, u, v]);
  };
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F20:1 Ip A1:1 C420jpeg\n`);
  const frames = images.flatMap((im) => {
    const f = frameOf(im.rgba);
    return Array.from({ length: framesEach }, () => f);
  });
  writeFileSync(path, Buffer.concat([header, ...frames]));
}

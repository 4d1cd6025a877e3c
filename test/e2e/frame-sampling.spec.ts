// Live frames are reduced in the engine worker (VideoFrameSampler), photos on the page
// (SquareSampler on a decoded ImageBitmap). Both must give the network the same input for the same
// picture. Here a known 640 × 480 picture is made into VideoFrames (RGBA, and I420 as a camera
// delivers it), each reduced in a dedicated worker by the app's VideoFrameSampler and on the page by
// the app's SquareSampler; the RGBA results are also compared with centerCropResize run in Node on
// the same pixels (exact area averaging, the command-line tool's path).
import { expect, test } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { centerCropResize } from '../../src/camera/center-crop-resize.ts';

const W = 640;
const H = 480;
const OUT = 32 * 32 * 3;

/** Bundles one module of src/camera into a classic script defining globalThis[name]. */
async function bundle(file: string, name: string): Promise<string> {
  const entry = fileURLToPath(new URL(`../../src/camera/${file}`, import.meta.url));
  const result = await build({ configFile: false, logLevel: 'silent', build: { write: false, minify: false, lib: { entry, formats: ['iife'], name, fileName: name } } });
  for (const out of Array.isArray(result) ? result : [result]) {
    if (!('output' in out)) continue;
    const chunk = out.output.find((o) => o.type === 'chunk');
    if (chunk && chunk.type === 'chunk') return `${chunk.code}\nglobalThis.${name} = ${name};`;
  }
  throw new Error(`bundle ${file}: vite produced no JavaScript chunk`);
}

/** Gradients, a disc, fine stripes and a checkerboard corner: structure at every scale. */
function picture(): Uint8Array {
  const rgba = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      const disc = (x - 300) ** 2 + (y - 220) ** 2 < 120 ** 2;
      const stripe = Math.floor((x + 2 * y) / 9) % 2;
      const checker = x > 420 && y > 300 && (((x >> 2) + (y >> 2)) & 1) === 1;
      rgba[i] = disc ? 230 - (y >> 2) : checker ? 250 : Math.round((255 * x) / (W - 1));
      rgba[i + 1] = disc ? (x * 255) / W : stripe ? 60 : 180;
      rgba[i + 2] = checker ? 10 : disc ? 70 : Math.round((255 * (H - 1 - y)) / (H - 1));
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

/** BT.601 limited-range I420 of the picture (what a camera delivers), chroma averaged over 2×2. */
function i420(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array(W * H * 1.5);
  const u0 = W * H;
  const v0 = u0 + (W / 2) * (H / 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      out[y * W + x] = Math.round(16 + 0.257 * rgba[i] + 0.504 * rgba[i + 1] + 0.098 * rgba[i + 2]);
    }
  }
  for (let y = 0; y < H / 2; y++) {
    for (let x = 0; x < W / 2; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = ((2 * y + dy) * W + 2 * x + dx) * 4;
        r += rgba[i] / 4;
        g += rgba[i + 1] / 4;
        b += rgba[i + 2] / 4;
      }
      out[u0 + y * (W / 2) + x] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      out[v0 + y * (W / 2) + x] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

test('a frame reduced in the worker equals the page path (within ±1 per byte) and the area-averaging reference', async ({ page }) => {
  const [pageScript, workerScript] = await Promise.all([bundle('square-sampler.ts', 'PageSampling'), bundle('video-frame-sampler.ts', 'WorkerSampling')]);
  const rgba = picture();
  const yuv = i420(rgba);
  // A page of its own on the test server's origin (no app, no CSP).
  await page.route('**/frame-sampling-test', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>frame sampling</title>' }));
  await page.goto('/frame-sampling-test');
  await page.addScriptTag({ content: pageScript });
  const got = await page.evaluate(
    async ({ workerScript, rgba, yuv, W, H, OUT }) => {
      const g = globalThis as unknown as { PageSampling: { SquareSampler: new () => { sample(s: CanvasImageSource, w: number, h: number, out: Uint8Array): Uint8Array } } };
      const workerCode = `${workerScript}
        const sampler = new WorkerSampling.VideoFrameSampler();
        onmessage = (e) => {
          const out = new Uint8Array(${OUT});
          try { sampler.sample(e.data.frame, out); postMessage({ out, closed: e.data.frame.format === null }, [out.buffer]); }
          catch (err) { postMessage({ error: String(err) }); }
        };`;
      const worker = new Worker(URL.createObjectURL(new Blob([workerCode], { type: 'text/javascript' })));
      const inWorker = (frame: VideoFrame) =>
        new Promise<number[]>((resolve, reject) => {
          worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(Array.from(e.data.out as Uint8Array)));
          worker.onerror = (e) => reject(new Error(`frame-sampling worker: ${e.message}`));
          worker.postMessage({ frame }, [frame]);
        });
      const onPage = (source: CanvasImageSource) => Array.from(new g.PageSampling.SquareSampler().sample(source, W, H, new Uint8Array(OUT)));
      const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const rgbaBytes = decode(rgba);
      const yuvBytes = decode(yuv);
      const rgbaFrame = () => new VideoFrame(rgbaBytes, { format: 'RGBA', codedWidth: W, codedHeight: H, timestamp: 0 });
      const yuvFrame = () =>
        new VideoFrame(yuvBytes, { format: 'I420', codedWidth: W, codedHeight: H, timestamp: 0, colorSpace: { matrix: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m', fullRange: false } });
      // The photo path: a decoded image as an ImageBitmap.
      const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(rgbaBytes), W, H), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const photo = onPage(bitmap);
      bitmap.close();
      const pageRgba = rgbaFrame();
      const pageOfRgbaFrame = onPage(pageRgba);
      pageRgba.close();
      const workerRgba = await inWorker(rgbaFrame());
      const pageYuv = yuvFrame();
      const pageOfYuvFrame = onPage(pageYuv);
      pageYuv.close();
      const workerYuv = await inWorker(yuvFrame());
      worker.terminate();
      return { photo, pageOfRgbaFrame, workerRgba, pageOfYuvFrame, workerYuv };
    },
    { workerScript, rgba: Buffer.from(rgba).toString('base64'), yuv: Buffer.from(yuv).toString('base64'), W, H, OUT },
  );
  const reference = Array.from(centerCropResize(rgba, W, H, new Uint8Array(OUT)));
  const d = {
    workerVsPhoto: maxDiff(got.workerRgba, got.photo),
    workerVsPageSameFrame: maxDiff(got.workerRgba, got.pageOfRgbaFrame),
    workerI420VsPageI420: maxDiff(got.workerYuv, got.pageOfYuvFrame),
    workerVsReference: maxDiff(got.workerRgba, reference),
    photoVsReference: maxDiff(got.photo, reference),
    workerI420VsReference: maxDiff(got.workerYuv, reference),
  };
  test.info().annotations.push({ type: 'max / mean absolute difference per byte', description: JSON.stringify(d) });
  // The same pixels give the same input whether the worker or the page reduces them.
  expect(d.workerVsPhoto.max, JSON.stringify(d)).toBeLessThanOrEqual(1);
  expect(d.workerVsPageSameFrame.max, JSON.stringify(d)).toBeLessThanOrEqual(1);
  expect(d.workerI420VsPageI420.max, JSON.stringify(d)).toBeLessThanOrEqual(1);
  // Against exact area averaging, the canvas pre-reduction (480² → 240² → 128² with the browser's
  // 'high' resampling) differs a little on fine stripes and checkers (measured: at most 3 levels,
  // 0.34 on average, for the worker and the photo path alike).
  expect(d.workerVsReference.max, JSON.stringify(d)).toBeLessThanOrEqual(4);
  expect(d.workerVsReference.mean, JSON.stringify(d)).toBeLessThan(1);
  expect(d.photoVsReference.max, JSON.stringify(d)).toBeLessThanOrEqual(4);
  // An I420 frame adds the camera format's chroma subsampling and 8-bit rounding of Y, U and V
  // (measured: at most 6 levels, 0.67 on average).
  expect(d.workerI420VsReference.max, JSON.stringify(d)).toBeLessThanOrEqual(8);
  expect(d.workerI420VsReference.mean, JSON.stringify(d)).toBeLessThan(1.5);
});

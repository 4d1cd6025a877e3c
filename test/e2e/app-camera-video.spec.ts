// The camera plays a video of real photographs (CIFAR-10 images from ../shared, enlarged), and the
// live prediction follows what is in front of the camera: it changes when the picture changes.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { decodeModel } from '../../src/engine/format/native.ts';
import { CpuSession } from '../../src/engine/session.ts';
import baseConfig from '../../playwright.config.ts';
import { openApp, ROOT, scratchPath, writeY4mSequence } from './app-helpers.ts';

const DATA = resolve(ROOT, '../shared/data/cifar10-4k');
const SIDE = 256; // each 32×32 photo enlarged 8× (nearest), so the centre crop is the photo

/** The first images the shipped model labels with high confidence, of distinct predicted classes. */
function confidentPhotos(count: number): { label: string; bytes: Uint8Array }[] {
  const { model } = decodeModel(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/default.cnn'))));
  const session = new CpuSession(model);
  const images = new Uint8Array(readFileSync(resolve(DATA, 'images.u8')));
  const picked: { label: string; bytes: Uint8Array }[] = [];
  for (let i = 0; picked.length < count && i < 4000; i++) {
    const bytes = images.subarray(i * 3072, (i + 1) * 3072);
    const p = session.predict(bytes);
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    const label = model.spec.labels[best];
    if (p[best] > 0.97 && !picked.some((x) => x.label === label)) picked.push({ label, bytes: Uint8Array.from(bytes) });
  }
  return picked;
}

function enlarge(bytes: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(SIDE * SIDE * 4);
  const k = SIDE / 32;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const s = ((Math.floor(y / k) * 32) + Math.floor(x / k)) * 3;
      const d = (y * SIDE + x) * 4;
      rgba[d] = bytes[s];
      rgba[d + 1] = bytes[s + 1];
      rgba[d + 2] = bytes[s + 2];
      rgba[d + 3] = 255;
    }
  }
  return rgba;
}

const photos = confidentPhotos(3);
const video = scratchPath('cifar-photos.y4m');
writeY4mSequence(
  video,
  photos.map((p) => ({ width: SIDE, height: SIDE, rgba: enlarge(p.bytes) })),
  40, // 2 s each at 20 frames/s
);

const baseArgs = (baseConfig.use?.launchOptions?.args ?? []).filter((a) => !a.startsWith('--use-file-for-fake-video-capture'));
test.use({ launchOptions: { ...baseConfig.use?.launchOptions, args: [...baseArgs, `--use-file-for-fake-video-capture=${video}`] } });

test('a video of photographs: the live prediction changes with the picture and names what is shown', async ({ page }) => {
  expect(photos).toHaveLength(3);
  await openApp(page);
  await page.getByRole('button', { name: 'Start camera' }).click();
  const top = page.getByTestId('live-top-label');
  await expect(top).toBeVisible({ timeout: 15_000 });
  const seen = new Set<string>();
  const deadline = Date.now() + 14_000;
  while (Date.now() < deadline && !photos.every((p) => seen.has(p.label))) {
    seen.add((await top.innerText()).trim());
    await page.waitForTimeout(100);
  }
  const shown = photos.map((p) => p.label);
  test.info().annotations.push({ type: 'labels seen', description: `${[...seen].join(', ')} (video shows ${shown.join(', ')})` });
  for (const label of shown) expect([...seen].some((s) => s.includes(label)), `"${label}" among ${[...seen].join(' | ')}`).toBe(true);
});

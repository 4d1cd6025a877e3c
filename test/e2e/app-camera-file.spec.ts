// The camera path with a known picture: Chromium plays a Y4M file as the camera, and the bytes the
// live view sends to the network match the centre crop of that picture, area-averaged by the
// command-line tool's function, to within rounding of the camera format (YUV 4:2:0; measured
// 0.6 levels mean): not mirrored, not shifted, not stretched.
import { expect, test } from '@playwright/test';
import { centerCropResize } from '../../src/camera/center-crop-resize.ts';
import { openApp, scratchPath, writeTestPng, writeY4m } from './app-helpers.ts';
import baseConfig from '../../playwright.config.ts';

// A landscape picture whose left and right halves differ, so a mirror image or a wrong crop shows.
const picture = writeTestPng('camera-picture.png', 640, 480, 3);
const video = scratchPath('camera-picture.y4m');
writeY4m(video, picture);

const baseArgs = (baseConfig.use?.launchOptions?.args ?? []).filter((a) => !a.startsWith('--use-file-for-fake-video-capture'));
test.use({ launchOptions: { ...baseConfig.use?.launchOptions, args: [...baseArgs, `--use-file-for-fake-video-capture=${video}`] } });

test('live frames: the network gets the centre crop of what the camera sees, reduced like the command-line tool does it', async ({ page }) => {
  await openApp(page);
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
  await expect.poll(async () => Number(await page.getByTestId('diagnostics').getAttribute('data-answered')), { timeout: 10_000 }).toBeGreaterThan(2);

  const sent = await page.getByRole('img', { name: /input the network gets/ }).locator('canvas').evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
    return rgb;
  });
  const expected = centerCropResize(picture.rgba, picture.width, picture.height, new Uint8Array(32 * 32 * 3));
  const mirrored = new Uint8Array(expected.length);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) mirrored[(y * 32 + x) * 3 + c] = expected[(y * 32 + 31 - x) * 3 + c];

  const meanDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < b.length; i++) sum += Math.abs(a[i] - b[i]);
    return sum / b.length;
  };
  const diff = meanDiff(sent, expected);
  const diffMirrored = meanDiff(sent, mirrored);
  test.info().annotations.push({ type: 'mean input difference', description: `${diff.toFixed(2)} levels (mirror image: ${diffMirrored.toFixed(2)})` });
  expect(diff, 'mean |live input − centre crop of the picture|, in levels of 255').toBeLessThan(2);
  expect(diffMirrored).toBeGreaterThan(3 * diff);
  // The preview of a camera that does not say it faces the user is still taken as a front camera
  // (laptop webcams), so it is mirrored on screen, while the network gets the true image (above).
  await expect(page.getByTestId('viewport')).toHaveClass(/mirrored/);
});

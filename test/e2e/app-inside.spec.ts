// The Inside panel in the app: closed by default; opened from the keyboard it shows live maps of
// every layer, the filters and the per-layer table (times on the backend in use); it fits a
// 360 px screen; compression is measured on the user's own held-out examples and applied only
// when accepted (and survives a reload).
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { decodeModel } from '../../src/engine/format/native.ts';
import { openApp, ROOT, scratchPath, watchErrors } from './app-helpers.ts';

const DATA = resolve(ROOT, '../shared/data/cifar10-4k');
const meta = JSON.parse(readFileSync(resolve(DATA, 'meta.json'), 'utf8')) as { classes: string[] };
const images = new Uint8Array(readFileSync(resolve(DATA, 'images.u8')));
const labels = new Uint8Array(readFileSync(resolve(DATA, 'labels.u8')));

function photos(className: string, count: number): string[] {
  const k = meta.classes.indexOf(className);
  const out: string[] = [];
  for (let i = 0; i < labels.length && out.length < count; i++) {
    if (labels[i] !== k) continue;
    const png = new PNG({ width: 32, height: 32, colorType: 6 });
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) png.data[p * 4 + c] = images[i * 3072 + p * 3 + c];
      png.data[p * 4 + 3] = 255;
    }
    const path = scratchPath(`inside-${className}-${i}.png`);
    writeFileSync(path, PNG.sync.write(png));
    out.push(path);
  }
  return out;
}

const defaultModel = decodeModel(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/default.cnn')))).model;

async function openInside(page: Page): Promise<void> {
  const summary = page.getByTestId('inside-panel').locator('summary');
  await summary.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('inside-table')).toBeVisible();
}

test('closed by default; opened from the keyboard it shows every layer live, the filters and per-layer times', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await expect(page.getByTestId('inside-panel')).not.toHaveAttribute('open', '');
  await expect(page.getByTestId('inside-table')).toBeHidden();
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).not.toBeEmpty({ timeout: 20_000 });
  await openInside(page);
  const rows = page.getByTestId('inside-table').locator('tbody tr');
  await expect(rows).toHaveCount(defaultModel.spec.layers.length);
  await expect(rows.first()).toContainText(defaultModel.spec.layers[0].name);
  // One tile canvas per layer with a spatial output (conv, pool, 1×1 mix): all but dense and softmax.
  await expect(page.getByTestId('inside-map')).toHaveCount(defaultModel.spec.layers.filter((l) => l.kind !== 'dense' && l.kind !== 'softmax').length);
  await expect.poll(async () => Number(await page.getByTestId('inside-frames').textContent()), { timeout: 15_000 }).toBeGreaterThan(3);
  await expect(page.getByTestId('inside-scores').locator('li')).toHaveCount(defaultModel.spec.labels.length);
  // The maps are painted: the first conv's tiles are not blank.
  const painted = await page.getByTestId('inside-map').first().evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) seen.add(d[i]);
    return seen.size;
  });
  expect(painted).toBeGreaterThan(16);
  // Times on the backend in use, from the keyboard.
  await page.getByTestId('inside-time-button').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('inside-table').locator('thead')).toContainText(/time \((cpu|webgl), ms\)/, { timeout: 20_000 });
  const times = await page.getByTestId('inside-time').allTextContents();
  expect(times.filter((t) => /\d+\.\d{3}/.test(t)).length).toBeGreaterThan(0);
  // Closing stops the maps: the count no longer grows.
  await page.getByTestId('inside-panel').locator('summary').click();
  const before = Number(await page.getByTestId('inside-frames').textContent());
  await page.waitForTimeout(1000);
  expect(Number(await page.getByTestId('inside-frames').textContent())).toBe(before);
  expect(errors).toEqual([]);
});

test('at 360 px the open panel fits the screen (its table scrolls inside itself)', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await openApp(page);
  await openInside(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const box = await page.getByTestId('inside-panel').boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(360);
});

test('compression: needs a taught model; measured on held-out examples; applied only when accepted, and kept after a reload', async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await openApp(page);
  await openInside(page);
  await expect(page.getByTestId('compress-unavailable')).toBeVisible();
  await page.getByTestId('new-model').click();
  const cards = page.getByTestId('teach-class');
  await expect(cards).toHaveCount(2);
  await cards.nth(0).getByTestId('class-file-input').setInputFiles(photos('truck', 10));
  await cards.nth(1).getByTestId('class-file-input').setInputFiles(photos('frog', 10));
  await expect(cards.nth(0)).toHaveAttribute('data-count', '10', { timeout: 20_000 });
  await expect(cards.nth(1)).toHaveAttribute('data-count', '10', { timeout: 20_000 });
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('compress-sparsity').selectOption('50');
  await page.getByTestId('compress-encoding').selectOption('int8');
  await page.getByTestId('compress-measure').click();
  const result = page.getByTestId('compress-result');
  await expect(result).toContainText('Held-out accuracy on 4 of your examples', { timeout: 30_000 });
  const sizes = (await result.textContent())!.match(/Size ([\d.]+) KB → ([\d.]+) KB/)!;
  expect(Number(sizes[2])).toBeLessThan(Number(sizes[1]));
  await page.getByTestId('compress-apply').click();
  await expect(page.getByTestId('compress-note')).toContainText('Applied');
  // After a reload the compressed model serves: its table says the dense layer is int8 and pruned.
  await page.reload();
  await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
  await openInside(page);
  await expect(page.getByTestId('inside-zeros')).toContainText(/5\d(\.\d)? % of the dense weights are zero/);
  expect(errors).toEqual([]);
});

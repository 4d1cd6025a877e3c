// Teaching the app new classes in real Chromium: a new model, classes renamed, examples added from
// image files (real photographs from ../shared) and captured from the fake camera (hold and
// keyboard), one deleted, trained in the worker with a progress report, and then photos of the
// new classes are classified with them. After a reload everything is still there; with the
// network off the whole flow still works; a corrupt import changes nothing; export → import
// gives the same model.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { openApp, ROOT, scratchPath, watchErrors } from './app-helpers.ts';

const DATA = resolve(ROOT, '../shared/data/cifar10-4k');
const meta = JSON.parse(readFileSync(resolve(DATA, 'meta.json'), 'utf8')) as { classes: string[] };
const images = new Uint8Array(readFileSync(resolve(DATA, 'images.u8')));
const labels = new Uint8Array(readFileSync(resolve(DATA, 'labels.u8')));

/** 32×32 PNG files of the first `count` images of a CIFAR class after skipping `skip` of them. */
function photos(className: string, skip: number, count: number): string[] {
  const k = meta.classes.indexOf(className);
  const out: string[] = [];
  for (let i = 0, seen = 0; i < labels.length && out.length < count; i++) {
    if (labels[i] !== k || seen++ < skip) continue;
    const png = new PNG({ width: 32, height: 32, colorType: 6 });
    for (let p = 0; p < 1024; p++) {
      png.data[p * 4] = images[i * 3072 + p * 3];
      png.data[p * 4 + 1] = images[i * 3072 + p * 3 + 1];
      png.data[p * 4 + 2] = images[i * 3072 + p * 3 + 2];
      png.data[p * 4 + 3] = 255;
    }
    const path = scratchPath(`${className}-${i}.png`);
    writeFileSync(path, PNG.sync.write(png));
    out.push(path);
  }
  return out;
}

const classCard = (page: Page, name: string) => page.locator(`[data-testid="teach-class"][data-name="${name}"]`);

async function renameClass(page: Page, from: string, to: string): Promise<void> {
  const input = classCard(page, from).getByTestId('class-name');
  await input.fill(to);
  await input.press('Enter');
  await expect(classCard(page, to)).toBeVisible();
}

async function exampleCount(page: Page, name: string): Promise<number> {
  return Number(await classCard(page, name).getAttribute('data-count'));
}

async function classifyPhotos(page: Page, files: string[]): Promise<string[]> {
  const clear = page.getByRole('button', { name: 'Clear results' });
  if (await clear.count()) await clear.click();
  await page.getByTestId('photo-input').setInputFiles(files);
  await expect(page.getByTestId('photo-result')).toHaveCount(files.length, { timeout: 15_000 });
  return page.getByTestId('photo-top-label').allTextContents();
}

const TRAIN = 12;
const TEST = 8;
const trucks = photos('truck', 0, TRAIN + TEST);
const frogs = photos('frog', 0, TRAIN + TEST);

test('teach two classes from photos and the camera, train, classify with them; reload keeps everything; offline works', async ({ page, context }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await openApp(page);
  // The service worker takes control, so the reload below can be offline.
  await page.evaluate(() => navigator.serviceWorker.ready);

  await page.getByTestId('new-model').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  await expect(page.getByTestId('teach-status')).toContainText('Not trained yet');
  await renameClass(page, 'Class 1', 'truck');
  await renameClass(page, 'Class 2', 'frog');
  // A duplicate name is refused with a message and the class keeps its name.
  const frogName = classCard(page, 'frog').getByTestId('class-name');
  await frogName.fill('Truck');
  await frogName.press('Enter');
  await expect(classCard(page, 'frog').getByRole('alert')).toContainText('already a class named');
  await frogName.press('Escape');

  // Training needs examples in every class.
  await expect(page.getByTestId('train')).toBeDisabled();
  await classCard(page, 'truck').getByTestId('class-file-input').setInputFiles(trucks.slice(0, TRAIN));
  await expect(classCard(page, 'truck')).toHaveAttribute('data-count', String(TRAIN));
  await expect(page.getByTestId('train')).toBeDisabled();
  await classCard(page, 'frog').getByTestId('class-file-input').setInputFiles(frogs.slice(0, TRAIN));
  await expect(classCard(page, 'frog')).toHaveAttribute('data-count', String(TRAIN));
  await expect(classCard(page, 'frog').getByTestId('example')).toHaveCount(TRAIN);

  // A third class from the camera: hold the button ~1.2 s (10 captures per second at most), and
  // a keyboard press adds at least one more.
  await page.getByLabel('Name of the new class').fill('desk');
  await page.getByTestId('add-class').click();
  await expect(classCard(page, 'desk')).toBeVisible();
  await expect(classCard(page, 'desk').getByTestId('capture')).toBeDisabled();
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
  const capture = classCard(page, 'desk').getByTestId('capture');
  await expect(capture).toBeEnabled();
  await capture.hover();
  await page.mouse.down();
  await page.waitForTimeout(1200);
  await page.mouse.up();
  await expect.poll(() => exampleCount(page, 'desk'), { timeout: 5000 }).toBeGreaterThanOrEqual(3);
  const held = await exampleCount(page, 'desk');
  expect(held).toBeLessThanOrEqual(14);
  await capture.focus();
  await page.keyboard.press('Space');
  await expect.poll(() => exampleCount(page, 'desk'), { timeout: 5000 }).toBeGreaterThan(held);
  await expect(capture).toHaveAttribute('aria-pressed', 'false');
  await expect(classCard(page, 'desk').getByTestId('example')).toHaveCount(await exampleCount(page, 'desk'));
  // Delete one example.
  const before = await exampleCount(page, 'desk');
  await classCard(page, 'desk').getByTestId('delete-example').first().click();
  await expect(classCard(page, 'desk')).toHaveAttribute('data-count', String(before - 1));
  const deskCount = before - 1;

  // Train: progress, loss curve, accuracy and the confusion matrix; live predictions switch.
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 30_000 });
  expect(Number(await page.getByTestId('loss-curve').getAttribute('data-points'))).toBeGreaterThan(0);
  await expect(page.getByTestId('confusion').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('teach-status')).toContainText('In use for live predictions');
  await expect(page.locator('.live li[data-index]')).toHaveCount(3);
  await expect(page.getByTestId('live-top-label')).toHaveText(/^(truck|frog|desk)$/, { timeout: 10_000 });

  // Unseen photographs of the two classes are classified with the new classes, mostly right.
  const got = await classifyPhotos(page, [...trucks.slice(TRAIN), ...frogs.slice(TRAIN)]);
  const want = [...Array(TEST).fill('truck'), ...Array(TEST).fill('frog')];
  // Results are listed newest first.
  got.reverse();
  for (const g of got) expect(['truck', 'frog', 'desk']).toContain(g);
  const correct = got.filter((g, i) => g === want[i]).length;
  expect(correct, `${correct} of ${got.length} right: ${got.join(', ')}`).toBeGreaterThanOrEqual(Math.ceil(0.7 * got.length));

  // Reload: the model, its classes, examples and training are still there and in use.
  await page.reload();
  await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId('teach-class')).toHaveCount(3);
  await expect(classCard(page, 'truck')).toHaveAttribute('data-count', String(TRAIN));
  await expect(classCard(page, 'frog')).toHaveAttribute('data-count', String(TRAIN));
  await expect(classCard(page, 'desk')).toHaveAttribute('data-count', String(deskCount));
  await expect(page.getByTestId('teach-status')).toContainText('In use for live predictions');
  await expect(page.locator('.live li[data-index]')).toHaveCount(3);
  await expect(page.getByTestId('roll-back')).toBeDisabled();

  // Offline: reload, add examples, train again (cached features), classify.
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
  await classCard(page, 'truck').getByTestId('class-file-input').setInputFiles(trucks.slice(TRAIN, TRAIN + 2));
  await expect(classCard(page, 'truck')).toHaveAttribute('data-count', String(TRAIN + 2));
  await expect(page.getByTestId('teach-status')).toContainText('train again');
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('roll-back')).toBeEnabled();
  const offline = await classifyPhotos(page, frogs.slice(TRAIN));
  for (const g of offline) expect(['truck', 'frog', 'desk']).toContain(g);
  await context.setOffline(false);

  // Back to the default model: its ten classes serve again.
  await page.getByTestId('model-select').selectOption('');
  await expect(page.locator('.live li[data-index]')).toHaveCount(10, { timeout: 10_000 });
  expect(errors).toEqual([]);
});

test('export and import: the exported model imports as an equal model; a corrupt file is refused and nothing changes; deleting asks first', async ({ page }) => {
  test.setTimeout(90_000);
  await openApp(page);
  await page.getByTestId('new-model').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  await classCard(page, 'Class 1').getByTestId('class-file-input').setInputFiles(trucks.slice(0, 3));
  await classCard(page, 'Class 2').getByTestId('class-file-input').setInputFiles(frogs.slice(0, 3));
  await expect(classCard(page, 'Class 2')).toHaveAttribute('data-count', '3');
  // Dropping an image file on a class adds it too.
  const dropped = await page.evaluateHandle((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
    return dt;
  }, [...readFileSync(frogs[5])]);
  await classCard(page, 'Class 2').dispatchEvent('dragover', { dataTransfer: dropped });
  await classCard(page, 'Class 2').dispatchEvent('drop', { dataTransfer: dropped });
  await expect(classCard(page, 'Class 2')).toHaveAttribute('data-count', '4');
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 30_000 });
  // Without 5 examples per class nothing is held out: training accuracy is reported instead.
  await expect(page.getByTestId('training-accuracy')).toBeVisible();

  await page.getByText('Export, roll back, delete').click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-cnn').click()]);
  const cnn = scratchPath('exported.cnn');
  await download.saveAs(cnn);
  const [teachDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-teach').click()]);
  const bundle = scratchPath('exported.teach');
  await teachDownload.saveAs(bundle);

  const options = () => page.getByTestId('model-select').locator('option').allTextContents();
  const optionsBefore = await options();
  const selected = await page.getByTestId('model-select').inputValue();

  // A corrupt file: one byte flipped in the middle of the exported model.
  const bytes = new Uint8Array(readFileSync(cnn));
  bytes[bytes.length >> 1] ^= 0x55;
  await page.getByTestId('import-input').setInputFiles({ name: 'broken.cnn', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await expect(page.getByTestId('teach-error')).toContainText('broken.cnn was not imported');
  await expect(page.getByTestId('teach-error')).toContainText('checksum');
  await expect(page.getByTestId('teach-error')).toContainText('Nothing was changed');
  expect(await options()).toEqual(optionsBefore);
  await expect(page.getByTestId('model-select')).toHaveValue(selected);
  await expect(page.locator('.live li[data-index]')).toHaveCount(2);
  // Not a model at all.
  await page.getByTestId('import-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await expect(page.getByTestId('teach-error')).toContainText('not a model file');
  expect(await options()).toEqual(optionsBefore);

  // The exported .cnn imports as a trained model with the same classes; the .teach with examples.
  await page.getByTestId('import-input').setInputFiles(cnn);
  await expect(page.getByTestId('teach-notice')).toContainText('Imported');
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  await expect(page.getByTestId('teach-status')).toContainText('In use for live predictions');
  await page.getByTestId('import-input').setInputFiles(bundle);
  await expect(page.getByTestId('teach-notice')).toContainText('Imported');
  await expect(classCard(page, 'Class 1')).toHaveAttribute('data-count', '3');
  expect((await options()).length).toBe(optionsBefore.length + 2);

  // Deleting a class and a model asks first; "Keep" keeps. Two classes are the minimum.
  await expect(classCard(page, 'Class 2').getByTestId('delete-class')).toBeDisabled();
  await page.getByTestId('add-class').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(3);
  await classCard(page, 'Class 2').getByTestId('delete-class').click();
  await page.getByRole('button', { name: 'Keep' }).click();
  await expect(page.getByTestId('teach-class')).toHaveCount(3);
  await expect(classCard(page, 'Class 2').getByTestId('delete-class')).toBeFocused();
  await classCard(page, 'Class 2').getByTestId('delete-class').click();
  await classCard(page, 'Class 2').getByTestId('confirm-delete-class').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  await expect(classCard(page, 'Class 2')).toHaveCount(0);
  await page.getByText('Export, roll back, delete').click();
  await page.getByTestId('delete-model').click();
  await page.getByTestId('confirm-delete-model').click();
  await expect(page.getByTestId('teach-notice')).toContainText('was deleted');
  expect((await options()).length).toBe(optionsBefore.length + 1);
  await expect(page.getByTestId('model-select')).toHaveValue('');
});

test('"none of these": below the threshold set in the settings the app names no class (live and photos); at 0 it always names one', async ({ page }) => {
  await openApp(page);
  const slider = page.getByLabel(/None of these” below/);
  // Keyboard: End = the highest threshold (95 %).
  await slider.focus();
  await page.keyboard.press('End');
  await expect(slider).toHaveValue('95');
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
  // The fake camera's test pattern is nothing the model knows: read its confidence, then check
  // the overlay agrees with the threshold.
  const percent = Number((await page.getByTestId('live-top-percent').textContent())?.replace(/[^0-9]/g, ''));
  if (percent < 95) await expect(page.getByTestId('live-none')).toBeVisible();
  await page.getByTestId('photo-input').setInputFiles(trucks.slice(0, 2));
  await expect(page.getByTestId('photo-result')).toHaveCount(2, { timeout: 15_000 });
  const rows = await page.getByTestId('photo-result').evaluateAll((els) => els.map((el) => Math.max(...(JSON.parse((el as HTMLElement).dataset.probabilities ?? '[]') as number[]))));
  const below = rows.filter((p) => p < 0.95).length;
  await expect(page.getByTestId('photo-none')).toHaveCount(below);
  // At least one of the two checks above saw a "none of these".
  expect(percent < 95 || below > 0, `live ${percent} %, photos ${rows.join(', ')}`).toBe(true);
  // Off: always a class; and the setting is remembered.
  await slider.focus();
  await page.keyboard.press('Home');
  await expect(slider).toHaveValue('0');
  await expect(page.getByTestId('live-none')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByLabel(/None of these” below/)).toHaveValue('0');
});

test('cancel a training: it stops, nothing is stored as trained, the model in use stays; training again works', async ({ page }) => {
  test.setTimeout(120_000);
  await openApp(page);
  await page.getByTestId('new-model').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  // Enough examples (2 × 350) that reading them takes a while.
  await classCard(page, 'Class 1').getByTestId('class-file-input').setInputFiles(photos('truck', 0, 350));
  await classCard(page, 'Class 2').getByTestId('class-file-input').setInputFiles(photos('frog', 0, 350));
  await expect(classCard(page, 'Class 1')).toHaveAttribute('data-count', '350', { timeout: 30_000 });
  await expect(classCard(page, 'Class 2')).toHaveAttribute('data-count', '350', { timeout: 30_000 });
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-progress')).toBeVisible();
  await page.getByTestId('cancel-training').click();
  await expect(page.getByTestId('teach-notice')).toContainText('Training canceled');
  await expect(page.getByTestId('train-result')).toHaveCount(0);
  await expect(page.getByTestId('teach-status')).toContainText('Not trained yet');
  await expect(page.locator('.live li[data-index]')).toHaveCount(10);
  // The next training runs to the end (the features computed before the cancel are reused).
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('.live li[data-index]')).toHaveCount(2);
});

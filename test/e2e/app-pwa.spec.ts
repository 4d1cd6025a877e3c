// The app as an installable, offline PWA: the manifest and its icons, an offline reload served by
// the service worker that still classifies (camera and photos), the "Update available — reload"
// prompt when a new service worker is waiting, the install button, and a phone-width layout
// without horizontal scrolling.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { DIST, foreignRequests, openApp, watchErrors, watchRequests, writeTestPng } from './app-helpers.ts';

/** Resolves once a service worker controls the page (it claims the page on first install). */
async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }));
    }
  });
}

test('manifest: name, short name, standalone, theme colour, 192/512 and maskable icons that load', async ({ page }) => {
  await openApp(page);
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const manifest = await (await page.request.get(href!)).json();
  expect(manifest).toMatchObject({ name: 'Edge classifier', short_name: 'Classifier', display: 'standalone', start_url: '/' });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  const icons = manifest.icons as { src: string; sizes: string; purpose?: string }[];
  for (const [sizes, purpose] of [
    ['192x192', 'any'],
    ['512x512', 'any'],
    ['512x512', 'maskable'],
  ]) {
    const icon = icons.find((i) => i.sizes === sizes && (i.purpose ?? 'any').split(' ').includes(purpose));
    expect(icon, `${sizes} ${purpose} icon`).toBeTruthy();
    const response = await page.request.get(new URL(icon!.src, page.url()).href);
    expect(response.headers()['content-type']).toBe('image/png');
    const png = PNG.sync.read(await response.body());
    expect(`${png.width}x${png.height}`).toBe(sizes);
  }
});

test('offline: after the first visit a reload without network still classifies camera frames and photos, and nothing goes to other origins', async ({ page, context, baseURL }) => {
  const requests = watchRequests(context);
  const errors = watchErrors(page);
  await openApp(page);
  const modelName = await page.getByTestId('model-name').textContent();
  await waitForServiceWorker(page);
  await expect(page.getByTestId('offline-ready')).toBeVisible();

  await context.setOffline(true);
  try {
    await page.reload();
    await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
    // The same model as online: the default model file came from the precache too.
    await expect(page.getByTestId('model-name')).toHaveText(modelName ?? '');

    await page.getByTestId('photo-input').setInputFiles(writeTestPng('offline.png', 64, 48).path);
    await expect(page.getByTestId('photo-top-label')).toBeVisible();
    await page.getByRole('button', { name: 'Start camera' }).click();
    await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
    await expect.poll(async () => Number(await page.getByTestId('diagnostics').getAttribute('data-answered')), { timeout: 10_000 }).toBeGreaterThan(3);
  } finally {
    await context.setOffline(false);
  }

  expect(foreignRequests(requests, new URL(baseURL!).origin)).toEqual([]);
  // The listener saw the app's traffic: the engine worker, the model and the service worker.
  expect(requests.some((u) => /engine\.worker-[\w-]+\.js$/.test(u))).toBe(true);
  expect(requests.some((u) => u.endsWith('/models/default.cnn'))).toBe(true);
  expect(requests.some((u) => u.endsWith('/sw.js'))).toBe(true);
  expect(errors).toEqual([]);
});

test('update: a new service worker waits until "Update available — reload" is accepted', async ({ page }) => {
  await openApp(page);
  await waitForServiceWorker(page);
  // A new deployment (the service worker script changes on the server), then the next visit:
  // registering the service worker at load finds the new one.
  const swPath = join(DIST, 'sw.js');
  const original = readFileSync(swPath, 'utf8');
  writeFileSync(swPath, `${original}\n// next version\n`);
  try {
    await page.reload();
    const prompt = page.getByTestId('update-prompt');
    await expect(prompt).toContainText('Update available — reload', { timeout: 15_000 });
    // Until accepted, the old service worker stays in control and the new one waits.
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting)).toBe(true);

    await page.evaluate(() => ((window as unknown as { beforeUpdate: boolean }).beforeUpdate = true));
    await prompt.getByRole('button', { name: 'Reload' }).click();
    await page.waitForFunction(() => !(window as unknown as { beforeUpdate?: boolean }).beforeUpdate, undefined, { timeout: 15_000 });
    await expect(page.getByTestId('app-ready')).toBeVisible({ timeout: 20_000 });
    const after = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return { waiting: !!registration?.waiting, controlled: !!navigator.serviceWorker.controller };
    });
    expect(after).toEqual({ waiting: false, controlled: true });
    await expect(page.getByTestId('update-prompt')).toHaveCount(0);
  } finally {
    writeFileSync(swPath, original);
  }
});

test('install: the button appears when the browser offers installation and opens its prompt', async ({ page }) => {
  await openApp(page);
  await expect(page.getByRole('button', { name: 'Install app' })).toHaveCount(0);
  // What Chromium fires when the app is installable (headless never does).
  const prevented = await page.evaluate(() => {
    const e = new Event('beforeinstallprompt', { cancelable: true }) as Event & { prompt(): Promise<void>; userChoice: Promise<unknown> };
    e.prompt = async () => {
      (window as unknown as { prompted: boolean }).prompted = true;
    };
    e.userChoice = Promise.resolve({ outcome: 'accepted', platform: 'web' });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
  expect(prevented).toBe(true);
  await page.getByRole('button', { name: 'Install app' }).click();
  expect(await page.evaluate(() => (window as unknown as { prompted?: boolean }).prompted)).toBe(true);
  await expect(page.getByRole('button', { name: 'Install app' })).toHaveCount(0);
});

test('360 px wide phone: no horizontal scrolling with the camera on, a photo result, a taught model and every panel open', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 780 });
  await openApp(page);
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
  await page.getByTestId('photo-input').setInputFiles(writeTestPng('a-photo-with-a-rather-long-file-name-from-a-phone-camera-20261128.png', 300, 200).path);
  await expect(page.getByTestId('photo-top-label')).toBeVisible();
  await page.getByText('Frame diagnostics').click();
  // The teaching panel with a model, a long class name, examples, a training report.
  await page.getByTestId('new-model').click();
  await expect(page.getByTestId('teach-class')).toHaveCount(2);
  const name = page.locator('[data-testid="teach-class"][data-name="Class 1"]').getByTestId('class-name');
  await name.fill('a rather long class name for a phone');
  await name.press('Enter');
  await page.locator('[data-testid="teach-class"]').nth(0).getByTestId('class-file-input').setInputFiles([0, 1, 2].map((v) => writeTestPng(`a${v}.png`, 64, 64, v).path));
  await page.locator('[data-testid="teach-class"]').nth(1).getByTestId('class-file-input').setInputFiles([3, 4, 5].map((v) => writeTestPng(`b${v}.png`, 64, 64, v).path));
  await expect(page.getByTestId('example')).toHaveCount(6);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-result')).toBeVisible({ timeout: 30_000 });
  await page.getByText('Export, roll back, delete').click();
  await page.waitForTimeout(600); // a stats refresh, so the numbers are filled in

  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(widths.scroll, `page is ${widths.scroll} px wide in a ${widths.client} px viewport`).toBeLessThanOrEqual(widths.client);
  // Nothing sticks out on the right either (an element wider than the viewport in a clipped box).
  const overflowing = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .map((el) => el.tagName.toLowerCase() + (el.className ? `.${String(el.className).split(' ')[0]}` : '')),
  );
  expect(overflowing).toEqual([]);
  const shot = testInfo.outputPath('app-360px.png');
  await page.screenshot({ path: shot, fullPage: true });
  await testInfo.attach('app at 360 px', { path: shot, contentType: 'image/png' });
});

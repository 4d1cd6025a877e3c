// Two cameras (Chromium's fake capture with two devices, which, like most desktop cameras, report
// no facing direction): the switch button moves to the other camera, the settings list both by
// name, and the camera in use is remembered across a reload.
import { expect, test, type Page } from '@playwright/test';
import baseConfig from '../../playwright.config.ts';
import { openApp } from './app-helpers.ts';

const args = (baseConfig.use?.launchOptions?.args ?? []).map((a) => (a === '--use-fake-device-for-media-stream' ? '--use-fake-device-for-media-stream=device-count=2' : a));
test.use({ launchOptions: { ...baseConfig.use?.launchOptions, args } });

async function cameraInUse(page: Page): Promise<string> {
  return page.evaluate(() => ((document.querySelector('video')!.srcObject as MediaStream | null)?.getVideoTracks()[0]?.label ?? ''));
}

test('switch camera: the other camera opens, both are listed, and the choice is remembered', async ({ page }) => {
  await openApp(page);
  await expect(page.getByRole('button', { name: 'Switch camera' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Start camera' }).click();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 15_000 });
  expect(await cameraInUse(page)).toBe('fake_device_0');

  const select = page.getByLabel('Camera', { exact: true });
  await expect(select.locator('option')).toHaveText(['Front camera (facing you)', 'Back camera', 'fake_device_0', 'fake_device_1']);

  await page.getByRole('button', { name: 'Switch camera' }).click();
  await expect.poll(() => cameraInUse(page)).toBe('fake_device_1');
  await expect(page.getByTestId('live-top-label')).toBeVisible();
  await expect(select.locator('option:checked')).toHaveText('fake_device_1');

  // Picking a camera in the settings reopens the live view with it.
  await select.selectOption({ label: 'fake_device_0' });
  await expect.poll(() => cameraInUse(page)).toBe('fake_device_0');

  await page.getByRole('button', { name: 'Switch camera' }).click();
  await expect.poll(() => cameraInUse(page)).toBe('fake_device_1');
  // The settings show the choice once it is stored.
  await expect(select.locator('option:checked')).toHaveText('fake_device_1');
  await page.reload();
  await expect(page.getByTestId('live-top-label')).toBeVisible({ timeout: 20_000 });
  expect(await cameraInUse(page)).toBe('fake_device_1');
});

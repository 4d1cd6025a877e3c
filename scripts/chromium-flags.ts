// Launch flags for Debian's headless Chromium (see ../shared/BROWSER.md), shared by the Playwright
// config, the browser test harnesses and the browser benchmarks.

/** Where the browser is: Debian's chromium unless CHROMIUM_PATH says otherwise. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless, no sandbox (root), and nothing that tries to reach the closed network. */
export const BASE_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Software WebGL2 (SwiftShader), the only WebGL on a machine without a GPU. */
export const WEBGL_FLAGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'];

/** A fake camera that is granted without a prompt. */
export const FAKE_CAMERA_FLAGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

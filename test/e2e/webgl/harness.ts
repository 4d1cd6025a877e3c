// Playwright side of the WebGL tests: bundles the in-browser procedures (procedures.ts) with
// esbuild, serves them from a private origin through request routing (no server, no build), and
// calls them in a dedicated worker or in the page.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { LaunchOptions, Page } from '@playwright/test';
import type { Procedures } from './procedures.ts';
import { BASE_FLAGS, CHROMIUM_PATH, WEBGL_FLAGS } from '../../../scripts/chromium-flags.ts';

export const ORIGIN = 'http://webgl.test';


/** Debian's Chromium with software WebGL2 (SwiftShader), as documented in shared/BROWSER.md. */
export const webglLaunch: LaunchOptions = { executablePath: CHROMIUM_PATH, args: [...BASE_FLAGS, ...WEBGL_FLAGS] };

/** The same browser with the software rasteriser disabled: no WebGL in pages or workers. */
export const noWebglLaunch: LaunchOptions = {
  executablePath: CHROMIUM_PATH,
  args: [...BASE_FLAGS, '--disable-gpu', '--disable-software-rasterizer'],
};

let bundled: Promise<string> | null = null;

function bundle(): Promise<string> {
  bundled ??= build({
    entryPoints: [fileURLToPath(new URL('./entry.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0].text);
  return bundled;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>webgl engine tests</title><script src="/harness.js"></script>`;

/** Opens the harness page; its worker is started on the first callWorker. */
export async function openHarness(page: Page): Promise<void> {
  const code = await bundle();
  await page.context().route(`${ORIGIN}/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/') return route.fulfill({ contentType: 'text/html', body: PAGE });
    if (path === '/harness.js') return route.fulfill({ contentType: 'text/javascript', body: code });
    return route.fulfill({ status: 404, body: 'not found' });
  });
  page.on('pageerror', (e) => console.error('[page error]', e));
  await page.goto(`${ORIGIN}/`);
}

type Args<K extends keyof Procedures> = Parameters<Procedures[K]>[0];
type Result<K extends keyof Procedures> = Awaited<ReturnType<Procedures[K]>>;

/** Runs a procedure in the page's dedicated worker. */
export function callWorker<K extends keyof Procedures>(page: Page, op: K, args: Args<K>): Promise<Result<K>> {
  return page.evaluate(([o, a]) => (globalThis as any).callWorker(o, a), [op, args] as const) as Promise<Result<K>>;
}

/** Runs a procedure in the page itself. */
export function callPage<K extends keyof Procedures>(page: Page, op: K, args: Args<K>): Promise<Result<K>> {
  return page.evaluate(([o, a]) => (globalThis as any).callPage(o, a), [op, args] as const) as Promise<Result<K>>;
}

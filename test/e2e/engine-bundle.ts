// Bundles src/engine (unchanged) into one classic script that defines `globalThis.EdgeEngine`,
// so a test can run the engine on the page's main thread, outside the app's own bundle.
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const ENGINE_GLOBAL = 'EdgeEngine';

export async function engineScript(): Promise<string> {
  const entry = fileURLToPath(new URL('../../src/engine/index.ts', import.meta.url));
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: false,
      lib: { entry, formats: ['iife'], name: ENGINE_GLOBAL, fileName: 'engine' },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  for (const out of outputs) {
    if (!('output' in out)) continue;
    const chunk = out.output.find((o) => o.type === 'chunk');
    if (chunk && chunk.type === 'chunk') return `${chunk.code}\nglobalThis.${ENGINE_GLOBAL} = ${ENGINE_GLOBAL};`;
  }
  throw new Error('engine bundle: vite produced no JavaScript chunk');
}

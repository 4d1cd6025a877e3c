// The committed WebAssembly kernels (src/engine/wasm/kernels-binary.ts) are what the pinned
// AssemblyScript compiler makes of src/engine/wasm/assembly/kernels.ts today: run
// `npm run build:wasm` and commit the result when this fails.
import { expect, it } from 'vitest';
import { KERNELS_WASM_BASE64 } from '../../src/engine/wasm/kernels-binary.ts';
import { compileKernels, KERNELS_MODULE, KERNELS_SOURCE } from '../../scripts/build-wasm.ts';

it(`${KERNELS_MODULE} is up to date with ${KERNELS_SOURCE}`, async () => {
  const fresh = Buffer.from(await compileKernels()).toString('base64');
  expect(fresh.length, 'compiled size (base64 characters) differs: run npm run build:wasm').toBe(KERNELS_WASM_BASE64.length);
  expect(fresh === KERNELS_WASM_BASE64, 'compiled bytes differ: run npm run build:wasm').toBe(true);
}, 180_000);

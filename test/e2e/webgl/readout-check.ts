// In-browser side of the readout WebGL test (webgl-readout.spec.ts): models whose final dense layer
// reads a multi-scale readout, and readout features of a model without one, on WebGL2 against the
// CPU backend. Bundled on its own; in the page it defines readoutCheck for Playwright, in a
// dedicated worker it answers one message per call.
import { initParams } from '../../../src/engine/init.ts';
import { Random } from '../../../src/engine/random.ts';
import { readoutFor } from '../../../src/engine/readout.ts';
import { CpuSession } from '../../../src/engine/session.ts';
import { inferShapes, size3 } from '../../../src/engine/shapes.ts';
import type { ModelSpec, ReadoutSpec } from '../../../src/engine/spec.ts';
import { createWebglSession } from '../../../src/engine/webgl/session.ts';
import { wideCifarSpec } from '../../../src/engine/zoo.ts';
import { compare, type Diff } from './compare.ts';

export type { Diff };

function testParams(spec: ModelSpec, seed: number): Float32Array {
  const params = initParams(spec, seed);
  const rng = new Random(seed + 1);
  for (const l of inferShapes(spec).layers) {
    if ((l.kind === 'conv2d' || l.kind === 'dense') && l.biasOffset >= 0) for (let i = 0; i < l.out.c; i++) params[l.biasOffset + i] = rng.next() - 0.5;
  }
  return params;
}

/** Channels that are not multiples of 4, a conv tapped before its pool (no fusion), colour. */
function oddSpec(): ModelSpec {
  return {
    input: { height: 10, width: 10, channels: 3, mean: [120, 110, 100], std: [60, 50, 70] },
    layers: [
      { kind: 'conv2d', name: 'c1', filters: 5, kernel: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxpool', name: 'p1', size: 2 },
      { kind: 'conv2d', name: 'c2', filters: 6, kernel: 3, padding: 'same', activation: 'tanh' },
      { kind: 'avgpool', name: 'p2', size: 2, padding: 'same' },
      { kind: 'conv2d', name: 'mix', filters: 7, kernel: 1, activation: 'relu' },
      { kind: 'dense', name: 'fc', units: 4 },
      { kind: 'softmax', name: 'sm' },
    ],
    labels: ['a', 'b', 'c', 'd'],
    readout: {
      taps: [
        { layer: 0, pool: 'max' },
        { layer: 1, pool: 'avg' },
        { layer: 2, pool: 'max' },
        { layer: 3, pool: 'avg' },
        { layer: 4, pool: 'avg' },
        { layer: 4, pool: 'max' },
      ],
      colour: { bins: 2 },
    },
  };
}

export async function readoutCheck(args: { seed: number; images: number }): Promise<{ diffs: Diff[]; renderer: string }> {
  const wide = wideCifarSpec(['a', 'b', 'c', 'd', 'e']);
  const wideReadout = readoutFor('multiscale+colour', inferShapes(wide), 7)!;
  const cases: { name: string; spec: ModelSpec; extra: ReadoutSpec | null }[] = [
    { name: 'odd taps + colour', spec: oddSpec(), extra: null },
    { name: 'wide, taught readout', spec: { ...wide, readout: readoutFor('multiscale', inferShapes(wide), 7)! }, extra: wideReadout },
    { name: 'wide, no readout', spec: wide, extra: wideReadout },
  ];
  const diffs: Diff[] = [];
  let renderer = '';
  for (const c of cases) {
    const model = { spec: c.spec, params: testParams(c.spec, args.seed) };
    const gl = await createWebglSession(model);
    renderer = gl.renderer;
    try {
      const cpu = new CpuSession(model);
      const size = size3(cpu.info.input);
      const rng = new Random(args.seed);
      const bytes = Uint8Array.from({ length: args.images * size }, () => rng.int(256));
      for (let i = 0; i < args.images; i++) {
        const img = bytes.subarray(i * size, (i + 1) * size);
        diffs.push(compare(gl.predict(img), cpu.predict(img), `${c.name}: predict image ${i}`));
      }
      diffs.push(compare(gl.predictBatch(bytes, args.images), cpu.predictBatch(bytes, args.images), `${c.name}: predictBatch`));
      if (c.spec.readout) diffs.push(compare(gl.readoutFeatures(bytes, args.images), cpu.readoutFeatures(bytes, args.images), `${c.name}: own readout features`));
      if (c.extra) diffs.push(compare(gl.readoutFeatures(bytes, args.images, c.extra), cpu.readoutFeatures(bytes, args.images, c.extra), `${c.name}: multiscale+colour features`));
    } finally {
      gl.dispose();
    }
  }
  return { diffs, renderer };
}

if (typeof window === 'undefined') {
  self.onmessage = (e: MessageEvent<{ seed: number; images: number }>) => {
    readoutCheck(e.data).then(
      (value) => postMessage({ ok: true, value }),
      (err: unknown) => postMessage({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
    );
  };
} else {
  const script = (document.currentScript as HTMLScriptElement).src;
  (globalThis as any).readoutCheck = (args: { seed: number; images: number; where: 'page' | 'worker' }) => {
    if (args.where === 'page') return readoutCheck(args);
    return new Promise((resolve, reject) => {
      const worker = new Worker(script);
      worker.onmessage = (e) => {
        worker.terminate();
        if (e.data.ok) resolve(e.data.value);
        else reject(new Error(`in the worker: ${e.data.error}`));
      };
      worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
      worker.postMessage(args);
    });
  };
}

// In-browser side of the readout WebGL test (webgl-readout.spec.ts): models whose final dense layer
// reads a multi-scale readout, and readout features of a model without one, on WebGL2 against the
// CPU backend. Bundled on its own; the spec calls it in the page or its worker through
// callPage/callWorker (../shared/procedure-bridge.ts).
import { insideLayout } from '../../../src/engine/inside.ts';
import { Random } from '../../../src/engine/random.ts';
import { readoutFor } from '../../../src/engine/readout.ts';
import { CpuSession } from '../../../src/engine/session.ts';
import { inferShapes, size3 } from '../../../src/engine/shapes.ts';
import type { ModelSpec, ReadoutSpec } from '../../../src/engine/spec.ts';
import { createWebglSession } from '../../../src/engine/webgl/session.ts';
import { wideCifarSpec } from '../../../src/engine/zoo.ts';
import { ODD_READOUT, oddSpec, paramsWithBiases } from '../../unit/model-cases.ts';
import { exposeProcedures } from '../shared/procedure-bridge.ts';
import { compare, type Diff } from './compare.ts';

export type { Diff };



export async function readoutCheck(args: { seed: number; images: number }): Promise<{ diffs: Diff[]; renderer: string }> {
  const wide = wideCifarSpec(['a', 'b', 'c', 'd', 'e']);
  const wideReadout = readoutFor('multiscale+colour', inferShapes(wide), 7)!;
  const cases: { name: string; spec: ModelSpec; extra: ReadoutSpec | null }[] = [
    { name: 'odd taps + colour', spec: oddSpec(ODD_READOUT), extra: null },
    { name: 'wide, taught readout', spec: { ...wide, readout: readoutFor('multiscale', inferShapes(wide), 7)! }, extra: wideReadout },
    { name: 'wide, no readout', spec: wide, extra: wideReadout },
    { name: 'wide, taught (spatial) readout', spec: { ...wide, readout: readoutFor('spatial', inferShapes(wide), 7)! }, extra: null },
  ];
  const diffs: Diff[] = [];
  let renderer = '';
  for (const c of cases) {
    const model = { spec: c.spec, params: paramsWithBiases(c.spec, args.seed) };
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

/**
 * The inside view's maps on WebGL2 (its unfused plan) against the CPU: every layer's output and a
 * readout head's features of one forward pass, and the answer of that pass; plus the per-pass times.
 */
export async function insideCheck(args: { seed: number; images: number }): Promise<{ diffs: Diff[]; renderer: string; fused: number; timed: number }> {
  const wide = wideCifarSpec(['a', 'b', 'c', 'd', 'e']);
  const cases: { name: string; spec: ModelSpec }[] = [
    { name: 'odd taps + colour', spec: oddSpec(ODD_READOUT) },
    { name: 'wide, no readout', spec: wide },
    { name: 'wide, taught (spatial) readout', spec: { ...wide, readout: readoutFor('spatial', inferShapes(wide), 7)! } },
  ];
  const diffs: Diff[] = [];
  let renderer = '';
  let fused = 0;
  let timed = 0;
  for (const c of cases) {
    const model = { spec: c.spec, params: paramsWithBiases(c.spec, args.seed) };
    const gl = await createWebglSession(model);
    renderer = gl.renderer;
    try {
      await gl.prepareInside();
      const cpu = new CpuSession(model);
      const layout = insideLayout(cpu.info);
      const maps = new Float32Array(layout.total);
      const size = size3(cpu.info.input);
      const rng = new Random(args.seed);
      for (let i = 0; i < args.images; i++) {
        const img = Uint8Array.from({ length: size }, () => rng.int(256));
        const answer = gl.predictInside(img, maps).slice();
        diffs.push(compare(answer, cpu.predict(img), `${c.name}: answer of the inside pass, image ${i}`));
        for (const m of layout.maps) {
          diffs.push(compare(maps.subarray(m.offset, m.offset + m.size), cpu.features(img, 1, m.layer + 1), `${c.name}: ${m.name} map, image ${i}`));
        }
        if (layout.readout) diffs.push(compare(maps.subarray(layout.readout.offset, layout.readout.offset + layout.readout.size), cpu.readoutFeatures(img, 1), `${c.name}: readout, image ${i}`));
        // The plan predict draws still gives the same answer afterwards.
        diffs.push(compare(gl.predict(img), cpu.predict(img), `${c.name}: predict after the inside pass, image ${i}`));
      }
      const t = gl.timeLayers(Uint8Array.from({ length: size }, () => rng.int(256)), 3);
      fused += t.fusedInto.filter((x) => x !== null).length;
      timed += t.ms.filter((x) => x > 0).length;
    } finally {
      gl.dispose();
    }
  }
  return { diffs, renderer, fused, timed };
}

exposeProcedures({ readoutCheck, insideCheck });

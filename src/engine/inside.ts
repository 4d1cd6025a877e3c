// What a forward pass leaves behind, for looking inside the network: every layer's output (and a
// readout head's features), packed into one Float32Array the caller owns and passes back each
// time, plus each layer's measured cost. Sessions fill it from the same pass that gives the answer.
import { size3, type LayerInfo, type NetworkInfo, type Shape3 } from './shapes.ts';

export interface InsideMap {
  /** Index of the layer whose output this is. */
  layer: number;
  name: string;
  kind: LayerInfo['kind'];
  shape: Shape3;
  /** Where its values start in the maps array (NHWC for one image). */
  offset: number;
  size: number;
}

export interface InsideLayout {
  maps: InsideMap[];
  /** The features a readout head reads (null when the head reads the previous layer's output). */
  readout: { offset: number; size: number; head: number } | null;
  /** Floats in the whole maps array. */
  total: number;
}

export function insideLayout(info: NetworkInfo): InsideLayout {
  let offset = 0;
  const maps = info.layers.map((l, i): InsideMap => {
    const size = size3(l.out);
    const m = { layer: i, name: l.name, kind: l.kind, shape: { ...l.out }, offset, size };
    offset += size;
    return m;
  });
  let readout: InsideLayout['readout'] = null;
  if (info.readout) {
    readout = { offset, size: info.readout.size, head: info.readout.head };
    offset += info.readout.size;
  }
  return { maps, readout, total: offset };
}

/** Throws unless `maps` can hold the layout (named numbers, so a caller sees what to allocate). */
export function checkMaps(layout: InsideLayout, maps: Float32Array): void {
  if (!(maps instanceof Float32Array) || maps.length < layout.total) {
    throw new RangeError(`inside maps: expected a Float32Array of ${layout.total} floats, got ${maps instanceof Float32Array ? maps.length : typeof maps}`);
  }
}

/** Time of one forward pass per layer, on one backend. */
export interface LayerTimes {
  backend: 'cpu' | 'webgl';
  /** Median ms per layer; a layer computed inside another layer's pass (fused) has 0. */
  ms: number[];
  /** For a fused layer, the index of the layer whose pass computes it; else null. */
  fusedInto: (number | null)[];
  /** Median of the whole timed pass, ms (includes the readback on WebGL2). */
  totalMs: number;
  reps: number;
}

/** Medians over repetitions: samples[rep][layer]. */
export function medianTimes(samples: Float64Array[], layers: number): { ms: number[]; totalMs: number } {
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const ms = Array.from({ length: layers }, (_, i) => med(samples.map((r) => r[i])));
  const totalMs = med(samples.map((r) => r.reduce((a, b) => a + b, 0)));
  return { ms, totalMs };
}

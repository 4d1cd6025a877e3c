// Multi-scale readout on the CPU: the feature vector the final dense layer reads when a spec has a
// readout (spec.ts, ReadoutSpec), i.e. global average/max pooling (or per-quadrant averages) of
// chosen layers' outputs and an optional colour histogram of the input, plus the readouts the few-shot tools choose from.
import { resolveReadout, type NetworkInfo, type ReadoutInfo } from './shapes.ts';
import type { ReadoutSpec } from './spec.ts';

/**
 * Writes the readout features of images [0, n) into out ([n, readout.size]). acts[0] is the
 * normalised input and acts[i + 1] the output of layer i (NHWC), as in CpuNetwork. Allocates nothing.
 */
export function readoutForward(info: NetworkInfo, readout: ReadoutInfo, acts: readonly Float32Array[], out: Float32Array, n: number): void {
  const dim = readout.size;
  for (const tap of readout.taps) {
    const { h, w, c } = tap.shape;
    const hw = h * w;
    const x = acts[tap.layer + 1];
    for (let img = 0; img < n; img++) {
      const base = img * hw * c;
      const o = img * dim + tap.offset;
      if (tap.pool === 'quadrants') {
        const top = h >> 1;
        const left = w >> 1;
        for (let k = 0; k < 4 * c; k++) out[o + k] = 0;
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            const q = o + ((y < top ? 0 : 2) + (xx < left ? 0 : 1)) * c;
            const p = base + (y * w + xx) * c;
            for (let ch = 0; ch < c; ch++) out[q + ch] += x[p + ch];
          }
        }
        for (let q = 0; q < 4; q++) {
          const area = (q < 2 ? top : h - top) * ((q & 1) === 0 ? left : w - left);
          for (let ch = 0; ch < c; ch++) out[o + q * c + ch] /= area;
        }
      } else if (tap.pool === 'avg') {
        for (let ch = 0; ch < c; ch++) out[o + ch] = 0;
        for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[o + ch] += x[base + p * c + ch];
        for (let ch = 0; ch < c; ch++) out[o + ch] /= hw;
      } else {
        for (let ch = 0; ch < c; ch++) out[o + ch] = x[base + ch];
        for (let p = 1; p < hw; p++) {
          for (let ch = 0; ch < c; ch++) {
            const v = x[base + p * c + ch];
            if (v > out[o + ch]) out[o + ch] = v;
          }
        }
      }
    }
  }
  if (readout.colourBins > 0) colourHistogram(info, readout, acts[0], out, n);
}

/**
 * The colour histogram part of the readout, from the normalised input: each byte is recovered
 * exactly (round(x · std + mean)), so the bins are the same as from the raw bytes.
 */
function colourHistogram(info: NetworkInfo, readout: ReadoutInfo, x: Float32Array, out: Float32Array, n: number): void {
  const { h, w, c } = info.input;
  const { mean, invStd } = info;
  const bins = readout.colourBins;
  const cells = bins ** c;
  const hw = h * w;
  const dim = readout.size;
  for (let img = 0; img < n; img++) {
    const o = img * dim + readout.colourOffset;
    for (let k = 0; k < cells; k++) out[o + k] = 0;
    // Counts first (exact), then one division: the same value on every backend.
    for (let p = 0; p < hw; p++) {
      let cell = 0;
      for (let ch = 0; ch < c; ch++) {
        const byte = Math.min(255, Math.max(0, Math.round(x[(img * hw + p) * c + ch] / invStd[ch] + mean[ch])));
        cell = cell * bins + Math.floor((byte * bins) / 256);
      }
      out[o + cell] += 1;
    }
    for (let k = 0; k < cells; k++) out[o + k] /= hw;
  }
}

/** Feature choices for few-shot training (the CLI's --features). */
export const FEATURE_CHOICES = ['last', 'multiscale', 'multiscale+colour', 'colour', 'spatial'] as const;
export type FeatureChoice = (typeof FEATURE_CHOICES)[number];

/** Bins per channel of the colour histogram in the readouts below (4 × 4 × 4 = 64 cells for RGB). */
export const COLOUR_BINS = 4;

/**
 * The layers a multi-scale readout taps in a network whose final dense layer is `head`: the end of
 * every conv block (each pooling layer, and each conv/activation layer not followed by pooling or
 * an activation) before the head, so every scale of the backbone contributes.
 */
export function multiscaleTapLayers(info: NetworkInfo, head: number): number[] {
  const taps: number[] = [];
  const { layers } = info;
  for (let i = 0; i < head; i++) {
    const kind = layers[i].kind;
    const next = i + 1 < head ? layers[i + 1].kind : null;
    if (kind === 'maxpool' || kind === 'avgpool') taps.push(i);
    else if ((kind === 'conv2d' || kind === 'activation') && next !== 'maxpool' && next !== 'avgpool' && next !== 'activation') taps.push(i);
  }
  return taps;
}

/** How many of the earliest multi-scale taps the 'spatial' readout also averages per quadrant. */
export const QUADRANT_TAPS = 2;

/**
 * The readout for a feature choice over the backbone of `info` (layers before its final dense layer
 * `head`), or null for 'last' (the previous layer's output, flattened, as without a readout).
 * 'multiscale': global average and max pooling of every conv block's output. 'spatial' (what
 * teaching uses): that, plus the per-quadrant averages of the QUADRANT_TAPS earliest blocks (where
 * in the picture colours and textures are) and the colour histogram.
 */
export function readoutFor(choice: FeatureChoice, info: NetworkInfo, head: number): ReadoutSpec | null {
  if (choice === 'last') return null;
  const layers = choice === 'colour' ? [] : multiscaleTapLayers(info, head);
  const taps: ReadoutSpec['taps'] = layers.flatMap((layer) => [
    { layer, pool: 'avg' as const },
    { layer, pool: 'max' as const },
  ]);
  if (choice === 'spatial') {
    for (const layer of layers.slice(0, QUADRANT_TAPS)) if (info.layers[layer].out.h >= 2 && info.layers[layer].out.w >= 2) taps.push({ layer, pool: 'quadrants' });
  }
  const spec: ReadoutSpec = { taps };
  if (choice === 'multiscale+colour' || choice === 'colour' || choice === 'spatial') spec.colour = { bins: COLOUR_BINS };
  // Checks it against the network (e.g. a backbone without conv blocks gives no taps).
  resolveReadout(spec, info.layers, head, info.input);
  return spec;
}

// The multi-scale readout as a fragment shader: global average / max pooling of each tapped
// activation over H×W (or the average over each of its four quadrants), and the input's colour histogram, concatenated into a 1×1×F tensor that the
// final dense layer reads. One fragment writes features 4s .. 4s + 3 of one image; each lane finds
// its part (tap or histogram cell) from constant offsets, so taps need not be 4-channel aligned.
// Work per image is Σ H·W·C fetches over the taps plus H·W per histogram cell: small next to the
// convolutions.
import type { ReadoutInfo, Shape3 } from '../../shapes.ts';
import { glslOutputCoords, glslTensorFetch, type TensorFormat } from '../layout.ts';
import { GLSL_HEADER, type GpuProgram } from '../program.ts';

/** Format of a readout's output: one pixel of F channels per image. */
export const readoutFormat = (readout: ReadoutInfo): TensorFormat => ({
  shape: { h: 1, w: 1, c: readout.size },
  border: { top: 0, bottom: 0, left: 0, right: 0 },
});

export class ReadoutProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  /** T0 … T(k−1): the tapped activations in tap order; then U, the input bytes, with colour. */
  readonly samplers: readonly string[];
  readonly output: TensorFormat;

  /** `taps[k]`: format of tap k's activation texture; `input`: the byte texture's format. */
  constructor(readout: ReadoutInfo, taps: TensorFormat[], input: TensorFormat, headName: string) {
    this.name = `readout of dense "${headName}"`;
    this.output = readoutFormat(readout);
    const parts: string[] = [];
    const cases: string[] = [];
    readout.taps.forEach((tap, k) => {
      const { h, w, c } = tap.shape;
      const fetch = glslTensorFetch(`fetch${k}`, `T${k}`, taps[k], { kind: 'float' });
      if (tap.pool === 'quadrants') {
        // Value q·C + c: the average of channel c over quadrant q (rows and columns split at H/2, W/2).
        const top = h >> 1;
        const left = w >> 1;
        parts.push(`${fetch}
float tap${k}(int n, int f) {
  int q = f / ${c};
  int c = f - q * ${c};
  int s = c / 4;
  int lane = c - s * 4;
  int y0 = q < 2 ? 0 : ${top};
  int y1 = q < 2 ? ${top} : ${h};
  int x0 = (q == 0 || q == 2) ? 0 : ${left};
  int x1 = (q == 0 || q == 2) ? ${left} : ${w};
  float acc = 0.0;
  for (int y = y0; y < y1; y++) {
    for (int x = x0; x < x1; x++) acc += fetch${k}(n, y, x, s)[lane];
  }
  return acc / float((y1 - y0) * (x1 - x0));
}
`);
      } else {
        const isMax = tap.pool === 'max';
        parts.push(`${fetch}
float tap${k}(int n, int c) {
  int s = c / 4;
  int lane = c - s * 4;
  float acc = ${isMax ? '-3.4028234663852886e38' : '0.0'};
  for (int y = 0; y < ${h}; y++) {
    for (int x = 0; x < ${w}; x++) {
      float v = fetch${k}(n, y, x, s)[lane];
      ${isMax ? 'acc = max(acc, v);' : 'acc += v;'}
    }
  }
  return ${isMax ? 'acc' : `acc * (1.0 / ${(h * w).toFixed(1)})`};
}
`);
      }
      cases.push(`  if (f < ${tap.offset + tap.size}) return tap${k}(n, f - ${tap.offset});`);
    });
    const samplers = readout.taps.map((_, k) => `T${k}`);
    if (readout.colourBins > 0) {
      samplers.push('U');
      parts.push(colourGlsl(readout, input));
      cases.push(`  if (f < ${readout.size}) return colour(n, f - ${readout.colourOffset});`);
    }
    this.samplers = samplers;
    this.source = `${GLSL_HEADER}
${parts.join('\n')}
float feature(int n, int f) {
${cases.join('\n')}
  return 0.0;
}
void main() {
  ${glslOutputCoords(this.output)}
  int f = s * 4;
  result = vec4(feature(n, f), feature(n, f + 1), feature(n, f + 2), feature(n, f + 3));
}
`;
  }
}

/** GLSL `float colour(int n, int cell)`: the share of image n's pixels in histogram cell `cell`. */
function colourGlsl(readout: ReadoutInfo, input: TensorFormat): string {
  const { h, w, c } = input.shape as Shape3;
  const bins = readout.colourBins;
  // Raw bytes: mean 0, 1 / std 1 (lanes past C read 0).
  const ones = new Float32Array(4).fill(1);
  const cellOf = Array.from({ length: c }, (_, ch) => `floor(b[${ch}] * ${bins.toFixed(1)} / 256.0)`).reduce((acc, t) => `(${acc}) * ${bins.toFixed(1)} + ${t}`);
  return `${glslTensorFetch('fetchU', 'U', input, { kind: 'bytes', mean: new Float32Array(4), invStd: ones })}
float colour(int n, int cell) {
  float want = float(cell);
  float count = 0.0;
  for (int y = 0; y < ${h}; y++) {
    for (int x = 0; x < ${w}; x++) {
      vec4 b = fetchU(n, y, x, 0);
      if (${cellOf} == want) count += 1.0;
    }
  }
  return count / ${(h * w).toFixed(1)};
}
`;
}

// Softmax over the channel axis at every pixel (Keras' axis=-1) as a fragment shader. Each
// fragment writes 4 channels of one pixel; it reads all C4 slices of its pixel for the max and the
// sum, which is cheap for class-score sized C.
import type { SoftmaxInfo } from '../../shapes.ts';
import { glslLaneMask, glslOutputCoords, glslTensorFetch } from '../layout.ts';
import { GLSL_HEADER, type GpuProgram, type ProgramIO } from '../program.ts';

export class SoftmaxProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X'] as const;
  readonly output;

  constructor(info: SoftmaxInfo, io: ProgramIO) {
    this.name = `softmax "${info.name}"`;
    this.output = io.output;
    const slices = Math.ceil(info.out.c / 4);
    this.source = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', io.input, io.source)}
${glslLaneMask('laneMask', info.out.c)}
const float LOWEST = -3.4028234663852886e38;
void main() {
  ${glslOutputCoords(io.output)}
  vec4 m4 = vec4(LOWEST);
  for (int c = 0; c < ${slices}; c++) m4 = max(m4, mix(vec4(LOWEST), fetchX(n, y, x, c), greaterThan(laneMask(c), vec4(0.5))));
  float m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  float sum = 0.0;
  // v − m ≤ 0 in real lanes; min() keeps exp finite in padding lanes (0 − m may be large).
  for (int c = 0; c < ${slices}; c++) sum += dot(exp(min(fetchX(n, y, x, c) - m, 0.0)) * laneMask(c), vec4(1.0));
  result = exp(min(fetchX(n, y, x, s) - m, 0.0)) * laneMask(s) * (1.0 / sum);
}
`;
  }
}

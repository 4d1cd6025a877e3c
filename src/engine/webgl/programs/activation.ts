// An element-wise activation layer as a fragment shader: one fragment, 4 channels of one pixel.
import type { ActivationInfo } from '../../shapes.ts';
import { glslLaneMask, glslOutputCoords, glslTensorFetch, type InputSource } from '../layout.ts';
import { GLSL_HEADER, glslActivation, type GpuProgram } from '../program.ts';

export class ActivationProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X'] as const;
  readonly output;

  constructor(info: ActivationInfo, input: InputSource) {
    this.name = `activation "${info.name}"`;
    this.output = info.out;
    this.source = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', info.in, input)}
${glslActivation(info.activation)}
${glslLaneMask('laneMask', info.out.c)}
void main() {
  ${glslOutputCoords(info.out)}
  result = act(fetchX(n, y, x, s)) * laneMask(s);
}
`;
  }
}

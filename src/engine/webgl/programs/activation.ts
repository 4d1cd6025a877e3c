// An element-wise activation layer as a fragment shader: one fragment, 4 channels of one pixel.
import type { ActivationInfo } from '../../shapes.ts';
import { glslLaneMask, glslOutputCoords, glslTensorFetch } from '../layout.ts';
import { GLSL_HEADER, glslActivation, type GpuProgram, type ProgramIO } from '../program.ts';

export class ActivationProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X'] as const;
  readonly output;

  constructor(info: ActivationInfo, io: ProgramIO) {
    this.name = `activation "${info.name}"`;
    this.output = io.output;
    this.source = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', io.input, io.source)}
${glslActivation(info.activation)}
${glslLaneMask('laneMask', info.out.c)}
void main() {
  ${glslOutputCoords(io.output)}
  result = act(fetchX(n, y, x, s)) * laneMask(s);
}
`;
  }
}

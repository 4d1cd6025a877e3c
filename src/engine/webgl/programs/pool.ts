// Max and average pooling as a fragment shader: one fragment writes 4 channels of one output
// pixel. Padded cells are skipped: they never win a max and are not counted in an average, as on
// the CPU and in TF.
import type { PoolInfo } from '../../shapes.ts';
import { glslLaneMask, glslOutputCoords, glslTensorFetch } from '../layout.ts';
import { GLSL_HEADER, type GpuProgram, type ProgramIO } from '../program.ts';

export class PoolProgram implements GpuProgram {
  readonly name: string;
  readonly source: string;
  readonly samplers = ['X'] as const;
  readonly output;

  constructor(info: PoolInfo, io: ProgramIO) {
    this.name = `${info.kind} "${info.name}"`;
    this.output = io.output;
    const isMax = info.kind === 'maxpool';
    this.source = `${GLSL_HEADER}
${glslTensorFetch('fetchX', 'X', io.input, io.source)}
${glslLaneMask('laneMask', info.out.c)}
void main() {
  ${glslOutputCoords(io.output)}
  int iy0 = y * ${info.sh} - ${info.padTop};
  int ix0 = x * ${info.sw} - ${info.padLeft};
  int y0 = max(iy0, 0), y1 = min(iy0 + ${info.kh}, ${info.in.h});
  int x0 = max(ix0, 0), x1 = min(ix0 + ${info.kw}, ${info.in.w});
  vec4 acc = vec4(${isMax ? '-3.4028234663852886e38' : '0.0'});
  for (int iy = y0; iy < y1; iy++) {
    for (int ix = x0; ix < x1; ix++) {
      vec4 v = fetchX(n, iy, ix, s);
      ${isMax ? 'acc = max(acc, v);' : 'acc += v;'}
    }
  }
  ${isMax ? '' : 'acc *= 1.0 / float((y1 - y0) * (x1 - x0));'}
  result = acc * laneMask(s);
}
`;
  }
}

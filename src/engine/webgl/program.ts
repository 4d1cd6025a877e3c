// What every GPU program is: a fragment shader that writes one output texel (4 channels of one
// pixel of one image) per fragment, the samplers it reads in texture-unit order, and the shape it
// writes. The runner compiles programs, caching by their source, and draws them.
import type { Activation } from '../spec.ts';
import type { InputSource, TensorFormat } from './layout.ts';

export interface GpuProgram {
  /** For error messages: the layer(s) this program computes. */
  readonly name: string;
  /** GLSL ES 3.00 fragment shader; also the cache key (it holds every constant of the program). */
  readonly source: string;
  /** Sampler uniforms, bound to texture units 0, 1, … in this order. */
  readonly samplers: readonly string[];
  /** Format of the output tensor (shape of one image, border). */
  readonly output: TensorFormat;
}

/** The tensors a program reads and writes, as the network's plan lays them out. */
export interface ProgramIO {
  input: TensorFormat;
  source: InputSource;
  output: TensorFormat;
}

export const GLSL_HEADER = `#version 300 es
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp usampler2D;
out vec4 result;
`;

/** GLSL `vec4 act(vec4 v)` for a fused activation; same definitions as the CPU kernels. */
export function glslActivation(activation: Activation): string {
  switch (activation) {
    case 'linear':
      return 'vec4 act(vec4 v) { return v; }\n';
    case 'relu':
      return 'vec4 act(vec4 v) { return max(v, vec4(0.0)); }\n';
    case 'sigmoid':
      // exp(-v) overflows to +inf for v < -88, and 1 / inf is the correct limit 0.
      return 'vec4 act(vec4 v) { return 1.0 / (1.0 + exp(-v)); }\n';
    case 'tanh':
      // Built from exp(-2|v|) ≤ 1, so large |v| gives ±1 rather than inf / inf.
      return 'vec4 act(vec4 v) { vec4 e = exp(-2.0 * abs(v)); return sign(v) * (1.0 - e) / (1.0 + e); }\n';
  }
}

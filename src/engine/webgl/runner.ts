// The runner: compiles programs (cached by source), creates textures and render targets, binds and
// draws. One full-screen triangle per draw; each fragment computes one output texel.
import type { GpuContext } from './context.ts';
import type { TensorLayout } from './layout.ts';
import type { GpuProgram } from './program.ts';

export interface CompiledProgram {
  readonly gpu: GpuProgram;
  readonly program: WebGLProgram;
  /** Kept until the link status is checked, for its compile log. */
  fragment: WebGLShader | null;
  /** Link status was checked (compile errors are thrown at that point). */
  checked: boolean;
}

export interface RenderTarget {
  readonly texture: WebGLTexture;
  readonly framebuffer: WebGLFramebuffer;
  readonly layout: TensorLayout;
}

const VERTEX_SHADER = `#version 300 es
void main() {
  // A triangle covering the viewport: (-1, -1), (3, -1), (-1, 3).
  vec2 v = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(v * 2.0 - 1.0, 0.0, 1.0);
}
`;

const BYTE_FORMATS = [
  null,
  { internal: 'R8UI', format: 'RED_INTEGER' },
  { internal: 'RG8UI', format: 'RG_INTEGER' },
  { internal: 'RGB8UI', format: 'RGB_INTEGER' },
  { internal: 'RGBA8UI', format: 'RGBA_INTEGER' },
] as const;

export class ProgramRunner {
  private readonly gl: WebGL2RenderingContext;
  private readonly cache = new Map<string, CompiledProgram>();
  private readonly vertex: WebGLShader;
  private readonly vao: WebGLVertexArrayObject;
  private readonly completionStatus = 0x91b1; // COMPLETION_STATUS_KHR

  constructor(private readonly ctx: GpuContext) {
    const gl = (this.gl = ctx.gl);
    this.vertex = this.shader(gl.VERTEX_SHADER, VERTEX_SHADER, 'full-screen triangle');
    this.vao = gl.createVertexArray();
  }

  /**
   * Starts compiling every program not yet cached and returns them all. Status is not checked
   * here, so with KHR_parallel_shader_compile the driver compiles them concurrently.
   */
  compile(programs: readonly GpuProgram[]): CompiledProgram[] {
    const gl = this.gl;
    return programs.map((gpu) => {
      let cp = this.cache.get(gpu.source);
      if (!cp) {
        const fragment = this.shader(gl.FRAGMENT_SHADER, gpu.source, gpu.name);
        const program = gl.createProgram();
        gl.attachShader(program, this.vertex);
        gl.attachShader(program, fragment);
        gl.linkProgram(program);
        cp = { gpu, program, fragment, checked: false };
        this.cache.set(gpu.source, cp);
      }
      return cp;
    });
  }

  /** Waits (without blocking, where the driver allows) until the programs are linked, then checks them. */
  async settle(programs: readonly CompiledProgram[]): Promise<void> {
    const gl = this.gl;
    if (this.ctx.parallelCompile) {
      const pending = () => programs.some((p) => !p.checked && !gl.getProgramParameter(p.program, this.completionStatus));
      while (pending() && !gl.isContextLost()) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (const p of programs) this.check(p);
  }

  /** Compiles (if needed) and checks one program synchronously. */
  get(gpu: GpuProgram): CompiledProgram {
    const [cp] = this.compile([gpu]);
    this.check(cp);
    return cp;
  }

  private check(p: CompiledProgram): void {
    if (p.checked) return;
    const gl = this.gl;
    if (!gl.getProgramParameter(p.program, gl.LINK_STATUS) && !gl.isContextLost()) {
      const log = [p.fragment && gl.getShaderInfoLog(p.fragment), gl.getProgramInfoLog(p.program)].filter(Boolean).join(' ').trim();
      this.cache.delete(p.gpu.source);
      throw new Error(`WebGL program for ${p.gpu.name} failed to compile or link: ${log || '(no log)'}`);
    }
    gl.deleteShader(p.fragment); // attached, so freed with the program
    p.fragment = null;
    gl.useProgram(p.program);
    p.gpu.samplers.forEach((name, unit) => gl.uniform1i(gl.getUniformLocation(p.program, name), unit));
    p.checked = true;
  }

  private shader(type: number, source: string, what: string): WebGLShader {
    const gl = this.gl;
    const s = gl.createShader(type);
    if (!s) throw new Error(`WebGL could not create a shader for ${what}`);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    return s;
  }

  /** State every draw relies on; call before a run of draws (another user of the context may change it). */
  begin(): void {
    const gl = this.gl;
    gl.bindVertexArray(this.vao);
    gl.disable(gl.BLEND);
    gl.disable(gl.DEPTH_TEST);
    gl.disable(gl.SCISSOR_TEST);
    gl.disable(gl.CULL_FACE);
  }

  /** Draws `p` into the first `rows` texel rows of `target`, reading `inputs` on units 0, 1, … */
  draw(p: CompiledProgram, inputs: readonly WebGLTexture[], target: RenderTarget, rows: number): void {
    const gl = this.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
    gl.viewport(0, 0, target.layout.width, rows);
    gl.useProgram(p.program);
    for (let i = 0; i < inputs.length; i++) {
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, inputs[i]);
    }
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  /** An RGBA32F texture of width × height texels holding `data` (4 floats per texel), read with texelFetch. */
  createDataTexture(width: number, height: number, data: Float32Array): WebGLTexture {
    const gl = this.gl;
    const tex = this.texture();
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA32F, width, height);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, height, gl.RGBA, gl.FLOAT, data);
    return tex;
  }

  updateDataTexture(tex: WebGLTexture, width: number, height: number, data: Float32Array): void {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, height, gl.RGBA, gl.FLOAT, data);
  }

  /** An unsigned-integer texture for input bytes (C ≤ 4 channels per texel). */
  createByteTexture(layout: TensorLayout): WebGLTexture {
    const gl = this.gl;
    const f = BYTE_FORMATS[layout.shape.c];
    if (!f) throw new Error(`input bytes with ${layout.shape.c} channels do not fit one texel`);
    const tex = this.texture();
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl[f.internal], layout.width, layout.height); // WebGL zero-fills: the border
    return tex;
  }

  /**
   * Uploads `count` images of bytes (from byte `offset` of `bytes`, NHWC) into the interiors of a
   * byte texture; its border keeps the zeros it was created with.
   */
  uploadBytes(tex: WebGLTexture, layout: TensorLayout, bytes: Uint8Array, offset: number, count: number): void {
    const gl = this.gl;
    const { h, w, c } = layout.shape;
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    const format = gl[BYTE_FORMATS[c]!.format];
    const { left, top } = layout.border;
    if (left + top + layout.border.right + layout.border.bottom === 0) {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, count * h, format, gl.UNSIGNED_BYTE, bytes, offset);
      return;
    }
    for (let n = 0; n < count; n++) {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, left, n * layout.imageRows + top, w, h, format, gl.UNSIGNED_BYTE, bytes, offset + n * h * w * c);
    }
  }

  createTarget(layout: TensorLayout, what: string): RenderTarget {
    const gl = this.gl;
    const texture = this.texture();
    gl.texStorage2D(gl.TEXTURE_2D, 1, this.ctx.targetFormat, layout.width, layout.height);
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    const status = gl.checkFramebufferStatus(gl.FRAMEBUFFER);
    if (status !== gl.FRAMEBUFFER_COMPLETE && !gl.isContextLost()) {
      throw new Error(`render target for ${what} (${layout.width}×${layout.height} ${this.ctx.renderFormat}) is incomplete: status 0x${status.toString(16)}`);
    }
    return { texture, framebuffer, layout };
  }

  deleteTarget(t: RenderTarget): void {
    this.gl.deleteFramebuffer(t.framebuffer);
    this.gl.deleteTexture(t.texture);
  }

  private texture(): WebGLTexture {
    const gl = this.gl;
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return tex;
  }

  /** Frees the programs (textures belong to their creators). */
  dispose(): void {
    const gl = this.gl;
    for (const p of this.cache.values()) gl.deleteProgram(p.program);
    this.cache.clear();
    gl.deleteShader(this.vertex);
    gl.deleteVertexArray(this.vao);
  }
}

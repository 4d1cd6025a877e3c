// The WebGL2 context: creation on an OffscreenCanvas (a worker or a page), and the capability
// probe that picks the float format activations are rendered in.
//
// Render format: RGBA32F when EXT_color_buffer_float makes it renderable; else RGBA16F when a
// probe render into it reads back correctly (precision ≈ 3 decimal digits: the session reports
// this, and callers measure the error against the CPU); else no float render target, and the
// session cannot run (WebglUnavailableError; the caller uses the CPU).

/** WebGL2 cannot run the network here; the message says why. The caller falls back to the CPU. */
export class WebglUnavailableError extends Error {
  override name = 'WebglUnavailableError';
}

/** The GL context was lost (or is being restored); the caller serves this frame another way. */
export class WebglContextLostError extends Error {
  override name = 'WebglContextLostError';
}

export type RenderFormat = 'rgba32f' | 'rgba16f';

export interface GpuContext {
  readonly gl: WebGL2RenderingContext;
  readonly canvas: OffscreenCanvas;
  readonly renderFormat: RenderFormat;
  /** Internal format of render targets: gl.RGBA32F or gl.RGBA16F. */
  readonly targetFormat: number;
  readonly maxTextureSize: number;
  /** KHR_parallel_shader_compile is present: program status can be polled without blocking. */
  readonly parallelCompile: boolean;
  readonly renderer: string;
}

export interface ContextOptions {
  canvas?: OffscreenCanvas;
  /** 'rgba16f' uses half-float render targets even when float32 ones work (to measure them). */
  renderFormat?: 'auto' | 'rgba16f';
}

const ATTRIBUTES: WebGLContextAttributes = {
  alpha: false,
  antialias: false,
  depth: false,
  stencil: false,
  premultipliedAlpha: false,
  preserveDrawingBuffer: false,
  powerPreference: 'high-performance',
};

export function getWebgl2(canvas: OffscreenCanvas | undefined): { gl: WebGL2RenderingContext; canvas: OffscreenCanvas } {
  if (!canvas) {
    if (typeof OffscreenCanvas === 'undefined') throw new WebglUnavailableError('WebGL2 is unavailable: no OffscreenCanvas in this environment');
    canvas = new OffscreenCanvas(1, 1);
  }
  let gl: WebGL2RenderingContext | null = null;
  try {
    gl = canvas.getContext('webgl2', ATTRIBUTES) as WebGL2RenderingContext | null;
  } catch (err) {
    throw new WebglUnavailableError(`WebGL2 is unavailable: getContext('webgl2') threw ${String(err)}`);
  }
  if (!gl) throw new WebglUnavailableError("WebGL2 is unavailable: getContext('webgl2') returned null (disabled, blocklisted or no GPU)");
  if (gl.isContextLost()) throw new WebglContextLostError('WebGL2 context is lost');
  return { gl, canvas };
}

/** Probes the context's capabilities; call again after a context restore (extensions are re-enabled). */
export function probeContext(gl: WebGL2RenderingContext, canvas: OffscreenCanvas, options: ContextOptions = {}): GpuContext {
  const floatOk = gl.getExtension('EXT_color_buffer_float') !== null;
  const parallelCompile = gl.getExtension('KHR_parallel_shader_compile') !== null;
  const maxTextureSize = gl.getParameter(gl.MAX_TEXTURE_SIZE) as number;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  const problems: string[] = [];
  if (floatOk && options.renderFormat !== 'rgba16f') {
    const fault = probeRender(gl, gl.RGBA32F);
    if (!fault) return { gl, canvas, renderFormat: 'rgba32f', targetFormat: gl.RGBA32F, maxTextureSize, parallelCompile, renderer };
    problems.push(`RGBA32F: ${fault}`);
  } else if (!floatOk) {
    problems.push('EXT_color_buffer_float is missing');
  }
  if (!floatOk) gl.getExtension('EXT_color_buffer_half_float');
  const fault = probeRender(gl, gl.RGBA16F);
  if (!fault) return { gl, canvas, renderFormat: 'rgba16f', targetFormat: gl.RGBA16F, maxTextureSize, parallelCompile, renderer };
  problems.push(`RGBA16F: ${fault}`);
  throw new WebglUnavailableError(`WebGL2 has no usable float render target (${problems.join('; ')})`);
}

/** Renders known values into a 1×1 texture of `format` and reads them back; returns what failed, or null. */
function probeRender(gl: WebGL2RenderingContext, format: number): string | null {
  const tex = gl.createTexture();
  const fb = gl.createFramebuffer();
  try {
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texStorage2D(gl.TEXTURE_2D, 1, format, 1, 1);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    const status = gl.checkFramebufferStatus(gl.FRAMEBUFFER);
    if (status !== gl.FRAMEBUFFER_COMPLETE) return `framebuffer status 0x${status.toString(16)}`;
    const want = [1.5, -2.25, 1000.5, 0.0078125]; // exact in float16 too
    gl.clearBufferfv(gl.COLOR, 0, want);
    const got = new Float32Array(4);
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.FLOAT, got);
    const error = gl.getError();
    if (error !== gl.NO_ERROR) return `GL error 0x${error.toString(16)} rendering or reading back`;
    if (want.some((v, i) => got[i] !== v)) return `rendered ${want.join(', ')} but read back ${Array.from(got).join(', ')}`;
    return null;
  } finally {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.bindTexture(gl.TEXTURE_2D, null);
    gl.deleteFramebuffer(fb);
    gl.deleteTexture(tex);
  }
}

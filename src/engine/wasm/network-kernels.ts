// One network's buffers in one WebAssembly memory, and the calls into the SIMD kernels
// (assembly/kernels.ts) for its conv2d, pooling and dense layers.
//
// The memory is sized at construction for `capacity` images and never grows, so the Float32Array
// views handed out as acts and grads stay valid; forward and backward passes allocate nothing.
// Each layer gets a descriptor (i32 fields, the offsets below, mirrored in assembly/kernels.ts)
// holding its shapes and buffer addresses, so a kernel call is (descriptor, n).
import { activationForward } from '../cpu/activation.ts';
import type { NetworkKernels } from '../cpu/network.ts';
import { size3, type Conv2dInfo, type DenseInfo, type NetworkInfo, type PoolInfo } from '../shapes.ts';
import type { Activation } from '../spec.ts';

/** The kernel module's exports (assembly/kernels.ts). Pointers are byte offsets. */
export interface KernelExports {
  conv2dForward(desc: number, n: number): void;
  conv2dBackward(desc: number, n: number, wantDx: number): void;
  poolForward(desc: number, n: number): void;
  poolBackward(desc: number, n: number): void;
  denseForward(desc: number, n: number): void;
  denseBackward(desc: number, n: number, wantDx: number): void;
}

const enum Conv {
  X, XP, W, B, Y, H, WI, CI, HP, WP, PT, PL, KH, KW, SH, SW, OH, OW, CO, RELU, DZ, DXP, DX, WT, DW, DB, ACT, DZP, WR, ZB, FIELDS,
}
const enum Pool {
  X, Y, ARG, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL, MAX, DY, DX, FIELDS,
}
const enum Dense {
  X, W, B, Y, IN, UNITS, RELU, ROW, DZ, DW, DB, DX, ACT, FIELDS,
}

const ACT_CODE: Record<Activation, number> = { linear: 0, relu: 1, sigmoid: 2, tanh: 3 };
const PAGE = 65536;
/** Address 0 means "none" to the kernels; allocations start above it. */
const FIRST = 64;

const roundUp4 = (v: number): number => (v + 3) & ~3;

/** Bump allocation of 16-byte-aligned blocks, each followed by 16 bytes of slack (see kernels.ts). */
class Layout {
  end = FIRST;
  /** Reserves `count` 4-byte elements and returns the byte address. */
  alloc(count: number): number {
    const at = this.end;
    this.end = (at + count * 4 + 16 + 15) & ~15;
    return at;
  }
}

interface ConvLayer {
  kind: 'conv2d';
  info: Conv2dInfo;
  desc: number;
  w4: Float32Array;
  bias: Float32Array;
  wt: Float32Array | null;
  wr: Float32Array | null;
  dw: Float32Array | null;
  db: Float32Array | null;
}
interface PoolLayer {
  kind: 'pool';
  info: PoolInfo;
  desc: number;
}
interface DenseLayer {
  kind: 'dense';
  info: DenseInfo;
  desc: number;
  w: Float32Array;
  bias: Float32Array;
  dw: Float32Array | null;
  db: Float32Array | null;
}
type Bound = ConvLayer | PoolLayer | DenseLayer | null;
type View = (at: number, count: number) => Float32Array;

export class WasmNetworkKernels implements NetworkKernels {
  readonly acts: Float32Array[];
  readonly grads: Float32Array[] = [];
  readonly memory: WebAssembly.Memory;
  private readonly k: KernelExports;
  private readonly layers: Bound[];

  constructor(module: WebAssembly.Module, info: NetworkInfo, capacity: number, training: boolean) {
    const cap = capacity;
    const lay = new Layout();
    const actAt = [lay.alloc(cap * size3(info.input)), ...info.layers.map((l) => lay.alloc(cap * size3(l.out)))];
    const gradAt = training ? actAt.map((_, i) => lay.alloc(cap * (i === 0 ? size3(info.input) : size3(info.layers[i - 1].out)))) : [];
    // Addresses first; descriptors are written and views made once the memory exists.
    const fields: { desc: number; values: number[] }[] = [];
    const plan = info.layers.map((l, i) => {
      const x = actAt[i];
      const y = actAt[i + 1];
      const dy = training ? gradAt[i + 1] : 0;
      const dx = training ? gradAt[i] : 0;
      if (l.kind === 'conv2d') {
        const hp = l.in.h + l.padTop + l.padBottom;
        const wp = l.in.w + l.padLeft + l.padRight;
        const padded = hp !== l.in.h || wp !== l.in.w;
        const r = l.kw * l.in.c;
        const kk = l.kh * r;
        const co4 = roundUp4(l.out.c);
        const desc = lay.alloc(Conv.FIELDS);
        const xp = padded ? lay.alloc(cap * hp * wp * l.in.c) : x;
        const w4 = lay.alloc(co4 * kk);
        const bias = lay.alloc(co4);
        // Stride 1 with at most KH − 1, KW − 1 padding: the input gradient is a convolution
        // (dz padded into dzp, rotated weights wr); otherwise it is scattered through dxp and wt.
        const rotated =
          training && l.sh === 1 && l.sw === 1 && Math.max(l.padTop, l.padBottom) < l.kh && Math.max(l.padLeft, l.padRight) < l.kw;
        const ci4 = roundUp4(l.in.c);
        const dzp = rotated ? lay.alloc(cap * (l.in.h + l.kh - 1) * (l.in.w + l.kw - 1) * l.out.c) : 0;
        const kRot = l.kh * l.kw * l.out.c; // K of the rotated convolution (CO input channels)
        const wr = rotated ? lay.alloc(ci4 * kRot) : 0;
        const zb = rotated ? lay.alloc(ci4) : 0;
        const dxp = training && padded && !rotated ? lay.alloc(cap * hp * wp * l.in.c) : dx;
        const wt = training && !rotated ? lay.alloc(l.out.c * l.kh * roundUp4(r)) : 0;
        const dw = training ? lay.alloc(kk * co4) : 0;
        const db = training ? lay.alloc(co4) : 0;
        const v = new Array<number>(Conv.FIELDS).fill(0);
        v[Conv.X] = x; v[Conv.XP] = xp; v[Conv.W] = w4; v[Conv.B] = bias; v[Conv.Y] = y;
        v[Conv.H] = l.in.h; v[Conv.WI] = l.in.w; v[Conv.CI] = l.in.c; v[Conv.HP] = hp; v[Conv.WP] = wp;
        v[Conv.PT] = l.padTop; v[Conv.PL] = l.padLeft; v[Conv.KH] = l.kh; v[Conv.KW] = l.kw; v[Conv.SH] = l.sh; v[Conv.SW] = l.sw;
        v[Conv.OH] = l.out.h; v[Conv.OW] = l.out.w; v[Conv.CO] = l.out.c; v[Conv.RELU] = l.activation === 'relu' ? 1 : 0;
        v[Conv.DZ] = dy; v[Conv.DXP] = dxp; v[Conv.DX] = dx; v[Conv.WT] = wt; v[Conv.DW] = dw; v[Conv.DB] = db;
        v[Conv.ACT] = ACT_CODE[l.activation]; v[Conv.DZP] = dzp; v[Conv.WR] = wr; v[Conv.ZB] = zb;
        fields.push({ desc, values: v });
        return (f32: View): Bound => ({
          kind: 'conv2d',
          info: l,
          desc,
          w4: f32(w4, co4 * kk),
          bias: f32(bias, co4),
          wt: wt ? f32(wt, l.out.c * l.kh * roundUp4(r)) : null,
          wr: wr ? f32(wr, ci4 * kRot) : null,
          dw: training ? f32(dw, kk * co4) : null,
          db: training ? f32(db, co4) : null,
        });
      }
      if (l.kind === 'maxpool' || l.kind === 'avgpool') {
        const desc = lay.alloc(Pool.FIELDS);
        const arg = training && l.kind === 'maxpool' ? lay.alloc(cap * size3(l.out)) : 0;
        const v = new Array<number>(Pool.FIELDS).fill(0);
        v[Pool.X] = x; v[Pool.Y] = y; v[Pool.ARG] = arg; v[Pool.H] = l.in.h; v[Pool.W] = l.in.w; v[Pool.C] = l.in.c;
        v[Pool.OH] = l.out.h; v[Pool.OW] = l.out.w; v[Pool.KH] = l.kh; v[Pool.KW] = l.kw; v[Pool.SH] = l.sh; v[Pool.SW] = l.sw;
        v[Pool.PT] = l.padTop; v[Pool.PL] = l.padLeft; v[Pool.MAX] = l.kind === 'maxpool' ? 1 : 0; v[Pool.DY] = dy; v[Pool.DX] = dx;
        fields.push({ desc, values: v });
        return (): Bound => ({ kind: 'pool', info: l, desc });
      }
      if (l.kind === 'dense') {
        const u4 = roundUp4(l.units);
        const desc = lay.alloc(Dense.FIELDS);
        const w = lay.alloc(l.inSize * u4);
        const bias = lay.alloc(u4);
        const row = lay.alloc(u4);
        const dw = training ? lay.alloc(l.inSize * u4) : 0;
        const db = training ? lay.alloc(u4) : 0;
        const v = new Array<number>(Dense.FIELDS).fill(0);
        v[Dense.X] = x; v[Dense.W] = w; v[Dense.B] = bias; v[Dense.Y] = y; v[Dense.IN] = l.inSize; v[Dense.UNITS] = l.units;
        v[Dense.RELU] = l.activation === 'relu' ? 1 : 0; v[Dense.ROW] = row; v[Dense.DZ] = dy; v[Dense.DW] = dw; v[Dense.DB] = db;
        v[Dense.DX] = dx; v[Dense.ACT] = ACT_CODE[l.activation];
        fields.push({ desc, values: v });
        return (f32: View): Bound => ({
          kind: 'dense',
          info: l,
          desc,
          w: f32(w, l.inSize * u4),
          bias: f32(bias, u4),
          dw: training ? f32(dw, l.inSize * u4) : null,
          db: training ? f32(db, u4) : null,
        });
      }
      return (): Bound => null;
    });

    const pages = Math.ceil(lay.end / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.k = instance.exports as unknown as KernelExports;
    const buf = this.memory.buffer;
    const i32 = new Int32Array(buf);
    for (const { desc, values } of fields) i32.set(values, desc / 4);
    const f32: View = (at, count) => new Float32Array(buf, at, count);
    this.acts = actAt.map((at, i) => f32(at, cap * (i === 0 ? size3(info.input) : size3(info.layers[i - 1].out))));
    if (training) this.grads = gradAt.map((at, i) => f32(at, this.acts[i].length));
    this.layers = plan.map((make) => make(f32));
  }

  repack(params: Float32Array): void {
    for (const b of this.layers) {
      if (b?.kind === 'conv2d') packConv(b, params);
      else if (b?.kind === 'dense') packDense(b, params);
    }
  }

  forward(i: number, n: number): boolean {
    const b = this.layers[i];
    if (!b) return false;
    switch (b.kind) {
      case 'conv2d':
        this.k.conv2dForward(b.desc, n);
        this.finishActivation(b.info.activation, i, n);
        return true;
      case 'pool':
        this.k.poolForward(b.desc, n);
        return true;
      case 'dense':
        this.k.denseForward(b.desc, n);
        this.finishActivation(b.info.activation, i, n);
        return true;
    }
  }

  backward(i: number, n: number, paramGrads: Float32Array, wantInputGrad: boolean): boolean {
    const b = this.layers[i];
    if (!b) return false;
    switch (b.kind) {
      case 'conv2d': {
        this.k.conv2dBackward(b.desc, n, wantInputGrad ? 1 : 0);
        const l = b.info;
        const co = l.out.c;
        const co4 = roundUp4(co);
        const kk = l.kh * l.kw * l.in.c;
        addPadded(paramGrads, l.paramOffset, b.dw!, kk, co, co4);
        if (l.biasOffset >= 0) addPadded(paramGrads, l.biasOffset, b.db!, 1, co, co4);
        return true;
      }
      case 'pool':
        if (wantInputGrad) this.k.poolBackward(b.desc, n);
        return true;
      case 'dense': {
        this.k.denseBackward(b.desc, n, wantInputGrad ? 1 : 0);
        const l = b.info;
        const u4 = roundUp4(l.units);
        addPadded(paramGrads, l.paramOffset, b.dw!, l.inSize, l.units, u4);
        if (l.biasOffset >= 0) addPadded(paramGrads, l.biasOffset, b.db!, 1, l.units, u4);
        return true;
      }
    }
  }

  /** sigmoid and tanh are applied here (the kernels fuse only relu). */
  private finishActivation(act: Activation, i: number, n: number): void {
    if (act === 'sigmoid' || act === 'tanh') activationForward(act, this.acts[i + 1], 0, n * size3(this.layers[i]!.info.out));
  }
}

/**
 * Packs a [K][CO] matrix given by get(k, co) into output-channel tiles for the conv kernels: tiles
 * of 8 channels and a last one of 4 when CO4 is not a multiple of 8; the tile starting at channel
 * c0 with L lanes holds dst[c0·K + k·L + q] = get(k, c0 + q), zero past CO.
 */
function packTiles(dst: Float32Array, kk: number, co: number, get: (k: number, c: number) => number): void {
  const co4 = roundUp4(co);
  for (let c0 = 0; c0 < co4; c0 += 8) {
    const lanes = Math.min(8, co4 - c0);
    for (let k = 0; k < kk; k++) {
      const at = c0 * kk + k * lanes;
      for (let q = 0; q < lanes; q++) dst[at + q] = c0 + q < co ? get(k, c0 + q) : 0;
    }
  }
}

/** w4, bias padded to CO4 and, when training, the rotated wr or the transposed wt (see kernels.ts). */
function packConv(b: ConvLayer, params: Float32Array): void {
  const l = b.info;
  const { kh, kw } = l;
  const ci = l.in.c;
  const co = l.out.c;
  const r = kw * ci;
  const kk = kh * r;
  const w0 = l.paramOffset;
  const { w4, bias, wt, wr } = b;
  packTiles(w4, kk, co, (k, c) => params[w0 + k * co + c]);
  bias.fill(0);
  if (l.biasOffset >= 0) bias.set(params.subarray(l.biasOffset, l.biasOffset + co));
  if (wr) {
    // k' = (ky'·KW + kx')·CO + o of the rotated kernel reads w(KH − 1 − ky', KW − 1 − kx', c, o).
    packTiles(wr, kh * kw * co, ci, (k, c) => {
      const o = k % co;
      const kx = kw - 1 - (Math.floor(k / co) % kw);
      const ky = kh - 1 - Math.floor(k / (co * kw));
      return params[w0 + ((ky * kw + kx) * ci + c) * co + o];
    });
  }
  if (wt) {
    const r4 = roundUp4(r);
    wt.fill(0);
    for (let o = 0; o < co; o++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let j = 0; j < r; j++) wt[(o * kh + ky) * r4 + j] = params[w0 + (ky * r + j) * co + o];
      }
    }
  }
}

/** Dense weights as [IN][U4] and bias [U4], zero past UNITS. */
function packDense(b: DenseLayer, params: Float32Array): void {
  const l = b.info;
  const u4 = roundUp4(l.units);
  b.w.fill(0);
  for (let i = 0; i < l.inSize; i++) b.w.set(params.subarray(l.paramOffset + i * l.units, l.paramOffset + (i + 1) * l.units), i * u4);
  b.bias.fill(0);
  if (l.biasOffset >= 0) b.bias.set(params.subarray(l.biasOffset, l.biasOffset + l.units));
}

/** grads[at + r·cols + c] += src[r·stride + c] for rows × cols. */
function addPadded(grads: Float32Array, at: number, src: Float32Array, rows: number, cols: number, stride: number): void {
  for (let r = 0; r < rows; r++) {
    const g = at + r * cols;
    const s = r * stride;
    for (let c = 0; c < cols; c++) grads[g + c] += src[s + c];
  }
}

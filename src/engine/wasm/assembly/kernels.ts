// WebAssembly SIMD kernels of the CPU backend, in AssemblyScript (built by scripts/build-wasm.ts
// into ../kernels-binary.ts). Same operations and index conventions as src/engine/cpu/*.ts:
// NHWC activations, zero-padded conv inputs, and weights packed at load for f32x4 lanes.
//
// Every pointer is a byte offset into the one imported memory; the JS side (../network-kernels.ts)
// lays out each network's buffers once and writes a descriptor of i32 fields per layer, so a call
// is (descriptor, batch size). Buffers are 16-byte aligned and followed by at least 16 bytes of
// slack, so a vector load may read up to 3 floats past a buffer's end; such lanes only ever feed
// lanes that are discarded.
//
// Packed conv weights (K = KH·KW·CI, k = (ky·KW + kx)·CI + ci as in HWIO; CO4 = CO rounded up to 4):
//   output channels go in tiles of 8 (two f32x4) and, when CO4 is not a multiple of 8, a last
//   tile of 4; the tile starting at channel 4v holds w4[4v·K + k·L + q] = w(k, 4v + q) for its
//   L = 8 or 4 lanes q (zero past CO), so a tile reads L consecutive floats per k.
// Rotated conv weights for the input gradient of stride-1 layers, packed like w4 for a conv from
//   CO to CI channels: wr = pack(w'), w'(ky, kx, co, ci) = w(KH − 1 − ky, KW − 1 − kx, ci, co).
// Transposed conv weights for the input gradient of other layers (R = KW·CI, R4 = R rounded up to 4):
//   wt[((co·KH + ky)·R4 + j] = w(ky, j / CI, j % CI, co), zero for j ≥ R.
// Parameter gradients are written to padded scratch: dW[k·CO4 + co], db[co] (dense: [IN][U4]).

// Conv descriptor fields (i32 each), mirrored in ../network-kernels.ts.
const CX = 0; // input x (unpadded)
const CXP = 1; // padded input (== CX when the layer does not pad)
const CW = 2; // packed weights w4
const CB = 3; // bias, CO4 floats
const CY = 4; // output y
const CH = 5; // input height, width, channels
const CWI = 6;
const CCI = 7;
const CHP = 8; // padded height, width
const CWP = 9;
const CPT = 10; // padTop, padLeft
const CPL = 11;
const CKH = 12;
const CKW = 13;
const CSH = 14;
const CSW = 15;
const COH = 16;
const COW = 17;
const CCO = 18;
const CRELU = 19; // 1: fused relu
const CDZ = 20; // dL/dy, overwritten with dL/d(pre-activation)
const CDXP = 21; // padded input gradient (== CDX when the layer does not pad)
const CDX = 22;
const CWT = 23; // transposed weights wt
const CDW = 24; // dW scratch [K][CO4]
const CDB = 25; // db scratch [CO4]
const CACT = 26; // activation code: 0 linear, 1 relu, 2 sigmoid, 3 tanh
const CDZP = 27; // stride-1 input gradient: zero-padded dz (0 when the scatter kernel is used)
const CWR = 28; // rotated weights, packed as w4 with CI and CO swapped
const CZB = 29; // CI4 zeros (bias of that convolution)

// Pool descriptor fields.
const PX = 0;
const PY = 1;
const PARG = 2; // argmax (i32 float indices into x), 0 when not recorded
const PH = 3;
const PW = 4;
const PC = 5;
const POH = 6;
const POW = 7;
const PKH = 8;
const PKW = 9;
const PSH = 10;
const PSW = 11;
const PPT = 12;
const PPL = 13;
const PMAX = 14; // 1 max, 0 average
const PDY = 15;
const PDX = 16;

// Dense descriptor fields.
const DX = 0;
const DW = 1; // packed weights [IN][U4], zero past UNITS
const DB = 2; // bias [U4]
const DY = 3;
const DIN = 4;
const DUNITS = 5;
const DRELU = 6;
const DROW = 7; // scratch row [U4]
const DDZ = 8;
const DDW = 9; // dW scratch [IN][U4]
const DDB = 10; // db scratch [U4]
const DDX = 11; // dL/dx, 0 when not wanted
const DACT = 12;

@inline function fld(d: usize, i: i32): i32 {
  return load<i32>(d + (<usize>i << 2));
}

@inline function fma(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Stores the first `lanes` (0..4) lanes of v at p. */
@inline function storeLanes(p: usize, v: v128, lanes: i32): void {
  if (lanes >= 4) {
    v128.store(p, v);
    return;
  }
  if (lanes > 0) v128.store32_lane(p, v, 0);
  if (lanes > 1) v128.store32_lane(p, v, 1, 4);
  if (lanes > 2) v128.store32_lane(p, v, 2, 8);
}

/** relu: max(v, 0) with NaN → 0, as the TypeScript `if (!(y > 0)) y = 0`. */
@inline function relu4(v: v128, on: bool): v128 {
  return on ? f32x4.pmax(f32x4.splat(0), v) : v;
}

// ---------------------------------------------------------------------------------------------
// Padding

/** Copies images [0, n) of x into the zero-padded xp (borders written as zeros every time). */
function padInput(x: usize, xp: usize, n: i32, h: i32, w: i32, c: i32, hp: i32, wp: i32, pt: i32, pl: i32): void {
  const rowIn = <usize>(w * c) << 2;
  const rowOut = <usize>(wp * c) << 2;
  const left = <usize>(pl * c) << 2;
  const right = rowOut - left - rowIn;
  for (let img = 0; img < n; img++) {
    const src0 = x + <usize>(img * h) * rowIn;
    const dst0 = xp + <usize>(img * hp) * rowOut;
    for (let py = 0; py < hp; py++) {
      const iy = py - pt;
      const d = dst0 + <usize>py * rowOut;
      if (iy < 0 || iy >= h) {
        memory.fill(d, 0, rowOut);
        continue;
      }
      memory.fill(d, 0, left);
      memory.copy(d + left, src0 + <usize>iy * rowIn, rowIn);
      memory.fill(d + left + rowIn, 0, right);
    }
  }
}

/** Copies the interior of the padded gradient dxp into dx (inverse of padInput). */
function unpad(dxp: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, hp: i32, wp: i32, pt: i32, pl: i32): void {
  const rowIn = <usize>(w * c) << 2;
  const rowOut = <usize>(wp * c) << 2;
  for (let img = 0; img < n; img++) {
    for (let iy = 0; iy < h; iy++) {
      const s = dxp + (<usize>((img * hp + iy + pt) * wp + pl) * <usize>c << 2);
      memory.copy(dx + <usize>(img * h + iy) * rowIn, s, rowIn);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// conv2d forward: y(n, oy, ox, co) = act(b(co) + Σ_k xpatch(n, oy, ox, k) · w(k, co)).
//
// Micro-kernels of MR output pixels (consecutive ox, same row) × 8 or 4 output channels keep the
// accumulators in registers; per k they load MR splatted inputs and 2 (or 1) weight vectors.
// One kernel row (kx, ci) is R = KW·CI consecutive floats in the padded input, so k runs over KH
// rows of R floats each: x at p + ky·rowBytes + 4j, weights consecutive.

function tile4x8(p: usize, step: usize, rowBytes: usize, kh: i32, r: i32, wq: usize, b: usize, yp: usize, ys: usize, ch: i32, act: bool): void {
  let a0 = v128.load(b), a1 = v128.load(b, 16);
  let b0 = a0, b1 = a1, c0 = a0, c1 = a1, d0 = a0, d1 = a1;
  const rb = <usize>r << 2;
  for (let ky = 0; ky < kh; ky++) {
    let x0 = p + <usize>ky * rowBytes;
    const end = x0 + rb;
    const x1off = step, x2off = step * 2, x3off = step * 3;
    while (x0 < end) {
      const w0 = v128.load(wq), w1 = v128.load(wq, 16);
      const s0 = v128.load32_splat(x0);
      const s1 = v128.load32_splat(x0 + x1off);
      const s2 = v128.load32_splat(x0 + x2off);
      const s3 = v128.load32_splat(x0 + x3off);
      a0 = fma(a0, s0, w0); a1 = fma(a1, s0, w1);
      b0 = fma(b0, s1, w0); b1 = fma(b1, s1, w1);
      c0 = fma(c0, s2, w0); c1 = fma(c1, s2, w1);
      d0 = fma(d0, s3, w0); d1 = fma(d1, s3, w1);
      wq += 32;
      x0 += 4;
    }
  }
  a0 = relu4(a0, act); a1 = relu4(a1, act); b0 = relu4(b0, act); b1 = relu4(b1, act);
  c0 = relu4(c0, act); c1 = relu4(c1, act); d0 = relu4(d0, act); d1 = relu4(d1, act);
  if (ch >= 8) {
    v128.store(yp, a0); v128.store(yp, a1, 16);
    v128.store(yp + ys, b0); v128.store(yp + ys, b1, 16);
    v128.store(yp + 2 * ys, c0); v128.store(yp + 2 * ys, c1, 16);
    v128.store(yp + 3 * ys, d0); v128.store(yp + 3 * ys, d1, 16);
  } else {
    v128.store(yp, a0); storeLanes(yp + 16, a1, ch - 4);
    v128.store(yp + ys, b0); storeLanes(yp + ys + 16, b1, ch - 4);
    v128.store(yp + 2 * ys, c0); storeLanes(yp + 2 * ys + 16, c1, ch - 4);
    v128.store(yp + 3 * ys, d0); storeLanes(yp + 3 * ys + 16, d1, ch - 4);
  }
}

function tile4x4(p: usize, step: usize, rowBytes: usize, kh: i32, r: i32, wq: usize, b: usize, yp: usize, ys: usize, ch: i32, act: bool): void {
  let a0 = v128.load(b);
  let b0 = a0, c0 = a0, d0 = a0;
  const rb = <usize>r << 2;
  for (let ky = 0; ky < kh; ky++) {
    let x0 = p + <usize>ky * rowBytes;
    const end = x0 + rb;
    while (x0 < end) {
      const w0 = v128.load(wq);
      a0 = fma(a0, v128.load32_splat(x0), w0);
      b0 = fma(b0, v128.load32_splat(x0 + step), w0);
      c0 = fma(c0, v128.load32_splat(x0 + step * 2), w0);
      d0 = fma(d0, v128.load32_splat(x0 + step * 3), w0);
      wq += 16;
      x0 += 4;
    }
  }
  storeLanes(yp, relu4(a0, act), ch);
  storeLanes(yp + ys, relu4(b0, act), ch);
  storeLanes(yp + 2 * ys, relu4(c0, act), ch);
  storeLanes(yp + 3 * ys, relu4(d0, act), ch);
}

function tile1x8(p: usize, rowBytes: usize, kh: i32, r: i32, wq: usize, b: usize, yp: usize, ch: i32, act: bool): void {
  let a0 = v128.load(b), a1 = v128.load(b, 16);
  const rb = <usize>r << 2;
  for (let ky = 0; ky < kh; ky++) {
    let x0 = p + <usize>ky * rowBytes;
    const end = x0 + rb;
    while (x0 < end) {
      const s0 = v128.load32_splat(x0);
      a0 = fma(a0, s0, v128.load(wq));
      a1 = fma(a1, s0, v128.load(wq, 16));
      wq += 32;
      x0 += 4;
    }
  }
  v128.store(yp, relu4(a0, act));
  storeLanes(yp + 16, relu4(a1, act), ch - 4);
}

function tile1x4(p: usize, rowBytes: usize, kh: i32, r: i32, wq: usize, b: usize, yp: usize, ch: i32, act: bool): void {
  let a0 = v128.load(b);
  const rb = <usize>r << 2;
  for (let ky = 0; ky < kh; ky++) {
    let x0 = p + <usize>ky * rowBytes;
    const end = x0 + rb;
    while (x0 < end) {
      a0 = fma(a0, v128.load32_splat(x0), v128.load(wq));
      wq += 16;
      x0 += 4;
    }
  }
  storeLanes(yp, relu4(a0, act), ch);
}

export function conv2dForward(d: usize, n: i32): void {
  const x = <usize>fld(d, CX), xp = <usize>fld(d, CXP);
  const ci = fld(d, CCI), hp = fld(d, CHP), wp = fld(d, CWP);
  if (xp != x) padInput(x, xp, n, fld(d, CH), fld(d, CWI), ci, hp, wp, fld(d, CPT), fld(d, CPL));
  convolve(xp, <usize>fld(d, CW), <usize>fld(d, CB), <usize>fld(d, CY), n, hp, wp, ci, fld(d, CKH), fld(d, CKW), fld(d, CSH), fld(d, CSW), fld(d, COH), fld(d, COW), fld(d, CCO), fld(d, CRELU) != 0);
}

/** y = act(bias + conv(xp, w4)) over an already padded input (see the packing above). */
function convolve(xp: usize, w4: usize, bias: usize, y: usize, n: i32, hp: i32, wp: i32, ci: i32, kh: i32, kw: i32, sh: i32, sw: i32, oh: i32, ow: i32, co: i32, act: bool): void {
  const r = kw * ci;
  const kBytes = <usize>(kh * r) << 4; // one vector column of packed weights
  const rowBytes = <usize>(wp * ci) << 2;
  const step = <usize>(sw * ci) << 2;
  const ys = <usize>co << 2;
  const nv = (co + 3) >> 2;
  for (let img = 0; img < n; img++) {
    const xImg = xp + <usize>(img * hp) * rowBytes;
    for (let oy = 0; oy < oh; oy++) {
      const rowBase = xImg + <usize>(oy * sh) * rowBytes;
      const yRow = y + (<usize>((img * oh + oy) * ow) * ys);
      let ox = 0;
      for (; ox + 4 <= ow; ox += 4) {
        const p = rowBase + <usize>ox * step;
        const yp = yRow + <usize>ox * ys;
        let v = 0;
        for (; v + 2 <= nv; v += 2) tile4x8(p, step, rowBytes, kh, r, w4 + <usize>v * kBytes, bias + (<usize>v << 4), yp + (<usize>v << 4), ys, co - 4 * v, act);
        if (v < nv) tile4x4(p, step, rowBytes, kh, r, w4 + <usize>v * kBytes, bias + (<usize>v << 4), yp + (<usize>v << 4), ys, co - 4 * v, act);
      }
      for (; ox < ow; ox++) {
        const p = rowBase + <usize>ox * step;
        const yp = yRow + <usize>ox * ys;
        let v = 0;
        for (; v + 2 <= nv; v += 2) tile1x8(p, rowBytes, kh, r, w4 + <usize>v * kBytes, bias + (<usize>v << 4), yp + (<usize>v << 4), co - 4 * v, act);
        if (v < nv) tile1x4(p, rowBytes, kh, r, w4 + <usize>v * kBytes, bias + (<usize>v << 4), yp + (<usize>v << 4), co - 4 * v, act);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Activation backward: dz = dy · act'(y), over dy in place (relu: y > 0; sigmoid: y(1 − y);
// tanh: 1 − y²), as src/engine/cpu/activation.ts.

export function activationBackward(act: i32, y: usize, dy: usize, count: i32): void {
  if (act == 0) return;
  const zero = f32x4.splat(0), one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i << 2;
    const yv = v128.load(y + o);
    const g = v128.load(dy + o);
    let r: v128;
    if (act == 1) r = v128.and(g, f32x4.gt(yv, zero));
    else if (act == 2) r = f32x4.mul(g, f32x4.mul(yv, f32x4.sub(one, yv)));
    else r = f32x4.mul(g, f32x4.sub(one, f32x4.mul(yv, yv)));
    v128.store(dy + o, r);
  }
  for (; i < count; i++) {
    const o = <usize>i << 2;
    const yv = load<f32>(y + o);
    const g = load<f32>(dy + o);
    let r: f32;
    if (act == 1) r = yv > 0 ? g : 0;
    else if (act == 2) r = g * (yv * (1 - yv));
    else r = g * (1 - yv * yv);
    store<f32>(dy + o, r);
  }
}

// ---------------------------------------------------------------------------------------------
// conv2d backward. dz = dL/d(pre-activation output) (the activation backward runs first).
//
// dW(k, co) = Σ_pixels xpatch(pixel, k) · dz(pixel, co): per image, a tile of 4 k × 8 co sits in
// registers while the pixels stream past (4 splatted inputs and 2 dz vectors per pixel).
// Stride 1: dx is a convolution of the padded dz with the rotated kernel (the forward kernels).
// Other strides: dxpatch(pixel, j) = Σ_co dz(pixel, co) · wt(co, ky, j), 2 pixels × 16 j in
// registers with the co loop innermost; each pixel's patch row is then added into the padded
// input gradient.

// dW tiles: 4 k (patch offsets o0..o3, in bytes) × 8 or 4 output channels, or 1 k × 8 or 4, summed
// over the pixels of one image and added to dW rows dw0, dw0 + dwRow, … .
function filter4x8(px0: usize, g: usize, dw0: usize, dwRow: usize, o0: usize, o1: usize, o2: usize, o3: usize, oh: i32, ow: i32, rowStep: usize, step: usize, dzs: usize): void {
  let a0 = v128.load(dw0), a1 = v128.load(dw0, 16);
  let b0 = v128.load(dw0 + dwRow), b1 = v128.load(dw0 + dwRow, 16);
  let c0 = v128.load(dw0 + 2 * dwRow), c1 = v128.load(dw0 + 2 * dwRow, 16);
  let e0 = v128.load(dw0 + 3 * dwRow), e1 = v128.load(dw0 + 3 * dwRow, 16);
  for (let oy = 0; oy < oh; oy++) {
    let px = px0 + <usize>oy * rowStep;
    for (let ox = 0; ox < ow; ox++) {
      const g0 = v128.load(g), g1 = v128.load(g, 16);
      const s0 = v128.load32_splat(px + o0);
      const s1 = v128.load32_splat(px + o1);
      const s2 = v128.load32_splat(px + o2);
      const s3 = v128.load32_splat(px + o3);
      a0 = fma(a0, s0, g0); a1 = fma(a1, s0, g1);
      b0 = fma(b0, s1, g0); b1 = fma(b1, s1, g1);
      c0 = fma(c0, s2, g0); c1 = fma(c1, s2, g1);
      e0 = fma(e0, s3, g0); e1 = fma(e1, s3, g1);
      px += step;
      g += dzs;
    }
  }
  v128.store(dw0, a0); v128.store(dw0, a1, 16);
  v128.store(dw0 + dwRow, b0); v128.store(dw0 + dwRow, b1, 16);
  v128.store(dw0 + 2 * dwRow, c0); v128.store(dw0 + 2 * dwRow, c1, 16);
  v128.store(dw0 + 3 * dwRow, e0); v128.store(dw0 + 3 * dwRow, e1, 16);
}

function filter4x4(px0: usize, g: usize, dw0: usize, dwRow: usize, o0: usize, o1: usize, o2: usize, o3: usize, oh: i32, ow: i32, rowStep: usize, step: usize, dzs: usize): void {
  let a0 = v128.load(dw0), b0 = v128.load(dw0 + dwRow), c0 = v128.load(dw0 + 2 * dwRow), e0 = v128.load(dw0 + 3 * dwRow);
  for (let oy = 0; oy < oh; oy++) {
    let px = px0 + <usize>oy * rowStep;
    for (let ox = 0; ox < ow; ox++) {
      const g0 = v128.load(g);
      a0 = fma(a0, v128.load32_splat(px + o0), g0);
      b0 = fma(b0, v128.load32_splat(px + o1), g0);
      c0 = fma(c0, v128.load32_splat(px + o2), g0);
      e0 = fma(e0, v128.load32_splat(px + o3), g0);
      px += step;
      g += dzs;
    }
  }
  v128.store(dw0, a0); v128.store(dw0 + dwRow, b0); v128.store(dw0 + 2 * dwRow, c0); v128.store(dw0 + 3 * dwRow, e0);
}

function filter1x8(px0: usize, g: usize, dw0: usize, o0: usize, oh: i32, ow: i32, rowStep: usize, step: usize, dzs: usize): void {
  let a0 = v128.load(dw0), a1 = v128.load(dw0, 16);
  for (let oy = 0; oy < oh; oy++) {
    let px = px0 + <usize>oy * rowStep;
    for (let ox = 0; ox < ow; ox++) {
      const s0 = v128.load32_splat(px + o0);
      a0 = fma(a0, s0, v128.load(g));
      a1 = fma(a1, s0, v128.load(g, 16));
      px += step;
      g += dzs;
    }
  }
  v128.store(dw0, a0); v128.store(dw0, a1, 16);
}

function filter1x4(px0: usize, g: usize, dw0: usize, o0: usize, oh: i32, ow: i32, rowStep: usize, step: usize, dzs: usize): void {
  let a0 = v128.load(dw0);
  for (let oy = 0; oy < oh; oy++) {
    let px = px0 + <usize>oy * rowStep;
    for (let ox = 0; ox < ow; ox++) {
      a0 = fma(a0, v128.load32_splat(px + o0), v128.load(g));
      px += step;
      g += dzs;
    }
  }
  v128.store(dw0, a0);
}

export function conv2dBackward(d: usize, n: i32, wantDx: i32): void {
  const xp = <usize>fld(d, CXP), dz = <usize>fld(d, CDZ), y = <usize>fld(d, CY);
  const ci = fld(d, CCI), hp = fld(d, CHP), wp = fld(d, CWP);
  const kh = fld(d, CKH), kw = fld(d, CKW), sh = fld(d, CSH), sw = fld(d, CSW);
  const oh = fld(d, COH), ow = fld(d, COW), co = fld(d, CCO);
  const pixels = oh * ow;
  activationBackward(fld(d, CACT), y, dz, n * pixels * co);

  const r = kw * ci;
  const kk = kh * r;
  const co4 = (co + 3) & ~3;
  const nv = co4 >> 2;
  const dwBase = <usize>fld(d, CDW), dbBase = <usize>fld(d, CDB);
  memory.fill(dwBase, 0, <usize>(kk * co4) << 2);
  memory.fill(dbBase, 0, <usize>co4 << 2);
  const rowBytes = <usize>(wp * ci) << 2;
  const inImage = <usize>hp * rowBytes;
  const step = <usize>(sw * ci) << 2;
  const rowStep = <usize>sh * rowBytes;
  const dzs = <usize>co << 2;
  const dwRow = <usize>co4 << 2;

  for (let img = 0; img < n; img++) {
    const xImg = xp + <usize>img * inImage;
    const dzImg = dz + <usize>(img * pixels) * dzs;
    // Bias.
    for (let v = 0; v < nv; v++) {
      let acc = v128.load(dbBase + (<usize>v << 4));
      for (let p = 0; p < pixels; p++) acc = f32x4.add(acc, v128.load(dzImg + <usize>p * dzs + (<usize>v << 4)));
      v128.store(dbBase + (<usize>v << 4), acc);
    }
    // Patch offset of k: ky·rowBytes + 4j with k = ky·R + j.
    for (let v = 0; v < nv; v += 2) {
      const two = v + 1 < nv;
      const vOff = <usize>v << 4;
      const g = dzImg + vOff;
      let k = 0;
      for (; k + 4 <= kk; k += 4) {
        const o0 = (<usize>(k / r) * rowBytes) + (<usize>(k % r) << 2);
        const o1 = (<usize>((k + 1) / r) * rowBytes) + (<usize>((k + 1) % r) << 2);
        const o2 = (<usize>((k + 2) / r) * rowBytes) + (<usize>((k + 2) % r) << 2);
        const o3 = (<usize>((k + 3) / r) * rowBytes) + (<usize>((k + 3) % r) << 2);
        const dw0 = dwBase + <usize>k * dwRow + vOff;
        if (two) filter4x8(xImg, g, dw0, dwRow, o0, o1, o2, o3, oh, ow, rowStep, step, dzs);
        else filter4x4(xImg, g, dw0, dwRow, o0, o1, o2, o3, oh, ow, rowStep, step, dzs);
      }
      for (; k < kk; k++) {
        const o0 = (<usize>(k / r) * rowBytes) + (<usize>(k % r) << 2);
        const dw0 = dwBase + <usize>k * dwRow + vOff;
        if (two) filter1x8(xImg, g, dw0, o0, oh, ow, rowStep, step, dzs);
        else filter1x4(xImg, g, dw0, o0, oh, ow, rowStep, step, dzs);
      }
    }
  }

  if (wantDx == 0) return;
  const dzp = <usize>fld(d, CDZP);
  if (dzp) {
    // Stride 1: dx is the convolution of dz, zero-padded by (KH − 1 − padTop, KW − 1 − padLeft)
    // before, with the kernel rotated by 180° and CI and CO swapped (packed as w4 into CWR).
    const h = fld(d, CH), wi = fld(d, CWI);
    const hq = h + kh - 1, wq = wi + kw - 1;
    padInput(dz, dzp, n, oh, ow, co, hq, wq, kh - 1 - fld(d, CPT), kw - 1 - fld(d, CPL));
    convolve(dzp, <usize>fld(d, CWR), <usize>fld(d, CZB), <usize>fld(d, CDX), n, hq, wq, co, kh, kw, 1, 1, h, wi, ci, false);
    return;
  }
  const dxp = <usize>fld(d, CDXP), wt = <usize>fld(d, CWT);
  const r4 = (r + 3) & ~3;
  const wtCo = <usize>(kh * r4) << 2; // bytes between output channels in wt
  const wtRow = <usize>r4 << 2;
  memory.fill(dxp, 0, <usize>n * inImage);
  for (let img = 0; img < n; img++) {
    const dxImg = dxp + <usize>img * inImage;
    for (let oy = 0; oy < oh; oy++) {
      const dzRow = dz + <usize>((img * oh + oy) * ow) * dzs;
      const dstRow = dxImg + <usize>oy * rowStep;
      let ox = 0;
      for (; ox + 2 <= ow; ox += 2) {
        const gA = dzRow + <usize>ox * dzs;
        const gB = gA + dzs;
        for (let ky = 0; ky < kh; ky++) {
          const dstA = dstRow + <usize>ky * rowBytes + <usize>ox * step;
          const dstB = dstA + step;
          const wRow = wt + <usize>ky * wtRow;
          let j = 0;
          for (; j + 16 <= r; j += 16) {
            let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            let wq = wRow + (<usize>j << 2);
            for (let o = 0; o < co; o++) {
              const sa = v128.load32_splat(gA + (<usize>o << 2));
              const sb = v128.load32_splat(gB + (<usize>o << 2));
              const w0 = v128.load(wq), w1 = v128.load(wq, 16), w2 = v128.load(wq, 32), w3 = v128.load(wq, 48);
              a0 = fma(a0, sa, w0); a1 = fma(a1, sa, w1); a2 = fma(a2, sa, w2); a3 = fma(a3, sa, w3);
              b0 = fma(b0, sb, w0); b1 = fma(b1, sb, w1); b2 = fma(b2, sb, w2); b3 = fma(b3, sb, w3);
              wq += wtCo;
            }
            const pa = dstA + (<usize>j << 2);
            v128.store(pa, f32x4.add(v128.load(pa), a0)); v128.store(pa, f32x4.add(v128.load(pa, 16), a1), 16);
            v128.store(pa, f32x4.add(v128.load(pa, 32), a2), 32); v128.store(pa, f32x4.add(v128.load(pa, 48), a3), 48);
            const pb = dstB + (<usize>j << 2);
            v128.store(pb, f32x4.add(v128.load(pb), b0)); v128.store(pb, f32x4.add(v128.load(pb, 16), b1), 16);
            v128.store(pb, f32x4.add(v128.load(pb, 32), b2), 32); v128.store(pb, f32x4.add(v128.load(pb, 48), b3), 48);
          }
          for (; j < r; j += 4) {
            let a0 = f32x4.splat(0), b0 = a0;
            let wq = wRow + (<usize>j << 2);
            for (let o = 0; o < co; o++) {
              const w0 = v128.load(wq);
              a0 = fma(a0, v128.load32_splat(gA + (<usize>o << 2)), w0);
              b0 = fma(b0, v128.load32_splat(gB + (<usize>o << 2)), w0);
              wq += wtCo;
            }
            const lanes = r - j;
            const pa = dstA + (<usize>j << 2);
            const pb = dstB + (<usize>j << 2);
            if (lanes >= 4) {
              v128.store(pa, f32x4.add(v128.load(pa), a0));
              v128.store(pb, f32x4.add(v128.load(pb), b0));
            } else {
              addLanes(pa, a0, lanes);
              addLanes(pb, b0, lanes);
            }
          }
        }
      }
      for (; ox < ow; ox++) {
        const gA = dzRow + <usize>ox * dzs;
        for (let ky = 0; ky < kh; ky++) {
          const dstA = dstRow + <usize>ky * rowBytes + <usize>ox * step;
          const wRow = wt + <usize>ky * wtRow;
          for (let j = 0; j < r; j += 4) {
            let a0 = f32x4.splat(0);
            let wq = wRow + (<usize>j << 2);
            for (let o = 0; o < co; o++) {
              a0 = fma(a0, v128.load32_splat(gA + (<usize>o << 2)), v128.load(wq));
              wq += wtCo;
            }
            const lanes = r - j;
            const pa = dstA + (<usize>j << 2);
            if (lanes >= 4) v128.store(pa, f32x4.add(v128.load(pa), a0));
            else addLanes(pa, a0, lanes);
          }
        }
      }
    }
  }
  const dx = <usize>fld(d, CDX);
  if (dx != dxp) unpad(dxp, dx, n, fld(d, CH), fld(d, CWI), ci, hp, wp, fld(d, CPT), fld(d, CPL));
}

/** Adds the first `lanes` (1..3) lanes of v to the floats at p. */
@inline function addLanes(p: usize, v: v128, lanes: i32): void {
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(v, 0));
  if (lanes > 1) store<f32>(p, load<f32>(p, 4) + f32x4.extract_lane(v, 1), 4);
  if (lanes > 2) store<f32>(p, load<f32>(p, 8) + f32x4.extract_lane(v, 2), 8);
}

// ---------------------------------------------------------------------------------------------
// Pooling, NHWC, four channels at a time (then one at a time for C mod 4). Padded cells are
// ignored (never win a max, not counted in an average). The max keeps the first of equal values
// and records the winner's float index in x, as src/engine/cpu/pool.ts.

export function poolForward(d: usize, n: i32): void {
  const x = <usize>fld(d, PX), y = <usize>fld(d, PY), arg = <usize>fld(d, PARG);
  const h = fld(d, PH), w = fld(d, PW), c = fld(d, PC), oh = fld(d, POH), ow = fld(d, POW);
  const kh = fld(d, PKH), kw = fld(d, PKW), sh = fld(d, PSH), sw = fld(d, PSW), pt = fld(d, PPT), pl = fld(d, PPL);
  const isMax = fld(d, PMAX) != 0;
  const lanes = i32x4(0, 1, 2, 3);
  for (let img = 0; img < n; img++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * sh - pt, 0);
      const y1 = min(oy * sh - pt + kh, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * sw - pl, 0);
        const x1 = min(ox * sw - pl + kw, w);
        const out = ((img * oh + oy) * ow + ox) * c;
        const inv: f32 = <f32>(1.0 / <f64>((y1 - y0) * (x1 - x0)));
        let ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          const first = ((img * h + y0) * w + x0) * c + ch;
          if (isMax) {
            let best = v128.load(x + (<usize>first << 2));
            let at = i32x4.add(i32x4.splat(first), lanes);
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const i = ((img * h + iy) * w + ix) * c + ch;
                const v = v128.load(x + (<usize>i << 2));
                const m = f32x4.gt(v, best);
                best = v128.bitselect(v, best, m);
                at = v128.bitselect(i32x4.add(i32x4.splat(i), lanes), at, m);
              }
            }
            v128.store(y + (<usize>(out + ch) << 2), best);
            if (arg) v128.store(arg + (<usize>(out + ch) << 2), at);
          } else {
            let sum = f32x4.splat(0);
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) sum = f32x4.add(sum, v128.load(x + (<usize>(((img * h + iy) * w + ix) * c + ch) << 2)));
            }
            v128.store(y + (<usize>(out + ch) << 2), f32x4.mul(sum, f32x4.splat(inv)));
          }
        }
        for (; ch < c; ch++) {
          const first = ((img * h + y0) * w + x0) * c + ch;
          if (isMax) {
            let best = load<f32>(x + (<usize>first << 2));
            let at = first;
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const i = ((img * h + iy) * w + ix) * c + ch;
                const v = load<f32>(x + (<usize>i << 2));
                if (v > best) {
                  best = v;
                  at = i;
                }
              }
            }
            store<f32>(y + (<usize>(out + ch) << 2), best);
            if (arg) store<i32>(arg + (<usize>(out + ch) << 2), at);
          } else {
            let sum: f32 = 0;
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) sum += load<f32>(x + (<usize>(((img * h + iy) * w + ix) * c + ch) << 2));
            }
            store<f32>(y + (<usize>(out + ch) << 2), sum * inv);
          }
        }
      }
    }
  }
}

export function poolBackward(d: usize, n: i32): void {
  const dy = <usize>fld(d, PDY), dx = <usize>fld(d, PDX), arg = <usize>fld(d, PARG);
  const h = fld(d, PH), w = fld(d, PW), c = fld(d, PC), oh = fld(d, POH), ow = fld(d, POW);
  const kh = fld(d, PKH), kw = fld(d, PKW), sh = fld(d, PSH), sw = fld(d, PSW), pt = fld(d, PPT), pl = fld(d, PPL);
  memory.fill(dx, 0, <usize>(n * h * w * c) << 2);
  if (fld(d, PMAX) != 0) {
    const count = n * oh * ow * c;
    for (let i = 0; i < count; i++) {
      const at = dx + (<usize>load<i32>(arg + (<usize>i << 2)) << 2);
      store<f32>(at, load<f32>(at) + load<f32>(dy + (<usize>i << 2)));
    }
    return;
  }
  for (let img = 0; img < n; img++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * sh - pt, 0);
      const y1 = min(oy * sh - pt + kh, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * sw - pl, 0);
        const x1 = min(ox * sw - pl + kw, w);
        const out = ((img * oh + oy) * ow + ox) * c;
        const inv: f32 = <f32>(1.0 / <f64>((y1 - y0) * (x1 - x0)));
        const vinv = f32x4.splat(inv);
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const at = dx + (<usize>(((img * h + iy) * w + ix) * c) << 2);
            const g = dy + (<usize>out << 2);
            let ch = 0;
            for (; ch + 4 <= c; ch += 4) {
              const o = <usize>ch << 2;
              v128.store(at + o, f32x4.add(v128.load(at + o), f32x4.mul(v128.load(g + o), vinv)));
            }
            for (; ch < c; ch++) {
              const o = <usize>ch << 2;
              store<f32>(at + o, load<f32>(at + o) + load<f32>(g + o) * inv);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dense: y = act(x·W + b), W packed as [IN][U4] with zero columns past UNITS. Up to 4 vectors of
// outputs in registers while x streams; the result goes through a padded scratch row into y.

export function denseForward(d: usize, n: i32): void {
  const x = <usize>fld(d, DX), w = <usize>fld(d, DW), b = <usize>fld(d, DB), y = <usize>fld(d, DY);
  const inSize = fld(d, DIN), units = fld(d, DUNITS), row = <usize>fld(d, DROW);
  const act = fld(d, DRELU) != 0;
  const u4 = (units + 3) & ~3;
  const nv = u4 >> 2;
  const wRow = <usize>u4 << 2;
  for (let img = 0; img < n; img++) {
    const xi = x + (<usize>(img * inSize) << 2);
    let v = 0;
    for (; v + 4 <= nv; v += 4) {
      const vo = <usize>v << 4;
      let a0 = v128.load(b + vo), a1 = v128.load(b + vo, 16), a2 = v128.load(b + vo, 32), a3 = v128.load(b + vo, 48);
      let wq = w + vo;
      for (let i = 0; i < inSize; i++) {
        const s = v128.load32_splat(xi + (<usize>i << 2));
        a0 = fma(a0, s, v128.load(wq)); a1 = fma(a1, s, v128.load(wq, 16));
        a2 = fma(a2, s, v128.load(wq, 32)); a3 = fma(a3, s, v128.load(wq, 48));
        wq += wRow;
      }
      v128.store(row + vo, relu4(a0, act)); v128.store(row + vo, relu4(a1, act), 16);
      v128.store(row + vo, relu4(a2, act), 32); v128.store(row + vo, relu4(a3, act), 48);
    }
    for (; v < nv; v++) {
      const vo = <usize>v << 4;
      let a0 = v128.load(b + vo);
      let wq = w + vo;
      for (let i = 0; i < inSize; i++) {
        a0 = fma(a0, v128.load32_splat(xi + (<usize>i << 2)), v128.load(wq));
        wq += wRow;
      }
      v128.store(row + vo, relu4(a0, act));
    }
    memory.copy(y + (<usize>(img * units) << 2), row, <usize>units << 2);
  }
}

export function denseBackward(d: usize, n: i32, wantDx: i32): void {
  const x = <usize>fld(d, DX), w = <usize>fld(d, DW), y = <usize>fld(d, DY), dz = <usize>fld(d, DDZ);
  const dwBase = <usize>fld(d, DDW), db = <usize>fld(d, DDB), dx: usize = wantDx ? <usize>fld(d, DDX) : 0, row = <usize>fld(d, DROW);
  const inSize = fld(d, DIN), units = fld(d, DUNITS);
  activationBackward(fld(d, DACT), y, dz, n * units);
  const u4 = (units + 3) & ~3;
  const nv = u4 >> 2;
  const wRow = <usize>u4 << 2;
  memory.fill(dwBase, 0, <usize>(inSize * u4) << 2);
  memory.fill(db, 0, wRow);
  for (let img = 0; img < n; img++) {
    // dz row, zero-padded to U4.
    memory.fill(row, 0, wRow);
    memory.copy(row, dz + (<usize>(img * units) << 2), <usize>units << 2);
    for (let v = 0; v < nv; v++) {
      const o = <usize>v << 4;
      v128.store(db + o, f32x4.add(v128.load(db + o), v128.load(row + o)));
    }
    const xi = x + (<usize>(img * inSize) << 2);
    for (let i = 0; i < inSize; i++) {
      const s = v128.load32_splat(xi + (<usize>i << 2));
      const wq = w + <usize>i * wRow;
      const dq = dwBase + <usize>i * wRow;
      let dot = f32x4.splat(0);
      for (let v = 0; v < nv; v++) {
        const o = <usize>v << 4;
        const g = v128.load(row + o);
        v128.store(dq + o, fma(v128.load(dq + o), s, g));
        dot = fma(dot, v128.load(wq + o), g);
      }
      if (dx) {
        const sum = f32x4.add(dot, i32x4.shuffle(dot, dot, 2, 3, 0, 1));
        store<f32>(dx + (<usize>(img * inSize + i) << 2), f32x4.extract_lane(sum, 0) + f32x4.extract_lane(sum, 1));
      }
    }
  }
}

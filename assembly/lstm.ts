// The coordinatewise LSTM (Andrychowicz et al. 2016, section 2.1) as WebAssembly SIMD kernels.
//
// One instance per thread, all sharing one memory. The host (src/kernels/wasm.ts) lays the
// memory out and writes a context block of i32 fields at `ctx`; every kernel takes
// (ctx, tid) and works on the coordinate range of thread `tid`.
//
// Layout (floats; G = 4 * Hp gate lanes, Hp = hidden rounded up to a multiple of 4, each gate
// block i, f, g, o padded to Hp lanes with zero weights):
//   weights per layer: Win [Kin][G], Wrec [H][G], b [G] (the "internal phi", whose layout the
//     per-thread gradient accumulators share), then the head Wout [Hp], bout [4];
//     transposed copies WinT [G][KinP], WrecT [G][Hp] for the backward mat-vecs.
//   state per coordinate: per layer h [Hp], c [Hp]; dstate the same (dL/dh, dL/dc).
//   tape per step t, layer l, coordinate c: i, f, g, o, c' (5 Hp floats), activated.
//   tapeX per step: the n x inputs features.
//
// SIMD runs across the gate lanes of one coordinate, two coordinates at a time (2 x 5 vector
// accumulators stay in registers); the weight gradient is a blocked GEMM over B coordinates.

// ---- constant table (pre-splatted vectors) ----
const CT: usize = 2048;
const K_HALF: usize = 0;
const K_ONE: usize = 1;
const K_HI: usize = 2;
const K_LO: usize = 3;
const K_P1: usize = 4; // P1..P6 at 4..9
const K_Q1: usize = 10; // Q1..Q4 at 10..13
const K_ZERO: usize = 16; // 32 zero vectors from here (init source for accumulators)

// tanh(x) ~ x P(x^2) / Q(x^2), P(0) = Q(0) = 1, minimax in relative error on [0, 8.5], input
// clamped where the quotient reaches 1 in float32. Mean error under one ulp, max ~6 ulp.
const TANH_CLAMP: f32 = 7.782852;
const P1: f32 = 0.13916589319705963;
const P2: f32 = 0.004172726534307003;
const P3: f32 = 3.47839122696314e-5;
const P4: f32 = 5.145047055066243e-8;
const P5: f32 = -3.984132468382029e-11;
const P6: f32 = 3.7906435396183394e-14;
const Q1: f32 = 0.47249922156333923;
const Q2: f32 = 0.02833913452923298;
const Q3: f32 = 0.00044951942982152104;
const Q4: f32 = 1.809618083825626e-6;

// ---- context fields (i32 index) ----
const F_I = 0;
const F_H = 1;
const F_HP = 2;
const F_L = 3;
const F_N = 4;
const F_B = 6;
const F_X = 7;
const F_OUT = 8;
const F_DOUT = 9;
const F_DX = 10;
const F_T = 11;
const F_REC = 12;
const F_FIRST = 13;
const F_STATE = 14;
const F_STATE0 = 15;
const F_DSTATE = 16;
const F_TH = 17;
const F_TAPE = 18;
const F_TAPEX = 19;
const F_HEAD = 20;
const F_SCR = 21;
const F_SCRSTRIDE = 22;
const F_GRAD = 23;
const F_GRADSTRIDE = 24;
const F_G64 = 25;
const F_G64STRIDE = 26;
const F_PHI = 27;
const F_PINT = 28;
const F_AB = 29; // activation table: a [G], b [G]
const F_RANGE = 32; // c0, c1 per thread
const F_LAYER = 256; // per layer 8 fields
const L_WIN = 0;
const L_WREC = 1;
const L_B = 2;
const L_WINT = 3;
const L_WRECT = 4;
const L_KIN = 5;
const L_KINP = 6;

@inline function fld(ctx: usize, i: i32): i32 {
  return load<i32>(ctx + (<usize>i << 2));
}
@inline function lfld(ctx: usize, l: i32, i: i32): i32 {
  return load<i32>(ctx + (<usize>(F_LAYER + l * 8 + i) << 2));
}
@inline function kv(k: usize): v128 {
  return v128.load(CT + (k << 4));
}

export function init(): void {
  v128.store(CT + (K_HALF << 4), f32x4.splat(0.5));
  v128.store(CT + (K_ONE << 4), f32x4.splat(1.0));
  v128.store(CT + (K_HI << 4), f32x4.splat(TANH_CLAMP));
  v128.store(CT + (K_LO << 4), f32x4.splat(-TANH_CLAMP));
  v128.store(CT + ((K_P1 + 0) << 4), f32x4.splat(P1));
  v128.store(CT + ((K_P1 + 1) << 4), f32x4.splat(P2));
  v128.store(CT + ((K_P1 + 2) << 4), f32x4.splat(P3));
  v128.store(CT + ((K_P1 + 3) << 4), f32x4.splat(P4));
  v128.store(CT + ((K_P1 + 4) << 4), f32x4.splat(P5));
  v128.store(CT + ((K_P1 + 5) << 4), f32x4.splat(P6));
  v128.store(CT + ((K_Q1 + 0) << 4), f32x4.splat(Q1));
  v128.store(CT + ((K_Q1 + 1) << 4), f32x4.splat(Q2));
  v128.store(CT + ((K_Q1 + 2) << 4), f32x4.splat(Q3));
  v128.store(CT + ((K_Q1 + 3) << 4), f32x4.splat(Q4));
  for (let k: usize = 0; k < 32; k++) v128.store(CT + ((K_ZERO + k) << 4), f32x4.splat(0));
}

// ---- activations ----
@inline function vtanh(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, kv(K_HI)), kv(K_LO));
  const x2 = f32x4.mul(xc, xc);
  let p = f32x4.add(f32x4.mul(kv(K_P1 + 5), x2), kv(K_P1 + 4));
  p = f32x4.add(f32x4.mul(p, x2), kv(K_P1 + 3));
  p = f32x4.add(f32x4.mul(p, x2), kv(K_P1 + 2));
  p = f32x4.add(f32x4.mul(p, x2), kv(K_P1 + 1));
  p = f32x4.add(f32x4.mul(p, x2), kv(K_P1));
  p = f32x4.add(f32x4.mul(p, x2), kv(K_ONE));
  p = f32x4.mul(p, xc);
  let q = f32x4.add(f32x4.mul(kv(K_Q1 + 3), x2), kv(K_Q1 + 2));
  q = f32x4.add(f32x4.mul(q, x2), kv(K_Q1 + 1));
  q = f32x4.add(f32x4.mul(q, x2), kv(K_Q1));
  q = f32x4.add(f32x4.mul(q, x2), kv(K_ONE));
  return f32x4.div(p, q);
}
@inline function vsig(x: v128): v128 {
  const h = kv(K_HALF);
  return f32x4.add(h, f32x4.mul(h, vtanh(f32x4.mul(h, x))));
}

/** dst[k] = tanh(src[k]) for k < n (n a multiple of 4); for tests. */
export function tanhArray(src: usize, dst: usize, n: i32): void {
  for (let k = 0; k < n; k += 4) v128.store(dst + (<usize>k << 2), vtanh(v128.load(src + (<usize>k << 2))));
}
/** dst[k] = sigmoid(src[k]) for k < n (n a multiple of 4); for tests. */
export function sigmoidArray(src: usize, dst: usize, n: i32): void {
  for (let k = 0; k < n; k += 4) v128.store(dst + (<usize>k << 2), vsig(v128.load(src + (<usize>k << 2))));
}

// ---- 2-row register-blocked multiply-accumulate ----
// For m < nv vectors: dA[m] = iA[m] + sum_k pa[k*ss] * pw[k*ws + m], dB likewise with pb.
// (dA may equal iA to accumulate in place.)

function mm2x5(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, pb: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let a1 = v128.load(iA, 16);
  let a2 = v128.load(iA, 32);
  let a3 = v128.load(iA, 48);
  let a4 = v128.load(iA, 64);
  let b0 = v128.load(iB);
  let b1 = v128.load(iB, 16);
  let b2 = v128.load(iB, 32);
  let b3 = v128.load(iB, 48);
  let b4 = v128.load(iB, 64);
  for (let k = 0; k < K; k++) {
    const sa = v128.load32_splat(pa);
    const sb = v128.load32_splat(pb);
    let w = v128.load(pw);
    a0 = f32x4.add(a0, f32x4.mul(w, sa));
    b0 = f32x4.add(b0, f32x4.mul(w, sb));
    w = v128.load(pw, 16);
    a1 = f32x4.add(a1, f32x4.mul(w, sa));
    b1 = f32x4.add(b1, f32x4.mul(w, sb));
    w = v128.load(pw, 32);
    a2 = f32x4.add(a2, f32x4.mul(w, sa));
    b2 = f32x4.add(b2, f32x4.mul(w, sb));
    w = v128.load(pw, 48);
    a3 = f32x4.add(a3, f32x4.mul(w, sa));
    b3 = f32x4.add(b3, f32x4.mul(w, sb));
    w = v128.load(pw, 64);
    a4 = f32x4.add(a4, f32x4.mul(w, sa));
    b4 = f32x4.add(b4, f32x4.mul(w, sb));
    pa += ss;
    pb += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dA, a1, 16);
  v128.store(dA, a2, 32);
  v128.store(dA, a3, 48);
  v128.store(dA, a4, 64);
  v128.store(dB, b0);
  v128.store(dB, b1, 16);
  v128.store(dB, b2, 32);
  v128.store(dB, b3, 48);
  v128.store(dB, b4, 64);
}

function mm2x4(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, pb: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let a1 = v128.load(iA, 16);
  let a2 = v128.load(iA, 32);
  let a3 = v128.load(iA, 48);
  let b0 = v128.load(iB);
  let b1 = v128.load(iB, 16);
  let b2 = v128.load(iB, 32);
  let b3 = v128.load(iB, 48);
  for (let k = 0; k < K; k++) {
    const sa = v128.load32_splat(pa);
    const sb = v128.load32_splat(pb);
    let w = v128.load(pw);
    a0 = f32x4.add(a0, f32x4.mul(w, sa));
    b0 = f32x4.add(b0, f32x4.mul(w, sb));
    w = v128.load(pw, 16);
    a1 = f32x4.add(a1, f32x4.mul(w, sa));
    b1 = f32x4.add(b1, f32x4.mul(w, sb));
    w = v128.load(pw, 32);
    a2 = f32x4.add(a2, f32x4.mul(w, sa));
    b2 = f32x4.add(b2, f32x4.mul(w, sb));
    w = v128.load(pw, 48);
    a3 = f32x4.add(a3, f32x4.mul(w, sa));
    b3 = f32x4.add(b3, f32x4.mul(w, sb));
    pa += ss;
    pb += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dA, a1, 16);
  v128.store(dA, a2, 32);
  v128.store(dA, a3, 48);
  v128.store(dB, b0);
  v128.store(dB, b1, 16);
  v128.store(dB, b2, 32);
  v128.store(dB, b3, 48);
}

function mm2x1(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, pb: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let b0 = v128.load(iB);
  for (let k = 0; k < K; k++) {
    const w = v128.load(pw);
    a0 = f32x4.add(a0, f32x4.mul(w, v128.load32_splat(pa)));
    b0 = f32x4.add(b0, f32x4.mul(w, v128.load32_splat(pb)));
    pa += ss;
    pb += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dB, b0);
}

/** The 2-row kernel over nv vectors, tiled by 5 (when nv is a multiple of 5), else 4, then 1. */
function mm2(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, pb: usize, ss: usize, pw: usize, ws: usize, K: i32, nv: i32, initStep: bool): void {
  // initStep: whether iA/iB advance with the tile (false for the zero source)
  let m = 0;
  if (nv % 5 == 0 && nv % 4 != 0) {
    for (; m < nv; m += 5) {
      const o = <usize>m << 4;
      const io = initStep ? o : 0;
      mm2x5(dA + o, dB + o, iA + io, iB + io, pa, pb, ss, pw + o, ws, K);
    }
    return;
  }
  for (; m + 4 <= nv; m += 4) {
    const o = <usize>m << 4;
    const io = initStep ? o : 0;
    mm2x4(dA + o, dB + o, iA + io, iB + io, pa, pb, ss, pw + o, ws, K);
  }
  for (; m < nv; m++) {
    const o = <usize>m << 4;
    const io = initStep ? o : 0;
    mm2x1(dA + o, dB + o, iA + io, iB + io, pa, pb, ss, pw + o, ws, K);
  }
}

// ---- scratch layout per thread (bytes from the thread's scratch base) ----
// zA [5 Hp], zB [5 Hp], dummy [G], DZ [B][G], IN [B][Hp], HP [B][Hp], TH [B][Hp], DIN [B][Hp], DXS [2][KinP0]

// ---- forward ----

/**
 * Activates the pre-activations of one coordinate: dst[j] = a[j] tanh(a[j] z[j]) + b[j] with
 * (a, b) = (1/2, 1/2) on the sigmoid gates i, f, o and (1, 0) on the candidate g.
 */
@inline function activate(z: usize, dst: usize, ab: usize, gb: usize): void {
  for (let v: usize = 0; v < gb; v += 16) {
    const a = v128.load(ab + v);
    const t = vtanh(f32x4.mul(a, v128.load(z + v)));
    v128.store(dst + v, f32x4.add(f32x4.mul(a, t), v128.load(ab + gb + v)));
  }
}

/** The cell update of one coordinate from its activated gates (at `gt`); writes h and c. */
@inline function cellUpdate(gt: usize, st: usize, cOut: usize, hb: usize): void {
  for (let v: usize = 0; v < hb; v += 16) {
    const cn = f32x4.add(f32x4.mul(v128.load(gt + hb + v), v128.load(st + hb + v)), f32x4.mul(v128.load(gt + v), v128.load(gt + 2 * hb + v)));
    v128.store(cOut + v, cn);
    v128.store(st + hb + v, cn);
  }
  for (let v: usize = 0; v < hb; v += 16) {
    v128.store(st + v, f32x4.mul(v128.load(gt + 3 * hb + v), vtanh(v128.load(st + hb + v))));
  }
}

@inline function headOut(h: usize, wout: usize, Hp: i32): f32 {
  let acc = f32x4.splat(0);
  const hb = <usize>Hp << 2;
  for (let v: usize = 0; v < hb; v += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(h + v), v128.load(wout + v)));
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3)) + load<f32>(wout + hb);
}

export function forward(ctx: usize, tid: i32): void {
  const I = fld(ctx, F_I);
  const H = fld(ctx, F_H);
  const Hp = fld(ctx, F_HP);
  const L = fld(ctx, F_L);
  const n = fld(ctx, F_N);
  const G = 4 * Hp;
  const nv = Hp; // G / 4 vectors
  const S = 2 * L * Hp; // state floats per coordinate
  const c0 = fld(ctx, F_RANGE + 2 * tid);
  const c1 = fld(ctx, F_RANGE + 2 * tid + 1);
  if (c1 <= c0) return;
  const rec = fld(ctx, F_REC) != 0;
  const t = fld(ctx, F_T);
  const X = <usize>fld(ctx, F_X);
  const OUT = <usize>fld(ctx, F_OUT);
  const state = <usize>fld(ctx, F_STATE);
  const tape = <usize>fld(ctx, F_TAPE);
  const head = <usize>fld(ctx, F_HEAD);
  const scr = <usize>fld(ctx, F_SCR) + <usize>tid * <usize>fld(ctx, F_SCRSTRIDE);
  const zA = scr;
  const zB = scr + (<usize>(5 * Hp) << 2);
  const gb = <usize>G << 2;
  const sb = <usize>S << 2;
  const hb = <usize>Hp << 2;
  const tb: usize = hb * 5;
  const AB = <usize>fld(ctx, F_AB);
  if (rec && t == 0) {
    const state0 = <usize>fld(ctx, F_STATE0);
    memory.copy(state0 + <usize>c0 * sb, state + <usize>c0 * sb, <usize>(c1 - c0) * sb);
  }
  const topOff = <usize>(2 * (L - 1) * Hp) << 2;
  for (let a = c0; a < c1; a += 2) {
    const b = a + 1 < c1 ? a + 1 : a;
    const stA = state + <usize>a * sb;
    const stB = state + <usize>b * sb;
    for (let l = 0; l < L; l++) {
      const Kin = lfld(ctx, l, L_KIN);
      const Win = <usize>lfld(ctx, l, L_WIN);
      const Wrec = <usize>lfld(ctx, l, L_WREC);
      const bias = <usize>lfld(ctx, l, L_B);
      let inA: usize, inB: usize;
      if (l == 0) {
        inA = X + ((<usize>a * <usize>I) << 2);
        inB = X + ((<usize>b * <usize>I) << 2);
      } else {
        inA = stA + (<usize>(2 * (l - 1) * Hp) << 2);
        inB = stB + (<usize>(2 * (l - 1) * Hp) << 2);
      }
      const lo = <usize>(2 * l * Hp) << 2;
      mm2(zA, zB, bias, bias, inA, inB, 4, Win, gb, Kin, nv, true);
      mm2(zA, zB, zA, zB, stA + lo, stB + lo, 4, Wrec, gb, H, nv, true);
      const tpl = tape + (<usize>(t * L + l) * <usize>n) * tb;
      const gA = rec ? tpl + <usize>a * tb : zA;
      const gB = rec ? tpl + <usize>b * tb : zB;
      activate(zA, gA, AB, gb);
      cellUpdate(gA, stA + lo, gA + 4 * hb, hb);
      if (b != a) {
        activate(zB, gB, AB, gb);
        cellUpdate(gB, stB + lo, gB + 4 * hb, hb);
      }
    }
    store<f32>(OUT + (<usize>a << 2), headOut(stA + topOff, head, Hp));
    if (b != a) store<f32>(OUT + (<usize>b << 2), headOut(stB + topOff, head, Hp));
  }
}

// ---- backward ----

/** f64 accumulator += f32 block accumulator, for nf floats (a multiple of 4). */
function flush(g64: usize, g32: usize, nf: i32): void {
  for (let k: usize = 0; k < <usize>nf; k += 4) {
    const v = v128.load(g32 + (k << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    const p = g64 + (k << 3);
    v128.store(p, f64x2.add(v128.load(p), lo));
    v128.store(p, f64x2.add(v128.load(p, 16), hi), 16);
  }
}

export function backward(ctx: usize, tid: i32): void {
  const I = fld(ctx, F_I);
  const H = fld(ctx, F_H);
  const Hp = fld(ctx, F_HP);
  const L = fld(ctx, F_L);
  const n = fld(ctx, F_N);
  const B = fld(ctx, F_B);
  const G = 4 * Hp;
  const S = 2 * L * Hp;
  const c0 = fld(ctx, F_RANGE + 2 * tid);
  const c1 = fld(ctx, F_RANGE + 2 * tid + 1);
  if (c1 <= c0) return;
  const t = fld(ctx, F_T);
  const first = fld(ctx, F_FIRST) != 0;
  const DOUT = <usize>fld(ctx, F_DOUT);
  const DX = <usize>fld(ctx, F_DX);
  const state0 = <usize>fld(ctx, F_STATE0);
  const dstate = <usize>fld(ctx, F_DSTATE);
  const thc = <usize>fld(ctx, F_TH);
  const tape = <usize>fld(ctx, F_TAPE);
  const tapeX = <usize>fld(ctx, F_TAPEX);
  const head = <usize>fld(ctx, F_HEAD);
  const phi = <usize>fld(ctx, F_PHI);
  const pint = fld(ctx, F_PINT);
  const g32 = <usize>fld(ctx, F_GRAD) + <usize>tid * <usize>fld(ctx, F_GRADSTRIDE);
  const g64 = <usize>fld(ctx, F_G64) + <usize>tid * <usize>fld(ctx, F_G64STRIDE);
  const scr = <usize>fld(ctx, F_SCR) + <usize>tid * <usize>fld(ctx, F_SCRSTRIDE);

  const hb = <usize>Hp << 2; // bytes of Hp floats
  const gb = <usize>G << 2;
  const sb = <usize>S << 2;
  const tb: usize = hb * 5; // tape bytes per coordinate and layer
  const nvh = Hp >> 2;
  const dummy = scr + 10 * hb;
  const DZ = dummy + gb;
  const IN = DZ + <usize>B * gb;
  const HPs = IN + <usize>B * hb;
  const THs = HPs + <usize>B * hb;
  const DIN = THs + <usize>B * hb;
  const DXS = DIN + <usize>B * hb;
  const zero = CT + (K_ZERO << 4);
  const headOff = head - phi;
  const gWout = g32 + headOff;
  const kI = <usize>I << 2;

  for (let cb = c0; cb < c1; cb += B) {
    const ce = cb + B < c1 ? cb + B : c1;
    const nb = ce - cb;
    if (first) {
      memory.fill(dstate + <usize>cb * sb, 0, <usize>nb * sb);
      for (let c = cb; c < ce; c++) {
        for (let l = 0; l < L; l++) {
          const tp = tape + (<usize>(t * L + l) * <usize>n + <usize>c) * tb;
          const th = thc + (<usize>(c * L + l)) * hb;
          for (let v: usize = 0; v < hb; v += 16) v128.store(th + v, vtanh(v128.load(tp + 4 * hb + v)));
        }
      }
    }
    // head gradient for this block
    {
      const lt = L - 1;
      let dbo: f32 = 0;
      memory.fill(gWout, 0, hb);
      for (let c = cb; c < ce; c++) {
        const d = load<f32>(DOUT + (<usize>c << 2));
        dbo += d;
        const ds = f32x4.splat(d);
        const tp = tape + (<usize>(t * L + lt) * <usize>n + <usize>c) * tb;
        const th = thc + (<usize>(c * L + lt)) * hb;
        for (let v: usize = 0; v < hb; v += 16) {
          const h = f32x4.mul(v128.load(tp + 3 * hb + v), v128.load(th + v));
          v128.store(gWout + v, f32x4.add(v128.load(gWout + v), f32x4.mul(ds, h)));
        }
      }
      v128.store(gWout + hb, f32x4.replace_lane(f32x4.splat(0), 0, dbo));
    }
    for (let l = L - 1; l >= 0; l--) {
      const Kin = lfld(ctx, l, L_KIN);
      const KinP = lfld(ctx, l, L_KINP);
      const top = l == L - 1;
      const tpl = tape + (<usize>(t * L + l) * <usize>n) * tb;
      const tplPrev = t > 0 ? tape + (<usize>((t - 1) * L + l) * <usize>n) * tb : 0;
      const tplLow = l > 0 ? tape + (<usize>(t * L + l - 1) * <usize>n) * tb : 0;
      // pass A: per coordinate, dz and the layer inputs
      for (let c = cb; c < ce; c++) {
        const j = <usize>(c - cb);
        const tp = tpl + <usize>c * tb;
        const th = thc + (<usize>(c * L + l)) * hb;
        const ds = dstate + <usize>c * sb + 2 * <usize>l * hb;
        const dz = DZ + j * gb;
        const hp = HPs + j * hb;
        const ths = THs + j * hb;
        const din = DIN + j * hb;
        const dOut = f32x4.splat(load<f32>(DOUT + (<usize>c << 2)));
        const one = kv(K_ONE);
        for (let v: usize = 0; v < hb; v += 16) {
          let dh = v128.load(ds + v);
          if (top) dh = f32x4.add(dh, f32x4.mul(dOut, v128.load(head + v)));
          else dh = f32x4.add(dh, v128.load(din + v));
          let cp: v128;
          if (t > 0) {
            const tpp = tplPrev + <usize>c * tb;
            cp = v128.load(tpp + 4 * hb + v);
            const tc = vtanh(cp);
            v128.store(ths + v, tc);
            v128.store(hp + v, f32x4.mul(v128.load(tpp + 3 * hb + v), tc));
          } else {
            const s0 = state0 + <usize>c * sb + 2 * <usize>l * hb;
            cp = v128.load(s0 + hb + v);
            v128.store(hp + v, v128.load(s0 + v));
          }
          if (l > 0) {
            const tlo = tplLow + <usize>c * tb;
            const thlo = thc + (<usize>(c * L + l - 1)) * hb;
            v128.store(IN + j * hb + v, f32x4.mul(v128.load(tlo + 3 * hb + v), v128.load(thlo + v)));
          }
          const ig = v128.load(tp + v);
          const fg = v128.load(tp + hb + v);
          const gg = v128.load(tp + 2 * hb + v);
          const og = v128.load(tp + 3 * hb + v);
          const tc = v128.load(th + v);
          const dct = f32x4.add(v128.load(ds + hb + v), f32x4.mul(f32x4.mul(dh, og), f32x4.sub(one, f32x4.mul(tc, tc))));
          v128.store(dz + v, f32x4.mul(f32x4.mul(dct, gg), f32x4.mul(ig, f32x4.sub(one, ig))));
          v128.store(dz + hb + v, f32x4.mul(f32x4.mul(dct, cp), f32x4.mul(fg, f32x4.sub(one, fg))));
          v128.store(dz + 2 * hb + v, f32x4.mul(f32x4.mul(dct, ig), f32x4.sub(one, f32x4.mul(gg, gg))));
          v128.store(dz + 3 * hb + v, f32x4.mul(f32x4.mul(dh, tc), f32x4.mul(og, f32x4.sub(one, og))));
          v128.store(ds + hb + v, f32x4.mul(dct, fg));
        }
      }
      // pass B: per coordinate pair, gradients to the inputs and the previous hidden state
      const WinT = <usize>lfld(ctx, l, L_WINT);
      const WrecT = <usize>lfld(ctx, l, L_WRECT);
      const kpb = <usize>KinP << 2;
      for (let a = cb; a < ce; a += 2) {
        const hasB = a + 1 < ce;
        const b = hasB ? a + 1 : a;
        const ja = <usize>(a - cb);
        const jb = <usize>(b - cb);
        const dsA = dstate + <usize>a * sb + 2 * <usize>l * hb;
        const dsB = hasB ? dstate + <usize>b * sb + 2 * <usize>l * hb : dummy;
        mm2(dsA, dsB, zero, zero, DZ + ja * gb, DZ + jb * gb, 4, WrecT, hb, G, nvh, false);
        if (l > 0) {
          mm2(DIN + ja * hb, DIN + jb * hb, zero, zero, DZ + ja * gb, DZ + jb * gb, 4, WinT, kpb, G, KinP >> 2, false);
        } else if (DX != 0) {
          mm2(DXS, DXS + kpb, zero, zero, DZ + ja * gb, DZ + jb * gb, 4, WinT, kpb, G, KinP >> 2, false);
          memory.copy(DX + <usize>a * kI, DXS, kI);
          if (hasB) memory.copy(DX + <usize>b * kI, DXS + kpb, kI);
        }
      }
      // pass C: weight gradients as a blocked GEMM over the block's coordinates
      const gWin = g32 + (<usize>lfld(ctx, l, L_WIN) - phi);
      const gWrec = g32 + (<usize>lfld(ctx, l, L_WREC) - phi);
      const gB = g32 + (<usize>lfld(ctx, l, L_B) - phi);
      let inSrc: usize, inStride: usize;
      if (l == 0) {
        inSrc = tapeX + (<usize>t * <usize>n + <usize>cb) * kI;
        inStride = kI;
      } else {
        inSrc = IN;
        inStride = hb;
      }
      for (let k = 0; k < Kin; k += 2) {
        const two = k + 1 < Kin;
        const dA = gWin + <usize>k * gb;
        const dB = two ? dA + gb : dummy;
        const pa = inSrc + (<usize>k << 2);
        mm2(dA, dB, zero, zero, pa, two ? pa + 4 : pa, inStride, DZ, gb, nb, Hp, false);
      }
      for (let k = 0; k < H; k += 2) {
        const two = k + 1 < H;
        const dA = gWrec + <usize>k * gb;
        const dB = two ? dA + gb : dummy;
        const pa = HPs + (<usize>k << 2);
        mm2(dA, dB, zero, zero, pa, two ? pa + 4 : pa, hb, DZ, gb, nb, Hp, false);
      }
      mm2(gB, dummy, zero, zero, CT + (K_ONE << 4), CT + (K_ONE << 4), 0, DZ, gb, nb, Hp, false);
      // pass D: tanh(c) of step t-1 becomes the cached one for the next (earlier) step
      if (t > 0) {
        for (let c = cb; c < ce; c++) {
          memory.copy(thc + (<usize>(c * L + l)) * hb, THs + <usize>(c - cb) * hb, hb);
        }
      }
    }
    flush(g64, g32, pint);
  }
}

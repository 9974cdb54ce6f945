// The coordinatewise LSTM (Andrychowicz et al. 2016, section 2.1) as WebAssembly SIMD kernels.
//
// One instance per thread, all on one shared memory. The host (src/kernels/wasm.ts) lays the
// memory out, permutes the weights and writes a context block of i32 fields at `ctx`; every
// kernel takes (ctx, tid) and works on the coordinate range of thread `tid`.
//
// Notation: Hp = hidden rounded up to a multiple of 4 (pad units have zero weights and stay
// zero); G = 4 Hp gate lanes; XP = inputs rounded up to a multiple of 4. Gate lanes are
// interleaved by groups of four units: lane (u/4)*16 + gate*4 + u%4 for gate i, f, g, o, so
// that the four gates of a unit group are four consecutive vectors ("group" v = u/4).
//
//   state row of a coordinate (S = XP + 2 L Hp floats): [pad | x (I)], h_0 .. h_{L-1},
//     c_0 .. c_{L-1}. The inputs of layer l are one contiguous run of K_l floats:
//     [x, h_0] for l = 0 (K_0 = I + Hp), [h_{l-1}, h_l] after (K_l = 2 Hp).
//   W_l [K_l][G] and b_l [G]: the weights, rows in the order of that input run.
//   WT_l [G][O_l]: W_l transposed; O_l = KinP_l + Hp output lanes (input part, recurrent part).
//   tape per step t, layer l, coordinate c: per group, i, f, g, o (activated; 4 Hp floats).
//     c' apart (F_TAPEC): only every F_CK-th step's (t % F_CK == F_CK - 1); the backward pass
//     recomputes another step's from the last one kept before it, or from the segment's
//     checkpoint (cellAt), with the forward pass's expression: the same bits. The top step's
//     c' is at F_CTOP (the live state, where a recomputation ended, or a copy: see there).
//     Segments: the host may keep the tape of only the last `segment` steps, with the state
//     rows at each segment's start (F_STATE0, written by the forward pass at t = 0; t counts
//     from the segment's start). It recomputes an earlier segment's tape before its backward
//     steps by running the forward pass again from that state (F_STATE pointed at a spare
//     copy): the same kernel on the same inputs, so the same bits.
//     bfloat16 tape (F_TAPE16, opt-in): rows of i, f, g, o and c' (5 Hp) in bfloat16 (the upper 16 bits of a
//     float32, rounded to nearest even; the gates kept as their distance to 0 or 1, see
//     packRow), 2.5 Hp floats' room per row. The forward pass
//     works in float32 scratch as when not recording (so its outputs and states are the same
//     bits) and packs the row; the backward pass unpacks the rows it reads into float32
//     scratch (F_UNP). The gradient is then within bfloat16 rounding of the float32 tape's.
//   dstate per coordinate and layer: per group, dL/dh and dL/dc (2 Hp).
//   float64 gradient sums per thread: per layer dW [K_l][G], db [G]; head dWout [Hp], dbout.
//     Products are summed in float32 over at most CHUNK coordinates, then in float64: the
//     gradient's terms cancel heavily, and longer float32 sums lose accuracy.
//
// Products use `madd` (fused in the relaxed-SIMD build, see there).
//
// Matrix products run as 2 x 4 register tiles: two rows (coordinates, or weight-gradient rows)
// times four vectors of lanes; 8 accumulators + 4 weight vectors + 2 splats fit in the 15
// vector registers V8 allocates on x64 (V8 schedules a loop body's loads first, so a bigger
// tile or an unrolled loop spills). The two rows' scalars sit side by side (pa, pa + 4).

import {
  CONST_TABLE, F_B, F_BCHUNK, F_BMODE, F_DIO, F_DOUT, F_DSTATE, F_DUMMY, F_DX, F_DZ, F_DZI, F_FCHUNK, F_FIRST,
  F_G64, F_G64STRIDE, F_GA, F_GBS, F_GHEAD, F_GHS, F_HEAD, F_HP, F_I, F_INR, F_KR, F_L, F_LAYER, F_N, F_NEXT,
  F_NEXTB, F_OMAX, F_OUT, F_PI, F_RANGE, F_REC, F_S, F_SCR, F_SCRSTRIDE, F_STATE, F_STATE0, F_T, F_TAPE,
  F_TAPE16, F_TAPEC, F_CK, F_CS, F_CTOP, F_CTOPS, F_TAPEX, F_TH, F_THS, F_UNP, F_X, F_XP, F_ZB, L_B, L_GB, L_GW, L_K, L_KIN, L_KINP, L_W, L_WT, LAYER_FIELDS,
} from "./layout";

// ---- constant table (pre-splatted vectors) ----
// The context fields (F_*, per layer L_*) and the table's address are shared with the host
// (src/kernels/wasm_layout.ts) through assembly/layout.ts.
const CT: usize = <usize>CONST_TABLE;
const K_HALF: usize = 0;
const K_ONE: usize = 1;
const K_HI: usize = 2;
const K_LO: usize = 3;
const K_P: usize = 4; // P1..P5 at 4..8
const K_Q: usize = 9; // Q1..Q4 at 9..12
const K_ZERO: usize = 16; // 16 zero vectors from here, to the end (CONST_TABLE_VECTORS = 32)

// tanh(x) ~ x P(x^2) / Q(x^2), P(0) = Q(0) = 1, minimax in relative error on [0, 8.5]; the input
// is clamped where the quotient reaches its largest value below 1 in float32 (Estrin
// evaluation). That point depends on the rounding: found by scanning every float32 input
// for each build (fused, the quotient first reaches 1 at 7.8535, beyond the clamp). Max error
// 3.4e-7 relative, mean 6e-8.
const TANH_CLAMP: f32 = ASC_FEATURE_RELAXED_SIMD ? 7.816577911376953 : 7.773730278015137;
const P1: f32 = 0.13795015215873718;
const P2: f32 = 0.004014064557850361;
const P3: f32 = 3.10582181555219e-5;
const P4: f32 = 3.850229290947027e-8;
const P5: f32 = -1.880085323535674e-11;
const Q1: f32 = 0.471283495426178;
const Q2: f32 = 0.027775228023529053;
const Q3: f32 = 0.0004199226968921721;
const Q4: f32 = 1.507622073404491e-6;

@inline function fld(ctx: usize, i: i32): i32 {
  return load<i32>(ctx + (<usize>i << 2));
}
@inline function ufld(ctx: usize, i: i32): usize {
  return <usize>load<i32>(ctx + (<usize>i << 2));
}
@inline function lfld(ctx: usize, l: i32, i: i32): i32 {
  return load<i32>(ctx + (<usize>(F_LAYER + l * LAYER_FIELDS + i) << 2));
}
@inline function kv(k: usize): v128 {
  return v128.load(CT + (k << 4));
}

/**
 * c + a b. Built twice (scripts/build-wasm.mjs): with relaxed SIMD this is one fused
 * multiply-add (one rounding; V8 emits vfmadd where the CPU has FMA), without it a multiply
 * and an add (two roundings), the same as kernels built before the fused variant existed.
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

export function init(): void {
  v128.store(CT + (K_HALF << 4), f32x4.splat(0.5));
  v128.store(CT + (K_ONE << 4), f32x4.splat(1.0));
  v128.store(CT + (K_HI << 4), f32x4.splat(TANH_CLAMP));
  v128.store(CT + (K_LO << 4), f32x4.splat(-TANH_CLAMP));
  v128.store(CT + ((K_P + 0) << 4), f32x4.splat(P1));
  v128.store(CT + ((K_P + 1) << 4), f32x4.splat(P2));
  v128.store(CT + ((K_P + 2) << 4), f32x4.splat(P3));
  v128.store(CT + ((K_P + 3) << 4), f32x4.splat(P4));
  v128.store(CT + ((K_P + 4) << 4), f32x4.splat(P5));
  v128.store(CT + ((K_Q + 0) << 4), f32x4.splat(Q1));
  v128.store(CT + ((K_Q + 1) << 4), f32x4.splat(Q2));
  v128.store(CT + ((K_Q + 2) << 4), f32x4.splat(Q3));
  v128.store(CT + ((K_Q + 3) << 4), f32x4.splat(Q4));
  for (let k: usize = 0; k < 16; k++) v128.store(CT + ((K_ZERO + k) << 4), f32x4.splat(0));
}

// ---- activations ----
// Estrin's scheme keeps the dependency chains short (these loops are latency-bound otherwise).

@inline function vtanh(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, kv(K_HI)), kv(K_LO));
  const y = f32x4.mul(xc, xc);
  const y2 = f32x4.mul(y, y);
  const y4 = f32x4.mul(y2, y2);
  const pa = madd(kv(K_P), y, kv(K_ONE));
  const pb = madd(kv(K_P + 2), y, kv(K_P + 1));
  const pc = madd(kv(K_P + 4), y, kv(K_P + 3));
  const p = madd(y4, pc, madd(y2, pb, pa));
  const qa = madd(kv(K_Q), y, kv(K_ONE));
  const qb = madd(kv(K_Q + 2), y, kv(K_Q + 1));
  const q = madd(y4, kv(K_Q + 3), madd(y2, qb, qa));
  return f32x4.div(f32x4.mul(xc, p), q);
}
/** sigmoid(x) = (1 + tanh(x / 2)) / 2. */
@inline function vsig(x: v128): v128 {
  const h = kv(K_HALF);
  return madd(h, vtanh(f32x4.mul(h, x)), h);
}

/** dst[k] = tanh(src[k]) for k < n (n a multiple of 4); for tests. */
export function tanhArray(src: usize, dst: usize, n: i32): void {
  for (let k = 0; k < n; k += 4) v128.store(dst + (<usize>k << 2), vtanh(v128.load(src + (<usize>k << 2))));
}
/** dst[k] = sigmoid(src[k]) for k < n (n a multiple of 4); for tests. */
export function sigmoidArray(src: usize, dst: usize, n: i32): void {
  for (let k = 0; k < n; k += 4) v128.store(dst + (<usize>k << 2), vsig(v128.load(src + (<usize>k << 2))));
}

// ---- 2-row register tiles ----
// dA[m] = iA[m] + sum_k pa[k*ss] pw[k*ws + m], dB[m] = iB[m] + sum_k pa[k*ss + 1] pw[k*ws + m]
// for the tile's vectors m (the two rows' scalars are adjacent floats).

function mmk4(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let a1 = v128.load(iA, 16);
  let a2 = v128.load(iA, 32);
  let a3 = v128.load(iA, 48);
  let b0 = v128.load(iB);
  let b1 = v128.load(iB, 16);
  let b2 = v128.load(iB, 32);
  let b3 = v128.load(iB, 48);
  const end = pa + <usize>K * ss;
  while (pa < end) {
    const sa = v128.load32_splat(pa);
    const sb = v128.load32_splat(pa, 4);
    let w = v128.load(pw);
    a0 = madd(w, sa, a0);
    b0 = madd(w, sb, b0);
    w = v128.load(pw, 16);
    a1 = madd(w, sa, a1);
    b1 = madd(w, sb, b1);
    w = v128.load(pw, 32);
    a2 = madd(w, sa, a2);
    b2 = madd(w, sb, b2);
    w = v128.load(pw, 48);
    a3 = madd(w, sa, a3);
    b3 = madd(w, sb, b3);
    pa += ss;
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

function mmk2(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let a1 = v128.load(iA, 16);
  let b0 = v128.load(iB);
  let b1 = v128.load(iB, 16);
  const end = pa + <usize>K * ss;
  while (pa < end) {
    const sa = v128.load32_splat(pa);
    const sb = v128.load32_splat(pa, 4);
    let w = v128.load(pw);
    a0 = madd(w, sa, a0);
    b0 = madd(w, sb, b0);
    w = v128.load(pw, 16);
    a1 = madd(w, sa, a1);
    b1 = madd(w, sb, b1);
    pa += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dA, a1, 16);
  v128.store(dB, b0);
  v128.store(dB, b1, 16);
}

function mmk1(dA: usize, dB: usize, iA: usize, iB: usize, pa: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = v128.load(iA);
  let b0 = v128.load(iB);
  const end = pa + <usize>K * ss;
  while (pa < end) {
    const w = v128.load(pw);
    a0 = madd(w, v128.load32_splat(pa), a0);
    b0 = madd(w, v128.load32_splat(pa, 4), b0);
    pa += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dB, b0);
}

// ---- 4-row tiles for the vectors left over after the 4-vector tiles ----
// Two coordinate pairs at once (their interleaved scalars at p1 and p2), so that a leftover
// vector has four (or, two vectors, eight) independent accumulators: with the two of one pair
// alone, each multiply-add waits for the one before it. Every output is still the same chain
// of multiply-adds over k, from zero, as in mmk4: the same bits.

function mmk1x4(dA: usize, dB: usize, dC: usize, dD: usize, p1: usize, p2: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a = f32x4.splat(0);
  let b = f32x4.splat(0);
  let c = f32x4.splat(0);
  let d = f32x4.splat(0);
  const end = p1 + <usize>K * ss;
  while (p1 < end) {
    const w = v128.load(pw);
    a = madd(w, v128.load32_splat(p1), a);
    b = madd(w, v128.load32_splat(p1, 4), b);
    c = madd(w, v128.load32_splat(p2), c);
    d = madd(w, v128.load32_splat(p2, 4), d);
    p1 += ss;
    p2 += ss;
    pw += ws;
  }
  v128.store(dA, a);
  v128.store(dB, b);
  v128.store(dC, c);
  v128.store(dD, d);
}

function mmk2x4(dA: usize, dB: usize, dC: usize, dD: usize, p1: usize, p2: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let d0 = f32x4.splat(0);
  let d1 = f32x4.splat(0);
  const end = p1 + <usize>K * ss;
  while (p1 < end) {
    const w0 = v128.load(pw);
    const w1 = v128.load(pw, 16);
    let s = v128.load32_splat(p1);
    a0 = madd(w0, s, a0);
    a1 = madd(w1, s, a1);
    s = v128.load32_splat(p1, 4);
    b0 = madd(w0, s, b0);
    b1 = madd(w1, s, b1);
    s = v128.load32_splat(p2);
    c0 = madd(w0, s, c0);
    c1 = madd(w1, s, c1);
    s = v128.load32_splat(p2, 4);
    d0 = madd(w0, s, d0);
    d1 = madd(w1, s, d1);
    p1 += ss;
    p2 += ss;
    pw += ws;
  }
  v128.store(dA, a0);
  v128.store(dA, a1, 16);
  v128.store(dB, b0);
  v128.store(dB, b1, 16);
  v128.store(dC, c0);
  v128.store(dC, c1, 16);
  v128.store(dD, d0);
  v128.store(dD, d1, 16);
}

/** Products summed in float32 over at most this many terms, then added into float64 sums. */
const CHUNK = 32;

/** p[0..3] (float64) += the four lanes of v. */
@inline function addF64(p: usize, v: v128): void {
  v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))), 16);
}

/**
 * The 2 x 4 tile for weight gradients: like mmk4 from zero, but the float64 sums at dA and dB
 * (4 vectors = 16 doubles each) receive the float32 partial sums every CHUNK terms. With the
 * terms' heavy cancellation (the gradient is a sum over coordinates and steps), longer float32
 * runs would cost accuracy well above float32 rounding.
 */
function mmk4f64(dA: usize, dB: usize, pa: usize, ss: usize, pw: usize, ws: usize, K: i32): void {
  let k = 0;
  while (k < K) {
    const m = K - k < CHUNK ? K - k : CHUNK;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    const end = pa + <usize>m * ss;
    while (pa < end) {
      const sa = v128.load32_splat(pa);
      const sb = v128.load32_splat(pa, 4);
      let w = v128.load(pw);
      a0 = madd(w, sa, a0);
      b0 = madd(w, sb, b0);
      w = v128.load(pw, 16);
      a1 = madd(w, sa, a1);
      b1 = madd(w, sb, b1);
      w = v128.load(pw, 32);
      a2 = madd(w, sa, a2);
      b2 = madd(w, sb, b2);
      w = v128.load(pw, 48);
      a3 = madd(w, sa, a3);
      b3 = madd(w, sb, b3);
      pa += ss;
      pw += ws;
    }
    addF64(dA, a0);
    addF64(dA + 32, a1);
    addF64(dA + 64, a2);
    addF64(dA + 96, a3);
    addF64(dB, b0);
    addF64(dB + 32, b1);
    addF64(dB + 64, b2);
    addF64(dB + 96, b3);
    k += m;
  }
}

/** dst[2k] = a[k], dst[2k+1] = b[k] for k < K (rounded up to 4; reads past K are harmless). */
@inline function interleave(dst: usize, a: usize, b: usize, K: i32): void {
  const kb = <usize>K << 2;
  for (let k: usize = 0; k < kb; k += 16) {
    const va = v128.load(a + k);
    const vb = v128.load(b + k);
    v128.store(dst + (k << 1), v128.shuffle<f32>(va, vb, 0, 4, 1, 5));
    v128.store(dst + (k << 1), v128.shuffle<f32>(va, vb, 2, 6, 3, 7), 16);
  }
}

/**
 * dA/dB over output vectors [v0, v1) of a pair's backward mat-vec: sum_j dz[j] WT[j][.],
 * with WT rows of `ob` bytes, in tiles of 4, 2 or 1 vectors.
 */
function dinTiles(dA: usize, dB: usize, dzi: usize, WT: usize, ob: usize, G: i32, v0: i32, v1: i32): void {
  const zero = CT + (K_ZERO << 4);
  let v = v0;
  while (v < v1) {
    const rem = v1 - v;
    const o = <usize>v << 4;
    if (rem >= 4) {
      mmk4(dA + o, dB + o, zero, zero, dzi, 8, WT + o, ob, G);
      v += 4;
    } else if (rem >= 2) {
      mmk2(dA + o, dB + o, zero, zero, dzi, 8, WT + o, ob, G);
      v += 2;
    } else {
      mmk1(dA + o, dB + o, zero, zero, dzi, 8, WT + o, ob, G);
      v += 1;
    }
  }
}

/**
 * dinTiles for two pairs at once (A, B with scalars at dz1; C, D at dz2): each pair's 4-vector
 * tiles, then the vectors left over in 4-row tiles across both pairs.
 */
function dinTilesQuad(dA: usize, dB: usize, dC: usize, dD: usize, dz1: usize, dz2: usize, WT: usize, ob: usize, G: i32, v0: i32, v1: i32): void {
  const zero = CT + (K_ZERO << 4);
  let v = v0;
  while (v1 - v >= 4) {
    const o = <usize>v << 4;
    mmk4(dA + o, dB + o, zero, zero, dz1, 8, WT + o, ob, G);
    mmk4(dC + o, dD + o, zero, zero, dz2, 8, WT + o, ob, G);
    v += 4;
  }
  if (v1 - v >= 2) {
    const o = <usize>v << 4;
    mmk2x4(dA + o, dB + o, dC + o, dD + o, dz1, dz2, 8, WT + o, ob, G);
    v += 2;
  }
  if (v < v1) {
    const o = <usize>v << 4;
    mmk1x4(dA + o, dB + o, dC + o, dD + o, dz1, dz2, 8, WT + o, ob, G);
  }
}

// ---- bfloat16 tape rows ----
// The backward pass needs s (1 - s) of the sigmoid gates and 1 - g^2, which a gate rounded to
// bfloat16 near 1 would lose (its spacing there is 2^-8). So a sigmoid gate s is kept as the
// smaller of s and 1 - s, the latter negated (-(1 - s), -0 for s = 1), and g through
// p = (1 + g) / 2 kept the same way; both come back within bfloat16 rounding of that smaller
// part, and s = 1 + e (e < 0) in float32 is as exact as a float32 gate near 1 ever was. c' is
// rounded as it is. Rounding is to nearest, ties to even.

/** A sigmoid-like value (0..1) as the smaller of s and 1 - s, the latter negated. */
@inline function near01(s: v128, one: v128, half: v128): v128 {
  return v128.bitselect(f32x4.neg(f32x4.sub(one, s)), s, f32x4.gt(s, half));
}
/** The inverse of near01 (the sign bit says which side: -0 is s = 1). */
@inline function from01(e: v128, one: v128): v128 {
  return v128.bitselect(f32x4.add(one, e), e, i32x4.lt_s(e, i32x4.splat(0)));
}
/** Four floats rounded to bfloat16 and stored as 8 bytes at dst. */
@inline function put4(dst: usize, u: v128): void {
  const r = i32x4.add(u, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(u, 16), i32x4.splat(1))));
  v128.store64_lane(dst, v128.shuffle<u8>(r, r, 2, 3, 6, 7, 10, 11, 14, 15, 2, 3, 6, 7, 10, 11, 14, 15), 0);
}
/** Four bfloat16 at src widened to float32 (exactly). */
@inline function get4(src: usize): v128 {
  const h = v128.load64_zero(src);
  return v128.shuffle<u8>(h, i32x4.splat(0), 16, 16, 0, 1, 16, 16, 2, 3, 16, 16, 4, 5, 16, 16, 6, 7);
}

/** One float32 tape row (ng groups of i, f, g, o, c') at src packed into bfloat16 at dst. */
@inline function packRow(src: usize, dst: usize, ng: usize): void {
  const one = kv(K_ONE);
  const h = kv(K_HALF);
  for (let v: usize = 0; v < ng; v++) {
    const p = src + v * 80;
    const d = dst + v * 40;
    put4(d, near01(v128.load(p), one, h));
    put4(d + 8, near01(v128.load(p, 16), one, h));
    put4(d + 16, near01(madd(h, v128.load(p, 32), h), one, h));
    put4(d + 24, near01(v128.load(p, 48), one, h));
    put4(d + 32, v128.load(p, 64));
  }
}

/** The inverse of packRow, into float32 at dst. */
@inline function unpackRow(src: usize, dst: usize, ng: usize): void {
  const one = kv(K_ONE);
  for (let v: usize = 0; v < ng; v++) {
    const p = dst + v * 80;
    const d = src + v * 40;
    v128.store(p, from01(get4(d), one));
    v128.store(p, from01(get4(d + 8), one), 16);
    const pg = from01(get4(d + 16), one);
    v128.store(p, f32x4.sub(f32x4.add(pg, pg), one), 32);
    v128.store(p, from01(get4(d + 24), one), 48);
    v128.store(p, get4(d + 32), 64);
  }
}

/** A tape row as float32: the row itself, or (bfloat16 tape) its copy unpacked into `slot`. */
@inline function tapeRow(p: usize, slot: usize, half: bool, ng: usize): usize {
  if (!half) return p;
  unpackRow(p, slot, ng);
  return slot;
}

// ---- forward ----

/**
 * Activates one coordinate's pre-activations z (four gate vectors per unit group) into `g`
 * (`gs` bytes per group: 64 on a float32 tape, 80 in scratch, the fifth vector for c'). Two
 * independent chains per loop: loops are separate blocks for V8's scheduler, so the live
 * values stay in registers.
 */
@inline function activate(z: usize, g: usize, ng: usize, gs: usize): void {
  const h = kv(K_HALF);
  for (let v: usize = 0; v < ng; v++) {
    const zp = z + (v << 6);
    const gp = g + v * gs;
    const ti = vtanh(f32x4.mul(h, v128.load(zp)));
    const tf = vtanh(f32x4.mul(h, v128.load(zp, 16)));
    v128.store(gp, madd(h, ti, h));
    v128.store(gp, madd(h, tf, h), 16);
  }
  for (let v: usize = 0; v < ng; v++) {
    const zp = z + (v << 6);
    const gp = g + v * gs;
    const tg = vtanh(v128.load(zp, 32));
    const to = vtanh(f32x4.mul(h, v128.load(zp, 48)));
    v128.store(gp, tg, 32);
    v128.store(gp, madd(h, to, h), 48);
  }
}

/** c' = f c + i g from the gates at g (`gs` bytes per group) and c at cs, into cs. */
@inline function cellStep(g: usize, gs: usize, cs: usize, ng: usize): void {
  for (let v: usize = 0; v < ng; v++) {
    const gp = g + v * gs;
    const cp = cs + (v << 4);
    v128.store(cp, madd(v128.load(gp), v128.load(gp, 32), f32x4.mul(v128.load(gp, 16), v128.load(cp))));
  }
}

/**
 * c' = f c + i g for one coordinate, into the state (cs); also into the gates' fifth vector in
 * scratch (gs 80, for a bfloat16 tape's row) and into `keep` (a float32 tape's kept c', or 0).
 */
@inline function cellC(g: usize, cs: usize, ng: usize, gs: usize, keep: usize): void {
  for (let v: usize = 0; v < ng; v++) {
    const gp = g + v * gs;
    const cp = cs + (v << 4);
    // the same expression as cellStep's, which recomputes c' in the backward pass
    const cn = madd(v128.load(gp), v128.load(gp, 32), f32x4.mul(v128.load(gp, 16), v128.load(cp)));
    v128.store(cp, cn);
    if (gs == 80) v128.store(gp, cn, 64);
    if (keep != 0) v128.store(keep + (v << 4), cn);
  }
}

/**
 * c' of step s (0 <= s) of a float32 tape's segment, coordinate c, layer l: the kept row (16
 * bytes per unit group) when step s kept it, else recomputed into `cs` from the nearest kept
 * one before it (or the segment's checkpoint, state rows at s0) with cellStep, the forward
 * pass's own expression: the same bits.
 */
@inline function cellAt(ctx: usize, s: i32, l: i32, c: i32, tape: usize, tb: usize, cs: usize, s0: usize, cOff: usize): usize {
  const ck = fld(ctx, F_CK);
  const L = fld(ctx, F_L);
  const n = <usize>fld(ctx, F_N);
  const hb = <usize>fld(ctx, F_HP) << 2;
  const kept = ufld(ctx, F_TAPEC) + <usize>l * n * hb + <usize>c * hb; // + slot * L n hb
  const r = (s + 1) % ck;
  const m = s - r; // the last kept step at or before s (-1: the checkpoint)
  if (r == 0) return kept + <usize>((m / ck) * L) * n * hb;
  memory.copy(cs, m >= 0 ? kept + <usize>((m / ck) * L) * n * hb : s0 + cOff, hb);
  for (let u = m + 1; u <= s; u++) cellStep(tape + (<usize>(u * L + l) * n + <usize>c) * tb, 64, cs, hb >> 4);
  return cs;
}

/** h = o tanh(c') for two coordinates at once (B may alias A): gates at g (`gs` bytes per group), c' at c. */
@inline function cellH(gA: usize, cA: usize, hsA: usize, gB: usize, cB: usize, hsB: usize, ng: usize, gs: usize): void {
  for (let v: usize = 0; v < ng; v++) {
    const pA = gA + v * gs;
    const pB = gB + v * gs;
    const tA = vtanh(v128.load(cA + (v << 4)));
    const tB = vtanh(v128.load(cB + (v << 4)));
    v128.store(hsA + (v << 4), f32x4.mul(v128.load(pA, 48), tA));
    v128.store(hsB + (v << 4), f32x4.mul(v128.load(pB, 48), tB));
  }
}

@inline function headOut(h: usize, wout: usize, hb: usize): f32 {
  let acc = f32x4.splat(0);
  for (let v: usize = 0; v < hb; v += 16) acc = madd(v128.load(h + v), v128.load(wout + v), acc);
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3)) + load<f32>(wout + hb);
}

/**
 * One step forward for every coordinate. The threads claim chunks of coordinates from a
 * shared counter until none is left, so a thread that the machine slows down does less of
 * the work rather than keeping the others waiting. Each coordinate's arithmetic is the same
 * whichever thread does it (chunks start at even coordinates, so the pairs are the same
 * too): the results do not depend on the thread count or on timing.
 */
export function forward(ctx: usize, tid: i32): void {
  const n = fld(ctx, F_N);
  const chunk = fld(ctx, F_FCHUNK);
  const next = ctx + (<usize>F_NEXT << 2);
  for (;;) {
    const c0 = atomic.add<i32>(next, chunk);
    if (c0 >= n) break;
    forwardRange(ctx, tid, c0, c0 + chunk < n ? c0 + chunk : n);
  }
}

function forwardRange(ctx: usize, tid: i32, c0: i32, c1: i32): void {
  const I = fld(ctx, F_I);
  const Hp = fld(ctx, F_HP);
  const L = fld(ctx, F_L);
  const n = fld(ctx, F_N);
  const XP = fld(ctx, F_XP);
  const S = fld(ctx, F_S);
  const rec = fld(ctx, F_REC) != 0;
  const half = fld(ctx, F_TAPE16) != 0;
  const t = fld(ctx, F_T);
  const X = ufld(ctx, F_X);
  const OUT = ufld(ctx, F_OUT);
  const state = ufld(ctx, F_STATE);
  const tape = ufld(ctx, F_TAPE);
  const head = ufld(ctx, F_HEAD);
  const scr = ufld(ctx, F_SCR) + <usize>tid * ufld(ctx, F_SCRSTRIDE);
  const zA = scr;
  const zB = scr + ufld(ctx, F_ZB);
  const PI = scr + ufld(ctx, F_PI);
  const sgA = scr + ufld(ctx, F_GA);
  const sgB = scr + ufld(ctx, F_GBS);
  const hb = <usize>Hp << 2;
  const gb = hb << 2;
  const sb = <usize>S << 2;
  const tb: usize = half ? (hb * 5) >> 1 : hb << 2; // bytes per tape row
  const kI = <usize>I << 2;
  const xOff = <usize>(XP - I) << 2;
  const direct = rec && !half; // gates straight onto the tape
  const gs: usize = direct ? 64 : 80; // bytes per unit group of gA, gB
  const ck = fld(ctx, F_CK);
  const keepC = direct && t % ck == ck - 1; // this step's c' kept (float32 tape)
  const nq = Hp >> 2; // 16-lane tiles in G, and unit groups
  if (rec && t == 0) {
    const state0 = ufld(ctx, F_STATE0);
    memory.copy(state0 + <usize>c0 * sb, state + <usize>c0 * sb, <usize>(c1 - c0) * sb);
  }
  const hTop = <usize>(XP + (L - 1) * Hp) << 2;
  for (let a = c0; a < c1; a += 2) {
    const hasB = a + 1 < c1;
    const b = hasB ? a + 1 : a;
    const stA = state + <usize>a * sb;
    const stB = state + <usize>b * sb;
    for (let k: usize = 0; k < kI; k += 4) {
      store<f32>(stA + xOff + k, load<f32>(X + <usize>a * kI + k));
      store<f32>(stB + xOff + k, load<f32>(X + <usize>b * kI + k));
    }
    for (let l = 0; l < L; l++) {
      const K = lfld(ctx, l, L_K);
      const W = <usize>lfld(ctx, l, L_W);
      const bias = <usize>lfld(ctx, l, L_B);
      const inOff = l == 0 ? xOff : <usize>(XP + (l - 1) * Hp) << 2;
      interleave(PI, stA + inOff, stB + inOff, K);
      for (let q = 0; q < nq; q++) {
        const o = <usize>q << 6;
        mmk4(zA + o, zB + o, bias + o, bias + o, PI, 8, W + o, gb, K);
      }
      const tpl = tape + (<usize>(t * L + l) * <usize>n) * tb;
      const hOff = <usize>(XP + l * Hp) << 2;
      const cOff = <usize>(XP + (L + l) * Hp) << 2;
      const gA = direct ? tpl + <usize>a * tb : sgA;
      const gB = hasB ? (direct ? tpl + <usize>b * tb : sgB) : gA;
      const kc = keepC ? ufld(ctx, F_TAPEC) + (<usize>((t / ck) * L + l) * <usize>n) * hb : 0;
      activate(zA, gA, <usize>nq, gs);
      cellC(gA, stA + cOff, <usize>nq, gs, keepC ? kc + <usize>a * hb : 0);
      if (hasB) {
        activate(zB, gB, <usize>nq, gs);
        cellC(gB, stB + cOff, <usize>nq, gs, keepC ? kc + <usize>b * hb : 0);
      }
      cellH(gA, stA + cOff, stA + hOff, gB, stB + cOff, stB + hOff, <usize>nq, gs);
      if (rec && half) {
        packRow(gA, tpl + <usize>a * tb, <usize>nq);
        if (hasB) packRow(gB, tpl + <usize>b * tb, <usize>nq);
      }
    }
    store<f32>(OUT + (<usize>a << 2), headOut(stA + hTop, head, hb));
    if (hasB) store<f32>(OUT + (<usize>b << 2), headOut(stB + hTop, head, hb));
  }
}

// ---- backward ----

/**
 * One step back for every coordinate. The float64 weight-gradient sums go to one block of
 * sums per part of the coordinates, added up in a fixed order by the host at the end:
 * - mode 0: each thread takes its fixed range (F_RANGE) and has its own block, so the sums,
 *   and the gradient's last bits, depend on the thread count;
 * - mode 1: the threads claim chunks of F_BCHUNK coordinates from a shared counter, as the
 *   forward pass does, and each chunk has its own block; the sums are then the same whichever
 *   thread does a chunk, so the gradient is the same bits on any thread count.
 */
export function backward(ctx: usize, tid: i32): void {
  const sums = ufld(ctx, F_G64);
  const stride = ufld(ctx, F_G64STRIDE);
  if (fld(ctx, F_BMODE) == 0) {
    const c0 = fld(ctx, F_RANGE + 2 * tid);
    const c1 = fld(ctx, F_RANGE + 2 * tid + 1);
    if (c1 > c0) backwardRange(ctx, tid, c0, c1, sums + <usize>tid * stride);
    return;
  }
  const n = fld(ctx, F_N);
  const chunk = fld(ctx, F_BCHUNK);
  const next = ctx + (<usize>F_NEXTB << 2);
  for (;;) {
    const c0 = atomic.add<i32>(next, chunk);
    if (c0 >= n) break;
    backwardRange(ctx, tid, c0, c0 + chunk < n ? c0 + chunk : n, sums + <usize>(c0 / chunk) * stride);
  }
}

/** The backward step for coordinates [c0, c1) on thread `tid`, its float64 sums at `g64`. */
function backwardRange(ctx: usize, tid: i32, c0: i32, c1: i32, g64: usize): void {
  const I = fld(ctx, F_I);
  const Hp = fld(ctx, F_HP);
  const L = fld(ctx, F_L);
  const n = fld(ctx, F_N);
  const B = fld(ctx, F_B);
  const XP = fld(ctx, F_XP);
  const S = fld(ctx, F_S);
  const G = 4 * Hp;
  const t = fld(ctx, F_T);
  // F_FIRST: flag 1 zeroes dL/dstate (the truncation's last step); flag 2 computes tanh(c') of
  // step t (the last step, or the last step of a segment the host has just recomputed: see
  // "segments" above) from the rows at F_CTOP, or a bfloat16 tape's row; 3 does both
  const first = fld(ctx, F_FIRST);
  const half = fld(ctx, F_TAPE16) != 0;
  const DOUT = ufld(ctx, F_DOUT);
  const DX = ufld(ctx, F_DX);
  const state0 = ufld(ctx, F_STATE0);
  const dstate = ufld(ctx, F_DSTATE);
  const thc = ufld(ctx, F_TH);
  const tape = ufld(ctx, F_TAPE);
  const tapeX = ufld(ctx, F_TAPEX);
  const head = ufld(ctx, F_HEAD);
  const scr = ufld(ctx, F_SCR) + <usize>tid * ufld(ctx, F_SCRSTRIDE);
  const dummy = scr + ufld(ctx, F_DUMMY);
  const DZ = scr + ufld(ctx, F_DZ);
  const DZI = scr + ufld(ctx, F_DZI);
  const DZI2 = DZI + (<usize>G << 3); // the second pair's, right after the first's
  const INR = scr + ufld(ctx, F_INR);
  const THS = scr + ufld(ctx, F_THS);
  const DIO = scr + ufld(ctx, F_DIO);
  // a bfloat16 tape's rows unpacked: step t (U0), step t-1 (U1), the layer below at t (U2)
  const U0 = scr + ufld(ctx, F_UNP);
  const nf = <usize>(5 * Hp);
  const U1 = U0 + (nf << 2);
  const U2 = U1 + (nf << 2);
  const krb = ufld(ctx, F_KR) << 2; // bytes per input row
  const iob = ufld(ctx, F_OMAX) << 2; // bytes per DIO row

  const hb = <usize>Hp << 2;
  const gb = <usize>G << 2;
  const sb = <usize>S << 2;
  const dsb = <usize>(2 * L * Hp) << 2;
  const tb: usize = half ? (hb * 5) >> 1 : hb << 2; // bytes per tape row
  const gs: usize = half ? 80 : 64; // bytes per unit group of a float32 row (unpacked, or the tape's)
  const CS = scr + ufld(ctx, F_CS);
  const ctop = ufld(ctx, F_CTOP);
  const ctops = ufld(ctx, F_CTOPS);
  const kI = <usize>I << 2;
  const nq = <usize>(Hp >> 2);
  // float64 gradient sums (at twice the float offsets of the gradient layout); the head's
  // float32 partial sums, flushed every CHUNK coordinates
  const gHead64 = g64 + (ufld(ctx, F_GHEAD) << 1);
  const gHead = scr + ufld(ctx, F_GHS);

  let dbout: f64 = 0;
  for (let cb = c0; cb < c1; cb += B) {
    const ce = cb + B < c1 ? cb + B : c1;
    const nb = ce - cb;
    if (first != 0) {
      // (before dL/dstate is zeroed: the host may keep the top step's c' in those rows)
      for (let c = cb; c < ce; c++) {
        for (let l = 0; l < L; l++) {
          // c' of step t: on a bfloat16 tape's row, else at F_CTOP
          let cp: usize = ctop + <usize>c * ctops + <usize>l * hb;
          let cst: usize = 16;
          if (half) {
            cp = tapeRow(tape + (<usize>(t * L + l) * <usize>n + <usize>c) * tb, U0, half, nq) + 64;
            cst = 80;
          }
          const th = thc + (<usize>(c * L + l)) * hb;
          for (let v: usize = 0; v < nq; v++) v128.store(th + (v << 4), vtanh(v128.load(cp + v * cst)));
        }
      }
      if ((first & 1) != 0) memory.fill(dstate + <usize>cb * dsb, 0, <usize>nb * dsb);
    }
    for (let l = L - 1; l >= 0; l--) {
      const K = lfld(ctx, l, L_K);
      const Kin = lfld(ctx, l, L_KIN);
      const KinP = lfld(ctx, l, L_KINP);
      const O = KinP + Hp;
      const top = l == L - 1;
      const tpl = tape + (<usize>(t * L + l) * <usize>n) * tb;
      const tplPrev = t > 0 ? tape + (<usize>((t - 1) * L + l) * <usize>n) * tb : 0;
      const tplLow = l > 0 ? tape + (<usize>(t * L + l - 1) * <usize>n) * tb : 0;
      const kinb = <usize>Kin << 2;

      // pass A, per coordinate: the layer's inputs (row-major) and dz
      for (let c = cb; c < ce; c++) {
        const j = <usize>(c - cb);
        const inr = INR + j * krb;
        const hpv = inr + kinb;
        // h_prev (and tanh(c_prev) for the next step back), c_prev
        let cpp: usize; // c_prev: at cpp + 80 v (bfloat16 row unpacked) or cpp + 16 v
        let cps: usize;
        if (t > 0) {
          const tpp = tapeRow(tplPrev + <usize>c * tb, U1, half, nq);
          if (half) {
            cpp = tpp + 64;
            cps = 80;
          } else {
            cpp = cellAt(ctx, t - 1, l, c, tape, tb, CS, state0 + <usize>c * sb, <usize>(XP + (L + l) * Hp) << 2);
            cps = 16;
          }
          const ths = THS + j * hb;
          for (let v: usize = 0; v < nq; v++) {
            const p = tpp + v * gs;
            const tc = vtanh(v128.load(cpp + v * cps));
            v128.store(ths + (v << 4), tc);
            v128.store(hpv + (v << 4), f32x4.mul(v128.load(p, 48), tc));
          }
        } else {
          const s0 = state0 + <usize>c * sb;
          cpp = s0 + (<usize>(XP + (L + l) * Hp) << 2);
          cps = 16;
          const h0 = s0 + (<usize>(XP + l * Hp) << 2);
          for (let v: usize = 0; v < hb; v += 16) v128.store(hpv + v, v128.load(h0 + v));
        }
        // the layer's input: x, or h of the layer below at step t
        if (l == 0) {
          const xs = tapeX + (<usize>t * <usize>n + <usize>c) * kI;
          for (let k: usize = 0; k < kI; k += 4) store<f32>(inr + k, load<f32>(xs + k));
        } else {
          const tlo = tapeRow(tplLow + <usize>c * tb, U2, half, nq);
          const thlo = thc + (<usize>(c * L + l - 1)) * hb;
          for (let v: usize = 0; v < nq; v++) {
            v128.store(inr + (v << 4), f32x4.mul(v128.load(tlo + v * gs, 48), v128.load(thlo + (v << 4))));
          }
        }
        const d = load<f32>(DOUT + (<usize>c << 2));
        const dOut = f32x4.splat(d);
        const tp = tapeRow(tpl + <usize>c * tb, U0, half, nq);
        const th = thc + (<usize>(c * L + l)) * hb;
        const ds = dstate + <usize>c * dsb + 2 * <usize>l * hb;
        const dio = DIO + j * iob;
        const dz = DZ + j * gb;
        const one = kv(K_ONE);
        for (let v: usize = 0; v < nq; v++) {
          const p = tp + v * gs;
          const dsv = ds + (v << 5);
          const v16 = v << 4;
          let dh = v128.load(dsv);
          if (top) dh = madd(dOut, v128.load(head + v16), dh);
          else dh = f32x4.add(dh, v128.load(dio + v16));
          const ig = v128.load(p);
          const fg = v128.load(p, 16);
          const gg = v128.load(p, 32);
          const og = v128.load(p, 48);
          const tc = v128.load(th + v16);
          const dct = madd(f32x4.mul(dh, og), f32x4.sub(one, f32x4.mul(tc, tc)), v128.load(dsv, 16));
          const dzp = dz + (v << 6);
          v128.store(dzp, f32x4.mul(f32x4.mul(dct, gg), f32x4.mul(ig, f32x4.sub(one, ig))));
          v128.store(dzp, f32x4.mul(f32x4.mul(dct, v128.load(cpp + v * cps)), f32x4.mul(fg, f32x4.sub(one, fg))), 16);
          v128.store(dzp, f32x4.mul(f32x4.mul(dct, ig), f32x4.sub(one, f32x4.mul(gg, gg))), 32);
          v128.store(dzp, f32x4.mul(f32x4.mul(dh, tc), f32x4.mul(og, f32x4.sub(one, og))), 48);
          v128.store(dsv, f32x4.mul(dct, fg), 16);
          if (top) {
            const gh = gHead + v16;
            v128.store(gh, madd(dOut, f32x4.mul(og, tc), v128.load(gh)));
          }
        }
        if (top) {
          dbout += <f64>d;
          if (j % CHUNK == CHUNK - 1 || c == ce - 1) {
            for (let v: usize = 0; v < hb; v += 16) {
              addF64(gHead64 + (v << 1), v128.load(gHead + v));
              v128.store(gHead + v, f32x4.splat(0));
            }
          }
        }
      }

      // pass B, per coordinate pair: dL/d(inputs) and dL/d(h_prev) through W^T
      const WT = <usize>lfld(ctx, l, L_WT);
      const ob = <usize>O << 2;
      const kp = <usize>KinP << 2;
      const vFrom = l == 0 && DX == 0 ? KinP >> 2 : 0;
      for (let a = cb; a < ce; a += 4) {
        // two pairs (a, a + 1), (a + 2, a + 3); the block's end may leave one, or a single
        // coordinate (its partner's results go to `dummy`)
        const hasB = a + 1 < ce;
        const hasC = a + 2 < ce;
        const hasD = a + 3 < ce;
        const ja = <usize>(a - cb);
        const jb = hasB ? ja + 1 : ja;
        interleave(DZI, DZ + ja * gb, DZ + jb * gb, G);
        const dA = DIO + ja * iob;
        const dB = hasB ? DIO + jb * iob : dummy;
        if (hasC) {
          const jc = ja + 2;
          const jd = hasD ? ja + 3 : jc;
          interleave(DZI2, DZ + jc * gb, DZ + jd * gb, G);
          const dC = DIO + jc * iob;
          const dD = hasD ? DIO + jd * iob : dummy;
          if (l == 0) {
            // the input and recurrent parts separately, so that the first can be skipped
            if (vFrom == 0) dinTilesQuad(dA, dB, dC, dD, DZI, DZI2, WT, ob, G, 0, KinP >> 2);
            dinTilesQuad(dA, dB, dC, dD, DZI, DZI2, WT, ob, G, KinP >> 2, O >> 2);
          } else {
            dinTilesQuad(dA, dB, dC, dD, DZI, DZI2, WT, ob, G, 0, O >> 2);
          }
        } else if (l == 0) {
          if (vFrom == 0) dinTiles(dA, dB, DZI, WT, ob, G, 0, KinP >> 2);
          dinTiles(dA, dB, DZI, WT, ob, G, KinP >> 2, O >> 2);
        } else {
          dinTiles(dA, dB, DZI, WT, ob, G, 0, O >> 2);
        }
        const last = hasD ? a + 3 : hasC ? a + 2 : hasB ? a + 1 : a;
        for (let c = a; c <= last; c++) {
          const dc = DIO + <usize>(c - cb) * iob;
          const dsc = dstate + <usize>c * dsb + 2 * <usize>l * hb;
          for (let v: usize = 0; v < nq; v++) v128.store(dsc + (v << 5), v128.load(dc + kp + (v << 4)));
          if (l == 0 && DX != 0) {
            for (let k: usize = 0; k < kI; k += 4) store<f32>(DX + <usize>c * kI + k, load<f32>(dc + k));
          }
        }
      }

      // pass C: dW += inputs^T dz over the block, two weight rows at a time
      const gW = g64 + (<usize>lfld(ctx, l, L_GW) << 1);
      for (let k = 0; k < K; k += 2) {
        const dA = gW + ((<usize>k * gb) << 1);
        const pa = INR + (<usize>k << 2);
        if (k + 1 >= K) {
          // an odd last row: pair it with a zero column written over the next row's slot
          for (let j: usize = 0; j < <usize>nb; j++) store<f32>(pa + j * krb, 0, 4);
        }
        const dB = k + 1 < K ? dA + (gb << 1) : dummy;
        for (let q: usize = 0; q < nq; q++) {
          const o = q << 6;
          mmk4f64(dA + (o << 1), dB + (o << 1), pa, krb, DZ + o, gb, nb);
        }
      }
      const gBias = g64 + (<usize>lfld(ctx, l, L_GB) << 1);
      for (let q: usize = 0; q < nq; q++) {
        const dq = gBias + (q << 7);
        for (let j0: usize = 0; j0 < <usize>nb; j0 += CHUNK) {
          const j1 = j0 + CHUNK < <usize>nb ? j0 + CHUNK : <usize>nb;
          let s0 = f32x4.splat(0);
          let s1 = f32x4.splat(0);
          let s2 = f32x4.splat(0);
          let s3 = f32x4.splat(0);
          for (let j = j0; j < j1; j++) {
            const p = DZ + (q << 6) + j * gb;
            s0 = f32x4.add(s0, v128.load(p));
            s1 = f32x4.add(s1, v128.load(p, 16));
            s2 = f32x4.add(s2, v128.load(p, 32));
            s3 = f32x4.add(s3, v128.load(p, 48));
          }
          addF64(dq, s0);
          addF64(dq + 32, s1);
          addF64(dq + 64, s2);
          addF64(dq + 96, s3);
        }
      }

      // pass D: tanh(c) of step t-1 becomes the cached one for the next (earlier) step
      if (t > 0) {
        for (let c = cb; c < ce; c++) {
          const th = thc + (<usize>(c * L + l)) * hb;
          const ths = THS + <usize>(c - cb) * hb;
          for (let v: usize = 0; v < hb; v += 16) v128.store(th + v, v128.load(ths + v));
        }
      }
    }
  }
  store<f64>(gHead64 + (hb << 1), load<f64>(gHead64 + (hb << 1)) + dbout);
}

// ---- roofline (bench/kernels.ts) ----

/**
 * The arithmetic ceiling of the matrix-product tiles: `iters` iterations of mmk4's
 * instruction mix (8 `madd`s into 8 independent accumulators: 8 f32x4 multiplies and 8 adds,
 * or 8 fused multiply-adds in the relaxed-SIMD build) with
 * every operand in registers, so no load, store or dependency chain limits it. 64 FLOP per
 * iteration. Returns a sum of the accumulators so that nothing is optimised away.
 */
export function peakMulAdd(iters: i32, seed: f32): f32 {
  const sa = f32x4.splat(seed);
  const sb = f32x4.splat(seed * 0.5);
  const w0 = f32x4.splat(0.999);
  const w1 = f32x4.splat(0.998);
  const w2 = f32x4.splat(0.997);
  const w3 = f32x4.splat(0.996);
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let b3 = f32x4.splat(0);
  for (let i = 0; i < iters; i++) {
    a0 = madd(w0, sa, a0);
    b0 = madd(w0, sb, b0);
    a1 = madd(w1, sa, a1);
    b1 = madd(w1, sb, b1);
    a2 = madd(w2, sa, a2);
    b2 = madd(w2, sb, b2);
    a3 = madd(w3, sa, a3);
    b3 = madd(w3, sb, b3);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

// The per-coordinate MLP optimizer's network (src/learned/mlp/, small_fc_lopt of Metz et al.
// 2022) over every coordinate at once, in WebAssembly SIMD: the `wasm` engine that
// src/learned/mlp/engine_wasm.ts drives through src/kernels/mlp_opt.ts. Its reference is
// `MlpNet` (src/learned/mlp/network.ts, float64); this kernel computes in float32 lanes, four
// coordinates per vector, products as a multiply then an add (no fused multiply-add), so it
// gives the same bits on every CPU and agrees with the reference to float32 rounding.
//
// Arrays are float32, structure of arrays: row r of an array of `np` coordinates (np a multiple
// of 4; padding lanes are zero and their adjoint is zero, so they add nothing to a gradient)
// starts at byte base + r * np * 4. The weights `w` are phi's layout for the F normalised
// inputs: per layer l (hidden layers of H ReLU units, then a linear head of 2) the weight
// [din, dout] row-major, then the bias [dout]; the host folds time inputs, the same for every
// coordinate, into layer 0's bias.
//
// forward: x (F rows) -> out (2 rows: d, a; the host takes the step d exp(a expMult) stepMult
// in float64); with acts != 0 the post-ReLU activations of hidden layer l are kept at
// acts + l * H rows.
// backward: dL/dout (2 rows) -> dL/dphi added to g64 (float64, the weights' layout) and, with
// dx != 0, dL/dx (F rows). Gradient sums run in float32 vectors for FLUSH blocks of 4
// coordinates, then go into the float64 sums.

const FLUSH: i32 = 64;

// @ts-ignore: decorator
@inline function ld(p: usize): v128 {
  return v128.load(p);
}

// @ts-ignore: decorator
@inline function splatAt(p: usize): v128 {
  return v128.load32_splat(p);
}

/** Byte offset in `w` of layer l's weight; its bias follows at + din * dout * 4. */
function layerOffset(l: i32, F: i32, H: i32): usize {
  if (l == 0) return 0;
  return <usize>((F * H + H + (l - 1) * (H * H + H)) << 2);
}

/**
 * One block of 4 coordinates at byte offset `i4` of each row: the MLP's forward. `hid` is
 * where hidden layer l's activations go (row stride `hs` bytes), `inp` the inputs (stride `xs`).
 */
// @ts-ignore: decorator
@inline function forwardBlock(F: i32, H: i32, L: i32, w: usize, x: usize, xs: usize, hid: usize, hs: usize, i4: usize, out: usize, os: usize): void {
  let src = x + i4;
  let ss = xs;
  let din = F;
  for (let l = 0; l < L; l++) {
    const wo = w + layerOffset(l, F, H);
    const bo = wo + <usize>((din * H) << 2);
    const dst = hid + <usize>(l * H) * hs + i4;
    for (let k = 0; k < H; k++) {
      let acc = splatAt(bo + (<usize>k << 2));
      for (let j = 0; j < din; j++) acc = f32x4.add(acc, f32x4.mul(ld(src + <usize>j * ss), splatAt(wo + (<usize>(j * H + k) << 2))));
      v128.store(dst + <usize>k * hs, f32x4.max(acc, f32x4.splat(0)));
    }
    src = dst;
    ss = hs;
    din = H;
  }
  const wo = w + layerOffset(L, F, H);
  const bo = wo + <usize>((din * 2) << 2);
  let d = splatAt(bo);
  let a = splatAt(bo + 4);
  for (let j = 0; j < din; j++) {
    const v = ld(src + <usize>j * ss);
    d = f32x4.add(d, f32x4.mul(v, splatAt(wo + (<usize>(j * 2) << 2))));
    a = f32x4.add(a, f32x4.mul(v, splatAt(wo + (<usize>(j * 2 + 1) << 2))));
  }
  v128.store(out + i4, d);
  v128.store(out + os + i4, a);
}

/**
 * The forward over `np` coordinates. acts == 0: the activations go to `scr` (L * H vectors)
 * and are dropped.
 */
export function forward(np: i32, F: i32, H: i32, L: i32, w: usize, x: usize, acts: usize, out: usize, scr: usize): void {
  const rs = <usize>np << 2;
  for (let i = 0; i < np; i += 4) {
    const i4 = <usize>i << 2;
    if (acts != 0) forwardBlock(F, H, L, w, x, rs, acts, rs, i4, out, rs);
    else forwardBlock(F, H, L, w, x, rs, scr - i4, 16, i4, out, rs);
  }
}

/** Adds the float32 vector sums `acc` (P vectors) into the float64 sums `g64` and zeroes them. */
function flush(P: i32, acc: usize, g64: usize): void {
  for (let p = 0; p < P; p++) {
    const a = acc + (<usize>p << 4);
    const v = ld(a);
    const s = <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3));
    const g = g64 + (<usize>p << 3);
    store<f64>(g, load<f64>(g) + s);
    v128.store(a, f32x4.splat(0));
  }
}

/**
 * The backward over `np` coordinates of a forward kept with `acts`, from dL/dout (`dout`, 2
 * rows: dL/dd, dL/da). `acc` holds P float32 vectors (P the weights' count, zero on entry and
 * on return), `scr` 2 * max(F, H, 2) vectors.
 */
export function backward(np: i32, F: i32, H: i32, L: i32, w: usize, x: usize, acts: usize, dout: usize, acc: usize, g64: usize, dx: usize, scr: usize): void {
  const rs = <usize>np << 2;
  const P = F * H + H + (L - 1) * (H * H + H) + H * 2 + 2;
  const wide = F > H ? (F > 2 ? F : 2) : (H > 2 ? H : 2);
  let blocks = 0;
  for (let i = 0; i < np; i += 4) {
    const i4 = <usize>i << 2;
    let delta = scr;
    let prev = scr + (<usize>wide << 4);
    v128.store(delta, ld(dout + i4));
    v128.store(delta + 16, ld(dout + rs + i4));
    for (let l = L; l >= 0; l--) {
      const din = l == 0 ? F : H;
      const dout = l == L ? 2 : H;
      const src = l == 0 ? x + i4 : acts + <usize>((l - 1) * H) * rs + i4;
      const wo = layerOffset(l, F, H);
      const bo = wo + <usize>((din * dout) << 2);
      for (let k = 0; k < dout; k++) {
        const ga = acc + ((bo >> 2) + <usize>k) * 16;
        v128.store(ga, f32x4.add(ld(ga), ld(delta + (<usize>k << 4))));
      }
      for (let j = 0; j < din; j++) {
        const v = ld(src + <usize>j * rs);
        let s = f32x4.splat(0);
        for (let k = 0; k < dout; k++) {
          const q = (wo >> 2) + <usize>(j * dout + k);
          const dk = ld(delta + (<usize>k << 4));
          const ga = acc + q * 16;
          v128.store(ga, f32x4.add(ld(ga), f32x4.mul(v, dk)));
          s = f32x4.add(s, f32x4.mul(splatAt(w + (q << 2)), dk));
        }
        if (l == 0) {
          if (dx != 0) v128.store(dx + <usize>j * rs + i4, s);
        } else {
          // Through the ReLU below: no gradient where its output was 0.
          v128.store(prev + (<usize>j << 4), v128.and(s, f32x4.gt(v, f32x4.splat(0))));
        }
      }
      const t = delta;
      delta = prev;
      prev = t;
    }
    if (++blocks == FLUSH) {
      flush(P, acc, g64);
      blocks = 0;
    }
  }
  flush(P, acc, g64);
}

// adafacFeatures: the `adafac` features of the evaluation path (src/learned/mlp/features_adafac.ts
// is the reference, and this is its arithmetic op for op: float64, the state rounded to float32
// as it is stored), written straight into the kernel's feature rows (x: F rows of np float32),
// so that they are the bits the host's features give once rounded. Two passes per tensor: the
// first updates the state and sums each column's squares, the second writes the columns scaled.
// The time columns are not written (the host folds them into layer 0's bias).
//
// tab: per tensor 5 i32 (offset, size, rows, cols, at: its factored accumulators' float index
// in the state; rows 0 means one per coordinate); dec: the D decays (f64); st: the state
// (float32, features_adafac.ts's layout); scr: 4 * n + (the widest tensor's cols) + F float64s.

const RSQRT_EPS: f64 = 1e-8;
const FAC_EPS: f64 = 1e-30;
const NORM_EPS: f64 = 1e-5;

// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f64): void {
  store<f32>(p + (<usize>i << 2), <f32>v);
}
// @ts-ignore: decorator
@inline function ldd(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function std(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}

/** Coordinates i and i + 1 of a float32 array, as float64 lanes. */
// @ts-ignore: decorator
@inline function lo2(p: usize, i: i32): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2)));
}

/** The factored accumulators of one tensor: updates them, writes fv, rowF, colF of its coordinates. */
function factored(o: i32, size: i32, R: i32, C: i32, at: i32, f: f64, grad: usize, st: usize, fvA: usize, roA: usize, coA: usize, cs: usize): void {
  if (R == 0) {
    for (let i = 0; i < size; i++) {
      const g = ldf(grad, o + i);
      stf(st, at + i, f * ldf(st, at + i) + (1 - f) * (g * g + FAC_EPS));
      const u = 1 / Math.sqrt(ldf(st, at + i) + RSQRT_EPS);
      std(fvA, o + i, u);
      std(roA, o + i, u);
      std(coA, o + i, u);
    }
    return;
  }
  for (let c = 0; c < C; c++) std(cs, c, 0);
  let rowMean: f64 = 0;
  for (let r = 0; r < R; r++) {
    let rs: f64 = 0;
    for (let c = 0; c < C; c++) {
      const g = ldf(grad, o + r * C + c);
      const q = g * g + FAC_EPS;
      rs += q;
      std(cs, c, ldd(cs, c) + q);
    }
    stf(st, at + r, f * ldf(st, at + r) + (1 - f) * (rs / <f64>C));
    rowMean += ldf(st, at + r);
  }
  rowMean /= <f64>R;
  const cAt = at + R;
  for (let c = 0; c < C; c++) stf(st, cAt + c, f * ldf(st, cAt + c) + (1 - f) * (ldd(cs, c) / <f64>R));
  for (let c = 0; c < C; c++) std(cs, c, 1 / Math.sqrt(ldf(st, cAt + c) + RSQRT_EPS));
  for (let r = 0; r < R; r++) {
    const rr = ldf(st, at + r);
    const ru = 1 / Math.sqrt(rr + RSQRT_EPS);
    let c = 0;
    if (rowMean > 0) {
      // Two columns at a time in float64x2 lanes (the same arithmetic as the loop below).
      for (; c + 1 < C; c += 2) {
        const i = o + r * C + c;
        const vhat = f64x2.div(f64x2.mul(f64x2.splat(rr), lo2(st, cAt + c)), f64x2.splat(rowMean));
        v128.store(fvA + (<usize>i << 3), f64x2.div(f64x2.splat(1), f64x2.sqrt(f64x2.add(vhat, f64x2.splat(RSQRT_EPS)))));
        v128.store(roA + (<usize>i << 3), f64x2.splat(ru));
        v128.store(coA + (<usize>i << 3), v128.load(cs + (<usize>c << 3)));
      }
    }
    for (; c < C; c++) {
      const i = o + r * C + c;
      const cc = ldf(st, cAt + c);
      const vhat = rowMean > 0 ? (rr * cc) / rowMean : 0;
      std(fvA, i, 1 / Math.sqrt(vhat + RSQRT_EPS));
      std(roA, i, ru);
      std(coA, i, ldd(cs, c));
    }
  }
}

// @ts-ignore: decorator
@inline function put(x: usize, rs: usize, k: i32, i: i32, v: f64): void {
  store<f32>(x + <usize>k * rs + (<usize>i << 2), <f32>v);
}

/** Rounds two float64 lanes to float32 and stores them at coordinates i, i + 1 of row k. */
// @ts-ignore: decorator
@inline function put2(x: usize, rs: usize, k: i32, i: i32, v: v128): void {
  v128.store64_lane(x + <usize>k * rs + (<usize>i << 2), f32x4.demote_f64x2_zero(v), 0);
}

export function adafacFeatures(n: i32, np: i32, D: i32, nt: i32, tab: usize, dec: usize, rho: f64, f: f64, theta: usize, grad: usize, st: usize, scr: usize, maxC: i32, x: usize): void {
  const F = 7 + 3 * D;
  const rs = <usize>np << 2;
  const vAt = n * D;
  const rvA = scr;
  const fvA = scr + (<usize>n << 3);
  const roA = scr + (<usize>(2 * n) << 3);
  const coA = scr + (<usize>(3 * n) << 3);
  const cs = scr + (<usize>(4 * n) << 3);
  const ss = cs + (<usize>maxC << 3);
  const kG = 1, kGr = 2 + D, kR = 3 + 2 * D, kGf = 4 + 2 * D, kRow = 5 + 3 * D, kCol = 6 + 3 * D;
  for (let e = 0; e < nt; e++) {
    const t = tab + (<usize>(5 * e) << 2);
    const o = load<i32>(t), size = load<i32>(t, 4), R = load<i32>(t, 8), C = load<i32>(t, 12), at = load<i32>(t, 16);
    if (size == 0) continue;
    factored(o, size, R, C, at, f, grad, st, fvA, roA, coA, cs);
    let sP: f64 = 0, sG: f64 = 0, sGr: f64 = 0, sR: f64 = 0, sGf: f64 = 0, sRow: f64 = 0, sCol: f64 = 0;
    for (let k = 0; k < F; k++) std(ss, k, 0);
    const end = o + size;
    let i = o;
    // Two coordinates at a time in float64x2 lanes (each lane's arithmetic is the scalar
    // loop's), the sums still added one coordinate after the other.
    for (; i + 1 < end; i += 2) {
      const g = lo2(grad, i);
      const p = lo2(theta, i);
      const vp = st + (<usize>(vAt + i) << 2);
      const v32 = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(f64x2.splat(rho), lo2(st, vAt + i)), f64x2.mul(f64x2.mul(f64x2.splat(1 - rho), g), g)));
      v128.store64_lane(vp, v32, 0);
      const rv = f64x2.div(f64x2.splat(1), f64x2.sqrt(f64x2.add(f64x2.promote_low_f32x4(v32), f64x2.splat(RSQRT_EPS))));
      v128.store(rvA + (<usize>i << 3), rv);
      const fv = v128.load(fvA + (<usize>i << 3));
      const gr = f64x2.mul(g, rv);
      const gf = f64x2.mul(g, fv);
      const ro = v128.load(roA + (<usize>i << 3));
      const co = v128.load(coA + (<usize>i << 3));
      let q = f64x2.mul(p, p);
      sP += f64x2.extract_lane(q, 0);
      sP += f64x2.extract_lane(q, 1);
      q = f64x2.mul(g, g);
      sG += f64x2.extract_lane(q, 0);
      sG += f64x2.extract_lane(q, 1);
      q = f64x2.mul(gr, gr);
      sGr += f64x2.extract_lane(q, 0);
      sGr += f64x2.extract_lane(q, 1);
      q = f64x2.mul(rv, rv);
      sR += f64x2.extract_lane(q, 0);
      sR += f64x2.extract_lane(q, 1);
      q = f64x2.mul(gf, gf);
      sGf += f64x2.extract_lane(q, 0);
      sGf += f64x2.extract_lane(q, 1);
      q = f64x2.mul(ro, ro);
      sRow += f64x2.extract_lane(q, 0);
      sRow += f64x2.extract_lane(q, 1);
      q = f64x2.mul(co, co);
      sCol += f64x2.extract_lane(q, 0);
      sCol += f64x2.extract_lane(q, 1);
      for (let b = 0; b < D; b++) {
        const d = ldd(dec, b);
        const a0 = i * D + b;
        const a1 = a0 + D;
        const mo = f64x2.replace_lane(f64x2.splat(ldf(st, a0)), 1, ldf(st, a1));
        const m32 = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(f64x2.splat(d), mo), f64x2.mul(f64x2.splat(1 - d), g)));
        store<f32>(st + (<usize>a0 << 2), f32x4.extract_lane(m32, 0));
        store<f32>(st + (<usize>a1 << 2), f32x4.extract_lane(m32, 1));
        const m = f64x2.promote_low_f32x4(m32);
        const mr = f64x2.mul(m, rv);
        const mf = f64x2.mul(m, fv);
        q = f64x2.mul(m, m);
        std(ss, 2 + b, ldd(ss, 2 + b) + f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1));
        q = f64x2.mul(mr, mr);
        std(ss, 3 + D + b, ldd(ss, 3 + D + b) + f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1));
        q = f64x2.mul(mf, mf);
        std(ss, 5 + 2 * D + b, ldd(ss, 5 + 2 * D + b) + f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1));
      }
    }
    for (; i < end; i++) {
      const g = ldf(grad, i);
      const p = ldf(theta, i);
      stf(st, vAt + i, rho * ldf(st, vAt + i) + (1 - rho) * g * g);
      const rv = 1 / Math.sqrt(ldf(st, vAt + i) + RSQRT_EPS);
      std(rvA, i, rv);
      const fv = ldd(fvA, i);
      const gr = g * rv;
      const gf = g * fv;
      const ro = ldd(roA, i);
      const co = ldd(coA, i);
      sP += p * p;
      sG += g * g;
      sGr += gr * gr;
      sR += rv * rv;
      sGf += gf * gf;
      sRow += ro * ro;
      sCol += co * co;
      for (let b = 0; b < D; b++) {
        const d = ldd(dec, b);
        stf(st, i * D + b, d * ldf(st, i * D + b) + (1 - d) * g);
        const m = ldf(st, i * D + b);
        const mr = m * rv;
        const mf = m * fv;
        std(ss, 2 + b, ldd(ss, 2 + b) + m * m);
        std(ss, 3 + D + b, ldd(ss, 3 + D + b) + mr * mr);
        std(ss, 5 + 2 * D + b, ldd(ss, 5 + 2 * D + b) + mf * mf);
      }
    }
    std(ss, 0, sP);
    std(ss, kG, sG);
    std(ss, kGr, sGr);
    std(ss, kR, sR);
    std(ss, kGf, sGf);
    std(ss, kRow, sRow);
    std(ss, kCol, sCol);
    for (let k = 0; k < F; k++) std(ss, k, 1 / Math.sqrt(ldd(ss, k) / <f64>size + NORM_EPS));
    const c0 = ldd(ss, 0), cG = ldd(ss, kG), cGr = ldd(ss, kGr), cR = ldd(ss, kR), cGf = ldd(ss, kGf), cRow = ldd(ss, kRow), cCol = ldd(ss, kCol);
    i = o;
    for (; i + 1 < end; i += 2) {
      const g = lo2(grad, i);
      const rv = v128.load(rvA + (<usize>i << 3));
      const fv = v128.load(fvA + (<usize>i << 3));
      put2(x, rs, 0, i, f64x2.mul(lo2(theta, i), f64x2.splat(c0)));
      put2(x, rs, kG, i, f64x2.mul(g, f64x2.splat(cG)));
      put2(x, rs, kGr, i, f64x2.mul(f64x2.mul(g, rv), f64x2.splat(cGr)));
      put2(x, rs, kR, i, f64x2.mul(rv, f64x2.splat(cR)));
      put2(x, rs, kGf, i, f64x2.mul(f64x2.mul(g, fv), f64x2.splat(cGf)));
      put2(x, rs, kRow, i, f64x2.mul(v128.load(roA + (<usize>i << 3)), f64x2.splat(cRow)));
      put2(x, rs, kCol, i, f64x2.mul(v128.load(coA + (<usize>i << 3)), f64x2.splat(cCol)));
      for (let b = 0; b < D; b++) {
        const m = f64x2.replace_lane(f64x2.splat(ldf(st, i * D + b)), 1, ldf(st, i * D + D + b));
        put2(x, rs, 2 + b, i, f64x2.mul(m, f64x2.splat(ldd(ss, 2 + b))));
        put2(x, rs, 3 + D + b, i, f64x2.mul(f64x2.mul(m, rv), f64x2.splat(ldd(ss, 3 + D + b))));
        put2(x, rs, 5 + 2 * D + b, i, f64x2.mul(f64x2.mul(m, fv), f64x2.splat(ldd(ss, 5 + 2 * D + b))));
      }
    }
    for (; i < end; i++) {
      const g = ldf(grad, i);
      const rv = ldd(rvA, i);
      const fv = ldd(fvA, i);
      put(x, rs, 0, i, ldf(theta, i) * c0);
      put(x, rs, kG, i, g * cG);
      put(x, rs, kGr, i, g * rv * cGr);
      put(x, rs, kR, i, rv * cR);
      put(x, rs, kGf, i, g * fv * cGf);
      put(x, rs, kRow, i, ldd(roA, i) * cRow);
      put(x, rs, kCol, i, ldd(coA, i) * cCol);
      for (let b = 0; b < D; b++) {
        const m = ldf(st, i * D + b);
        put(x, rs, 2 + b, i, m * ldd(ss, 2 + b));
        put(x, rs, 3 + D + b, i, m * rv * ldd(ss, 3 + D + b));
        put(x, rs, 5 + 2 * D + b, i, m * fv * ldd(ss, 5 + 2 * D + b));
      }
    }
  }
}

// The hand-designed optimizers' elementwise update rules as WebAssembly SIMD kernels, the
// `wasm` engine of src/kernels/rules.ts. Each kernel is bit for bit the plain-TypeScript
// reference there: the reference computes in float64 (JavaScript numbers) and stores float32,
// so these widen four float32 lanes into two float64x2 vectors, do the same operations in the
// same order (WebAssembly has no fused multiply-add outside relaxed SIMD, and its float64
// division and square root are correctly rounded, as JavaScript's are), and narrow to float32
// with the same rounding as a Float32Array store.
//
// Arrays are float32 at byte addresses given by the host, padded to a multiple of 4 lanes
// (the padding lanes are computed and ignored). A state array is read and written in place.
// `post` != 0 multiplies each update, once rounded to float32, by `c` and rounds again: the
// same bits as chaining `scale(c)` after the rule, in one pass.

// @ts-ignore: decorator
@inline function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

// @ts-ignore: decorator
@inline function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** Two float64x2 vectors rounded to float32 and packed into one float32x4. */
// @ts-ignore: decorator
@inline function pack(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5);
}

/** An update vector rounded to float32, then (with `post`) times `c` and rounded again. */
// @ts-ignore: decorator
@inline function finish(a: v128, post: i32, c: v128): v128 {
  if (post == 0) return a;
  return f64x2.mul(c, f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(a)));
}

/** `x / den` where `den > 0`, else 0 (a coordinate that has only seen zero gradients). */
// @ts-ignore: decorator
@inline function guardedDiv(x: v128, den: v128): v128 {
  return v128.and(f64x2.div(x, den), f64x2.gt(den, f64x2.splat(0)));
}

/** out = c g. */
export function scale(n: i32, g: usize, out: usize, c: f64): void {
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    v128.store(out + p, pack(f64x2.mul(vc, lo(vg)), f64x2.mul(vc, hi(vg))));
  }
}

/** trace = decay trace + g; out = g + decay trace (Nesterov) or trace. */
export function momentum(n: i32, g: usize, trace: usize, out: usize, decay: f64, nesterov: i32, post: i32, c: f64): void {
  const vd = f64x2.splat(decay);
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    const vt = v128.load(trace + p);
    const g0 = lo(vg);
    const g1 = hi(vg);
    const m0 = f64x2.add(f64x2.mul(vd, lo(vt)), g0);
    const m1 = f64x2.add(f64x2.mul(vd, hi(vt)), g1);
    v128.store(trace + p, pack(m0, m1));
    let u0 = m0;
    let u1 = m1;
    if (nesterov != 0) {
      u0 = f64x2.add(g0, f64x2.mul(vd, m0));
      u1 = f64x2.add(g1, f64x2.mul(vd, m1));
    }
    v128.store(out + p, pack(finish(u0, post, vc), finish(u1, post, vc)));
  }
}

/** nu = decay nu + (1 - decay) g g; out = g / (sqrt(nu) + eps), or g / sqrt(nu + eps) with `inside`. */
export function rms(n: i32, g: usize, nu: usize, out: usize, decay: f64, eps: f64, inside: i32, post: i32, c: f64): void {
  const vd = f64x2.splat(decay);
  const vw = f64x2.splat(1 - decay);
  const ve = f64x2.splat(eps);
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    const vn = v128.load(nu + p);
    const g0 = lo(vg);
    const g1 = hi(vg);
    const v0 = f64x2.add(f64x2.mul(vd, lo(vn)), f64x2.mul(f64x2.mul(vw, g0), g0));
    const v1 = f64x2.add(f64x2.mul(vd, hi(vn)), f64x2.mul(f64x2.mul(vw, g1), g1));
    v128.store(nu + p, pack(v0, v1));
    const d0 = inside != 0 ? f64x2.sqrt(f64x2.add(v0, ve)) : f64x2.add(f64x2.sqrt(v0), ve);
    const d1 = inside != 0 ? f64x2.sqrt(f64x2.add(v1, ve)) : f64x2.add(f64x2.sqrt(v1), ve);
    v128.store(out + p, pack(finish(guardedDiv(g0, d0), post, vc), finish(guardedDiv(g1, d1), post, vc)));
  }
}

/**
 * mu = b1 mu + (1 - b1) g; nu = b2 nu + (1 - b2) g g;
 * out = mu / c1 / (sqrt(nu / c2) + eps), with the bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t.
 */
export function adam(
  n: i32, g: usize, mu: usize, nu: usize, out: usize,
  b1: f64, b2: f64, eps: f64, c1: f64, c2: f64, post: i32, c: f64,
): void {
  const vb1 = f64x2.splat(b1);
  const vw1 = f64x2.splat(1 - b1);
  const vb2 = f64x2.splat(b2);
  const vw2 = f64x2.splat(1 - b2);
  const ve = f64x2.splat(eps);
  const vc1 = f64x2.splat(c1);
  const vc2 = f64x2.splat(c2);
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    const vm = v128.load(mu + p);
    const vn = v128.load(nu + p);
    const g0 = lo(vg);
    const g1 = hi(vg);
    const m0 = f64x2.add(f64x2.mul(vb1, lo(vm)), f64x2.mul(vw1, g0));
    const m1 = f64x2.add(f64x2.mul(vb1, hi(vm)), f64x2.mul(vw1, g1));
    const v0 = f64x2.add(f64x2.mul(vb2, lo(vn)), f64x2.mul(f64x2.mul(vw2, g0), g0));
    const v1 = f64x2.add(f64x2.mul(vb2, hi(vn)), f64x2.mul(f64x2.mul(vw2, g1), g1));
    v128.store(mu + p, pack(m0, m1));
    v128.store(nu + p, pack(v0, v1));
    const d0 = f64x2.add(f64x2.sqrt(f64x2.div(v0, vc2)), ve);
    const d1 = f64x2.add(f64x2.sqrt(f64x2.div(v1, vc2)), ve);
    const u0 = guardedDiv(f64x2.div(m0, vc1), d0);
    const u1 = guardedDiv(f64x2.div(m1, vc1), d1);
    v128.store(out + p, pack(finish(u0, post, vc), finish(u1, post, vc)));
  }
}

/** s = s + g g; out = g / (sqrt(s) + eps), or g / sqrt(s + eps) with `inside`. */
export function adagrad(n: i32, g: usize, s: usize, out: usize, eps: f64, inside: i32, post: i32, c: f64): void {
  const ve = f64x2.splat(eps);
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    const vs = v128.load(s + p);
    const g0 = lo(vg);
    const g1 = hi(vg);
    const s0 = f64x2.add(lo(vs), f64x2.mul(g0, g0));
    const s1 = f64x2.add(hi(vs), f64x2.mul(g1, g1));
    v128.store(s + p, pack(s0, s1));
    const d0 = inside != 0 ? f64x2.sqrt(f64x2.add(s0, ve)) : f64x2.add(f64x2.sqrt(s0), ve);
    const d1 = inside != 0 ? f64x2.sqrt(f64x2.add(s1, ve)) : f64x2.add(f64x2.sqrt(s1), ve);
    v128.store(out + p, pack(finish(guardedDiv(g0, d0), post, vc), finish(guardedDiv(g1, d1), post, vc)));
  }
}

/**
 * The factor of PowerSign or AddSign for the agreement s = sign(g) sign(m): `same` where the
 * signs agree (s = 1), `opposite` where they differ (s = -1), `zero` where g or m is 0, and
 * NaN where either is NaN (as the reference's Math.sign gives).
 */
// @ts-ignore: decorator
@inline function signFactor(g: v128, m: v128, same: v128, opposite: v128, zero: v128): v128 {
  const z = f64x2.splat(0);
  const gp = f64x2.gt(g, z);
  const gn = f64x2.lt(g, z);
  const mp = f64x2.gt(m, z);
  const mn = f64x2.lt(m, z);
  const agree = v128.or(v128.and(gp, mp), v128.and(gn, mn));
  const differ = v128.or(v128.and(gp, mn), v128.and(gn, mp));
  const numbers = v128.and(f64x2.eq(g, g), f64x2.eq(m, m));
  const rest = v128.bitselect(zero, f64x2.splat(NaN), numbers);
  return v128.bitselect(same, v128.bitselect(opposite, rest, differ), agree);
}

/**
 * mu = beta mu + (1 - beta) g; out = f g with f = alpha^s (PowerSign) or alpha + s (AddSign);
 * the host passes the three factors, computed as the reference computes them.
 */
export function signRule(
  n: i32, g: usize, mu: usize, out: usize, beta: f64, same: f64, opposite: f64, zero: f64, post: i32, c: f64,
): void {
  const vb = f64x2.splat(beta);
  const vw = f64x2.splat(1 - beta);
  const vs = f64x2.splat(same);
  const vo = f64x2.splat(opposite);
  const vz = f64x2.splat(zero);
  const vc = f64x2.splat(c);
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    const vg = v128.load(g + p);
    const vm = v128.load(mu + p);
    const g0 = lo(vg);
    const g1 = hi(vg);
    const m0 = f64x2.add(f64x2.mul(vb, lo(vm)), f64x2.mul(vw, g0));
    const m1 = f64x2.add(f64x2.mul(vb, hi(vm)), f64x2.mul(vw, g1));
    v128.store(mu + p, pack(m0, m1));
    const u0 = f64x2.mul(signFactor(g0, m0, vs, vo, vz), g0);
    const u1 = f64x2.mul(signFactor(g1, m1, vs, vo, vz), g1);
    v128.store(out + p, pack(finish(u0, post, vc), finish(u1, post, vc)));
  }
}

/** out = a + b in float32 (the bits of float64 addition rounded to float32: for two float32 operands the two roundings agree). */
export function add(n: i32, a: usize, b: usize, out: usize): void {
  for (let i: usize = 0; i < <usize>n; i += 4) {
    const p = i << 2;
    v128.store(out + p, f32x4.add(v128.load(a + p), v128.load(b + p)));
  }
}

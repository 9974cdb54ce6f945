// Convolutional-network layers on NCHW float32 batches as WebAssembly SIMD kernels: a 3x3
// convolution with same padding (no bias; forward and backward), 2x2 max pooling, batch
// normalisation with training-mode batch statistics, ReLU, a dense layer and softmax
// cross-entropy. src/kernels/conv.ts lays out the memory, checks every size and documents the
// contract; the CNN task (src/tasks/cnn_wasm.ts) chains the layers.
//
// Every product is a multiply then an add (no fused multiply-add), every sum runs in a fixed
// order, and exp and log are AssemblyScript's software functions, so the results are the same
// bits on every CPU.
//
// The convolution is im2col and a product of matrices per image: col [C*9][H*W] holds, in row
// c*9 + ky*3 + kx, the input shifted by (ky - 1, kx - 1) (zero outside), so that
// y[k][p] = sum_r w[k][r] col[r][p] with w [K][C][3][3] row-major. The products run with the
// H*W output positions in SIMD lanes (16 at a time in registers, then 4, then one).

import { softmaxXentSum } from "./softmax_xent";

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** col [C*9][H*W] from one image x [C][H][W], zero padding of one pixel on every side. */
function im2col(x: usize, C: i32, H: i32, W: i32, col: usize): void {
  const P = H * W;
  for (let c = 0; c < C; c++) {
    const xc = at(x, c * P);
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        const row = at(col, (c * 9 + ky * 3 + kx) * P);
        // Output columns whose input column ox + kx - 1 lies inside [0, W).
        const lo = kx == 0 ? 1 : 0;
        const hi = kx == 2 ? W - 1 : W;
        for (let oy = 0; oy < H; oy++) {
          const iy = oy + ky - 1;
          const r = at(row, oy * W);
          if (iy < 0 || iy >= H) {
            memory.fill(r, 0, <usize>W << 2);
            continue;
          }
          if (lo > 0) store<f32>(r, 0);
          if (hi < W) store<f32>(at(r, W - 1), 0);
          if (hi > lo) memory.copy(at(r, lo), at(xc, iy * W + lo + kx - 1), <usize>(hi - lo) << 2);
        }
      }
    }
  }
}

/** dx [C][H][W] += the columns of dcol [C*9][H*W] put back where `im2col` took them from. */
function col2imAdd(dcol: usize, C: i32, H: i32, W: i32, dx: usize): void {
  const P = H * W;
  for (let c = 0; c < C; c++) {
    const dc = at(dx, c * P);
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        const row = at(dcol, (c * 9 + ky * 3 + kx) * P);
        const lo = kx == 0 ? 1 : 0;
        const hi = kx == 2 ? W - 1 : W;
        for (let oy = 0; oy < H; oy++) {
          const iy = oy + ky - 1;
          if (iy < 0 || iy >= H) continue;
          const src = at(row, oy * W);
          const dst = at(dc, iy * W + kx - 1);
          let ox = lo;
          for (; ox + 4 <= hi; ox += 4) v128.store(at(dst, ox), f32x4.add(v128.load(at(dst, ox)), v128.load(at(src, ox))));
          for (; ox < hi; ox++) store<f32>(at(dst, ox), load<f32>(at(dst, ox)) + load<f32>(at(src, ox)));
        }
      }
    }
  }
}

/**
 * out [M][P] = a [M][R] b [R][P] (+ bias [M] when `bias` is nonzero), the P lanes in SIMD:
 * two rows of `a` by sixteen lanes at a time, then one row by sixteen, four, one.
 */
function gemmNN(a: usize, b: usize, M: i32, R: i32, P: i32, bias: usize, out: usize): void {
  let m = 0;
  for (; m + 2 <= M; m += 2) {
    const a0 = at(a, m * R);
    const a1 = at(a, (m + 1) * R);
    const o0 = at(out, m * P);
    const o1 = at(out, (m + 1) * P);
    const z0 = f32x4.splat(bias ? load<f32>(at(bias, m)) : 0);
    const z1 = f32x4.splat(bias ? load<f32>(at(bias, m + 1)) : 0);
    let p = 0;
    for (; p + 16 <= P; p += 16) {
      let s0 = z0, s1 = z0, s2 = z0, s3 = z0;
      let t0 = z1, t1 = z1, t2 = z1, t3 = z1;
      for (let r = 0; r < R; r++) {
        const br = at(b, r * P + p);
        const v0 = v128.load(br);
        const v1 = v128.load(br, 16);
        const v2 = v128.load(br, 32);
        const v3 = v128.load(br, 48);
        const w0 = f32x4.splat(load<f32>(at(a0, r)));
        const w1 = f32x4.splat(load<f32>(at(a1, r)));
        s0 = f32x4.add(s0, f32x4.mul(w0, v0));
        s1 = f32x4.add(s1, f32x4.mul(w0, v1));
        s2 = f32x4.add(s2, f32x4.mul(w0, v2));
        s3 = f32x4.add(s3, f32x4.mul(w0, v3));
        t0 = f32x4.add(t0, f32x4.mul(w1, v0));
        t1 = f32x4.add(t1, f32x4.mul(w1, v1));
        t2 = f32x4.add(t2, f32x4.mul(w1, v2));
        t3 = f32x4.add(t3, f32x4.mul(w1, v3));
      }
      const q0 = at(o0, p);
      const q1 = at(o1, p);
      v128.store(q0, s0);
      v128.store(q0, s1, 16);
      v128.store(q0, s2, 32);
      v128.store(q0, s3, 48);
      v128.store(q1, t0);
      v128.store(q1, t1, 16);
      v128.store(q1, t2, 32);
      v128.store(q1, t3, 48);
    }
    gemmTail(a0, b, R, P, p, z0, o0);
    gemmTail(a1, b, R, P, p, z1, o1);
  }
  for (; m < M; m++) {
    const am = at(a, m * R);
    const om = at(out, m * P);
    const z = f32x4.splat(bias ? load<f32>(at(bias, m)) : 0);
    let p = 0;
    for (; p + 16 <= P; p += 16) {
      let s0 = z, s1 = z, s2 = z, s3 = z;
      for (let r = 0; r < R; r++) {
        const br = at(b, r * P + p);
        const w0 = f32x4.splat(load<f32>(at(am, r)));
        s0 = f32x4.add(s0, f32x4.mul(w0, v128.load(br)));
        s1 = f32x4.add(s1, f32x4.mul(w0, v128.load(br, 16)));
        s2 = f32x4.add(s2, f32x4.mul(w0, v128.load(br, 32)));
        s3 = f32x4.add(s3, f32x4.mul(w0, v128.load(br, 48)));
      }
      const q = at(om, p);
      v128.store(q, s0);
      v128.store(q, s1, 16);
      v128.store(q, s2, 32);
      v128.store(q, s3, 48);
    }
    gemmTail(am, b, R, P, p, z, om);
  }
}

/** Lanes p0 .. P - 1 of one output row of `gemmNN`: four at a time, then one. */
function gemmTail(am: usize, b: usize, R: i32, P: i32, p0: i32, z: v128, om: usize): void {
  let p = p0;
  for (; p + 4 <= P; p += 4) {
    let s = z;
    for (let r = 0; r < R; r++) s = f32x4.add(s, f32x4.mul(f32x4.splat(load<f32>(at(am, r))), v128.load(at(b, r * P + p))));
    v128.store(at(om, p), s);
  }
  const z1 = f32x4.extract_lane(z, 0);
  for (; p < P; p++) {
    let s: f32 = z1;
    for (let r = 0; r < R; r++) s += load<f32>(at(am, r)) * load<f32>(at(b, r * P + p));
    store<f32>(at(om, p), s);
  }
}

/** The sum of a [P] * b [P]: four lanes in SIMD, reduced in a fixed order, then the tail. */
@inline function dot(a: usize, b: usize, P: i32): f32 {
  let acc = f32x4.splat(0);
  let p = 0;
  for (; p + 4 <= P; p += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(a, p)), v128.load(at(b, p))));
  let s: f32 = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; p < P; p++) s += load<f32>(at(a, p)) * load<f32>(at(b, p));
  return s;
}

/** The sum of a vector's four lanes, (l0 + l1) + (l2 + l3) as `dot` adds them. */
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * dw [K][R] += dy [K][P] col [R][P]^T: each entry a `dot` over P. Two rows of col by four of
 * dy at a time (eight sums in registers, six loads for eight products), col's rows outermost
 * so that the pair stays in cache while dy's rows pass; the P % 4 tail and odd rows one by one.
 */
function weightGrad(dy: usize, col: usize, K: i32, R: i32, P: i32, dw: usize): void {
  const P4 = P & ~3;
  let r = 0;
  for (; r + 2 <= R; r += 2) {
    const c0 = at(col, r * P);
    const c1 = at(col, (r + 1) * P);
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const d0 = at(dy, k * P);
      const d1 = at(dy, (k + 1) * P);
      const d2 = at(dy, (k + 2) * P);
      const d3 = at(dy, (k + 3) * P);
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (let p = 0; p < P4; p += 4) {
        const u = v128.load(at(c0, p));
        const v = v128.load(at(c1, p));
        const e0 = v128.load(at(d0, p));
        const e1 = v128.load(at(d1, p));
        const e2 = v128.load(at(d2, p));
        const e3 = v128.load(at(d3, p));
        a0 = f32x4.add(a0, f32x4.mul(e0, u));
        a1 = f32x4.add(a1, f32x4.mul(e1, u));
        a2 = f32x4.add(a2, f32x4.mul(e2, u));
        a3 = f32x4.add(a3, f32x4.mul(e3, u));
        b0 = f32x4.add(b0, f32x4.mul(e0, v));
        b1 = f32x4.add(b1, f32x4.mul(e1, v));
        b2 = f32x4.add(b2, f32x4.mul(e2, v));
        b3 = f32x4.add(b3, f32x4.mul(e3, v));
      }
      addDot(dw, k * R + r, hsum(a0), d0, c0, P4, P);
      addDot(dw, (k + 1) * R + r, hsum(a1), d1, c0, P4, P);
      addDot(dw, (k + 2) * R + r, hsum(a2), d2, c0, P4, P);
      addDot(dw, (k + 3) * R + r, hsum(a3), d3, c0, P4, P);
      addDot(dw, k * R + r + 1, hsum(b0), d0, c1, P4, P);
      addDot(dw, (k + 1) * R + r + 1, hsum(b1), d1, c1, P4, P);
      addDot(dw, (k + 2) * R + r + 1, hsum(b2), d2, c1, P4, P);
      addDot(dw, (k + 3) * R + r + 1, hsum(b3), d3, c1, P4, P);
    }
    for (; k < K; k++) {
      const dk = at(dy, k * P);
      addDot(dw, k * R + r, dot(dk, c0, P), 0, 0, 0, 0);
      addDot(dw, k * R + r + 1, dot(dk, c1, P), 0, 0, 0, 0);
    }
  }
  for (; r < R; r++) for (let k = 0; k < K; k++) addDot(dw, k * R + r, dot(at(dy, k * P), at(col, r * P), P), 0, 0, 0, 0);
}

/** dw[i] += s plus the scalar tail sum of a[p] * b[p] for p in [p0, P) (the same order as `dot`). */
@inline function addDot(dw: usize, i: i32, s0: f32, a: usize, b: usize, p0: i32, P: i32): void {
  let s = s0;
  for (let p = p0; p < P; p++) s += load<f32>(at(a, p)) * load<f32>(at(b, p));
  store<f32>(at(dw, i), load<f32>(at(dw, i)) + s);
}

/**
 * y [N][K][H][W] = conv3x3(x [N][C][H][W], w [K][C][3][3]), same padding, stride 1, no bias.
 * `col` is scratch for C*9*H*W floats.
 */
export function convForward(x: usize, N: i32, C: i32, H: i32, W: i32, K: i32, w: usize, y: usize, col: usize): void {
  const P = H * W;
  for (let n = 0; n < N; n++) {
    im2col(at(x, n * C * P), C, H, W, col);
    gemmNN(w, col, K, C * 9, P, 0, at(y, n * K * P));
  }
}

/**
 * The convolution's backward: dw [K][C][3][3] = sum over images of dy col^T (overwritten),
 * and, when `dx` is nonzero, dx [N][C][H][W] = the input's gradient (overwritten). Scratch:
 * `col` and `dcol` C*9*H*W floats each, `wt` K*C*9 floats (w transposed).
 */
export function convBackward(
  x: usize, N: i32, C: i32, H: i32, W: i32, K: i32, w: usize, dy: usize, dw: usize, dx: usize, col: usize, dcol: usize, wt: usize,
): void {
  const P = H * W;
  const R = C * 9;
  memory.fill(dw, 0, <usize>(K * R) << 2);
  if (dx) {
    memory.fill(dx, 0, <usize>(N * C * P) << 2);
    for (let k = 0; k < K; k++) for (let r = 0; r < R; r++) store<f32>(at(wt, r * K + k), load<f32>(at(w, k * R + r)));
  }
  for (let n = 0; n < N; n++) {
    im2col(at(x, n * C * P), C, H, W, col);
    const dyn = at(dy, n * K * P);
    weightGrad(dyn, col, K, R, P, dw);
    if (!dx) continue;
    gemmNN(wt, dyn, R, K, P, 0, dcol);
    col2imAdd(dcol, C, H, W, at(dx, n * C * P));
  }
}

/**
 * Batch normalisation of x [N][C][P] with the batch's own statistics per channel (means and
 * biased variances over N*P values, summed in float64): y = scale (x - mean) invstd + shift,
 * invstd = 1 / sqrt(var + eps). Writes mean [C] and invstd [C] for the backward. y may not be x.
 */
export function bnForward(x: usize, N: i32, C: i32, P: i32, scale: usize, shift: usize, eps: f32, y: usize, mean: usize, invstd: usize): void {
  const M = <f64>(N * P);
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    for (let n = 0; n < N; n++) {
      const xr = at(x, (n * C + c) * P);
      for (let p = 0; p < P; p++) s += <f64>load<f32>(at(xr, p));
    }
    const mu = <f32>(s / M);
    let v: f64 = 0;
    for (let n = 0; n < N; n++) {
      const xr = at(x, (n * C + c) * P);
      for (let p = 0; p < P; p++) {
        const d = <f64>(load<f32>(at(xr, p)) - mu);
        v += d * d;
      }
    }
    const is = <f32>(1.0 / Math.sqrt(v / M + <f64>eps));
    store<f32>(at(mean, c), mu);
    store<f32>(at(invstd, c), is);
    const g = f32x4.splat(load<f32>(at(scale, c)) * is);
    const b = f32x4.splat(load<f32>(at(shift, c)));
    const m4 = f32x4.splat(mu);
    for (let n = 0; n < N; n++) {
      const xr = at(x, (n * C + c) * P);
      const yr = at(y, (n * C + c) * P);
      let p = 0;
      for (; p + 4 <= P; p += 4) v128.store(at(yr, p), f32x4.add(f32x4.mul(f32x4.sub(v128.load(at(xr, p)), m4), g), b));
      for (; p < P; p++) store<f32>(at(yr, p), (load<f32>(at(xr, p)) - mu) * f32x4.extract_lane(g, 0) + f32x4.extract_lane(b, 0));
    }
  }
}

/**
 * The backward of `bnForward` (x, mean and invstd as it left them): dscale [C], dshift [C]
 * (overwritten) and dx [N][C][P] = scale invstd / M (M dy - sum dy - xhat sum dy xhat), with
 * M = N*P and xhat = (x - mean) invstd. dx may be dy.
 */
export function bnBackward(x: usize, N: i32, C: i32, P: i32, scale: usize, mean: usize, invstd: usize, dy: usize, dscale: usize, dshift: usize, dx: usize): void {
  const M = <f64>(N * P);
  for (let c = 0; c < C; c++) {
    const mu = load<f32>(at(mean, c));
    const is = load<f32>(at(invstd, c));
    let sd: f64 = 0;
    let sdx: f64 = 0;
    for (let n = 0; n < N; n++) {
      const xr = at(x, (n * C + c) * P);
      const dr = at(dy, (n * C + c) * P);
      for (let p = 0; p < P; p++) {
        const d = <f64>load<f32>(at(dr, p));
        sd += d;
        sdx += d * <f64>((load<f32>(at(xr, p)) - mu) * is);
      }
    }
    store<f32>(at(dscale, c), <f32>sdx);
    store<f32>(at(dshift, c), <f32>sd);
    const k = <f32>(<f64>load<f32>(at(scale, c)) * <f64>is / M);
    const kv = f32x4.splat(k);
    const mv = f32x4.splat(<f32>M);
    const sdv = f32x4.splat(<f32>sd);
    const sxv = f32x4.splat(<f32>sdx);
    const muv = f32x4.splat(mu);
    const isv = f32x4.splat(is);
    for (let n = 0; n < N; n++) {
      const xr = at(x, (n * C + c) * P);
      const dr = at(dy, (n * C + c) * P);
      const or = at(dx, (n * C + c) * P);
      let p = 0;
      for (; p + 4 <= P; p += 4) {
        const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, p)), muv), isv);
        const t = f32x4.sub(f32x4.sub(f32x4.mul(mv, v128.load(at(dr, p))), sdv), f32x4.mul(xh, sxv));
        v128.store(at(or, p), f32x4.mul(kv, t));
      }
      for (; p < P; p++) {
        const xh = (load<f32>(at(xr, p)) - mu) * is;
        store<f32>(at(or, p), k * (<f32>M * load<f32>(at(dr, p)) - <f32>sd - xh * <f32>sdx));
      }
    }
  }
}

/** x [n] = max(x, 0) in place. */
export function reluForward(x: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(x, i), f32x4.pmax(z, v128.load(at(x, i))));
  for (; i < n; i++) store<f32>(at(x, i), max<f32>(load<f32>(at(x, i)), 0));
}

/** d [n] = d where y > 0, else 0, in place (y the ReLU's output). */
export function reluBackward(y: usize, d: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(d, i), v128.and(v128.load(at(d, i)), f32x4.gt(v128.load(at(y, i)), z)));
  for (; i < n; i++) if (!(load<f32>(at(y, i)) > 0)) store<f32>(at(d, i), 0);
}

/**
 * 2x2 max pooling with stride 2 of x [N*C planes][H][W] into y [N*C][H/2][W/2] (floor: an odd
 * last row or column is dropped), and in arg (i32) the index within its plane of each
 * maximum (the first of equal values, in row-major order).
 */
export function poolForward(x: usize, planes: i32, H: i32, W: i32, y: usize, arg: usize): void {
  const h = H >> 1;
  const w = W >> 1;
  for (let q = 0; q < planes; q++) {
    const xp = at(x, q * H * W);
    const yp = at(y, q * h * w);
    const ap = at(arg, q * h * w);
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        let best = (2 * oy) * W + 2 * ox;
        let m = load<f32>(at(xp, best));
        const i1 = best + 1;
        const i2 = best + W;
        const i3 = best + W + 1;
        const v1 = load<f32>(at(xp, i1));
        if (v1 > m) { m = v1; best = i1; }
        const v2 = load<f32>(at(xp, i2));
        if (v2 > m) { m = v2; best = i2; }
        const v3 = load<f32>(at(xp, i3));
        if (v3 > m) { m = v3; best = i3; }
        store<f32>(at(yp, oy * w + ox), m);
        store<i32>(at(ap, oy * w + ox), best);
      }
    }
  }
}

/** dx [N*C][H][W] = dy routed back to each window's maximum (zero elsewhere; overwritten). */
export function poolBackward(dy: usize, arg: usize, planes: i32, H: i32, W: i32, dx: usize): void {
  const hw = (H >> 1) * (W >> 1);
  memory.fill(dx, 0, <usize>(planes * H * W) << 2);
  for (let q = 0; q < planes; q++) {
    const dp = at(dx, q * H * W);
    for (let i = 0; i < hw; i++) store<f32>(at(dp, load<i32>(at(arg, q * hw + i))), load<f32>(at(dy, q * hw + i)));
  }
}

/** out [B][dout] = x [B][din] w [din][dout] + bias [dout]; the outputs in SIMD, four at a time. */
export function denseForward(x: usize, B: i32, din: i32, dout: i32, w: usize, bias: usize, out: usize): void {
  for (let b = 0; b < B; b++) {
    const xr = at(x, b * din);
    const o = at(out, b * dout);
    let j = 0;
    for (; j + 4 <= dout; j += 4) {
      let s = v128.load(at(bias, j));
      for (let i = 0; i < din; i++) s = f32x4.add(s, f32x4.mul(f32x4.splat(load<f32>(at(xr, i))), v128.load(at(w, i * dout + j))));
      v128.store(at(o, j), s);
    }
    for (; j < dout; j++) {
      let s: f32 = load<f32>(at(bias, j));
      for (let i = 0; i < din; i++) s += load<f32>(at(xr, i)) * load<f32>(at(w, i * dout + j));
      store<f32>(at(o, j), s);
    }
  }
}

/**
 * The dense layer's backward: gw [din][dout] = x^T d, gb [dout] = the column sums of d (both
 * overwritten), and, when `dx` is nonzero, dx [B][din] = d w^T.
 */
export function denseBackward(x: usize, d: usize, B: i32, din: i32, dout: i32, w: usize, gw: usize, gb: usize, dx: usize): void {
  memory.fill(gw, 0, <usize>(din * dout) << 2);
  memory.fill(gb, 0, <usize>dout << 2);
  const dv = dout & ~3;
  for (let b = 0; b < B; b++) {
    const dr = at(d, b * dout);
    const xr = at(x, b * din);
    for (let j = 0; j < dout; j++) store<f32>(at(gb, j), load<f32>(at(gb, j)) + load<f32>(at(dr, j)));
    for (let i = 0; i < din; i++) {
      const xs = load<f32>(at(xr, i));
      const gr = at(gw, i * dout);
      let j = 0;
      for (; j < dv; j += 4) v128.store(at(gr, j), f32x4.add(v128.load(at(gr, j)), f32x4.mul(f32x4.splat(xs), v128.load(at(dr, j)))));
      for (; j < dout; j++) store<f32>(at(gr, j), load<f32>(at(gr, j)) + xs * load<f32>(at(dr, j)));
    }
    if (!dx) continue;
    const nr = at(dx, b * din);
    for (let i = 0; i < din; i++) store<f32>(at(nr, i), dot(dr, at(w, i * dout), dout));
  }
}

/**
 * Mean softmax cross-entropy of logits z [B][C] with integer labels (i32), and its gradient
 * dz [B][C] = (softmax - onehot) / B; returns the loss (float64 sums).
 */
export function softmaxXent(z: usize, labels: usize, B: i32, C: i32, dz: usize): f64 {
  return softmaxXentSum(z, labels, B, C, dz) * (1.0 / <f64>B);
}

/** x [n] = bytes [n] / 255 (u8 pixels to float32, as the hosts scale them). */
export function scaleBytes(bytes: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(at(x, i), <f32>load<u8>(bytes + <usize>i) / <f32>255);
}

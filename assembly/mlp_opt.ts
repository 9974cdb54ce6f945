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

// The hierarchical RNN optimizer's per-parameter GRU forward (src/learned/hrnn/gru.ts is the
// float64 reference; src/kernels/hrnn.ts lays out the memory and copies in and out): one row
// per coordinate, float32, SIMD across the gate lanes of a row (each gate padded to Hp, a
// multiple of 4 lanes, with zero weights in the padding). For row i of group g:
//
//   pre = b + bias[g] + x W + [h U_z, h U_r, 0];  z, r = sigmoid(pre_z, pre_r)
//   pre_c += (r * h) U_c;  c = tanh(pre_c);  h' = z h + (1 - z) c
//
// W is [I][3 Hp], U [H][3 Hp], b and bias rows [3 Hp]; h, z, r, c and h' are [rows][Hp].
// exp is a degree-6 polynomial after Cody-Waite range reduction (relative error ~2e-7).

// @ts-ignore: decorator
@inline function expv(x: v128): v128 {
  const c = f32x4.pmin(f32x4.splat(88.0), f32x4.pmax(f32x4.splat(-87.0), x));
  const n = f32x4.nearest(f32x4.mul(c, f32x4.splat(1.4426950408889634)));
  const y = f32x4.sub(f32x4.sub(c, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.0 / 720.0);
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, y), f32x4.splat(1.0));
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

// @ts-ignore: decorator
@inline function sigmoidv(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, expv(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline function tanhv(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(expv(f32x4.add(x, x)), one)));
}

/** The forward of `rows` rows; `pre` is scratch of 3 Hp floats. Addresses in bytes. */
export function gruForward(
  rows: i32, I: i32, H: i32, Hp: i32,
  w: usize, u: usize, b: usize, bias: usize, group: usize,
  x: usize, h: usize, z: usize, r: usize, c: usize, hn: usize, pre: usize,
): void {
  const G = 3 * Hp;
  const rowG = <usize>G << 2;
  const rowH = <usize>Hp << 2;
  for (let i = 0; i < rows; i++) {
    const bg = bias + <usize>load<i32>(group + (<usize>i << 2)) * rowG;
    for (let q = 0; q < G; q += 4) {
      const o = <usize>q << 2;
      v128.store(pre + o, f32x4.add(v128.load(b + o), v128.load(bg + o)));
    }
    const xr = x + <usize>(i * I) * 4;
    for (let j = 0; j < I; j++) {
      const s = f32x4.splat(load<f32>(xr + (<usize>j << 2)));
      const wr = w + <usize>j * rowG;
      for (let q = 0; q < G; q += 4) {
        const o = <usize>q << 2;
        v128.store(pre + o, f32x4.add(v128.load(pre + o), f32x4.mul(s, v128.load(wr + o))));
      }
    }
    const hr = h + <usize>i * rowH;
    for (let j = 0; j < H; j++) {
      const s = f32x4.splat(load<f32>(hr + (<usize>j << 2)));
      const ur = u + <usize>j * rowG;
      for (let q = 0; q < 2 * Hp; q += 4) {
        const o = <usize>q << 2;
        v128.store(pre + o, f32x4.add(v128.load(pre + o), f32x4.mul(s, v128.load(ur + o))));
      }
    }
    const zr = z + <usize>i * rowH;
    const rr = r + <usize>i * rowH;
    for (let q = 0; q < Hp; q += 4) {
      const o = <usize>q << 2;
      v128.store(zr + o, sigmoidv(v128.load(pre + o)));
      v128.store(rr + o, sigmoidv(v128.load(pre + rowH + o)));
    }
    for (let j = 0; j < H; j++) {
      const s = f32x4.splat(load<f32>(rr + (<usize>j << 2)) * load<f32>(hr + (<usize>j << 2)));
      const ur = u + <usize>j * rowG + 2 * rowH;
      for (let q = 0; q < Hp; q += 4) {
        const o = <usize>q << 2;
        const p = pre + 2 * rowH + o;
        v128.store(p, f32x4.add(v128.load(p), f32x4.mul(s, v128.load(ur + o))));
      }
    }
    const cr = c + <usize>i * rowH;
    const nr = hn + <usize>i * rowH;
    for (let q = 0; q < Hp; q += 4) {
      const o = <usize>q << 2;
      const cv = tanhv(v128.load(pre + 2 * rowH + o));
      const zv = v128.load(zr + o);
      v128.store(cr + o, cv);
      v128.store(nr + o, f32x4.add(f32x4.mul(zv, v128.load(hr + o)), f32x4.mul(f32x4.sub(f32x4.splat(1.0), zv), cv)));
    }
  }
}

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

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * The backward of `rows` rows (src/learned/hrnn/gru.ts's `gruBackward`, float32): given the
 * forward's inputs and gates and dh = dL/dh' ([rows][Hp], zero in the padding), adds dL/dW,
 * dL/dU, dL/db (padded layouts as the weights) and dL/dbias[group] into float32 accumulators,
 * and writes dL/dx ([rows][I]) and dL/dhPrev ([rows][Hp]). `d` is scratch of 3 Hp floats.
 */
export function gruBackward(
  rows: i32, I: i32, H: i32, Hp: i32,
  w: usize, u: usize, group: usize,
  x: usize, h: usize, z: usize, r: usize, c: usize, dh: usize,
  dW: usize, dU: usize, db: usize, dBias: usize, dx: usize, dhPrev: usize, d: usize,
): void {
  const G = 3 * Hp;
  const rowG = <usize>G << 2;
  const rowH = <usize>Hp << 2;
  const one = f32x4.splat(1.0);
  for (let i = 0; i < rows; i++) {
    const o = <usize>i * rowH;
    // dL/d(pre) of z and c; dhPrev starts with dh z.
    for (let q = 0; q < Hp; q += 4) {
      const b = <usize>q << 2;
      const zv = v128.load(z + o + b);
      const cv = v128.load(c + o + b);
      const dv = v128.load(dh + o + b);
      v128.store(d + b, f32x4.mul(f32x4.mul(dv, f32x4.sub(v128.load(h + o + b), cv)), f32x4.mul(zv, f32x4.sub(one, zv))));
      v128.store(d + 2 * rowH + b, f32x4.mul(f32x4.mul(dv, f32x4.sub(one, zv)), f32x4.sub(one, f32x4.mul(cv, cv))));
      v128.store(dhPrev + o + b, f32x4.mul(dv, zv));
      v128.store(d + rowH + b, f32x4.splat(0));
    }
    // The candidate's recurrent weights (on r * h) and the reset gate.
    for (let j = 0; j < H; j++) {
      const ur = u + <usize>j * rowG + 2 * rowH;
      const dur = dU + <usize>j * rowG + 2 * rowH;
      let acc = f32x4.splat(0);
      for (let q = 0; q < Hp; q += 4) {
        const b = <usize>q << 2;
        acc = f32x4.add(acc, f32x4.mul(v128.load(ur + b), v128.load(d + 2 * rowH + b)));
      }
      const s = hsum(acc);
      const jb = <usize>j << 2;
      const rj = load<f32>(r + o + jb);
      const hj = load<f32>(h + o + jb);
      store<f32>(d + rowH + jb, s * hj * rj * (1 - rj));
      store<f32>(dhPrev + o + jb, load<f32>(dhPrev + o + jb) + s * rj);
      const v = f32x4.splat(rj * hj);
      for (let q = 0; q < Hp; q += 4) {
        const b = <usize>q << 2;
        v128.store(dur + b, f32x4.add(v128.load(dur + b), f32x4.mul(v, v128.load(d + 2 * rowH + b))));
      }
    }
    // Biases: the shared one and the row's group's.
    const bg = dBias + <usize>load<i32>(group + (<usize>i << 2)) * rowG;
    for (let q = 0; q < G; q += 4) {
      const b = <usize>q << 2;
      const dv = v128.load(d + b);
      v128.store(db + b, f32x4.add(v128.load(db + b), dv));
      v128.store(bg + b, f32x4.add(v128.load(bg + b), dv));
    }
    // The z and r gates' recurrent weights.
    for (let j = 0; j < H; j++) {
      const ur = u + <usize>j * rowG;
      const dur = dU + <usize>j * rowG;
      const hv = f32x4.splat(load<f32>(h + o + (<usize>j << 2)));
      let acc = f32x4.splat(0);
      for (let q = 0; q < 2 * Hp; q += 4) {
        const b = <usize>q << 2;
        const dv = v128.load(d + b);
        v128.store(dur + b, f32x4.add(v128.load(dur + b), f32x4.mul(hv, dv)));
        acc = f32x4.add(acc, f32x4.mul(v128.load(ur + b), dv));
      }
      const jb = <usize>j << 2;
      store<f32>(dhPrev + o + jb, load<f32>(dhPrev + o + jb) + hsum(acc));
    }
    // The input weights.
    const xr = x + <usize>(i * I) * 4;
    const dxr = dx + <usize>(i * I) * 4;
    for (let j = 0; j < I; j++) {
      const wr = w + <usize>j * rowG;
      const dwr = dW + <usize>j * rowG;
      const xv = f32x4.splat(load<f32>(xr + (<usize>j << 2)));
      let acc = f32x4.splat(0);
      for (let q = 0; q < G; q += 4) {
        const b = <usize>q << 2;
        const dv = v128.load(d + b);
        v128.store(dwr + b, f32x4.add(v128.load(dwr + b), f32x4.mul(xv, dv)));
        acc = f32x4.add(acc, f32x4.mul(v128.load(wr + b), dv));
      }
      store<f32>(dxr + (<usize>j << 2), hsum(acc));
    }
  }
}

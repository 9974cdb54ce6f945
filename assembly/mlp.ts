// A multilayer perceptron's forward pass, softmax cross-entropy loss and gradient as
// WebAssembly SIMD kernels: the MNIST MLP task's `lossAndGrad` (src/tasks/mlp_wasm.ts lays out
// the memory and documents the contract).
//
// Parameters are packed as in src/tasks/mnist_mlp.ts: per layer k, W_k [din][dout] row-major,
// then b_k [dout]. Activations and deltas are [B][d] row-major. Every product is a multiply
// then an add (no fused multiply-add), every sum runs in a fixed order, and exp, log and tanh
// are AssemblyScript's own software functions, so the results are the same on every CPU.
//
// The dense products run over the input rows with the output lanes in SIMD: out[b, :] +=
// x[b, i] * W[i, :] and dW[i, :] += x[b, i] * d[b, :]. Inputs of exactly zero are skipped
// (MNIST images are about 80% zero pixels): each row's nonzero indices are listed first. Their
// terms are zero anyway unless the other factor is infinite or NaN, where the gradient is
// unusable either way.

// Activation codes, shared with the host (src/tasks/mlp_wasm.ts) through assembly/layout.ts;
// any other code (ACT_TANH) is tanh.
import { ACT_RELU as RELU, ACT_SIGMOID as SIGMOID } from "./layout";
import { softmaxXentSum } from "./softmax_xent";

@inline function dim(dims: usize, k: i32): i32 {
  return load<i32>(dims + (<usize>k << 2));
}

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** Offset (in floats) of W_k in theta, and of b_k right after it. */
function weightOffset(dims: usize, k: i32): i32 {
  let o = 0;
  for (let j = 1; j < k; j++) o += dim(dims, j - 1) * dim(dims, j) + dim(dims, j);
  return o;
}

/** Offset (in floats) of layer k's outputs in the activation buffer. */
function actOffset(dims: usize, k: i32, B: i32): i32 {
  let o = 0;
  for (let j = 1; j < k; j++) o += B * dim(dims, j);
  return o;
}

/**
 * The indices of row `xr`'s nonzero entries (din of them) into `nz`, in order, branch-free
 * (MNIST's zero pixels follow no pattern a branch predictor could learn); returns the count.
 */
function nonzeros(xr: usize, din: i32, nz: usize): i32 {
  let m = 0;
  for (let i = 0; i < din; i++) {
    store<i32>(at(nz, m), i);
    m += i32(load<f32>(at(xr, i)) != 0);
  }
  return m;
}

/**
 * out [B][dout] = inp [B][din] W [din][dout] + bias [dout], over the nonzero inputs of each row
 * (`nz` is scratch for din indices). Output lanes go 16, then 4, then 1 at a time, held in
 * registers across the inputs. With `counts` nonzero, row b's list is already at
 * lists + b din (`prepareBytes`, `prepareFloats`); else `lists` is scratch for one row's.
 */
function dense(inp: usize, B: i32, din: i32, dout: i32, w: usize, bias: usize, out: usize, lists: usize, counts: usize): void {
  for (let b = 0; b < B; b++) {
    const o = at(out, b * dout);
    const xr = at(inp, b * din);
    const nz = counts ? at(lists, b * din) : lists;
    const m = counts ? load<i32>(at(counts, b)) : nonzeros(xr, din, nz);
    let j = 0;
    for (; j + 16 <= dout; j += 16) {
      let a0 = v128.load(at(bias, j));
      let a1 = v128.load(at(bias, j + 4));
      let a2 = v128.load(at(bias, j + 8));
      let a3 = v128.load(at(bias, j + 12));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        const xs = f32x4.splat(load<f32>(at(xr, i)));
        const wr = at(w, i * dout + j);
        a0 = f32x4.add(a0, f32x4.mul(xs, v128.load(wr)));
        a1 = f32x4.add(a1, f32x4.mul(xs, v128.load(wr, 16)));
        a2 = f32x4.add(a2, f32x4.mul(xs, v128.load(wr, 32)));
        a3 = f32x4.add(a3, f32x4.mul(xs, v128.load(wr, 48)));
      }
      v128.store(at(o, j), a0);
      v128.store(at(o, j + 4), a1);
      v128.store(at(o, j + 8), a2);
      v128.store(at(o, j + 12), a3);
    }
    for (; j + 4 <= dout; j += 4) {
      let a0 = v128.load(at(bias, j));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(at(xr, i))), v128.load(at(w, i * dout + j))));
      }
      v128.store(at(o, j), a0);
    }
    for (; j < dout; j++) {
      let a: f32 = load<f32>(at(bias, j));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        a += load<f32>(at(xr, i)) * load<f32>(at(w, i * dout + j));
      }
      store<f32>(at(o, j), a);
    }
  }
}

/**
 * gw [din][dout] += inp [B][din]^T d [B][dout] over the nonzero inputs of each row, rows of d
 * held in registers 16, 4, then 1 lane at a time. `lists` and `counts` as in `dense`.
 */
function denseWeightGrad(inp: usize, d: usize, B: i32, din: i32, dout: i32, gw: usize, lists: usize, counts: usize): void {
  for (let b = 0; b < B; b++) {
    const dr = at(d, b * dout);
    const xr = at(inp, b * din);
    const nz = counts ? at(lists, b * din) : lists;
    const m = counts ? load<i32>(at(counts, b)) : nonzeros(xr, din, nz);
    let j = 0;
    for (; j + 16 <= dout; j += 16) {
      const d0 = v128.load(at(dr, j));
      const d1 = v128.load(at(dr, j + 4));
      const d2 = v128.load(at(dr, j + 8));
      const d3 = v128.load(at(dr, j + 12));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        const xs = f32x4.splat(load<f32>(at(xr, i)));
        const gr = at(gw, i * dout + j);
        v128.store(gr, f32x4.add(v128.load(gr), f32x4.mul(xs, d0)));
        v128.store(gr, f32x4.add(v128.load(gr, 16), f32x4.mul(xs, d1)), 16);
        v128.store(gr, f32x4.add(v128.load(gr, 32), f32x4.mul(xs, d2)), 32);
        v128.store(gr, f32x4.add(v128.load(gr, 48), f32x4.mul(xs, d3)), 48);
      }
    }
    for (; j + 4 <= dout; j += 4) {
      const d0 = v128.load(at(dr, j));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        const gr = at(gw, i * dout + j);
        v128.store(gr, f32x4.add(v128.load(gr), f32x4.mul(f32x4.splat(load<f32>(at(xr, i))), d0)));
      }
    }
    for (; j < dout; j++) {
      const dj = load<f32>(at(dr, j));
      for (let q = 0; q < m; q++) {
        const i = load<i32>(at(nz, q));
        const gr = at(gw, i * dout + j);
        store<f32>(gr, load<f32>(gr) + load<f32>(at(xr, i)) * dj);
      }
    }
  }
}

function activate(p: usize, n: i32, act: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(at(p, i));
    let y: f32;
    if (act == SIGMOID) y = <f32>1 / (<f32>1 + Mathf.exp(-x));
    else if (act == RELU) y = x > 0 ? x : <f32>0;
    else y = Mathf.tanh(x);
    store<f32>(at(p, i), y);
  }
}

/**
 * Row b's nonzero input indices into lists + b din and their count into counts[b], for the
 * first layer of `forward` and `lossGrad`, from float inputs x [B][din].
 */
export function prepareFloats(B: i32, din: i32, x: usize, lists: usize, counts: usize): void {
  for (let b = 0; b < B; b++) store<i32>(at(counts, b), nonzeros(at(x, b * din), din, at(lists, b * din)));
}

/**
 * x [B][din] = bytes / 255 (bytes u8) and the nonzero lists as in `prepareFloats`. Sixteen
 * bytes at a time, converted in SIMD; an all-zero run of sixteen adds nothing to the list. The
 * division of a float32 integer by 255 is correctly rounded, so x equals float32(v / 255)
 * computed in float64, as the host scales pixels.
 */
export function prepareBytes(B: i32, din: i32, bytes: usize, x: usize, lists: usize, counts: usize): void {
  const k255 = f32x4.splat(255);
  const d16 = din & ~15;
  for (let b = 0; b < B; b++) {
    const br = bytes + <usize>(b * din);
    const xr = at(x, b * din);
    const nz = at(lists, b * din);
    let m = 0;
    let i = 0;
    for (; i < d16; i += 16) {
      const v = v128.load(br + <usize>i);
      const lo = i16x8.extend_low_i8x16_u(v);
      const hi = i16x8.extend_high_i8x16_u(v);
      const o = at(xr, i);
      v128.store(o, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), k255));
      v128.store(o, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), k255), 16);
      v128.store(o, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), k255), 32);
      v128.store(o, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), k255), 48);
      if (!v128.any_true(v)) continue;
      for (let j = i; j < i + 16; j++) {
        store<i32>(at(nz, m), j);
        m += i32(load<u8>(br + <usize>j) != 0);
      }
    }
    for (; i < din; i++) {
      const v = <i32>load<u8>(br + <usize>i);
      store<f32>(at(xr, i), <f32>v / <f32>255);
      store<i32>(at(nz, m), i);
      m += i32(v != 0);
    }
    store<i32>(at(counts, b), m);
  }
}

/**
 * Forward pass for B examples, the first layer over the lists of `prepareFloats` or
 * `prepareBytes` (`nz`: scratch for the widest hidden layer's count of i32 indices): layer k's activated outputs go to `acts` (layers one after
 * another, [B][d_k] each); the last layer's are the logits (no activation).
 */
export function forward(L: i32, dims: usize, act: i32, B: i32, theta: usize, x: usize, acts: usize, lists: usize, counts: usize, nz: usize): void {
  let inp = x;
  let o = 0;
  for (let k = 1; k <= L; k++) {
    const din = dim(dims, k - 1);
    const dout = dim(dims, k);
    const w = at(theta, o);
    o += din * dout;
    const bias = at(theta, o);
    o += dout;
    const out = at(acts, actOffset(dims, k, B));
    if (k == 1) dense(inp, B, din, dout, w, bias, out, lists, counts);
    else dense(inp, B, din, dout, w, bias, out, nz, 0);
    if (k < L) activate(out, B * dout, act);
    inp = out;
  }
}

/**
 * Mean softmax cross-entropy over B examples with integer `labels` (i32), and its gradient
 * with respect to theta in `grad`. `d1` and `d2` are scratch, B times the widest non-input
 * layer each; `nz` scratch for the widest layer's count of i32 indices. Returns the loss.
 */
export function lossGrad(
  L: i32, dims: usize, act: i32, B: i32, theta: usize, x: usize, labels: usize, acts: usize, d1: usize, d2: usize, grad: usize,
  lists: usize, counts: usize, nz: usize,
): f64 {
  forward(L, dims, act, B, theta, x, acts, lists, counts, nz);
  const C = dim(dims, L);
  const z = at(acts, actOffset(dims, L, B));
  const invB: f64 = 1.0 / <f64>B;
  const loss = softmaxXentSum(z, labels, B, C, d1);
  let d = d1;
  let dn = d2;
  for (let k = L; k >= 1; k--) {
    const din = dim(dims, k - 1);
    const dout = dim(dims, k);
    const dv = dout & ~3;
    const wo = weightOffset(dims, k);
    const w = at(theta, wo);
    const gw = at(grad, wo);
    const gb = at(grad, wo + din * dout);
    const inp = k == 1 ? x : at(acts, actOffset(dims, k - 1, B));
    memory.fill(gw, 0, <usize>(din * dout + dout) << 2);
    for (let b = 0; b < B; b++) {
      const dr = at(d, b * dout);
      for (let j = 0; j < dout; j++) store<f32>(at(gb, j), load<f32>(at(gb, j)) + load<f32>(at(dr, j)));
    }
    if (k == 1) denseWeightGrad(inp, d, B, din, dout, gw, lists, counts);
    else denseWeightGrad(inp, d, B, din, dout, gw, nz, 0);
    if (k == 1) break;
    // d_in[b, i] = (sum_j d[b, j] W[i, j]) * act'(inp[b, i]), with inp the activated outputs.
    for (let b = 0; b < B; b++) {
      const dr = at(d, b * dout);
      const xr = at(inp, b * din);
      const nr = at(dn, b * din);
      for (let i = 0; i < din; i++) {
        const wr = at(w, i * dout);
        let acc = f32x4.splat(0);
        let j = 0;
        for (; j < dv; j += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(dr, j)), v128.load(at(wr, j))));
        let s: f32 =
          f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
        for (; j < dout; j++) s += load<f32>(at(dr, j)) * load<f32>(at(wr, j));
        const a = load<f32>(at(xr, i));
        let g: f32;
        if (act == SIGMOID) g = a * (<f32>1 - a);
        else if (act == RELU) g = a > 0 ? <f32>1 : <f32>0;
        else g = <f32>1 - a * a;
        store<f32>(at(nr, i), s * g);
      }
    }
    const t = d;
    d = dn;
    dn = t;
  }
  return loss * invB;
}

/**
 * The proposal network of "Learning to learn without gradient descent by gradient descent"
 * (Chen et al. 2017): an LSTM that reads the last query and its value and writes the next
 * query, x_t = σ(W_y h_t + b_y) ∈ [0, 1]^d, with (h_t, c_t) = LSTM([2x_{t−1} − 1, y_{t−1}], h_{t−1}, c_{t−1}).
 * The first query x_0 is given (uniform random, the same for every method in a run: a
 * deterministic network then still gives a distribution of results on a fixed function). At test time it only evaluates the function; in training the
 * loss is differentiated through the functions' gradients (GP samples, `rff.ts`) by
 * backpropagation through time, derived by hand below (checked by finite differences in
 * test/blackbox_lstm.test.ts).
 *
 * Parameters are one flat Float64Array: W_x (4H × (d+1)), W_h (4H × H), b (4H), W_y (d × H),
 * b_y (d); gate order input, forget, cell, output.
 */
import { ConfigError } from "../core/errors.ts";
import type { Differentiable, Objective } from "./objective.ts";
import type { Rand } from "./random.ts";

export interface LstmShape {
  readonly dim: number;
  readonly hidden: number;
}

/** The two meta-training losses of the paper: the summed values, and the observed improvement. */
export type MetaLoss = "sum" | "oi";
export const META_LOSSES: readonly MetaLoss[] = ["sum", "oi"];

/** Values fed back to the network are clipped to this magnitude (a far outlier stays bounded). */
const Y_CLIP = 5;

export function parameterCount(s: LstmShape): number {
  const { dim: d, hidden: h } = s;
  return 4 * h * (d + 1) + 4 * h * h + 4 * h + d * h + d;
}

/** Offsets of the blocks in the flat vector. */
function layout(s: LstmShape): { wx: number; wh: number; b: number; wy: number; by: number } {
  const { dim: d, hidden: h } = s;
  const wx = 0, wh = wx + 4 * h * (d + 1), b = wh + 4 * h * h, wy = b + 4 * h, by = wy + d * h;
  return { wx, wh, b, wy, by };
}

/** Uniform ±1/√H weights, zero biases except the forget gate's (1). */
export function initParameters(s: LstmShape, rand: Rand): Float64Array {
  if (!Number.isInteger(s.dim) || s.dim < 1 || s.dim > 20) throw new ConfigError(`LSTM: dimension must be an integer in 1..20, got ${s.dim}`);
  if (!Number.isInteger(s.hidden) || s.hidden < 1 || s.hidden > 1024) throw new ConfigError(`LSTM: hidden size must be an integer in 1..1024, got ${s.hidden}`);
  const p = new Float64Array(parameterCount(s));
  const o = layout(s);
  const r = 1 / Math.sqrt(s.hidden);
  for (let i = 0; i < o.b; i++) p[i] = (2 * rand.uniform() - 1) * r;
  for (let i = 0; i < s.hidden; i++) p[o.b + s.hidden + i] = 1;
  for (let i = o.wy; i < o.by; i++) p[i] = (2 * rand.uniform() - 1) * r;
  return p;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** What a rollout keeps per step for the backward pass. */
interface Tape {
  inp: Float64Array[]; hPrev: Float64Array[]; cPrev: Float64Array[]; gates: Float64Array[];
  tc: Float64Array[]; h: Float64Array[]; x: Float64Array[]; y: number[]; gx: Float64Array[];
}

/**
 * Evaluates `f` at `x0`, then runs the network for the other `steps − 1` queries; returns the
 * `steps` values. With `tape`, also records what the backward pass needs (f must then be
 * Differentiable). `onQuery` sees each query as it is made (timing, reports).
 */
export function rollout(s: LstmShape, p: ArrayLike<number>, f: Objective, steps: number, x0: Float64Array, tape?: Tape, onQuery?: (x: Float64Array, y: number) => void): number[] {
  const { dim: d, hidden: H } = s;
  const o = layout(s);
  const I = d + 1;
  let h = new Float64Array(H), c = new Float64Array(H);
  const y0 = f.value(x0);
  onQuery?.(x0, y0);
  const ys: number[] = [y0];
  let inp = new Float64Array(I);
  for (let j = 0; j < d; j++) inp[j] = 2 * x0[j]! - 1;
  inp[d] = Math.max(-Y_CLIP, Math.min(Y_CLIP, y0));
  for (let t = 1; t < steps; t++) {
    const z = new Float64Array(4 * H);
    for (let r = 0; r < 4 * H; r++) {
      let a = p[o.b + r]!;
      for (let k = 0; k < I; k++) a += p[o.wx + r * I + k]! * inp[k]!;
      for (let k = 0; k < H; k++) a += p[o.wh + r * H + k]! * h[k]!;
      z[r] = a;
    }
    const nc = new Float64Array(H), tc = new Float64Array(H), nh = new Float64Array(H);
    for (let k = 0; k < H; k++) {
      z[k] = sigmoid(z[k]!);
      z[H + k] = sigmoid(z[H + k]!);
      z[2 * H + k] = Math.tanh(z[2 * H + k]!);
      z[3 * H + k] = sigmoid(z[3 * H + k]!);
      nc[k] = z[H + k]! * c[k]! + z[k]! * z[2 * H + k]!;
      tc[k] = Math.tanh(nc[k]!);
      nh[k] = z[3 * H + k]! * tc[k]!;
    }
    const x = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      let a = p[o.by + j]!;
      for (let k = 0; k < H; k++) a += p[o.wy + j * H + k]! * nh[k]!;
      x[j] = sigmoid(a);
    }
    let y: number;
    if (tape !== undefined) {
      const gx = new Float64Array(d);
      y = (f as Differentiable).valueAndGradient(x, gx);
      tape.inp.push(inp); tape.hPrev.push(h); tape.cPrev.push(c); tape.gates.push(z);
      tape.tc.push(tc); tape.h.push(nh); tape.x.push(x); tape.y.push(y); tape.gx.push(gx);
    } else y = f.value(x);
    onQuery?.(x, y);
    ys.push(y);
    inp = new Float64Array(I);
    for (let j = 0; j < d; j++) inp[j] = 2 * x[j]! - 1;
    inp[d] = Math.max(-Y_CLIP, Math.min(Y_CLIP, y));
    h = nh;
    c = nc;
  }
  return ys;
}

/**
 * The meta-loss of one rollout's values, and its derivative in each value.
 * sum: (1/T) Σ_t y_t.  oi: (1/T) Σ_{t≥2} min(y_t − min_{i<t} y_i, 0) (observed improvement).
 */
export function metaLoss(loss: MetaLoss, ys: readonly number[]): { value: number; dy: Float64Array } {
  const T = ys.length;
  const dy = new Float64Array(T);
  if (loss === "sum") {
    dy.fill(1 / T);
    return { value: ys.reduce((a, v) => a + v, 0) / T, dy };
  }
  let value = 0;
  let best = 0;
  for (let t = 1; t < T; t++) {
    if (ys[t - 1]! < ys[best]!) best = t - 1;
    const gap = ys[t]! - ys[best]!;
    if (gap < 0) {
      value += gap / T;
      dy[t] = dy[t]! + 1 / T;
      dy[best] = dy[best]! - 1 / T;
    }
  }
  return { value, dy };
}

/** One function's meta-loss and its gradient in the parameters (added into `grad`). */
export function lossAndGradient(s: LstmShape, p: ArrayLike<number>, f: Differentiable, steps: number, x0: Float64Array, loss: MetaLoss, grad: Float64Array): number {
  const tape: Tape = { inp: [], hPrev: [], cPrev: [], gates: [], tc: [], h: [], x: [], y: [], gx: [] };
  const ys = rollout(s, p, f, steps, x0, tape);
  const { value, dy } = metaLoss(loss, ys);
  const { dim: d, hidden: H } = s;
  const o = layout(s);
  const I = d + 1;
  let dhNext = new Float64Array(H), dcNext = new Float64Array(H), dinpNext = new Float64Array(I);
  // Tape entry t holds the network's query t + 1 (value 0 is x0's, which no parameter moves).
  for (let t = steps - 2; t >= 0; t--) {
    const z = tape.gates[t]!, tc = tape.tc[t]!, h = tape.h[t]!, x = tape.x[t]!, gx = tape.gx[t]!;
    const cPrev = tape.cPrev[t]!, hPrev = tape.hPrev[t]!, inp = tape.inp[t]!;
    const y = tape.y[t]!;
    const dyT = dy[t + 1]! + (Math.abs(y) < Y_CLIP ? dinpNext[d]! : 0);
    const dh = dhNext;
    for (let j = 0; j < d; j++) {
      const dx = dyT * gx[j]! + 2 * dinpNext[j]!;
      const da = dx * x[j]! * (1 - x[j]!);
      grad[o.by + j] = grad[o.by + j]! + da;
      for (let k = 0; k < H; k++) {
        grad[o.wy + j * H + k] = grad[o.wy + j * H + k]! + da * h[k]!;
        dh[k] = dh[k]! + p[o.wy + j * H + k]! * da;
      }
    }
    const dz = new Float64Array(4 * H);
    const dc = new Float64Array(H);
    for (let k = 0; k < H; k++) {
      const i = z[k]!, fg = z[H + k]!, g = z[2 * H + k]!, og = z[3 * H + k]!;
      dc[k] = dh[k]! * og * (1 - tc[k]! ** 2) + dcNext[k]!;
      dz[k] = dc[k]! * g * i * (1 - i);
      dz[H + k] = dc[k]! * cPrev[k]! * fg * (1 - fg);
      dz[2 * H + k] = dc[k]! * i * (1 - g * g);
      dz[3 * H + k] = dh[k]! * tc[k]! * og * (1 - og);
      dc[k] = dc[k]! * fg;
    }
    const dhPrev = new Float64Array(H), dinp = new Float64Array(I);
    for (let r = 0; r < 4 * H; r++) {
      const g = dz[r]!;
      if (g === 0) continue;
      grad[o.b + r] = grad[o.b + r]! + g;
      for (let k = 0; k < I; k++) {
        grad[o.wx + r * I + k] = grad[o.wx + r * I + k]! + g * inp[k]!;
        dinp[k] = dinp[k]! + p[o.wx + r * I + k]! * g;
      }
      for (let k = 0; k < H; k++) {
        grad[o.wh + r * H + k] = grad[o.wh + r * H + k]! + g * hPrev[k]!;
        dhPrev[k] = dhPrev[k]! + p[o.wh + r * H + k]! * g;
      }
    }
    dhNext = dhPrev;
    dcNext = dc;
    dinpNext = dinp;
  }
  return value;
}

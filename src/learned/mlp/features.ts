/**
 * The per-coordinate optimizer's inputs, as learned_optimization's small_fc_lopt makes them
 * (Metz et al. 2022, section 3): for each coordinate i, the parameter p_i, the gradient g_i
 * and the momenta m_{b,i} (m_b <- b m_b + (1 - b) g, updated before they are read), each
 * feature normalised over its tensor (one layout entry) by its second moment:
 *
 *   x_{k,i} = r_{k,i} * s_k,   s_k = 1 / sqrt(mean_{j in tensor} r_{k,j}^2 + 1e-5).
 *
 * (small_fc_lopt reads [g, p, m] and adds a training-step embedding; here the order is
 * [p, g, m_0 .. m_{D-1}] and no step feature.) The normalisation couples a tensor's
 * coordinates, so its backward is not diagonal:
 *
 *   dL/dr_{k,j} = s_k (dL/dx_{k,j} - x_{k,j} * mean_{i in tensor}(dL/dx_{k,i} x_{k,i})).
 *
 * Features are column-major: feature k of coordinate i at k * n + i (F = 2 + D columns, each
 * contiguous, as the normalisation and the kernel read them); momenta m (the optimizer's
 * state) at i * D + b.
 */
import type { ParamEntry } from "../../core/layout.ts";

/** Added to the mean square before the square root (small_fc_lopt's `_second_moment_normalizer`). */
export const NORM_EPS = 1e-5;

/**
 * m <- b m + (1 - b) g for every coordinate and decay, in place (float64 arithmetic, each
 * stored rounded to float32: the state and the feature read this step are the same value).
 */
export function updateMomenta(m: Float32Array, grad: Float32Array, decays: readonly number[]): void {
  const D = decays.length;
  for (let i = 0; i < grad.length; i++) {
    const g = grad[i]!;
    for (let b = 0; b < D; b++) {
      const d = decays[b]!;
      m[i * D + b] = d * m[i * D + b]! + (1 - d) * g;
    }
  }
}

/**
 * The normalised features `x` (F columns of n) of theta, grad and the (already updated) momenta `m`,
 * and the scales `s` (tensor e, feature k at e * F + k).
 */
export function normalisedFeatures(
  theta: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  D: number,
  entries: readonly ParamEntry[],
  x: Float64Array,
  s: Float64Array,
): void {
  const F = 2 + D;
  const n = theta.length;
  x.set(theta, 0);
  x.set(grad, n);
  for (let b = 0; b < D; b++) {
    const c = (2 + b) * n;
    for (let i = 0; i < n; i++) x[c + i] = m[i * D + b]!;
  }
  normaliseColumns(x, n, F, entries, s);
}

/**
 * Normalises columns 0..F-1 of `x` (column k at k * n) over each tensor by their second
 * moment, in place, writing the scales to `s` (tensor e, column k at e * F + k).
 */
export function normaliseColumns(x: Float64Array, n: number, F: number, entries: readonly ParamEntry[], s: Float64Array): void {
  const ss = new Float64Array(F);
  entries.forEach((e, ei) => {
    const end = e.offset + e.size;
    for (let k = 0; k < F; k++) {
      const c = k * n;
      let sum = 0;
      for (let i = c + e.offset; i < c + end; i++) sum += x[i]! * x[i]!;
      ss[k] = sum;
    }
    scaleColumns(x, n, F, e, ei, ss, s);
  });
}

/**
 * The second half of `normaliseColumns` for tensor `e` (index `ei`), given the sums of
 * squares `ss` of its F columns (added over its coordinates in order, as normaliseColumns
 * does, so a caller that sums while it writes the features gets the same bits).
 */
export function scaleColumns(x: Float64Array, n: number, F: number, e: ParamEntry, ei: number, ss: Float64Array, s: Float64Array): void {
  const end = e.offset + e.size;
  for (let k = 0; k < F; k++) {
    const c = k * n;
    const sc = 1 / Math.sqrt(ss[k]! / e.size + NORM_EPS);
    s[ei * F + k] = sc;
    for (let i = c + e.offset; i < c + end; i++) x[i] = x[i]! * sc;
  }
}

/**
 * The normalisation's backward, in place: `dx` holds dL/dx (columns of n, as `x`) on entry
 * and dL/dr (the raw features' gradient) on return, for the first `columns` of the F
 * normalised columns (the others are left as they are); `x` and `s` are what the
 * normalisation made.
 */
export function normalisationBackward(
  dx: Float64Array,
  x: Float64Array,
  s: Float64Array,
  F: number,
  entries: readonly ParamEntry[],
  n: number,
  columns = F,
): void {
  entries.forEach((e, ei) => {
    const end = e.offset + e.size;
    for (let k = 0; k < columns; k++) {
      const o = k * n;
      let c = 0;
      for (let i = o + e.offset; i < o + end; i++) c += dx[i]! * x[i]!;
      c /= e.size;
      const sc = s[ei * F + k]!;
      for (let i = o + e.offset; i < o + end; i++) dx[i] = sc * (dx[i]! - x[i]! * c);
    }
  });
}

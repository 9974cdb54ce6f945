/**
 * The state a Li & Malik policy reads: the recent history of an optimization run. For each
 * coordinate i at step t, with H the history length, the features are
 *
 *   g_t[i], g_{t-1}[i], ..., g_{t-H+1}[i]                the last H gradients,
 *   dx_t[i], ..., dx_{t-H+1}[i]                          the last H steps, dx_t = x_t - x_{t-1},
 *   f_t - f_{t-1}, ..., f_t - f_{t-H}                    the last H objective changes (shared),
 *
 * 3H numbers, zero where the run is younger than the history. Li & Malik (2016, section 3.3)
 * use the same three kinds of feature over the last 25 iterations for the whole vector; here
 * they are read per coordinate, so that one small policy serves every dimension (the policy
 * is coordinatewise, as Andrychowicz et al.'s LSTM is).
 */

/** The history of one run over `n` coordinates, newest first, in plain arrays. */
export interface History {
  readonly n: number;
  readonly H: number;
  /** H rows of n gradients, row 0 the newest. */
  readonly g: Float64Array;
  /** H rows of n steps, row 0 the newest. */
  readonly dx: Float64Array;
  /** H + 1 objective values, index 0 the newest. */
  readonly f: Float64Array;
  /** Entries filled so far (at most H + 1): 0 before the first `push`. */
  filled: number;
  /** The last point pushed (for the next step's dx). */
  readonly x: Float64Array;
}

/** Features per coordinate for history length H. */
export const featureCount = (H: number): number => 3 * H;

export function newHistory(n: number, H: number): History {
  return { n, H, g: new Float64Array(H * n), dx: new Float64Array(H * n), f: new Float64Array(H + 1), filled: 0, x: new Float64Array(n) };
}

/** A deep copy (for transforms whose state must not be shared between updates). */
export function copyHistory(h: History): History {
  return { n: h.n, H: h.H, g: h.g.slice(), dx: h.dx.slice(), f: h.f.slice(), filled: h.filled, x: h.x.slice() };
}

/** Records that the run is at `x` with objective `f` and gradient `g` (the newest entry). */
export function pushHistory(h: History, x: ArrayLike<number>, f: number, g: ArrayLike<number>): void {
  const { n, H } = h;
  h.g.copyWithin(n, 0, (H - 1) * n);
  h.dx.copyWithin(n, 0, (H - 1) * n);
  h.f.copyWithin(1, 0, H);
  for (let i = 0; i < n; i++) {
    h.g[i] = g[i]!;
    h.dx[i] = h.filled === 0 ? 0 : x[i]! - h.x[i]!;
    h.x[i] = x[i]!;
  }
  h.f[0] = f;
  h.filled = Math.min(h.filled + 1, H + 1);
}

/** Writes coordinate i's 3H features into `out` at `offset`. */
export function features(h: History, i: number, out: Float64Array, offset = 0): void {
  const { n, H, filled } = h;
  for (let k = 0; k < H; k++) {
    const have = k < filled;
    out[offset + k] = have ? h.g[k * n + i]! : 0;
    // dx_{t-k} exists once k + 1 points are known.
    out[offset + H + k] = k + 1 < filled ? h.dx[k * n + i]! : 0;
    out[offset + 2 * H + k] = k + 1 < filled ? h.f[0]! - h.f[k + 1]! : 0;
  }
}

/** All coordinates' features, n rows of 3H. */
export function allFeatures(h: History): Float64Array {
  const F = featureCount(h.H);
  const out = new Float64Array(h.n * F);
  for (let i = 0; i < h.n; i++) features(h, i, out, i * F);
  return out;
}

/**
 * Fitting a GP's hyperparameters by maximising the log marginal likelihood (type-II maximum
 * likelihood) from several starts. This is a simplification of Spearmint, which averages the
 * acquisition over MCMC samples of the hyperparameters instead of taking one point estimate.
 *
 * Each start runs Rprop (sign-based steps that grow while the gradient keeps its sign and shrink
 * when it flips) on θ in log space, projected onto a box; Rprop needs no line search and is
 * insensitive to the likelihood's scale. The data's inputs are expected in the unit cube and its
 * values standardised (mean 0, variance 1), which is what the box below assumes.
 */
import { logMarginalLikelihood, type Data } from "./gp.ts";
import type { Rand } from "./random.ts";

/** Bounds of θ = [log ℓ.., log s², log σ²] for unit-cube inputs and standardised values. */
export function thetaBounds(d: number): { lo: Float64Array; hi: Float64Array } {
  const lo = new Float64Array(d + 2);
  const hi = new Float64Array(d + 2);
  for (let k = 0; k < d; k++) {
    lo[k] = Math.log(0.01);
    hi[k] = Math.log(20);
  }
  lo[d] = Math.log(0.05);
  hi[d] = Math.log(20);
  lo[d + 1] = Math.log(1e-6);
  hi[d + 1] = Math.log(0.5);
  return { lo, hi };
}

export interface FitOptions {
  /** Starts: the first from `init` (or the box's centre), the others uniform in the box. */
  readonly restarts: number;
  /** Rprop iterations per start. */
  readonly iterations: number;
}

export const DEFAULT_FIT: FitOptions = { restarts: 3, iterations: 30 };

/** The θ of highest log marginal likelihood found, and that likelihood. */
export function fitHyperparameters(data: Data, rand: Rand, opts: FitOptions = DEFAULT_FIT, init?: Float64Array): { theta: Float64Array; lml: number } {
  const { lo, hi } = thetaBounds(data.d);
  const m = data.d + 2;
  let best: { theta: Float64Array; lml: number } = { theta: new Float64Array(m), lml: -Infinity };
  for (let r = 0; r < opts.restarts; r++) {
    const start = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      start[k] = r === 0 ? (init?.[k] ?? (k === m - 1 ? Math.log(1e-3) : 0.5 * (lo[k]! + hi[k]!) - (k < data.d ? 1 : 0))) : lo[k]! + rand.uniform() * (hi[k]! - lo[k]!);
      start[k] = Math.min(hi[k]!, Math.max(lo[k]!, start[k]!));
    }
    const got = rprop(data, start, lo, hi, opts.iterations);
    if (got.lml > best.lml) best = got;
  }
  return best;
}

function rprop(data: Data, theta: Float64Array, lo: Float64Array, hi: Float64Array, iterations: number): { theta: Float64Array; lml: number } {
  const m = theta.length;
  const step = new Float64Array(m).fill(0.2);
  const prev = new Float64Array(m);
  let best: { theta: Float64Array; lml: number } = { theta: theta.slice(), lml: -Infinity };
  for (let it = 0; it < iterations; it++) {
    let g: { value: number; gradient: Float64Array };
    try {
      g = logMarginalLikelihood(theta, data);
    } catch {
      break; // a covariance no jitter rescues: keep the best so far
    }
    if (g.value > best.lml) best = { theta: theta.slice(), lml: g.value };
    for (let k = 0; k < m; k++) {
      const s = g.gradient[k]! * prev[k]!;
      if (s > 0) step[k] = Math.min(step[k]! * 1.2, 1);
      else if (s < 0) step[k] = Math.max(step[k]! * 0.5, 1e-6);
      prev[k] = s < 0 ? 0 : g.gradient[k]!;
      theta[k] = Math.min(hi[k]!, Math.max(lo[k]!, theta[k]! + Math.sign(prev[k]!) * step[k]!));
    }
  }
  return best;
}

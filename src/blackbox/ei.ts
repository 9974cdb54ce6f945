/**
 * Expected improvement for minimisation and its maximisation over the unit cube.
 *
 * With posterior mean μ and standard deviation σ at x and the best value so far f*,
 *   EI(x) = (f* − μ) Φ(z) + σ φ(z),  z = (f* − μ) / σ,
 * the expected amount by which a draw of f(x) falls below f*.
 */
import { predict, type Posterior } from "./gp.ts";
import type { Rand } from "./random.ts";

/** The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

export const normalCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);
export const normalPdf = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);

/** EI of a Gaussian N(mean, sd²) below `best`. */
export function expectedImprovement(mean: number, sd: number, best: number): number {
  if (!(sd > 0)) return Math.max(best - mean, 0);
  const z = (best - mean) / sd;
  return (best - mean) * normalCdf(z) + sd * normalPdf(z);
}

export interface EiSearch {
  /** Random candidates in the cube before local refinement. */
  readonly candidates: number;
  /** Best candidates refined locally (the restarts). */
  readonly restarts: number;
  /** Local ascent iterations per restart. */
  readonly iterations: number;
}

export const DEFAULT_EI_SEARCH: EiSearch = { candidates: 500, restarts: 5, iterations: 30 };

/**
 * The point of the unit cube of highest EI found: random candidates (and a small perturbation
 * of each observed point), the best `restarts` of them refined by projected sign-gradient
 * ascent on central differences.
 */
export function maximiseEi(p: Posterior, best: number, rand: Rand, search: EiSearch = DEFAULT_EI_SEARCH): Float64Array {
  const { d, n, x } = p.data;
  const ei = (q: Float64Array): number => {
    const { mean, variance } = predict(p, q);
    return expectedImprovement(mean, Math.sqrt(variance), best);
  };
  const pool: { q: Float64Array; v: number }[] = [];
  const total = search.candidates + n;
  for (let c = 0; c < total; c++) {
    const q = new Float64Array(d);
    for (let k = 0; k < d; k++) q[k] = c < search.candidates ? rand.uniform() : clamp01(x[(c - search.candidates) * d + k]! + 0.02 * rand.normal());
    pool.push({ q, v: ei(q) });
  }
  pool.sort((a, b) => b.v - a.v);
  let top = pool[0]!;
  for (const start of pool.slice(0, search.restarts)) {
    const got = ascend(ei, start.q.slice(), start.v, search.iterations);
    if (got.v > top.v) top = got;
  }
  return top.q;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

function ascend(f: (q: Float64Array) => number, q: Float64Array, v: number, iterations: number): { q: Float64Array; v: number } {
  const d = q.length;
  let step = 0.05;
  const h = 1e-5;
  for (let it = 0; it < iterations && step > 1e-6; it++) {
    const trial = q.slice();
    for (let k = 0; k < d; k++) {
      const a = q.slice();
      const b = q.slice();
      a[k] = clamp01(a[k]! + h);
      b[k] = clamp01(b[k]! - h);
      trial[k] = clamp01(q[k]! + step * Math.sign(f(a) - f(b)));
    }
    const tv = f(trial);
    if (tv > v) {
      q = trial;
      v = tv;
      step *= 1.5;
    } else step *= 0.5;
  }
  return { q, v };
}

/**
 * Bayesian optimisation with a GP, the baseline of Chen et al. 2017 (there Spearmint): after a
 * few uniform random points, each query maximises expected improvement under a GP with the
 * Matérn 5/2 ARD kernel whose hyperparameters are refitted to every new observation by
 * maximum marginal likelihood with restarts (fit.ts; Spearmint instead averages over MCMC
 * samples of them). Values are standardised before each fit.
 */
import { maximiseEi, DEFAULT_EI_SEARCH, type EiSearch } from "./ei.ts";
import { fitHyperparameters, DEFAULT_FIT, type FitOptions } from "./fit.ts";
import { condition } from "./gp.ts";
import type { Objective } from "./objective.ts";
import type { Rand } from "./random.ts";

export interface BoOptions {
  /** Uniform random points before the GP takes over (at least 2). */
  readonly initial: number;
  readonly fit: FitOptions;
  readonly search: EiSearch;
}

export const DEFAULT_BO: BoOptions = { initial: 2, fit: DEFAULT_FIT, search: DEFAULT_EI_SEARCH };

/** Called with each query, its value and the seconds spent choosing it. */
export type OnQuery = (x: Float64Array, y: number, seconds: number) => void;

/** `x0`, when given, is the first query (so that every method of a comparison starts alike). */
export function runBo(f: Objective, evaluations: number, rand: Rand, onQuery: OnQuery, opts: BoOptions = DEFAULT_BO, x0?: Float64Array): void {
  const d = f.dim;
  const xs: number[] = [];
  const ys: number[] = [];
  let theta: Float64Array | undefined;
  for (let t = 0; t < evaluations; t++) {
    const start = performance.now();
    let q: Float64Array;
    if (t === 0 && x0 !== undefined) q = x0.slice();
    else if (t < Math.max(2, opts.initial)) q = rand.uniforms(d);
    else {
      const n = ys.length;
      const mean = ys.reduce((a, v) => a + v, 0) / n;
      const sd = Math.sqrt(ys.reduce((a, v) => a + (v - mean) ** 2, 0) / n) || 1;
      const data = { x: Float64Array.from(xs), y: Float64Array.from(ys, (v) => (v - mean) / sd), n, d };
      theta = fitHyperparameters(data, rand, opts.fit, theta).theta;
      const best = Math.min(...data.y);
      q = maximiseEi(condition(theta, data), best, rand, opts.search);
    }
    const seconds = (performance.now() - start) / 1000;
    const y = f.value(q);
    xs.push(...q);
    ys.push(y);
    onQuery(q, y, seconds);
  }
}

/** Random search: every query uniform in the cube (the first `x0` when given). */
export function runRandom(f: Objective, evaluations: number, rand: Rand, onQuery: OnQuery, x0?: Float64Array): void {
  for (let t = 0; t < evaluations; t++) {
    const start = performance.now();
    const q = t === 0 && x0 !== undefined ? x0.slice() : rand.uniforms(f.dim);
    const seconds = (performance.now() - start) / 1000;
    onQuery(q, f.value(q), seconds);
  }
}

/**
 * Functions drawn (approximately) from a Gaussian process with the squared-exponential kernel
 * k(x, x') = exp(−‖x − x'‖² / (2ℓ²)), by random Fourier features (Rahimi and Recht 2007):
 *
 *   f(x) = √(2/m) Σ_j w_j cos(ω_j·x + b_j),  w_j ~ N(0, 1), ω_j ~ N(0, I/ℓ²), b_j ~ U[0, 2π),
 *
 * whose covariance over the draws of (w, ω, b) is exactly k, and which is a smooth function
 * with a closed-form gradient. These are the learned optimizer's training functions and the
 * "GP sample" test functions (drawn from keys the training never uses).
 */
import { ConfigError } from "../core/errors.ts";
import { split, type Key } from "../core/rng.ts";
import type { Differentiable } from "./objective.ts";
import { Rand } from "./random.ts";

export interface GpSampleOptions {
  readonly dim: number;
  /** Random features (more: closer to a GP draw, slower). */
  readonly features: number;
  /** Length scale, or a [lo, hi] range it is drawn from uniformly per function. */
  readonly lengthScale: number | readonly [number, number];
}

/** The default: 100 features, length scales drawn in [0.2, 0.5] of the unit cube. */
export const DEFAULT_GP_SAMPLE: Omit<GpSampleOptions, "dim"> = { features: 100, lengthScale: [0.2, 0.5] };

export function gpSample(opts: GpSampleOptions, key: Key): Differentiable {
  const { dim: d, features: m } = opts;
  if (!Number.isInteger(d) || d < 1 || d > 20) throw new ConfigError(`GP sample: dimension must be an integer in 1..20, got ${d}`);
  if (!Number.isInteger(m) || m < 1 || m > 100_000) throw new ConfigError(`GP sample: features must be an integer in 1..100000, got ${m}`);
  const [k1] = split(key, 1);
  const rand = new Rand(k1!);
  const ls = typeof opts.lengthScale === "number" ? opts.lengthScale : opts.lengthScale[0] + rand.uniform() * (opts.lengthScale[1] - opts.lengthScale[0]);
  if (!(ls > 0)) throw new ConfigError(`GP sample: length scale must be positive, got ${ls}`);
  const omega = new Float64Array(m * d);
  const phase = new Float64Array(m);
  const w = new Float64Array(m);
  const amp = Math.sqrt(2 / m);
  for (let j = 0; j < m; j++) {
    for (let k = 0; k < d; k++) omega[j * d + k] = rand.normal() / ls;
    phase[j] = 2 * Math.PI * rand.uniform();
    w[j] = amp * rand.normal();
  }
  const value = (u: ArrayLike<number>): number => {
    let s = 0;
    for (let j = 0; j < m; j++) {
      let a = phase[j]!;
      for (let k = 0; k < d; k++) a += omega[j * d + k]! * u[k]!;
      s += w[j]! * Math.cos(a);
    }
    return s;
  };
  return {
    name: `gp${d}d`,
    dim: d,
    value,
    raw: value,
    valueAndGradient(u, out) {
      out.fill(0, 0, d);
      let s = 0;
      for (let j = 0; j < m; j++) {
        let a = phase[j]!;
        for (let k = 0; k < d; k++) a += omega[j * d + k]! * u[k]!;
        s += w[j]! * Math.cos(a);
        const g = -w[j]! * Math.sin(a);
        for (let k = 0; k < d; k++) out[k] = out[k]! + g * omega[j * d + k]!;
      }
      return s;
    },
  };
}

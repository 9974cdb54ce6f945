/**
 * A Gaussian process with zero prior mean and the Matérn 5/2 kernel with automatic relevance
 * determination (one length scale per input dimension), plus Gaussian observation noise:
 *
 *   k(x, x') = s² (1 + √5 r + 5r²/3) exp(−√5 r),  r² = Σ_i (x_i − x'_i)² / ℓ_i²,
 *   K = k(X, X) + σ² I.
 *
 * The hyperparameters live in log space, θ = [log ℓ_1 .. log ℓ_d, log s², log σ²] (the layout of
 * scikit-learn's `ConstantKernel * Matern(nu=2.5) + WhiteKernel`, against which
 * test/blackbox_gp.test.ts checks the posterior and the log marginal likelihood). Points are
 * rows of a row-major Float64Array.
 */
import { cholesky, inverseFromCholesky, solveLower, solveUpper } from "./linalg.ts";

const SQRT5 = Math.sqrt(5);

/** Observations: n points of dimension d (row-major) and their values. */
export interface Data {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly n: number;
  readonly d: number;
}

/** The kernel between two points (no noise), θ in log space. */
export function matern52(theta: ArrayLike<number>, a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, d: number): number {
  let r2 = 0;
  for (let k = 0; k < d; k++) {
    const t = (a[ai * d + k]! - b[bi * d + k]!) / Math.exp(theta[k]!);
    r2 += t * t;
  }
  const r = Math.sqrt(r2);
  return Math.exp(theta[d]!) * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

/** K = k(X, X) + σ² I. */
export function covariance(theta: ArrayLike<number>, data: Data): Float64Array {
  const { n, d, x } = data;
  const k = new Float64Array(n * n);
  const noise = Math.exp(theta[d + 1]!);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = matern52(theta, x, i, x, j, d);
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
    k[i * n + i] = k[i * n + i]! + noise;
  }
  return k;
}

/** A GP conditioned on data at fixed θ: the factor of K and α = K⁻¹ y, ready for predictions. */
export interface Posterior {
  readonly theta: Float64Array;
  readonly data: Data;
  readonly chol: Float64Array;
  readonly alpha: Float64Array;
}

export function condition(theta: ArrayLike<number>, data: Data): Posterior {
  const chol = cholesky(covariance(theta, data), data.n);
  const alpha = solveUpper(chol, data.n, solveLower(chol, data.n, data.y));
  return { theta: Float64Array.from(theta), data, chol, alpha };
}

/**
 * The posterior mean and variance of the latent function at point `q` (row `qi` of a row-major
 * array), without the observation noise: μ = k*ᵀ α, v = k(q, q) − ‖L⁻¹ k*‖².
 */
export function predict(p: Posterior, q: ArrayLike<number>, qi = 0): { mean: number; variance: number } {
  const { n, d, x } = p.data;
  const ks = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    ks[i] = matern52(p.theta, q, qi, x, i, d);
    mean += ks[i]! * p.alpha[i]!;
  }
  const v = solveLower(p.chol, n, ks);
  let vv = 0;
  for (let i = 0; i < n; i++) vv += v[i]! * v[i]!;
  return { mean, variance: Math.max(Math.exp(p.theta[d]!) - vv, 1e-12) };
}

/**
 * The log marginal likelihood log p(y | X, θ) = −½ yᵀα − Σ log L_ii − (n/2) log 2π and its
 * gradient in θ, ½ tr((ααᵀ − K⁻¹) ∂K/∂θ_j), with
 *   ∂k/∂log ℓ_i = s² (5/3)(1 + √5 r) exp(−√5 r) (x_i − x'_i)²/ℓ_i²,
 *   ∂K/∂log s² = k(X, X),  ∂K/∂log σ² = σ² I.
 */
export function logMarginalLikelihood(theta: ArrayLike<number>, data: Data, withGradient = true): { value: number; gradient: Float64Array } {
  const { n, d, x } = data;
  const p = condition(theta, data);
  let value = -0.5 * n * Math.log(2 * Math.PI);
  for (let i = 0; i < n; i++) value -= 0.5 * data.y[i]! * p.alpha[i]! + Math.log(p.chol[i * n + i]!);
  const gradient = new Float64Array(d + 2);
  if (!withGradient) return { value, gradient };
  const inv = inverseFromCholesky(p.chol, n);
  const s2 = Math.exp(theta[d]!);
  const ell2 = Array.from({ length: d }, (_, k) => Math.exp(2 * theta[k]!));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // W = ααᵀ − K⁻¹, summed against each ∂K/∂θ (symmetric, so the full double loop is the trace).
      const w = p.alpha[i]! * p.alpha[j]! - inv[i * n + j]!;
      let r2 = 0;
      for (let k = 0; k < d; k++) r2 += (x[i * d + k]! - x[j * d + k]!) ** 2 / ell2[k]!;
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      gradient[d] = gradient[d]! + 0.5 * w * s2 * (1 + SQRT5 * r + (5 / 3) * r2) * e;
      const common = s2 * (5 / 3) * (1 + SQRT5 * r) * e;
      for (let k = 0; k < d; k++) gradient[k] = gradient[k]! + 0.5 * w * common * (x[i * d + k]! - x[j * d + k]!) ** 2 / ell2[k]!;
    }
    gradient[d + 1] = gradient[d + 1]! + 0.5 * (p.alpha[i]! ** 2 - inv[i * n + i]!) * Math.exp(theta[d + 1]!);
  }
  return { value, gradient };
}

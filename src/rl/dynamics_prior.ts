/**
 * Per-step linear-Gaussian dynamics under a normal-inverse-Wishart prior, as Levine et al.
 * (2016, appendix A.3) fit them: a Gaussian over the joint point z = [x_t; u_t; x_{t+1}] whose
 * prior is the moment-matched Gaussian mixture of all recent samples (`gmm.ts`), weighted
 * toward the points of that step; the dynamics are its conditional x_{t+1} | [x_t; u_t].
 *
 * With the step's N points (empirical mean zbar, scatter S = sum (z - zbar)(z - zbar)^T) and the
 * prior (mu0, Sigma0) worth `strength` points, the posterior mean and covariance are
 *
 *   mu    = (N zbar + m mu0) / (N + m)
 *   Sigma = (m Sigma0 + S + N m / (N + m) (zbar - mu0)(zbar - mu0)^T) / (N + m),
 *
 * and with Sigma's blocks over (in, out) = ([x; u], x'), F = Sigma_oi Sigma_ii^-1,
 * f = mu_o - F mu_i, dynamics covariance Sigma_oo - F Sigma_io. A vanishing prior (m -> 0)
 * gives ordinary least squares with an intercept; no points give the prior's own conditional.
 */
import { foldIn, permutation, type Key } from "../core/rng.ts";
import { fitGmm, gmmMoments, type Gmm } from "./gmm.ts";
import { cholesky, cholSolve, symmetrize } from "./linalg.ts";
import type { Trajectory } from "./rollout.ts";

export interface JointPrior {
  readonly mu0: Float64Array;
  readonly sigma0: Float64Array;
  /** How many points the prior is worth (m). */
  readonly strength: number;
}

export interface LinearGaussianFit {
  /** out = F in + f (F: dout x din row-major), residual covariance `cov` (dout x dout). */
  readonly F: Float64Array;
  readonly f: Float64Array;
  readonly cov: Float64Array;
}

/**
 * The conditional out | in of the NIW posterior given N joint points (rows of din + dout:
 * the inputs first). `prior` may be null for the plain empirical fit (needs N > din).
 * `reg` is added to the diagonal of the input block (relative to its mean diagonal).
 */
export function posteriorConditional(Z: Float64Array, N: number, din: number, dout: number, prior: JointPrior | null, reg = 1e-9): LinearGaussianFit {
  const D = din + dout;
  const zbar = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) zbar[d] = zbar[d]! + Z[n * D + d]! / N;
  const S = new Float64Array(D * D);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < D; i++) {
      const di = Z[n * D + i]! - zbar[i]!;
      for (let j = 0; j < D; j++) S[i * D + j] = S[i * D + j]! + di * (Z[n * D + j]! - zbar[j]!);
    }
  }
  const m = prior === null ? 0 : prior.strength;
  if (N + m <= 0) throw new Error("dynamics fit: no points and no prior");
  const mu = new Float64Array(D);
  const sigma = new Float64Array(D * D);
  for (let d = 0; d < D; d++) mu[d] = ((N > 0 ? N * zbar[d]! : 0) + (prior === null ? 0 : m * prior.mu0[d]!)) / (N + m);
  const c = N > 0 && prior !== null ? (N * m) / (N + m) : 0;
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      let v = S[i * D + j]!;
      if (prior !== null) v += m * prior.sigma0[i * D + j]! + c * (zbar[i]! - prior.mu0[i]!) * (zbar[j]! - prior.mu0[j]!);
      sigma[i * D + j] = v / (N + m);
    }
  }
  symmetrize(sigma, D);
  const Sii = new Float64Array(din * din);
  const Sio = new Float64Array(din * dout);
  let trace = 0;
  for (let i = 0; i < din; i++) trace += sigma[i * D + i]!;
  const jitter = reg * Math.max(trace / din, 1e-300);
  for (let i = 0; i < din; i++) {
    for (let j = 0; j < din; j++) Sii[i * din + j] = sigma[i * D + j]! + (i === j ? jitter : 0);
    for (let j = 0; j < dout; j++) Sio[i * dout + j] = sigma[i * D + din + j]!;
  }
  const L = cholesky(Sii, din);
  if (L === null) throw new Error("dynamics fit: the input covariance is not positive definite (too few points for no prior)");
  const Ft = cholSolve(L, Sio, din, dout); // din x dout = Sii^-1 Sio
  const F = new Float64Array(dout * din);
  for (let i = 0; i < dout; i++) for (let j = 0; j < din; j++) F[i * din + j] = Ft[j * dout + i]!;
  const f = new Float64Array(dout);
  for (let i = 0; i < dout; i++) {
    let s = mu[din + i]!;
    for (let j = 0; j < din; j++) s -= F[i * din + j]! * mu[j]!;
    f[i] = s;
  }
  const cov = new Float64Array(dout * dout);
  for (let i = 0; i < dout; i++) {
    for (let j = 0; j < dout; j++) {
      let s = sigma[(din + i) * D + din + j]!;
      for (let k = 0; k < din; k++) s -= F[i * din + k]! * Sio[k * dout + j]!;
      cov[i * dout + j] = s;
    }
  }
  return { F, f, cov: symmetrize(cov, dout) };
}

/** The joint points [x_t; u_t; x_{t+1}] of step t of the runs (rows of 3n). */
export function stepPoints(runs: readonly Trajectory[], t: number): Float64Array {
  const n = runs[0]!.n;
  const Z = new Float64Array(runs.length * 3 * n);
  runs.forEach((r, s) => {
    Z.set(r.xs[t]!, s * 3 * n);
    Z.set(r.actions[t]!, s * 3 * n + n);
    Z.set(r.xs[t + 1]!, s * 3 * n + 2 * n);
  });
  return Z;
}

export const GMM_PRIOR_DEFAULTS = Object.freeze({
  /** Most clusters, and the fewest points per cluster (fewer clusters for fewer points). */
  maxClusters: 8,
  pointsPerCluster: 40,
  /** Points kept for EM (a random subset of the buffer beyond that). */
  maxPoints: 2000,
  /** The prior's weight in points, per step (Levine et al.'s strength 1). */
  strength: 1,
  /** Iterations of samples the mixture is fitted to (the newest). */
  iterations: 3,
});

/** Fits the mixture prior to every step of the given runs (all conditions, recent iterations). */
export function fitDynamicsGmm(runs: readonly Trajectory[], key: Key): Gmm {
  const n = runs[0]!.n;
  const D = 3 * n;
  const all: Float64Array[] = [];
  for (const r of runs) for (let t = 0; t < r.actions.length; t++) all.push(stepPoints([r], t));
  let rows = all;
  if (rows.length > GMM_PRIOR_DEFAULTS.maxPoints) {
    const perm = permutation(foldIn(key, "subset"), rows.length);
    rows = Array.from({ length: GMM_PRIOR_DEFAULTS.maxPoints }, (_, i) => all[perm[i]!]!);
  }
  const N = rows.length;
  const X = new Float64Array(N * D);
  rows.forEach((z, i) => X.set(z, i * D));
  const K = Math.max(1, Math.min(GMM_PRIOR_DEFAULTS.maxClusters, Math.floor(N / GMM_PRIOR_DEFAULTS.pointsPerCluster)));
  return fitGmm(X, N, D, { clusters: K, key, iterations: 50, tol: 1e-6 }).gmm;
}

/** Step t's dynamics of one condition's runs under the mixture prior. */
export function fitStepWithGmm(gmm: Gmm, runs: readonly Trajectory[], t: number, strength = GMM_PRIOR_DEFAULTS.strength): LinearGaussianFit {
  const n = runs[0]!.n;
  const Z = stepPoints(runs, t);
  const { mu0, sigma0 } = gmmMoments(gmm, Z, runs.length);
  return posteriorConditional(Z, runs.length, 2 * n, n, { mu0, sigma0, strength });
}

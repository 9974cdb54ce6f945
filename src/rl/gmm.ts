/**
 * A Gaussian mixture fitted by expectation-maximisation, for guided policy search's dynamics
 * prior (Levine et al. 2016, appendix: a mixture over (x_t, u_t, x_{t+1}) from all samples).
 *
 * Covariances are regularised the MAP way: each M-step sets Sigma_k = (S_k + R) / N_k, S_k the
 * responsibility-weighted scatter, N_k the cluster's weight in points and R = `reg` times the
 * data's per-dimension variance (diagonal). That is EM for the likelihood times an inverse-
 * Wishart-like factor prod_k exp(-tr(Sigma_k^-1 R) / 2), so the quantity EM cannot decrease is
 * the penalised log-likelihood `objective` (the plain log-likelihood is reported beside it).
 */
import { foldIn, uniform, type Key } from "../core/rng.ts";
import { cholesky, cholLogDet } from "./linalg.ts";

export interface Gmm {
  readonly K: number;
  readonly D: number;
  /** Mixing weights (sum 1). */
  readonly weights: Float64Array;
  /** K means of D. */
  readonly means: Float64Array[];
  /** K covariances, D x D row-major. */
  readonly covs: Float64Array[];
}

export interface GmmFit {
  readonly gmm: Gmm;
  /** Penalised log-likelihood after each EM iteration (non-decreasing). */
  readonly objective: number[];
  /** Plain log-likelihood of the data after each iteration. */
  readonly logLik: number[];
}

export interface GmmOptions {
  readonly clusters: number;
  /** Most EM iterations. Default 100. */
  readonly iterations?: number;
  /** Stop once an iteration raises the objective by less than tol * |objective|. Default 1e-7. */
  readonly tol?: number;
  /** Covariance regulariser R as a multiple of the data's per-dimension variance. Default 1e-2. */
  readonly reg?: number;
  /** Picks the initial means (data points, by k-means++ seeding). */
  readonly key: Key;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** Per-dimension variance of the N x D points (floored at a tiny absolute value). */
function dimVariance(X: Float64Array, N: number, D: number): Float64Array {
  const mean = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) mean[d] = mean[d]! + X[n * D + d]! / N;
  const v = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) v[d] = v[d]! + (X[n * D + d]! - mean[d]!) ** 2 / N;
  let scale = 0;
  for (let d = 0; d < D; d++) scale = Math.max(scale, v[d]!);
  for (let d = 0; d < D; d++) v[d] = Math.max(v[d]!, 1e-12 * Math.max(scale, 1e-300), 1e-300);
  return v;
}

/**
 * log(w_k N(x_n; mu_k, Sigma_k)) for every point and cluster: an N x K row-major array.
 * Throws when a covariance is not positive definite (the regulariser prevents that).
 */
export function logJoint(gmm: Gmm, X: Float64Array, N: number): Float64Array {
  const { K, D } = gmm;
  const out = new Float64Array(N * K);
  const y = new Float64Array(D);
  for (let k = 0; k < K; k++) {
    const L = cholesky(gmm.covs[k]!, D);
    if (L === null) throw new Error(`gmm: covariance ${k} is not positive definite`);
    const c = Math.log(gmm.weights[k]!) - 0.5 * (D * LOG_2PI + cholLogDet(L, D));
    const mu = gmm.means[k]!;
    for (let n = 0; n < N; n++) {
      // Forward solve L y = x - mu; the Mahalanobis distance is |y|^2.
      let maha = 0;
      for (let i = 0; i < D; i++) {
        let s = X[n * D + i]! - mu[i]!;
        for (let j = 0; j < i; j++) s -= L[i * D + j]! * y[j]!;
        y[i] = s / L[i * D + i]!;
        maha += y[i]! * y[i]!;
      }
      out[n * K + k] = c - 0.5 * maha;
    }
  }
  return out;
}

/** Turns an N x K array of log joints into responsibilities in place; returns sum_n log p(x_n). */
export function normaliseRows(lj: Float64Array, N: number, K: number): number {
  let total = 0;
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, lj[n * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(lj[n * K + k]! - m);
    const lse = m + Math.log(s);
    total += lse;
    for (let k = 0; k < K; k++) lj[n * K + k] = Math.exp(lj[n * K + k]! - lse);
  }
  return total;
}

/** Cluster responsibilities of the N points (N x K), and their total log-likelihood. */
export function responsibilities(gmm: Gmm, X: Float64Array, N: number): { r: Float64Array; logLik: number } {
  const r = logJoint(gmm, X, N);
  const logLik = normaliseRows(r, N, gmm.K);
  return { r, logLik };
}

/** -1/2 sum_k tr(Sigma_k^-1 R) for diagonal R. */
function penalty(gmm: Gmm, R: Float64Array): number {
  const { D } = gmm;
  let p = 0;
  for (const S of gmm.covs) {
    const L = cholesky(S, D)!;
    // tr(S^-1 R) = sum_d R_d (S^-1)_dd; (S^-1)_dd = |L^-1 e_d|^2.
    for (let d = 0; d < D; d++) {
      const y = new Float64Array(D);
      for (let i = d; i < D; i++) {
        let s = i === d ? 1 : 0;
        for (let j = d; j < i; j++) s -= L[i * D + j]! * y[j]!;
        y[i] = s / L[i * D + i]!;
      }
      let q = 0;
      for (let i = d; i < D; i++) q += y[i]! * y[i]!;
      p += R[d]! * q;
    }
  }
  return -0.5 * p;
}

/** The M-step: weights, means and regularised covariances from the responsibilities. */
function mStep(X: Float64Array, N: number, D: number, r: Float64Array, K: number, R: Float64Array): Gmm {
  const weights = new Float64Array(K);
  const means: Float64Array[] = [];
  const covs: Float64Array[] = [];
  for (let k = 0; k < K; k++) {
    let Nk = 0;
    const mu = new Float64Array(D);
    for (let n = 0; n < N; n++) {
      const w = r[n * K + k]!;
      Nk += w;
      for (let d = 0; d < D; d++) mu[d] = mu[d]! + w * X[n * D + d]!;
    }
    // An empty cluster keeps a tiny weight (its covariance is then R / Nk, wide).
    Nk = Math.max(Nk, 1e-10);
    for (let d = 0; d < D; d++) mu[d] = mu[d]! / Nk;
    const S = new Float64Array(D * D);
    const z = new Float64Array(D);
    for (let n = 0; n < N; n++) {
      const w = r[n * K + k]!;
      if (w === 0) continue;
      for (let d = 0; d < D; d++) z[d] = X[n * D + d]! - mu[d]!;
      for (let i = 0; i < D; i++) {
        const wi = w * z[i]!;
        for (let j = 0; j <= i; j++) S[i * D + j] = S[i * D + j]! + wi * z[j]!;
      }
    }
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < i; j++) S[j * D + i] = S[i * D + j] = S[i * D + j]! / Nk;
      S[i * D + i] = (S[i * D + i]! + R[i]!) / Nk;
    }
    weights[k] = Nk / N;
    means.push(mu);
    covs.push(S);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  for (let k = 0; k < K; k++) weights[k] = weights[k]! / total;
  return { K, D, weights, means, covs };
}

/**
 * K initial means by k-means++ seeding (Arthur & Vassilvitskii 2007): the first point at
 * random, each next one with probability proportional to its squared distance (scaled by the
 * per-dimension variance `v`) to the nearest already chosen.
 */
function seeds(X: Float64Array, N: number, D: number, K: number, v: Float64Array, key: Key): number[] {
  const u = uniform(foldIn(key, "gmm-init"), K);
  const chosen = [Math.min(N - 1, Math.floor(u[0]! * N))];
  const d2 = new Float64Array(N).fill(Infinity);
  for (let k = 1; k < K; k++) {
    const c = chosen[k - 1]!;
    let total = 0;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += (X[n * D + d]! - X[c * D + d]!) ** 2 / v[d]!;
      d2[n] = Math.min(d2[n]!, s);
      total += d2[n]!;
    }
    let target = u[k]! * total;
    let pick = 0;
    for (let n = 0; n < N; n++) {
      target -= d2[n]!;
      pick = n;
      if (target <= 0 && d2[n]! > 0) break;
    }
    chosen.push(pick);
  }
  return chosen;
}

/**
 * Fits a K-component mixture to the N x D points (row-major) by EM. Initial means are K points
 * seeded by k-means++ from `key`, covariances the data's (diagonal) variance, weights equal.
 */
export function fitGmm(X: Float64Array, N: number, D: number, opts: GmmOptions): GmmFit {
  const K = opts.clusters;
  if (!Number.isInteger(K) || K < 1 || K > N) throw new Error(`gmm: clusters must be an integer in [1, ${N}] (the points), got ${K}`);
  const iterations = opts.iterations ?? 100;
  const tol = opts.tol ?? 1e-7;
  const v = dimVariance(X, N, D);
  const R = v.map((x) => x * (opts.reg ?? 1e-2));
  const pick = seeds(X, N, D, K, v, opts.key);
  let gmm: Gmm = {
    K,
    D,
    weights: new Float64Array(K).fill(1 / K),
    means: pick.map((i) => X.slice(i * D, i * D + D)),
    covs: Array.from({ length: K }, () => Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? v[Math.floor(i / D)]! : 0))),
  };
  const objective: number[] = [];
  const logLik: number[] = [];
  let r = responsibilities(gmm, X, N).r;
  for (let it = 0; it < iterations; it++) {
    gmm = mStep(X, N, D, r, K, R);
    // This E-step gives both the objective and the next M-step's responsibilities.
    const e = responsibilities(gmm, X, N);
    r = e.r;
    const ll = e.logLik;
    const obj = ll + penalty(gmm, R);
    const prev = objective[objective.length - 1];
    logLik.push(ll);
    objective.push(obj);
    if (prev !== undefined && obj - prev < tol * Math.abs(obj)) break;
  }
  return { gmm, objective, logLik };
}

/**
 * The mixture's moments weighted toward a set of points (Levine et al.'s prior for one time
 * step): w_k the mean responsibility of cluster k over the points, mu0 = sum_k w_k mu_k and
 * Sigma0 = sum_k w_k (Sigma_k + (mu_k - mu0)(mu_k - mu0)^T).
 */
export function gmmMoments(gmm: Gmm, X: Float64Array, N: number): { mu0: Float64Array; sigma0: Float64Array } {
  const { K, D } = gmm;
  const { r } = responsibilities(gmm, X, N);
  const w = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w[k] = w[k]! + r[n * K + k]! / N;
  const mu0 = new Float64Array(D);
  for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) mu0[d] = mu0[d]! + w[k]! * gmm.means[k]![d]!;
  const sigma0 = new Float64Array(D * D);
  for (let k = 0; k < K; k++) {
    const mu = gmm.means[k]!;
    const S = gmm.covs[k]!;
    for (let i = 0; i < D; i++) {
      const di = mu[i]! - mu0[i]!;
      for (let j = 0; j < D; j++) sigma0[i * D + j] = sigma0[i * D + j]! + w[k]! * (S[i * D + j]! + di * (mu[j]! - mu0[j]!));
    }
  }
  return { mu0, sigma0 };
}

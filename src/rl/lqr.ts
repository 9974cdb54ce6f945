/**
 * The trajectory side of guided policy search: time-varying linear-Gaussian controllers
 * p(u_t | x_t) = N(K_t x_t + k_t, S_t) over one training condition's iterate x (the state) and
 * step u (the action), local models fitted by regression on sampled runs, and the iLQG
 * backward pass that improves a controller under a KL bound to the previous one.
 *
 * - Dynamics x_{t+1} = F_t [x_t; u_t] + f_t, fitted per step by ridge regression on the
 *   samples toward a prior fitted on all steps pooled (one linear model), or, given a per-step
 *   fitter, under Levine et al.'s Gaussian-mixture prior (`dynamics_prior.ts`). For an
 *   optimizer they are x + u, which either fit finds. The residual covariance is kept for the
 *   forward pass (`trajectory_kl.ts`).
 * - Cost: the per-step cost c_t = f(x_{t+1}) / f(x_0) as a quadratic whose gradient model
 *   g(x) = A_t x + b_t is fitted the same way from the sampled gradients (a local curvature
 *   model; A_t symmetrised into the Hessian).
 * - The backward pass minimises E_p[sum_t c_t - lambda_t . u_t + nu/2 |u_t - pi(x_t)|^2 / sigma^2]
 *   / eta - E_p[log pbar] - H(p), pi the policy linearised at the samples: its maximum-entropy
 *   solution is K = -Quu^-1 Qux, k = -Quu^-1 Qu, S = Quu^-1. eta is chosen by bisection so that
 *   a mean KL(p || pbar) per step meets the step bound (`solveWithKl`): over the sampled states
 *   (`controllerKl`), or through the model (`modelKl` in `trajectory_kl.ts`).
 */
import { cholesky, cholLogDet, cholSolve, eye, matmul, matvec, ridge, symmetrize, transpose } from "./linalg.ts";
import type { Trajectory } from "./rollout.ts";

export interface Controller {
  readonly n: number;
  readonly T: number;
  /** Per step: gain K (n x n), offset k (n), covariance S (n x n) and its lower Cholesky factor. */
  readonly K: Float64Array[];
  readonly k: Float64Array[];
  readonly cov: Float64Array[];
  readonly chol: Float64Array[];
}

/** A per-step linear map y = W [x; 1] (W: m x (n + 1), row-major; for every t). */
export interface LinearFit {
  readonly A: Float64Array[];
  readonly b: Float64Array[];
}

export interface LocalModel {
  /** Dynamics x_{t+1} = F_t [x; u] + f_t, t = 0..T-1 (F: n x 2n). */
  readonly F: Float64Array[];
  readonly f: Float64Array[];
  /** Cost at x_t, t = 1..T (index t; index 0 unused): Hessian C_t and gradient model C_t x + c_t, in relative-objective units. */
  readonly C: Float64Array[];
  readonly c: Float64Array[];
  /** Per step t = 0..T-1, the covariance of x_{t+1} given [x_t; u_t] (n x n); absent: none. */
  readonly dynCov?: Float64Array[];
  /** Cost constants c0_t (index t = 1..T): the quadratic cost is 1/2 x^T C_t x + c_t^T x + c0_t. */
  readonly c0?: Float64Array;
}

/** How strongly each step's fit is pulled toward the pooled one (in units of samples). */
export const PRIOR_STRENGTH = 1;

/**
 * Fits y ~ W [input; 1] per step t = t0..t1 over the samples, each step pulled toward the fit of
 * all steps pooled. `input(s, t)` and `output(s, t)` read sample s at step t.
 */
export function fitPerStep(samples: number, t0: number, t1: number, din: number, dout: number, input: (s: number, t: number) => ArrayLike<number>, output: (s: number, t: number) => ArrayLike<number>): LinearFit {
  const d = din + 1;
  const rows = (ts: number[]): { Z: Float64Array; Y: Float64Array; N: number } => {
    const N = ts.length * samples;
    const Z = new Float64Array(N * d);
    const Y = new Float64Array(N * dout);
    let r = 0;
    for (const t of ts) {
      for (let s = 0; s < samples; s++, r++) {
        Z.set(input(s, t), r * d);
        Z[r * d + din] = 1;
        Y.set(output(s, t), r * dout);
      }
    }
    return { Z, Y, N };
  };
  const all: number[] = [];
  for (let t = t0; t <= t1; t++) all.push(t);
  const pooled = rows(all);
  const W0 = ridge(pooled.Z, pooled.Y, pooled.N, d, dout, 1e-6);
  const A: Float64Array[] = [];
  const b: Float64Array[] = [];
  for (let t = t0; t <= t1; t++) {
    const r = rows([t]);
    const Wt = transpose(ridge(r.Z, r.Y, r.N, d, dout, PRIOR_STRENGTH, W0), d, dout); // dout x d
    const At = new Float64Array(dout * din);
    const bt = new Float64Array(dout);
    for (let i = 0; i < dout; i++) {
      for (let j = 0; j < din; j++) At[i * din + j] = Wt[i * d + j]!;
      bt[i] = Wt[i * d + din]!;
    }
    A[t] = At;
    b[t] = bt;
  }
  return { A, b };
}

/** A per-step dynamics fitter: step t's x_{t+1} = F [x_t; u_t] + f with residual covariance `cov`. */
export type DynamicsFitter = (t: number) => { readonly F: Float64Array; readonly f: Float64Array; readonly cov: Float64Array };

/** The residual covariance of y ~ A z + b over the samples at step t (plus a tiny floor). */
function residualCov(M: number, n: number, A: Float64Array, b: Float64Array, din: number, input: (s: number) => ArrayLike<number>, output: (s: number) => ArrayLike<number>): Float64Array {
  const S = new Float64Array(n * n);
  for (let s = 0; s < M; s++) {
    const r = matvec(A, input(s), n, din).map((v, i) => output(s)[i]! - v - b[i]!);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = S[i * n + j]! + (r[i]! * r[j]!) / M;
  }
  for (let i = 0; i < n; i++) S[i * n + i] = S[i * n + i]! + 1e-12;
  return S;
}

/**
 * The local model of one condition from its samples (same x_0); `scale` turns gradients into
 * relative-cost units. `dynamics`, when given, fits each step's dynamics (the mixture prior);
 * otherwise they are the ridge fit toward the pooled one.
 */
export function fitLocalModel(samples: readonly Trajectory[], scale: number, dynamics?: DynamicsFitter): LocalModel {
  const n = samples[0]!.n;
  const T = samples[0]!.steps;
  const M = samples.length;
  const xu = (s: number, t: number): Float64Array => {
    const z = new Float64Array(2 * n);
    z.set(samples[s]!.xs[t]!);
    z.set(samples[s]!.actions[t]!, n);
    return z;
  };
  let F: Float64Array[];
  let f: Float64Array[];
  let dynCov: Float64Array[];
  if (dynamics === undefined) {
    const dyn = fitPerStep(M, 0, T - 1, 2 * n, n, xu, (s, t) => samples[s]!.xs[t + 1]!);
    F = dyn.A;
    f = dyn.b;
    dynCov = F.map((A, t) => residualCov(M, n, A, f[t]!, 2 * n, (s) => xu(s, t), (s) => samples[s]!.xs[t + 1]!));
  } else {
    const fits = Array.from({ length: T }, (_, t) => dynamics(t));
    F = fits.map((d) => d.F);
    f = fits.map((d) => d.f);
    dynCov = fits.map((d) => d.cov);
  }
  const cost = fitPerStep(M, 1, T, n, n, (s, t) => samples[s]!.xs[t]!, (s, t) => samples[s]!.grads[t]!.map((g) => g * scale));
  const C = cost.A.map((a) => (a === undefined ? a : symmetrize(a.slice(), n)));
  // The constant of each step's quadratic: the mean residual of the sampled relative costs.
  const c0 = new Float64Array(T + 1);
  for (let t = 1; t <= T; t++) {
    let sum = 0;
    for (const r of samples) {
      const x = r.xs[t]!;
      const Cx = matvec(C[t]!, x, n, n);
      let q = 0;
      for (let i = 0; i < n; i++) q += 0.5 * x[i]! * Cx[i]! + cost.b[t]![i]! * x[i]!;
      sum += r.losses[t]! / Math.max(Math.abs(r.losses[0]!), 1e-12) - q;
    }
    c0[t] = sum / M;
  }
  return { F, f, C, c: cost.b, dynCov, c0 };
}

/** The terms of the backward pass besides the model: previous controller, linearised policy, duals. */
export interface BackwardTerms {
  readonly prior: Controller;
  /** The policy linearised at the samples: mean K_t x + k_t, precision `policyPrecision` per coordinate. */
  readonly policy: LinearFit;
  readonly policyPrecision: number;
  /** Lagrange multipliers on E_p[u_t] = E_pi[u_t], per step. */
  readonly lambda: Float64Array[];
  /** Weight of the policy term (the ADMM penalty). */
  readonly nu: number;
}

/** Adds w/2 (u - K x - k)^T P (u - K x - k) over z = [x; u] to (Qzz, Qz); P is n x n. */
function addTracking(Qzz: Float64Array, Qz: Float64Array, n: number, K: Float64Array, k: Float64Array, P: Float64Array, w: number): void {
  const m = 2 * n;
  const D = new Float64Array(n * m); // [-K I]
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) D[i * m + j] = -K[i * n + j]!;
    D[i * m + n + i] = 1;
  }
  const DtP = matmul(transpose(D, n, m), P, m, n, n);
  const DtPD = matmul(DtP, D, m, n, m);
  const DtPk = matvec(DtP, k, m, n);
  for (let i = 0; i < m * m; i++) Qzz[i] = Qzz[i]! + w * DtPD[i]!;
  for (let i = 0; i < m; i++) Qz[i] = Qz[i]! - w * DtPk[i]!;
}

/** The backward pass at temperature eta; null when some Quu is not positive definite. */
export function backward(model: LocalModel, terms: BackwardTerms, eta: number): Controller | null {
  const { n, T } = terms.prior;
  const m = 2 * n;
  let Vxx: Float64Array = model.C[T]!.map((v) => v / eta);
  let Vx: Float64Array = model.c[T]!.map((v) => v / eta);
  const out: Controller = { n, T, K: [], k: [], cov: [], chol: [] };
  const Ppol = eye(n, terms.policyPrecision);
  for (let t = T - 1; t >= 0; t--) {
    const F = model.F[t]!;
    const FtV = matmul(transpose(F, n, m), Vxx, m, n, n);
    const Qzz = matmul(FtV, F, m, n, m);
    const Qz = matvec(FtV, model.f[t]!, m, n);
    const FtVx = matvec(transpose(F, n, m), Vx, m, n);
    for (let i = 0; i < m; i++) Qz[i] = Qz[i]! + FtVx[i]!;
    const prior = terms.prior;
    addTracking(Qzz, Qz, n, prior.K[t]!, prior.k[t]!, cholSolve(prior.chol[t]!, eye(n), n, n), 1);
    if (terms.nu > 0) addTracking(Qzz, Qz, n, terms.policy.A[t]!, terms.policy.b[t]!, Ppol, terms.nu / eta);
    for (let i = 0; i < n; i++) Qz[n + i] = Qz[n + i]! - terms.lambda[t]![i]! / eta;
    symmetrize(Qzz, m);
    const Quu = new Float64Array(n * n);
    const Qux = new Float64Array(n * n);
    const Qxx = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        Quu[i * n + j] = Qzz[(n + i) * m + n + j]!;
        Qux[i * n + j] = Qzz[(n + i) * m + j]!;
        Qxx[i * n + j] = Qzz[i * m + j]!;
      }
    }
    const L = cholesky(Quu, n);
    if (L === null) return null;
    const K = cholSolve(L, Qux, n, n).map((v) => -v);
    const k = cholSolve(L, Qz.slice(n), n, 1).map((v) => -v);
    const cov = symmetrize(cholSolve(L, eye(n), n, n), n);
    const cholCov = cholesky(cov, n);
    if (cholCov === null) return null;
    out.K[t] = K;
    out.k[t] = k;
    out.cov[t] = cov;
    out.chol[t] = cholCov;
    // V = Q minimised over u: Vxx = Qxx + Qux^T K, Vx = Qx + Qux^T k.
    const QuxT = transpose(Qux, n, n);
    const add = matmul(QuxT, K, n, n, n);
    Vxx = symmetrize(Qxx.map((v, i) => v + add[i]!), n);
    const vk = matvec(QuxT, k, n, n);
    Vx = Qz.slice(0, n).map((v, i) => v + vk[i]!);
    if (t >= 1) {
      for (let i = 0; i < n * n; i++) Vxx[i] = Vxx[i]! + model.C[t]![i]! / eta;
      for (let i = 0; i < n; i++) Vx[i] = Vx[i]! + model.c[t]![i]! / eta;
    }
  }
  return out;
}

/**
 * Mean over steps and states of KL(N(mu_p(x), S_p) || N(mu_q(x), S_q)), for two Gaussian
 * action distributions whose means are given at each state (`meanQ(t, s)`), covariances per step.
 */
export function meanKl(p: Controller, covQ: (t: number) => Float64Array, meanQ: (t: number, s: number) => Float64Array, states: (t: number, s: number) => Float64Array, samples: number): number {
  const { n, T } = p;
  let sum = 0;
  for (let t = 0; t < T; t++) {
    const Lq = cholesky(covQ(t), n);
    if (Lq === null) return Infinity;
    const Pq = cholSolve(Lq, eye(n), n, n);
    let tr = 0;
    const Sp = p.cov[t]!;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) tr += Pq[i * n + j]! * Sp[j * n + i]!;
    const logDets = cholLogDet(Lq, n) - cholLogDet(p.chol[t]!, n);
    for (let s = 0; s < samples; s++) {
      const x = states(t, s);
      const mp = matvec(p.K[t]!, x, n, n).map((v, i) => v + p.k[t]![i]!);
      const d = meanQ(t, s).map((v, i) => v - mp[i]!);
      const Pd = matvec(Pq, d, n, n);
      let maha = 0;
      for (let i = 0; i < n; i++) maha += d[i]! * Pd[i]!;
      sum += 0.5 * (tr + maha - n + logDets);
    }
  }
  return sum / (T * samples);
}

/** Mean KL(p || pbar) over the sampled states. */
export function controllerKl(p: Controller, pbar: Controller, states: (t: number, s: number) => Float64Array, samples: number): number {
  const { n } = p;
  return meanKl(p, (t) => pbar.cov[t]!, (t, s) => matvec(pbar.K[t]!, states(t, s), n, n).map((v, i) => v + pbar.k[t]![i]!), states, samples);
}

/**
 * The backward pass with eta chosen by bisection (in log space) so that `klToPrior`, a mean
 * KL per step to the previous controller, is at most `maxKl` and as close to it as the search
 * finds: a larger eta stays closer to the previous controller.
 */
export function solveWithKl(model: LocalModel, terms: BackwardTerms, maxKl: number, klToPrior: (c: Controller) => number): { controller: Controller; eta: number; kl: number } {
  let lo = -8;
  let hi = 12;
  let best: { controller: Controller; eta: number; kl: number } | null = null;
  for (let i = 0; i < 24; i++) {
    const mid = 0.5 * (lo + hi);
    const eta = 10 ** mid;
    const c = backward(model, terms, eta);
    const kl = c === null ? Infinity : klToPrior(c);
    if (c !== null && kl <= maxKl) {
      best = { controller: c, eta, kl };
      hi = mid; // try a bolder step
    } else {
      lo = mid;
    }
  }
  if (best !== null) return best;
  const c = backward(model, terms, 10 ** hi);
  if (c === null) return { controller: terms.prior, eta: Infinity, kl: 0 };
  return { controller: c, eta: 10 ** hi, kl: klToPrior(c) };
}

/**
 * A controller's trajectory distribution under a fitted linear-Gaussian model, by forward
 * propagation of the state marginals (Levine & Abbeel 2014): with x_t ~ N(mu_t, Sigma_t) and
 * u_t | x_t ~ N(K x + k, S),
 *
 *   [x; u] ~ N([mu; K mu + k], [[Sigma, Sigma K^T], [K Sigma, K Sigma K^T + S]]),
 *   x_{t+1} ~ N(F mu_xu + f, F Sigma_xu F^T + Sigma_dyn).
 *
 * On it: the KL between two controllers' trajectory distributions (the expectation of the
 * per-step action KL under the new controller's own state marginals, in closed form), and the
 * expected cost of a controller under the model's quadratic cost (plus, optionally, the C-step's
 * dual and policy terms), which the adaptive step size compares across iterations.
 */
import { cholLogDet, cholSolve, eye, matmul, matvec, symmetrize, transpose } from "./linalg.ts";
import type { BackwardTerms, Controller, LocalModel } from "./lqr.ts";

/** A Gaussian over the state. */
export interface StateDist {
  readonly mean: Float64Array;
  readonly cov: Float64Array;
}

/** The initial-state distribution of a condition's runs: their x_0's mean and covariance (plus `floor` on the diagonal). */
export function initialState(x0s: readonly Float64Array[], floor = 1e-12): StateDist {
  const n = x0s[0]!.length;
  const N = x0s.length;
  const mean = new Float64Array(n);
  for (const x of x0s) for (let i = 0; i < n; i++) mean[i] = mean[i]! + x[i]! / N;
  const cov = new Float64Array(n * n);
  for (const x of x0s) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) cov[i * n + j] = cov[i * n + j]! + ((x[i]! - mean[i]!) * (x[j]! - mean[j]!)) / N;
  for (let i = 0; i < n; i++) cov[i * n + i] = cov[i * n + i]! + floor;
  return { mean, cov };
}

/** The state marginals x_0 .. x_T of controller p under the model's dynamics (zero dynamics noise when the model has none). */
export function forwardPass(model: LocalModel, p: Controller, init: StateDist): StateDist[] {
  const { n, T } = p;
  const m = 2 * n;
  const out: StateDist[] = [init];
  let { mean, cov } = init;
  for (let t = 0; t < T; t++) {
    const K = p.K[t]!;
    const mu = new Float64Array(m);
    mu.set(mean);
    const Kmu = matvec(K, mean, n, n);
    for (let i = 0; i < n; i++) mu[n + i] = Kmu[i]! + p.k[t]![i]!;
    const KS = matmul(K, cov, n, n, n); // K Sigma
    const KSKt = matmul(KS, transpose(K, n, n), n, n, n);
    const Sxu = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        Sxu[i * m + j] = cov[i * n + j]!;
        Sxu[(n + i) * m + j] = KS[i * n + j]!;
        Sxu[j * m + n + i] = KS[i * n + j]!;
        Sxu[(n + i) * m + n + j] = KSKt[i * n + j]! + p.cov[t]![i * n + j]!;
      }
    }
    const F = model.F[t]!;
    const next = matvec(F, mu, n, m).map((v, i) => v + model.f[t]![i]!);
    const FS = matmul(F, Sxu, n, m, m);
    const nextCov = matmul(FS, transpose(F, n, m), n, m, n);
    const noise = model.dynCov?.[t];
    if (noise !== undefined) for (let i = 0; i < n * n; i++) nextCov[i] = nextCov[i]! + noise[i]!;
    mean = next;
    cov = symmetrize(nextCov, n);
    out.push({ mean, cov });
  }
  return out;
}

/**
 * Mean over steps of E_{x_t ~ p}[KL(p(u | x_t) || pbar(u | x_t))], the states distributed as
 * p's own marginals under the model: per step
 * 1/2 [tr(Pbar S) + dm^T Pbar dm + tr(dK^T Pbar dK Sigma_t) - n + log det Sbar - log det S],
 * dm = dK mu_t + dk, dK = K - Kbar, dk = k - kbar, Pbar = Sbar^-1.
 */
export function modelKl(p: Controller, pbar: Controller, model: LocalModel, init: StateDist): number {
  const { n, T } = p;
  const marg = forwardPass(model, p, init);
  let sum = 0;
  for (let t = 0; t < T; t++) {
    const Lb = pbar.chol[t]!;
    const Pb = cholSolve(Lb, eye(n), n, n);
    const dK = p.K[t]!.map((v, i) => v - pbar.K[t]![i]!);
    const { mean, cov } = marg[t]!;
    const dm = matvec(dK, mean, n, n).map((v, i) => v + p.k[t]![i]! - pbar.k[t]![i]!);
    let tr = 0;
    const Sp = p.cov[t]!;
    // tr(Pbar (S + dK Sigma dK^T))
    const inner = matmul(matmul(dK, cov, n, n, n), transpose(dK, n, n), n, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) tr += Pb[i * n + j]! * (Sp[j * n + i]! + inner[j * n + i]!);
    const Pdm = matvec(Pb, dm, n, n);
    let maha = 0;
    for (let i = 0; i < n; i++) maha += dm[i]! * Pdm[i]!;
    sum += 0.5 * (tr + maha - n + cholLogDet(Lb, n) - cholLogDet(p.chol[t]!, n));
  }
  return sum / T;
}

/**
 * The expected total cost of controller p under the model: sum over t = 1..T of the quadratic
 * cost 1/2 x^T C_t x + c_t^T x + c0_t at x_t's marginal; with `terms`, also the C-step's
 * -lambda_t . u_t + nu/2 (u_t - pi(x_t))^T P (u_t - pi(x_t)) for t = 0..T-1 (the objective that
 * the backward pass minimises, without its KL part).
 */
export function expectedCost(model: LocalModel, p: Controller, init: StateDist, terms?: BackwardTerms): number {
  const { n, T } = p;
  const marg = forwardPass(model, p, init);
  let J = 0;
  for (let t = 1; t <= T; t++) {
    const { mean, cov } = marg[t]!;
    const C = model.C[t]!;
    const Cm = matvec(C, mean, n, n);
    for (let i = 0; i < n; i++) {
      J += 0.5 * mean[i]! * Cm[i]! + model.c[t]![i]! * mean[i]!;
      for (let j = 0; j < n; j++) J += 0.5 * C[i * n + j]! * cov[j * n + i]!;
    }
    J += model.c0?.[t] ?? 0;
  }
  if (terms !== undefined) {
    const w = terms.nu * terms.policyPrecision;
    for (let t = 0; t < T; t++) {
      const { mean, cov } = marg[t]!;
      const um = matvec(p.K[t]!, mean, n, n).map((v, i) => v + p.k[t]![i]!);
      for (let i = 0; i < n; i++) J -= terms.lambda[t]![i]! * um[i]!;
      if (w === 0) continue;
      const dK = p.K[t]!.map((v, i) => v - terms.policy.A[t]![i]!);
      const dm = matvec(dK, mean, n, n).map((v, i) => v + p.k[t]![i]! - terms.policy.b[t]![i]!);
      const inner = matmul(matmul(dK, cov, n, n, n), transpose(dK, n, n), n, n, n);
      let e = 0;
      for (let i = 0; i < n; i++) e += dm[i]! * dm[i]! + inner[i * n + i]! + p.cov[t]![i * n + i]!;
      J += 0.5 * w * e;
    }
  }
  return J;
}


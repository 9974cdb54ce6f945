/**
 * Trajectory distributions through a linear-Gaussian model: the forward pass's marginals, the
 * KL between two controllers and the expected quadratic cost each agree with Monte Carlo
 * estimates from simulating the same model; the KL of a controller to itself is zero.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { cholesky, matvec } from "../src/rl/linalg.ts";
import { controllerKl, type Controller, type LocalModel } from "../src/rl/lqr.ts";
import { expectedCost, forwardPass, initialState, modelKl } from "../src/rl/trajectory_kl.ts";

const n = 2;
const T = 5;
const rnd = (seed: number, len: number, std: number) => Float64Array.from(normal(key(seed), len, std));

/** A random controller whose covariances are A A^T + 0.05 I. */
function randomController(seed: number): Controller {
  const K: Float64Array[] = [];
  const k: Float64Array[] = [];
  const cov: Float64Array[] = [];
  const chol: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    K.push(rnd(seed * 100 + t, n * n, 0.4));
    k.push(rnd(seed * 100 + 50 + t, n, 0.3));
    const A = rnd(seed * 100 + 80 + t, n * n, 0.3);
    const S = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let q = 0; q < n; q++) S[i * n + j] = S[i * n + j]! + A[i * n + q]! * A[j * n + q]!;
    for (let i = 0; i < n; i++) S[i * n + i] = S[i * n + i]! + 0.05;
    cov.push(S);
    chol.push(cholesky(S, n)!);
  }
  return { n, T, K, k, cov, chol };
}

// Dynamics x' = F [x; u] + f + N(0, Q), F near [I I]; a quadratic cost per step.
const model: LocalModel = {
  F: Array.from({ length: T }, (_, t) => rnd(900 + t, n * 2 * n, 0.2).map((v, i) => v + (i % (2 * n) === Math.floor(i / (2 * n)) || i % (2 * n) === n + Math.floor(i / (2 * n)) ? 1 : 0))),
  f: Array.from({ length: T }, (_, t) => rnd(950 + t, n, 0.1)),
  dynCov: Array.from({ length: T }, () => Float64Array.from([0.02, 0.005, 0.005, 0.03])),
  C: Array.from({ length: T + 1 }, () => Float64Array.from([2, 0.5, 0.5, 1])),
  c: Array.from({ length: T + 1 }, () => Float64Array.from([-0.3, 0.2])),
  c0: Float64Array.from({ length: T + 1 }, (_, t) => 0.1 * t),
};
const init = { mean: Float64Array.from([0.5, -0.4]), cov: Float64Array.from([0.04, 0.01, 0.01, 0.02]) };
const p = randomController(1);
const pbar = randomController(2);

/** M runs of p through the model: states x_0 .. x_T, actions u_0 .. u_{T-1}. */
const actions: Float64Array[][] = [];
function simulate(M: number): Float64Array[][] {
  const L0 = cholesky(init.cov, n)!;
  const Lq = model.dynCov!.map((Q) => cholesky(Q, n)!);
  return Array.from({ length: M }, (_, s) => {
    const ks = foldIn(key(77), s);
    let x = matvec(L0, normal(foldIn(ks, "x0"), n), n, n).map((v, i) => v + init.mean[i]!);
    const xs = [x];
    const us: Float64Array[] = [];
    actions.push(us);
    for (let t = 0; t < T; t++) {
      const u = matvec(p.K[t]!, x, n, n).map((v, i) => v + p.k[t]![i]! + matvec(p.chol[t]!, normal(foldIn(ks, `u${t}`), n), n, n)[i]!);
      us.push(u);
      const z = Float64Array.from([...x, ...u]);
      x = matvec(model.F[t]!, z, n, 2 * n).map((v, i) => v + model.f[t]![i]! + matvec(Lq[t]!, normal(foldIn(ks, `w${t}`), n), n, n)[i]!);
      xs.push(x);
    }
    return xs;
  });
}

describe("trajectory distributions through a linear-Gaussian model", () => {
  const M = 20000;
  const runs = simulate(M);

  it("propagates the state marginals that simulation finds", () => {
    const marg = forwardPass(model, p, init);
    for (const t of [1, T]) {
      const mean = new Float64Array(n);
      for (const r of runs) for (let i = 0; i < n; i++) mean[i] = mean[i]! + r[t]![i]! / M;
      for (let i = 0; i < n; i++) {
        const sd = Math.sqrt(marg[t]!.cov[i * n + i]!);
        assert.ok(Math.abs(mean[i]! - marg[t]!.mean[i]!) < 4 * sd / Math.sqrt(M), `t ${t}: mean ${mean[i]} vs ${marg[t]!.mean[i]}`);
        let v = 0;
        for (const r of runs) v += (r[t]![i]! - mean[i]!) ** 2 / (M - 1);
        assert.ok(Math.abs(v / marg[t]!.cov[i * n + i]! - 1) < 0.05, `t ${t}: variance ${v} vs ${marg[t]!.cov[i * n + i]}`);
      }
    }
  });

  it("gives the KL between controllers that the states' Monte Carlo average gives", () => {
    const analytic = modelKl(p, pbar, model, init);
    // The per-state KL averaged over simulated states (the sample-based estimate of the same quantity).
    const mc = controllerKl(p, pbar, (t, s) => runs[s]![t]!, M);
    assert.ok(analytic > 0.1, `KL ${analytic}`);
    assert.ok(Math.abs(mc / analytic - 1) < 0.02, `through the model ${analytic}, Monte Carlo ${mc}`);
    assert.ok(Math.abs(modelKl(p, p, model, init)) < 1e-12);
  });

  it("gives the expected quadratic cost that simulation gives", () => {
    const analytic = expectedCost(model, p, init);
    let mc = 0;
    for (const r of runs) {
      for (let t = 1; t <= T; t++) {
        const x = r[t]!;
        const Cx = matvec(model.C[t]!, x, n, n);
        for (let i = 0; i < n; i++) mc += (0.5 * x[i]! * Cx[i]! + model.c[t]![i]! * x[i]!) / M;
        mc += model.c0![t]! / M;
      }
    }
    assert.ok(Math.abs(mc / analytic - 1) < 0.02, `through the model ${analytic}, Monte Carlo ${mc}`);
  });

  it("adds the C-step's dual and policy terms as simulation finds them", () => {
    const policy = { A: randomController(3).K, b: randomController(3).k };
    const lambda = Array.from({ length: T }, (_, t) => rnd(990 + t, n, 0.5));
    const terms = { prior: pbar, policy, policyPrecision: 3, lambda, nu: 0.7 };
    const analytic = expectedCost(model, p, init, terms) - expectedCost(model, p, init);
    let mc = 0;
    runs.forEach((r, s) => {
      for (let t = 0; t < T; t++) {
        const u = actions[s]![t]!;
        const pi = matvec(policy.A[t]!, r[t]!, n, n).map((v, i) => v + policy.b[t]![i]!);
        for (let i = 0; i < n; i++) mc += (-lambda[t]![i]! * u[i]! + 0.5 * 0.7 * 3 * (u[i]! - pi[i]!) ** 2) / M;
      }
    });
    assert.ok(Math.abs(mc / analytic - 1) < 0.02, `through the model ${analytic}, Monte Carlo ${mc}`);
  });

  it("takes the initial state's mean and covariance from the runs' x_0", () => {
    const d = initialState([Float64Array.from([1, 2]), Float64Array.from([3, 0])], 0);
    assert.deepEqual(Array.from(d.mean), [2, 1]);
    assert.deepEqual(Array.from(d.cov), [1, -1, -1, 1]);
  });
});

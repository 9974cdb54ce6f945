/**
 * Per-step dynamics under the normal-inverse-Wishart prior: with a vanishing prior the fit is
 * ordinary least squares (with an intercept, and the residual covariance), with no points it is
 * the prior's own linear-Gaussian conditional, and in between it moves from one to the other;
 * the mixture prior fitted to an optimizer's samples gives x_{t+1} = x_t + u_t.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { fitDynamicsGmm, fitStepWithGmm, posteriorConditional } from "../src/rl/dynamics_prior.ts";
import { ridge, transpose } from "../src/rl/linalg.ts";
import { controllerActor } from "../src/rl/gps.ts";
import type { Controller } from "../src/rl/lqr.ts";
import { rollout } from "../src/rl/rollout.ts";
import { quadraticTaskFrom } from "../src/tasks/quadratic.ts";

const din = 3;
const dout = 2;
const D = din + dout;
// y = A z + a + noise.
const A = [0.5, -1, 2, 0.3, 0.7, -0.4];
const a = [1, -2];

function points(N: number, seed: number): Float64Array {
  const Z = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    const z = normal(foldIn(key(seed), n), din);
    const e = normal(foldIn(key(seed + 1), n), dout, 0.1);
    for (let i = 0; i < din; i++) Z[n * D + i] = z[i]! * (1 + i);
    for (let i = 0; i < dout; i++) {
      let y = a[i]! + e[i]!;
      for (let j = 0; j < din; j++) y += A[i * din + j]! * Z[n * D + j]!;
      Z[n * D + din + i] = y;
    }
  }
  return Z;
}

/** The joint prior whose conditional is out = B in + b with noise covariance Q, inputs N(mz, Szz). */
function linearPrior(B: number[], b: number[], Q: number[], mz: number[], Szz: number[], strength: number) {
  const mu0 = new Float64Array(D);
  const sigma0 = new Float64Array(D * D);
  for (let i = 0; i < din; i++) mu0[i] = mz[i]!;
  for (let i = 0; i < dout; i++) {
    let v = b[i]!;
    for (let j = 0; j < din; j++) v += B[i * din + j]! * mz[j]!;
    mu0[din + i] = v;
  }
  // Szz; Szy = Szz B^T; Syy = B Szz B^T + Q.
  for (let i = 0; i < din; i++) for (let j = 0; j < din; j++) sigma0[i * D + j] = Szz[i * din + j]!;
  for (let i = 0; i < din; i++) {
    for (let k = 0; k < dout; k++) {
      let v = 0;
      for (let j = 0; j < din; j++) v += Szz[i * din + j]! * B[k * din + j]!;
      sigma0[i * D + din + k] = v;
      sigma0[(din + k) * D + i] = v;
    }
  }
  for (let k = 0; k < dout; k++) {
    for (let l = 0; l < dout; l++) {
      let v = Q[k * dout + l]!;
      for (let i = 0; i < din; i++) for (let j = 0; j < din; j++) v += B[k * din + i]! * Szz[i * din + j]! * B[l * din + j]!;
      sigma0[(din + k) * D + din + l] = v;
    }
  }
  return { mu0, sigma0, strength };
}

describe("dynamics under a normal-inverse-Wishart prior", () => {
  const N = 30;
  const Z = points(N, 4);

  it("is ordinary least squares with an intercept when the prior vanishes", () => {
    const prior = linearPrior([9, 9, 9, 9, 9, 9], [5, 5], [1, 0, 0, 1], [3, 3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-10);
    const fit = posteriorConditional(Z, N, din, dout, prior, 0);
    // Least squares by the normal equations (a negligible ridge).
    const X = new Float64Array(N * (din + 1));
    const Y = new Float64Array(N * dout);
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < din; i++) X[n * (din + 1) + i] = Z[n * D + i]!;
      X[n * (din + 1) + din] = 1;
      for (let i = 0; i < dout; i++) Y[n * dout + i] = Z[n * D + din + i]!;
    }
    const W = transpose(ridge(X, Y, N, din + 1, dout, 1e-12), din + 1, dout); // dout x (din + 1)
    for (let i = 0; i < dout; i++) {
      for (let j = 0; j < din; j++) assert.ok(Math.abs(fit.F[i * din + j]! - W[i * (din + 1) + j]!) < 1e-7, `F[${i},${j}] ${fit.F[i * din + j]} vs ${W[i * (din + 1) + j]}`);
      assert.ok(Math.abs(fit.f[i]! - W[i * (din + 1) + din]!) < 1e-7, `f[${i}] ${fit.f[i]} vs ${W[i * (din + 1) + din]}`);
    }
    // The residual covariance is the least-squares residuals' (divided by N).
    for (let i = 0; i < dout; i++) {
      let want = 0;
      for (let n = 0; n < N; n++) {
        let r = Y[n * dout + i]! - W[i * (din + 1) + din]!;
        for (let j = 0; j < din; j++) r -= W[i * (din + 1) + j]! * X[n * (din + 1) + j]!;
        want += (r * r) / N;
      }
      assert.ok(Math.abs(fit.cov[i * dout + i]! - want) < 1e-7, `cov[${i}] ${fit.cov[i * dout + i]} vs ${want}`);
    }
    // And it is close to the generating model.
    for (let i = 0; i < dout * din; i++) assert.ok(Math.abs(fit.F[i]! - A[i]!) < 0.1);
  });

  it("is the prior's own conditional with no points, and moves toward the data with more of them", () => {
    const B = [1, 0, 2, -1, 0.5, 0];
    const b = [0.3, -0.7];
    const Q = [0.2, 0.05, 0.05, 0.1];
    const prior = linearPrior(B, b, Q, [1, -1, 0.5], [2, 0.3, 0, 0.3, 1, 0.2, 0, 0.2, 0.5], 4);
    const fit = posteriorConditional(new Float64Array(0), 0, din, dout, prior, 0);
    for (let i = 0; i < dout * din; i++) assert.ok(Math.abs(fit.F[i]! - B[i]!) < 1e-9, `F ${Array.from(fit.F)}`);
    for (let i = 0; i < dout; i++) assert.ok(Math.abs(fit.f[i]! - b[i]!) < 1e-9, `f ${Array.from(fit.f)}`);
    for (let i = 0; i < dout * dout; i++) assert.ok(Math.abs(fit.cov[i]! - Q[i]!) < 1e-9, `cov ${Array.from(fit.cov)}`);
    // The distance to the data's model falls as points are added.
    const dist = (F: Float64Array) => F.reduce((s, v, i) => s + (v - A[i]!) ** 2, 0);
    const d = [0, 5, 30].map((n) => dist(posteriorConditional(Z, n, din, dout, prior).F));
    assert.ok(d[0]! > d[1]! && d[1]! > d[2]!, `distances ${d}`);
  });

  it("refuses no points without a prior", () => {
    assert.throws(() => posteriorConditional(new Float64Array(0), 0, din, dout, null), /no points and no prior/);
  });

  it("under the mixture prior fitted to an optimizer's runs, finds x_{t+1} = x_t + u_t from 3 runs in 6 dimensions", () => {
    const n = 3;
    const T = 6;
    const task = quadraticTaskFrom({ W: new Float32Array([1, 0, 0, 0, 2, 0, 0, 0, 0.5]), y: new Float32Array([1, -1, 2]), dim: n, instances: 1 });
    const diag = (v: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? v : 0));
    const p: Controller = { n, T, K: Array.from({ length: T }, () => diag(-0.2)), k: Array.from({ length: T }, () => new Float64Array(n)), cov: Array.from({ length: T }, () => diag(0.01)), chol: Array.from({ length: T }, () => diag(0.1)) };
    const run = (s: number, x0: number[]) => rollout(task, new Float32Array(x0), T, 2, key(0), controllerActor(p, foldIn(key(9), s)));
    const pool = Array.from({ length: 40 }, (_, s) => run(s, [0.5 + 0.1 * (s % 5), 0.2 - 0.05 * (s % 7), -0.3]));
    const gmm = fitDynamicsGmm(pool, key(1));
    const few = [0, 1, 2].map((s) => run(100 + s, [0.6, 0.1, -0.2]));
    for (let t = 0; t < T; t++) {
      const fit = fitStepWithGmm(gmm, few, t);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < 2 * n; j++) {
          const want = j === i || j === n + i ? 1 : 0;
          assert.ok(Math.abs(fit.F[i * 2 * n + j]! - want) < 0.02, `t ${t}: F[${i},${j}] = ${fit.F[i * 2 * n + j]}`);
        }
      }
    }
  });
});

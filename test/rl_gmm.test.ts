/**
 * The Gaussian mixture of the dynamics prior: EM never lowers its (penalised) likelihood, and
 * it recovers the weights, means and covariances of well-separated clusters it was drawn from.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldIn, key, normal, uniform } from "../src/core/rng.ts";
import { fitGmm, gmmMoments, responsibilities } from "../src/rl/gmm.ts";

/** N points of D from the given clusters: x = mean + A z, z standard normal; cluster k for a fraction w_k. */
function draw(N: number, D: number, clusters: { w: number; mean: number[]; A: number[] }[], seed: number): { X: Float64Array; label: Int32Array } {
  const X = new Float64Array(N * D);
  const label = new Int32Array(N);
  const u = uniform(foldIn(key(seed), "pick"), N);
  for (let n = 0; n < N; n++) {
    let k = 0;
    let acc = clusters[0]!.w;
    while (u[n]! > acc && k < clusters.length - 1) acc += clusters[++k]!.w;
    label[n] = k;
    const z = normal(foldIn(key(seed), n), D);
    const c = clusters[k]!;
    for (let i = 0; i < D; i++) {
      let v = c.mean[i]!;
      for (let j = 0; j < D; j++) v += c.A[i * D + j]! * z[j]!;
      X[n * D + i] = v;
    }
  }
  return { X, label };
}

const clusters = [
  { w: 0.5, mean: [0, 0, 0], A: [1, 0, 0, 0.5, 0.5, 0, 0, 0, 0.3] },
  { w: 0.3, mean: [8, -6, 2], A: [0.4, 0, 0, 0, 1.2, 0, 0, 0.3, 0.6] },
  { w: 0.2, mean: [-7, 5, 9], A: [0.7, 0, 0, 0, 0.7, 0, 0, 0, 0.7] },
];
const D = 3;
const N = 3000;
const { X, label } = draw(N, D, clusters, 1);

describe("Gaussian mixture by EM", () => {
  it("never lowers the penalised log-likelihood, and with a vanishing regulariser the plain one", () => {
    for (const reg of [1e-2, 1e-9]) {
      const fit = fitGmm(X, N, D, { clusters: 3, key: key(3), reg, iterations: 40, tol: 0 });
      assert.ok(fit.objective.length >= 5, `ran ${fit.objective.length} iterations`);
      for (let i = 1; i < fit.objective.length; i++) {
        const slack = 1e-9 * Math.abs(fit.objective[i]!);
        assert.ok(fit.objective[i]! >= fit.objective[i - 1]! - slack, `reg ${reg}: objective fell at ${i}: ${fit.objective[i - 1]} -> ${fit.objective[i]}`);
        if (reg < 1e-6) assert.ok(fit.logLik[i]! >= fit.logLik[i - 1]! - slack, `log-likelihood fell at ${i}`);
      }
      assert.ok(fit.objective[fit.objective.length - 1]! > fit.objective[0]!, "EM improved nothing");
    }
  });

  it("recovers the weights, means and covariances of the clusters it was drawn from", () => {
    const { gmm } = fitGmm(X, N, D, { clusters: 3, key: key(5), reg: 1e-4 });
    for (const c of clusters) {
      // The fitted component nearest this cluster's mean.
      let best = 0;
      let bestDist = Infinity;
      for (let k = 0; k < 3; k++) {
        const d = c.mean.reduce((s, m, i) => s + (m - gmm.means[k]![i]!) ** 2, 0);
        if (d < bestDist) [best, bestDist] = [k, d];
      }
      assert.ok(Math.sqrt(bestDist) < 0.15, `mean ${c.mean} fitted as ${Array.from(gmm.means[best]!)}`);
      assert.ok(Math.abs(gmm.weights[best]! - c.w) < 0.04, `weight ${c.w} fitted as ${gmm.weights[best]}`);
      // Covariance A A^T, entrywise.
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          let want = 0;
          for (let q = 0; q < D; q++) want += c.A[i * D + q]! * c.A[j * D + q]!;
          const got = gmm.covs[best]![i * D + j]!;
          assert.ok(Math.abs(got - want) < 0.12 * Math.max(1, Math.abs(want)), `cov[${i},${j}] ${want} fitted as ${got}`);
        }
      }
    }
    // Nearly every point is assigned to the component of its own cluster.
    const { r } = responsibilities(gmm, X, N);
    const comp = new Int32Array(3).fill(-1);
    let agree = 0;
    for (let n = 0; n < N; n++) {
      let k = 0;
      for (let q = 1; q < 3; q++) if (r[n * 3 + q]! > r[n * 3 + k]!) k = q;
      if (comp[label[n]!] === -1) comp[label[n]!] = k;
      if (comp[label[n]!] === k) agree++;
    }
    assert.ok(agree > 0.99 * N, `${agree} of ${N} points in their cluster's component`);
  });

  it("moments toward points of one cluster are that cluster's mean and covariance", () => {
    const { gmm } = fitGmm(X, N, D, { clusters: 3, key: key(5), reg: 1e-4 });
    const idx: number[] = [];
    for (let n = 0; n < N && idx.length < 5; n++) if (label[n] === 1) idx.push(n);
    const P = new Float64Array(idx.length * D);
    idx.forEach((n, i) => P.set(X.subarray(n * D, n * D + D), i * D));
    const { mu0, sigma0 } = gmmMoments(gmm, P, idx.length);
    for (let i = 0; i < D; i++) assert.ok(Math.abs(mu0[i]! - clusters[1]!.mean[i]!) < 0.15, `mu0 ${Array.from(mu0)}`);
    assert.ok(Math.abs(sigma0[1 * D + 1]! - 1.44) < 0.2, `sigma0[1,1] ${sigma0[4]}`);
  });

  it("refuses more clusters than points", () => {
    assert.throws(() => fitGmm(X.subarray(0, 6), 2, D, { clusters: 3, key: key(0) }), /clusters must be an integer in \[1, 2\]/);
  });
});

/**
 * Guided policy search with controllers on the feature state, per group of coordinates: the
 * groups cover every coordinate once; on a separable quadratic the feature-state controller
 * found when the cost dominates is Newton's step -g / h at every sampled state (the fitted
 * model of each coordinate's share of the objective's change is exact there), which is what
 * the dense controller on x fitted to the same runs gives there too; the KL bisection
 * meets its bound; the controllers' size does not depend on the parameter count, so a task over
 * GPS_MAX_PARAMS parameters trains (and is still refused on x); a short training lowers the
 * policy's cost on its training conditions.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { foldIn, key } from "../src/core/rng.ts";
import { logisticRegressionFamily } from "../src/tasks/logistic_regression.ts";
import { quadraticTaskFrom } from "../src/tasks/quadratic.ts";
import { GPS_MAX_PARAMS, trainGps } from "../src/rl/gps.ts";
import { trainGpsGrouped } from "../src/rl/gps_groups.ts";
import { matvec } from "../src/rl/linalg.ts";
import { backward, fitLocalModel, type Controller } from "../src/rl/lqr.ts";
import { coordinateGroups, parseGroupSpec } from "../src/rl/groups.ts";
import { controllerMean, featureBackward, featureKl, fitFeatureModel, sampleCount, solveFeatureWithKl, stateAt, type FeatureController, type FeatureTerms, type GroupSamples } from "../src/rl/lqr_features.ts";
import { relativeCosts, trainingDraw } from "../src/rl/pg.ts";
import { initPolicyPhi, policyShape } from "../src/rl/policy.ts";
import { policyActor, rollout } from "../src/rl/rollout.ts";

describe("coordinate groups", () => {
  const layout = new ParamLayout([{ name: "w", shape: [3, 4] }, { name: "b", shape: [4] }, { name: "v", shape: [5] }]);
  const covers = (gs: Int32Array[]): void => assert.deepEqual(gs.flatMap((g) => [...g]).sort((a, b) => a - b), Array.from({ length: 21 }, (_, i) => i));
  it("covers every coordinate exactly once: all, per tensor, k blocks", () => {
    covers(coordinateGroups(layout, "all"));
    const t = coordinateGroups(layout, "tensors");
    assert.deepEqual(t.map((g) => g.length), [12, 4, 5]);
    covers(t);
    const k = coordinateGroups(layout, 4);
    assert.deepEqual(k.map((g) => g.length), [5, 5, 5, 6]);
    covers(k);
    assert.throws(() => coordinateGroups(layout, 22), /22 groups asked for a task of 21 parameters/);
  });
  it("parses --groups and names a bad value", () => {
    assert.equal(parseGroupSpec("tensors"), "tensors");
    assert.equal(parseGroupSpec("12"), 12);
    for (const bad of ["0", "-1", "2.5", "layers", "", "99999"]) assert.throws(() => parseGroupSpec(bad), (e: unknown) => e instanceof ConfigError && /groups must be 'all', 'tensors' or an integer/.test((e as Error).message), bad);
  });
});

describe("controllers on the feature state", () => {
  // f(x) = ||c x - y||^2 over 8 coordinates: separable, the same curvature h = 2 c^2 in each.
  const n = 8;
  const c = 1.5;
  const h = 2 * c * c;
  const W = new Float32Array(n * n);
  for (let i = 0; i < n; i++) W[i * n + i] = c;
  const task = quadraticTaskFrom({ W, y: Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)), dim: n, instances: 1 });
  const shape = policyShape({ history: 2, hidden: 4, initLr: 0.05, initStd: 0.05 });
  const phi = initPolicyPhi(shape, key(1));
  const T = 6;
  const x0 = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i));
  const runs = Array.from({ length: 6 }, (_, s) => rollout(task, x0, T, 2, key(0), policyActor(shape, phi, foldIn(key(5), s))));
  const g: GroupSamples = { runs, coords: Int32Array.from({ length: n }, (_, i) => i), d: shape.F };
  const model = fitFeatureModel(g, 1 / runs[0]!.losses[0]!);
  const d = shape.F;
  const prior: FeatureController = { d, T, K: Array.from({ length: T }, () => new Float64Array(d)), k: new Float64Array(T), S: new Float64Array(T).fill(0.05 ** 2) };
  const terms: FeatureTerms = { prior, policyK: prior.K, policyk: prior.k, policyPrecision: 1, lambda: new Float64Array(T), nu: 0 };

  it("gives Newton's step -g / h at every sampled state when the cost dominates", () => {
    const p = featureBackward(model, terms, 1e-7);
    assert.ok(p !== null);
    let worst = 0;
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < sampleCount(g); s++) {
        const z = stateAt(g, s, t);
        const newton = -z[0]! / h;
        worst = Math.max(worst, Math.abs(controllerMean(p, t, z) - newton) / Math.max(Math.abs(newton), 1e-3));
      }
    }
    assert.ok(worst < 0.02, `largest relative distance to Newton's step ${worst}`);
  });

  it("agrees at the samples with the dense controller on x fitted to the same runs (the ungrouped GPS)", () => {
    const p = featureBackward(model, terms, 1e-7)!;
    const zeros = (m: number) => Array.from({ length: T }, () => new Float64Array(m));
    const diag = (v: number) => Array.from({ length: T }, () => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? v : 0)));
    const dense: Controller = { n, T, K: zeros(n * n), k: zeros(n), cov: diag(0.05 ** 2), chol: diag(0.05) };
    const q = backward(fitLocalModel(runs, 1 / runs[0]!.losses[0]!), { prior: dense, policy: { A: zeros(n * n), b: zeros(n) }, policyPrecision: 1, lambda: zeros(n), nu: 0 }, 1e-7)!;
    let worst = 0;
    for (let t = 0; t < T; t++) {
      for (const r of runs) {
        const onX = matvec(q.K[t]!, r.xs[t]!, n, n).map((v, i) => v + q.k[t]![i]!);
        for (let i = 0; i < n; i++) {
          const onFeatures = controllerMean(p, t, r.feats[t]!.subarray(i * d, (i + 1) * d));
          worst = Math.max(worst, Math.abs(onFeatures - onX[i]!) / Math.max(Math.abs(onX[i]!), 1e-3));
        }
      }
    }
    assert.ok(worst < 0.02, `largest relative distance between the grouped and the dense controller's means ${worst}`);
  });

  it("stays at the previous controller when the KL term dominates, and meets a KL bound by bisection", () => {
    const still = featureBackward(model, terms, 1e9)!;
    const z = stateAt(g, 3, 2);
    assert.ok(Math.abs(controllerMean(still, 2, z)) < 1e-6 && Math.abs(still.S[2]! / 0.05 ** 2 - 1) < 1e-6, `mean ${controllerMean(still, 2, z)}, variance ${still.S[2]}`);
    for (const bound of [0.05, 0.5]) {
      const r = solveFeatureWithKl(model, terms, g, bound);
      const kl = featureKl(r.controller, g, () => 0, (t) => prior.S[t]!);
      assert.ok(kl <= bound + 1e-12 && kl > 0.8 * bound, `bound ${bound}: KL ${kl}`);
    }
  });
});

describe("grouped guided policy search", () => {
  const shape = policyShape({ history: 3, hidden: 6, initLr: 0.02, initStd: 0.05 });
  const opts = { steps: 8, iterations: 1, conditions: 2, samples: 3, lr: 0.02, seed: 2, fitSteps: 5 };

  it("has controllers whose size does not depend on the parameter count, and trains past the dense limit", () => {
    const small = logisticRegressionFamily({ dim: 7, points: 30 });
    const large = logisticRegressionFamily({ dim: 2 * GPS_MAX_PARAMS, points: 30 });
    const sizes = [small, large].map((family) => {
      const r = trainGpsGrouped(shape, initPolicyPhi(shape, key(0)), { ...opts, family, groups: 2 });
      assert.ok(r.costs.every(Number.isFinite), `costs ${r.costs}`);
      return r.controllers.flatMap((cs) => cs.map((p) => [p.T, p.K.length, ...p.K.map((K) => K.length), p.k.length, p.S.length]));
    });
    assert.equal(sizes[0]!.length, 4); // 2 conditions x 2 groups
    assert.deepEqual(sizes[0], sizes[1]);
    assert.ok(sizes[0]!.every((s) => s.every((v, i) => v === (i === 0 || i === 1 || i >= 10 ? opts.steps : shape.F))), JSON.stringify(sizes[0]));
    assert.throws(() => trainGps(shape, initPolicyPhi(shape, key(0)), { ...opts, family: large }), /has 513 parameters.*--controller-state features/);
  });

  it("lowers the noise-free policy's cost on its logistic-regression training conditions", () => {
    const family = logisticRegressionFamily({ dim: 2, points: 40 });
    const o = { ...opts, family, steps: 12, iterations: 5, conditions: 3, samples: 4, fitSteps: 60, groups: "all" as const };
    const root = foldIn(key(o.seed), "rl/gps");
    const phi0 = initPolicyPhi(shape, key(0));
    const before =
      [0, 1, 2].reduce((s, j) => {
        const c = trainingDraw(family, root, 0, j);
        return s + relativeCosts(rollout(c.task, c.theta0, o.steps, 3, c.batchKey, policyActor(shape, phi0, null))).reduce((a, b) => a + b, 0) / o.steps;
      }, 0) / 3;
    const { costs } = trainGpsGrouped(shape, phi0, o);
    assert.ok(costs[costs.length - 1]! < 0.9 * before, `policy cost ${before} before, ${costs.join(", ")} during`);
  });
});

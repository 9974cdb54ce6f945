/**
 * Guided policy search's pieces: the local model fitted from samples recovers a quadratic's
 * dynamics and Hessian exactly; the iLQG backward pass gives the known optimal last step when
 * the cost dominates and stays at the previous controller when the KL weight does; the KL
 * bisection meets its bound; a short training lowers the policy's cost on logistic regression,
 * with Levine et al.'s mixture prior, KL through the model and adaptive step, and without.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { quadraticTaskFrom } from "../src/tasks/quadratic.ts";
import { logisticRegressionFamily } from "../src/tasks/logistic_regression.ts";
import { backward, controllerKl, fitLocalModel, solveWithKl, type Controller } from "../src/rl/lqr.ts";
import { controllerActor, trainGps } from "../src/rl/gps.ts";
import { initialState, modelKl } from "../src/rl/trajectory_kl.ts";
import { relativeCosts, trainingDraw } from "../src/rl/pg.ts";
import { initPolicyPhi, policyShape } from "../src/rl/policy.ts";
import { policyActor, rollout } from "../src/rl/rollout.ts";

const n = 3;
const T = 4;
// f(x) = ||W x - y||^2 with W diagonal: Hessian 2 W^2.
const W = new Float32Array([1, 0, 0, 0, 2, 0, 0, 0, 0.5]);
const task = quadraticTaskFrom({ W, y: new Float32Array([1, -1, 2]), dim: n, instances: 1 });
const x0 = new Float32Array([0.5, 0.2, -0.3]);

function gaussianController(std: number): Controller {
  const z = () => new Float64Array(n * n);
  const diag = (v: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? v : 0));
  return { n, T, K: Array.from({ length: T }, z), k: Array.from({ length: T }, () => new Float64Array(n)), cov: Array.from({ length: T }, () => diag(std * std)), chol: Array.from({ length: T }, () => diag(std)) };
}

const samplesOf = (p: Controller, M: number) => Array.from({ length: M }, (_, s) => rollout(task, x0, T, 2, key(0), controllerActor(p, foldIn(key(7), s))));

describe("guided policy search: local models and the backward pass", () => {
  const prior = gaussianController(0.3);
  const runs = samplesOf(prior, 12);
  const f0 = runs[0]!.losses[0]!;
  const model = fitLocalModel(runs, 1 / f0);

  it("fits x_{t+1} = x_t + u_t and the quadratic's Hessian (relative to f(x_0)) from samples", () => {
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < 2 * n; j++) {
          const want = j === i || j === n + i ? 1 : 0;
          assert.ok(Math.abs(model.F[t]![i * 2 * n + j]! - want) < 1e-4, `F[${t}][${i},${j}] = ${model.F[t]![i * 2 * n + j]}`);
        }
      }
    }
    for (let t = 1; t <= T; t++) {
      for (let i = 0; i < n; i++) {
        const want = (2 * W[i * n + i]! ** 2) / f0;
        assert.ok(Math.abs(model.C[t]![i * n + i]! - want) < 1e-3 * want, `C[${t}][${i}] = ${model.C[t]![i * n + i]}, want ${want}`);
      }
    }
  });

  const terms = { prior, policy: { A: prior.K, b: prior.k }, policyPrecision: 1, lambda: Array.from({ length: T }, () => new Float64Array(n)), nu: 0 };
  const states = (t: number, s: number) => runs[s]!.xs[t]!;

  it("gives the minimiser's step when the cost dominates (eta small), the previous controller when the KL term does", () => {
    const greedy = backward(model, terms, 1e-7)!;
    // The last step's cost is f(x + u): its minimiser is u = x* - x, so K = -I.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(greedy.K[T - 1]![i * n + j]! - (i === j ? -1 : 0)) < 1e-3, `K[${i},${j}] = ${greedy.K[T - 1]![i * n + j]}`);
    const timid = backward(model, terms, 1e9)!;
    assert.ok(controllerKl(timid, prior, states, runs.length) < 1e-6);
    assert.ok(controllerKl(greedy, prior, states, runs.length) > 1);
  });

  it("chooses eta so that the KL to the previous controller meets the bound, at the samples or through the model", () => {
    const init = initialState(runs.map((r) => r.xs[0]!));
    for (const bound of [0.05, 0.5]) {
      const r = solveWithKl(model, terms, bound, (c) => controllerKl(c, prior, states, runs.length));
      assert.ok(r.kl <= bound && r.kl > 0.8 * bound, `bound ${bound}: KL ${r.kl} at eta ${r.eta}`);
      const m = solveWithKl(model, terms, bound, (c) => modelKl(c, prior, model, init));
      assert.ok(m.kl <= bound && m.kl > 0.8 * bound, `bound ${bound}: KL through the model ${m.kl} at eta ${m.eta}`);
    }
  });
});

describe("guided policy search: training", () => {
  for (const variant of [{}, { dynamicsPrior: "pooled", klEstimate: "samples", stepRule: "fixed" }] as const) {
  it(`lowers the noise-free policy's cost on its logistic-regression training conditions (${JSON.stringify(variant)})`, () => {
    const family = logisticRegressionFamily({ dim: 2, points: 40 });
    const shape = policyShape({ history: 3, hidden: 6, initLr: 0.02, initStd: 0.05 });
    const phi0 = initPolicyPhi(shape, key(0));
    const opts = { family, steps: 12, iterations: 5, conditions: 3, samples: 4, lr: 0.02, seed: 2, fitSteps: 60, ...variant };
    // The same conditions trainGps draws, for the cost before training.
    const root = foldIn(key(opts.seed), "rl/gps");
    const before =
      [0, 1, 2].reduce((s, j) => {
        const c = trainingDraw(family, root, 0, j);
        const r = rollout(c.task, c.theta0, opts.steps, 3, c.batchKey, policyActor(shape, phi0, null));
        return s + relativeCosts(r).reduce((a, b) => a + b, 0) / opts.steps;
      }, 0) / 3;
    const { costs, info } = trainGps(shape, phi0, opts);
    assert.ok(costs[costs.length - 1]! < 0.9 * before, `policy cost ${before} before, ${costs.join(", ")} during`);
    // The fixed rule keeps the bound; the adaptive one moves it after the first iteration.
    const mults = info.map((i) => i.stepMult);
    if ("stepRule" in variant) assert.ok(mults.every((m) => m === 1), `multipliers ${mults}`);
    else assert.ok(mults[0] === 1 && mults.slice(1).some((m) => m !== 1), `multipliers ${mults}`);
  });
  }

  it("gives every condition the same total weight in the S-step when asked, the controllers' precisions otherwise", () => {
    const family = logisticRegressionFamily({ dim: 2, points: 40 });
    const shape = policyShape({ history: 3, hidden: 6, initLr: 0.02, initStd: 0.05 });
    const shares = (balanceConditions: boolean): number[] => {
      let sums: number[] = [];
      trainGps(shape, initPolicyPhi(shape, key(0)), {
        family, steps: 12, iterations: 2, conditions: 3, samples: 3, lr: 0.02, seed: 2, fitSteps: 5, balanceConditions,
        onFit: (_it, rows) => {
          sums = [0, 0, 0];
          for (const r of rows) sums[r.cond] = sums[r.cond]! + r.weight;
        },
      });
      return sums;
    };
    const even = shares(true);
    for (const v of even) assert.ok(Math.abs(v / even[0]! - 1) < 1e-9, `balanced sums ${even}`);
    const raw = shares(false);
    assert.ok(Math.max(...raw) / Math.min(...raw) > 1.01, `precision sums ${raw}`);
  });
});

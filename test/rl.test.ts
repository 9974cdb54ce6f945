import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { key, normal } from "../src/core/rng.ts";
import type { Task, TaskFamily } from "../src/tasks/base.ts";
import { quadraticFamily, quadraticTaskFrom } from "../src/tasks/quadratic.ts";
import { newHistory, pushHistory, features } from "../src/learned/rl/history.ts";
import { runCg, runLbfgs } from "../src/rl/line_search_methods.ts";
import { initPolicyPhi, policyLogProb, policyLogProbGrad, policyShape } from "../src/rl/policy.ts";
import { reinforceGradient, trainPg } from "../src/rl/pg.ts";
import { loadRlPolicy, rlPolicyOptimizer, saveRlPolicy } from "../src/rl/optimizer.ts";
import { policyMean } from "../src/rl/policy.ts";
import { foldIn } from "../src/core/rng.ts";
import { logisticRegressionFamily } from "../src/tasks/logistic_regression.ts";
import { evaluate, runOptimizer, type Candidate } from "../src/eval/evaluate.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { drawInstance } from "../src/eval/evaluate.ts";
import { optimizerByName } from "../src/optimizers/registry.ts";
import { candidatePath, lineSearchPath } from "../src/rl/paths.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { policyActor, rollout } from "../src/rl/rollout.ts";

/** A 6-d quadratic ||W x - y||^2 with W well conditioned, and a counter of its evaluations. */
function countedQuadratic(d: number): { task: Task; count: () => number } {
  const W = normal(key(1), d * d, 0.3);
  for (let i = 0; i < d; i++) W[i * d + i] = W[i * d + i]! + 1.5;
  const inner = quadraticTaskFrom({ W, y: normal(key(2), d), dim: d, instances: 1 });
  let calls = 0;
  const task: Task = { ...inner, lossAndGrad: (t, k) => (calls++, inner.lossAndGrad(t, k)) };
  return { task, count: () => calls };
}

describe("history features", () => {
  it("hold the last gradients, steps and objective changes, newest first, zero before the run", () => {
    const h = newHistory(2, 3);
    pushHistory(h, [0, 0], 10, [1, 2]);
    pushHistory(h, [1, -1], 7, [3, 4]);
    const out = new Float64Array(9);
    features(h, 1, out);
    // gradients of coordinate 1: 4, 2, (none); steps: -1, (none), (none); f_t - f_{t-1} = -3.
    assert.deepEqual([...out], [4, 2, 0, -1, 0, 0, -3, 0, 0]);
  });
});

describe("policy", () => {
  it("has the log-likelihood gradient that finite differences give, for every tensor", () => {
    const shape = policyShape({ history: 3, hidden: 4 });
    const phi = Float64Array.from(initPolicyPhi(shape, key(0)));
    // Perturb so that no tensor sits at a special value (w2 and b2 start near 0).
    const jitter = normal(key(1), phi.length, 0.3);
    for (let i = 0; i < phi.length; i++) phi[i] = phi[i]! + jitter[i]!;
    const s = Float64Array.from(normal(key(2), shape.F));
    const a = 0.7;
    const g = new Float64Array(shape.size);
    policyLogProbGrad(shape, phi, s, 0, a, 1, g, new Float64Array(4));
    const eps = 1e-6;
    for (let i = 0; i < phi.length; i++) {
      const p = phi.slice();
      p[i] = phi[i]! + eps;
      const m = phi.slice();
      m[i] = phi[i]! - eps;
      const fd = (policyLogProb(shape, p, s, 0, a) - policyLogProb(shape, m, s, 0, a)) / (2 * eps);
      assert.ok(Math.abs(fd - g[i]!) <= 1e-6 * Math.max(1, Math.abs(fd)), `phi[${i}]: gradient ${g[i]}, finite differences ${fd}`);
    }
  });

  it("starts as gradient descent at initLr (mean step -initLr g)", () => {
    const shape = policyShape({ history: 4, hidden: 3, initLr: 0.05 });
    const phi = initPolicyPhi(shape, key(0));
    phi.fill(0, shape.oW2, shape.oW2 + 3); // no hidden path: the linear path alone
    const task = quadraticFamily({ dim: 3 }).sample(key(4));
    const x0 = task.init(key(5));
    const tr = rollout(task, x0, 1, 4, key(6), policyActor(shape, phi, null));
    const g = task.lossAndGrad(x0, key(0)).grad;
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(tr.actions[0]![i]! + 0.05 * g[i]!) < 1e-5 * Math.max(1, Math.abs(g[i]!)));
  });
});

describe("line-search baselines", () => {
  it("CG with an (almost) exact line search reaches a 6-d quadratic's minimum in 6 iterations, counting every evaluation", () => {
    const { task, count } = countedQuadratic(6);
    const x0 = normal(key(3), 6);
    const r5 = runCg(task, x0, 10_000, key(0), { c2: 1e-3, gtol: 0 });
    assert.equal(r5.evals, count(), "reported evaluations must equal the task's calls");
    // Budgeted so that it stops after 5 and 6 line searches: not there after 5, there after 6.
    const byIterations = new Map<number, number>();
    for (let e = 1; e <= 60; e++) {
      const r = runCg(task, x0, e, key(0), { c2: 1e-3 });
      if (!byIterations.has(r.iterations)) byIterations.set(r.iterations, r.curve[e - 1]!);
    }
    const f0 = byIterations.get(0)!;
    assert.ok(byIterations.get(5)! > 1e-8 * f0, `5 iterations already at ${byIterations.get(5)}`);
    assert.ok(byIterations.get(6)! < 1e-10 * f0, `6 iterations reach ${byIterations.get(6)} (start ${f0})`);
  });

  it("L-BFGS reaches the minimum of the quadratic within n + 2 iterations and counts evaluations", () => {
    const { task, count } = countedQuadratic(6);
    const r = runLbfgs(task, normal(key(3), 6), 200, key(0), { c2: 1e-3 });
    assert.equal(r.evals, count());
    assert.ok(r.iterations <= 8, `${r.iterations} iterations`);
    assert.ok(r.curve[199]! < 1e-9, `final objective ${r.curve[199]}`);
    // The curve never rises: it shows the accepted point's objective.
    for (let k = 1; k < 200; k++) assert.ok(r.curve[k]! <= r.curve[k - 1]! + 1e-12);
  });
});

describe("policy gradient", () => {
  it("improves a slow policy on 2-d bowls (REINFORCE with a baseline)", () => {
    const shape = policyShape({ history: 2, hidden: 4, initLr: 0.005, initStd: 0.02 });
    // ||x - c||^2 with c random: the best rate is 0.5, far above the policy's start.
    const family: TaskFamily = { name: "bowl", config: {}, sample: (k) => quadraticTaskFrom({ W: new Float32Array([1, 0, 0, 1]), y: normal(k, 2), dim: 2, instances: 1 }) };
    const phi0 = initPolicyPhi(shape, key(0));
    const { costs } = trainPg(shape, phi0, { family, steps: 10, iterations: 40, batch: 16, lr: 0.01, seed: 1 });
    const head = costs.slice(0, 5).reduce((a, b) => a + b) / 5;
    const tail = costs.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(tail < 0.8 * head, `mean relative cost ${head} at first, ${tail} at last`);
  });
});

describe("REINFORCE estimator", () => {
  it("has the expected cost's gradient as its expectation, times (1 - 1/batch), on a one-step 1-d problem", () => {
    // f(x) = (x - 1)^2 from x0 = 0: one step a ~ N(mu(s), std^2) costs f(a) / f(0), whose
    // expectation is J(phi) = (mu(s) - 1)^2 + std^2 in closed form.
    const shape = policyShape({ history: 1, hidden: 2, initLr: 0.15, initStd: 0.3 });
    const phi = Float64Array.from(initPolicyPhi(shape, key(0)));
    const jitter = normal(key(9), phi.length, 0.2);
    for (let i = 0; i < shape.oLogStd; i++) phi[i] = phi[i]! + jitter[i]!;
    const task = quadraticTaskFrom({ W: new Float32Array([1]), y: new Float32Array([1]), dim: 1, instances: 1 });
    const x0 = new Float32Array(1);
    const s = new Float64Array([-2, 0, 0]); // the features at x0: gradient -2, no step or change yet
    const J = (p: Float64Array): number => (policyMean(shape, p, s) - 1) ** 2 + Math.exp(2 * p[shape.oLogStd]!);
    const N = 16;
    const batches = 400;
    const sum = new Float64Array(shape.size);
    const sumSq = new Float64Array(shape.size);
    for (let b = 0; b < batches; b++) {
      const runs = [];
      for (let j = 0; j < N; j++) runs.push(rollout(task, x0, 1, 1, key(0), policyActor(shape, phi, foldIn(key(100 + b), j))));
      const g = reinforceGradient(shape, phi, runs, false);
      for (let i = 0; i < g.length; i++) {
        const v = g[i]! / (1 - 1 / N);
        sum[i] = sum[i]! + v;
        sumSq[i] = sumSq[i]! + v * v;
      }
    }
    const eps = 1e-6;
    let detectable = 0;
    for (let i = 0; i < shape.size; i++) {
      const p = phi.slice();
      p[i] = phi[i]! + eps;
      const m = phi.slice();
      m[i] = phi[i]! - eps;
      const exact = (J(p) - J(m)) / (2 * eps);
      const mean = sum[i]! / batches;
      const se = Math.sqrt(Math.max(0, sumSq[i]! / batches - mean * mean) / batches);
      assert.ok(Math.abs(mean - exact) <= 4 * se + 1e-6, `phi[${i}]: estimate ${mean} +- ${se}, exact ${exact}`);
      if (Math.abs(exact) > 10 * se) detectable++;
    }
    assert.ok(detectable >= 3, `only ${detectable} components where the test could tell a wrong estimate`);
  });
});

describe("policy gradient on logistic regression", () => {
  it("lowers the mean relative objective of a too-slow policy", () => {
    const family = logisticRegressionFamily({ dim: 2, points: 40 });
    const shape = policyShape({ history: 5, hidden: 8, initLr: 0.01, initStd: 0.02 });
    const { costs } = trainPg(shape, initPolicyPhi(shape, key(0)), { family, steps: 20, iterations: 30, batch: 8, lr: 0.01, seed: 3 });
    const head = costs.slice(0, 5).reduce((a, b) => a + b) / 5;
    const tail = costs.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(tail < 0.9 * head, `mean relative cost ${head} at first, ${tail} at last`);
  });
});

describe("the policy as a transform", () => {
  it("takes the rollout's mean steps under the evaluation protocol, and survives a file round trip", () => {
    const opt = rlPolicyOptimizer({ history: 4, hidden: 6, initLr: 0.3 });
    const phi = initPolicyPhi(opt.shape, key(1));
    const jitter = normal(key(2), phi.length, 0.05);
    for (let i = 0; i < phi.length; i++) phi[i] = phi[i]! + jitter[i]!;
    const family = logisticRegressionFamily({ dim: 3, points: 30 });
    const task = family.sample(key(5));
    const x0 = task.init(key(6));
    const viaTransform = runOptimizer(task, opt.optFn(phi, task.layout), x0, 15, key(7));
    const viaRollout = rollout(task, x0, 15, 4, key(7), policyActor(opt.shape, phi, null));
    for (let t = 0; t <= 15; t++) {
      assert.ok(Math.abs(viaTransform.losses[t]! - viaRollout.losses[t]!) <= 1e-6 * Math.abs(viaRollout.losses[t]!), `step ${t}`);
    }
    assert.ok(viaTransform.losses[15]! < viaTransform.losses[0]!, "the policy descends");

    const dir = mkdtempSync(join(tmpdir(), "l2o-rl-"));
    try {
      const path = join(dir, "p.safetensors");
      saveRlPolicy(path, opt.config, phi, { trainer: "test" });
      const back = loadRlPolicy(path);
      assert.deepEqual(back.opt.config, opt.config);
      assert.deepEqual([...back.phi], [...phi]);
      assert.equal(back.training.trainer, "test");
      const cand: Candidate = { label: "rl", tune: false, make: (_lr, layout) => back.opt.optFn(back.phi, layout) };
      const rep = evaluate(family, [cand], { steps: 15, instances: 3, seed: 0 });
      assert.equal(rep.results[0]!.meanLoss.length, 16);
      assert.ok(rep.results[0]!.finalMean < rep.results[0]!.meanLoss[0]!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("paths on a 2-D logistic regression", () => {
  it("visit one point per evaluation for gradient methods, the accepted points for L-BFGS, from the same start", () => {
    const inst = drawInstance(logisticRegressionFamily({ dim: 2, bias: false }), key(11));
    const sgd: Candidate = { label: "sgd", tune: true, make: (lr) => optimizerByName("sgd", lr!) };
    const p = candidatePath(sgd, 0.5, inst, 12);
    assert.equal(p.points.length, 12);
    // The first step is -0.5 g(x0).
    const g = inst.task.lossAndGrad(inst.theta0, key(0)).grad;
    assert.ok(Math.abs(p.points[1]![0] - (inst.theta0[0]! - 0.5 * g[0]!)) < 1e-6);
    const l = lineSearchPath("lbfgs", inst, 12);
    assert.deepEqual(l.points[0], p.points[0]);
    assert.ok(l.points.length >= 2 && l.points.length < 12, `${l.points.length} accepted points`);
    const f = (x: [number, number]) => inst.task.lossAndGrad(Float32Array.from(x), key(0)).loss;
    for (let i = 1; i < l.points.length; i++) assert.ok(f(l.points[i]!) < f(l.points[i - 1]!), "accepted points descend");
  });
});

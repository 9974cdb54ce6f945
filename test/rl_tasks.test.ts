import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { clusteredMlpFamily, type ClusteredMlpTask } from "../src/tasks/clustered.ts";
import { logisticRegressionFamily, logisticRegressionTaskFrom, LOGISTIC_REGRESSION_DEFAULTS, type LogisticRegressionTask } from "../src/tasks/logistic_regression.ts";
import { robustRegressionFamily, robustRegressionTaskFrom, ROBUST_REGRESSION_DEFAULTS } from "../src/tasks/robust_regression.ts";
import { taskFamily } from "../src/tasks/registry.ts";
import { smoketestTask } from "./conformance.ts";

describe("logistic-regression", () => {
  for (const [dim, bias] of [[3, true], [2, false], [10, true]] as const) {
    it(`passes the task conformance checks (dim ${dim}, bias ${bias})`, () => {
      const task = logisticRegressionFamily({ dim, bias }).sample(key(dim));
      assert.equal(task.layout.size, dim + (bias ? 1 : 0));
      smoketestTask(task, { eps: 1e-3, rtol: 1e-4, atol: 1e-7, hvpTol: 1e-3 });
    });
  }

  it("matches a hand-computed loss and gradient on two points", () => {
    // x = [1, 0] label +1, x = [0, 2] label -1; w = [0, 0], b = 0: each term log 2,
    // grad_w = (1/2)(-1/2 [1, 0] + 1/2 [0, 2]) = [-0.25, 0.5], grad_b = (1/2)(-1/2 + 1/2) = 0.
    const task = logisticRegressionTaskFrom(new Float64Array([1, 0, 0, 2]), Int8Array.from([1, -1]), { ...LOGISTIC_REGRESSION_DEFAULTS, dim: 2, l2: 0 });
    const { loss, grad } = task.lossAndGrad(new Float32Array(3), key(0));
    assert.ok(Math.abs(loss - Math.LN2) < 1e-12);
    assert.deepEqual([...grad], [-0.25, 0.5, 0]);
  });

  it("draws two classes of equal size, different per key", () => {
    const fam = logisticRegressionFamily();
    const a = fam.sample(key(1)) as LogisticRegressionTask;
    assert.equal(a.labels.filter((s) => s === 1).length, 50);
    assert.notDeepEqual((fam.sample(key(2)) as LogisticRegressionTask).x, a.x);
    assert.deepEqual((fam.sample(key(1)) as LogisticRegressionTask).x, a.x);
  });
});

describe("robust-regression", () => {
  it("passes the task conformance checks", () => {
    for (const seed of [0, 1]) smoketestTask(robustRegressionFamily().sample(key(seed)), { eps: 1e-3, rtol: 1e-4, atol: 1e-7 });
  });

  it("matches the Geman-McClure loss by hand, and saturates below 1", () => {
    // One point x = 1, y = 2; w = 0, b = 0: r = 2, loss 4 / 5; d/db = -2 r c^2 / (c^2 + r^2)^2 = -4 / 25.
    const task = robustRegressionTaskFrom(new Float64Array([1]), new Float64Array([2]), { ...ROBUST_REGRESSION_DEFAULTS, dim: 1 });
    const { loss, grad } = task.lossAndGrad(new Float32Array(2), key(0));
    assert.ok(Math.abs(loss - 0.8) < 1e-12);
    assert.ok(Math.abs(grad[1]! + 4 / 25) < 1e-7 && Math.abs(grad[0]! + 4 / 25) < 1e-7);
    assert.ok(task.lossAndGrad(new Float32Array([0, -1e6]), key(0)).loss < 1);
  });
});

describe("clustered-mlp", () => {
  it("passes the task conformance checks (ReLU: small steps)", () => {
    for (const seed of [0, 3]) smoketestTask(clusteredMlpFamily().sample(key(seed)), { eps: 1e-3, rtol: 1e-3, atol: 1e-6 });
    smoketestTask(clusteredMlpFamily({ dim: 5, hidden: 8, classes: 3 }).sample(key(7)), { eps: 1e-3, rtol: 1e-3, atol: 1e-6 });
  });

  it("uses every class, and reports accuracy", () => {
    const task = clusteredMlpFamily({ classes: 3, clusters: 6 }).sample(key(2)) as ClusteredMlpTask;
    assert.deepEqual(new Set(task.labels), new Set([0, 1, 2]));
    const acc = task.evaluate!(task.init(key(0))).accuracy!;
    assert.ok(acc >= 0 && acc <= 1);
  });
});

describe("registry entries", () => {
  it("resolves the three tasks by name and refuses bad configs with a ConfigError", () => {
    assert.equal(taskFamily("logistic-regression").sample(key(0)).layout.size, 4);
    assert.equal(taskFamily("robust-regression").sample(key(0)).layout.size, 4);
    assert.equal(taskFamily("clustered-mlp").sample(key(0)).layout.size, 12);
    assert.throws(() => taskFamily("logistic-regression", { dim: 0 }), (e: unknown) => e instanceof ConfigError && /'dim' must be an integer/.test(e.message));
    assert.throws(() => taskFamily("robust-regression", { c: 0 }), /'c' must be a finite number > 0/);
    assert.throws(() => taskFamily("clustered-mlp", { points: 1e9 }), /'points' must be an integer in/);
    assert.throws(() => taskFamily("clustered-mlp", { l2: Number.NaN }), /'l2' must be a finite number/);
  });
});

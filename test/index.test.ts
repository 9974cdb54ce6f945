import { test } from "node:test";
import assert from "node:assert/strict";
import * as l2o from "../src/index.ts";

test("the README's library example runs through the public entry point", () => {
  const { key, quadraticFamily, adam, lstmOptimizer, runOptimizer } = l2o;
  const family = quadraticFamily({ dim: 10 });
  const task = family.sample(key(1));
  const theta0 = task.init(key(2));
  const baseline = runOptimizer(task, adam(0.1), theta0, 100, key(3));
  const lstm = lstmOptimizer({ preprocess: { kind: "none" }, outputScale: 0.1 });
  const phi = lstm.init(key(4)).flat;
  const learned = runOptimizer(task, lstm.optFn(phi, task.layout, { copyState: false }), theta0, 100, key(3));
  assert.equal(baseline.losses.length, 101);
  assert.ok(baseline.losses[100]! < baseline.losses[0]! / 10, "Adam lr 0.1 should cut a quadratic's loss tenfold in 100 steps");
  assert.ok(Number.isFinite(learned.losses[100]!));
  assert.equal(learned.losses[0], baseline.losses[0]);
});

test("the entry point names its exports explicitly and exposes the main factories", () => {
  for (const name of ["quadraticFamily", "mnistMlpFamily", "adam", "nesterov", "lstmOptimizer", "metaTrain", "evaluate", "saveLearnedOptimizer", "loadLearnedOptimizer", "mlpOptimizer", "resolveOptimizer", "truncatedBptt"]) {
    assert.equal(typeof (l2o as Record<string, unknown>)[name], "function", name);
  }
});

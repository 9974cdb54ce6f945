/**
 * Wichrowska et al. 2017's training recipe as meta-training options for any kind: the log
 * loss-ratio meta-objective (metaLoss "logRatio": the gradient of "log", its value less log
 * f(theta_0) of the horizon, in truncated BPTT, ES/PES segments and validation) and
 * heavy-tailed horizon lengths (horizonSampling "logUniform").
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../src/core/errors.ts";
import { foldIn, key } from "../src/core/rng.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { resolveMetaTrainConfig, type MetaLossKind } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { metaTrain } from "../src/meta/train.ts";
import { truncatedBptt } from "../src/meta/truncated_bptt.ts";
import type { GradientEstimator, Truncation } from "../src/meta/estimator.ts";
import { startTrajectories, TrajectorySet } from "../src/meta/trajectory.ts";
import { horizonTruncations, initialLogLoss } from "../src/meta/recipe.ts";
import { runSegment } from "../src/meta/perturbed.ts";
import { validationInstances, validationScore } from "../src/meta/validation.ts";

const opt = () => lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 }, createReferenceEngine);
const family = quadraticFamily({ dim: 3, instances: 2 });
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("the log loss-ratio meta-objective", () => {
  it("truncated BPTT: the gradient of 'log' bit for bit, the meta-loss less log f(theta_0) of each horizon", () => {
    const o = opt();
    const phi = o.init(key(1)).flat;
    const layout = family.sample(key(0)).layout;
    const run = (metaLoss: MetaLossKind, index: number, set: TrajectorySet) => {
      const t: Truncation = { phi, index, length: 4, horizon: 8, metaLoss, metaLossFrom: 1, family };
      return truncatedBptt().estimate(t, set)!;
    };
    const sets = (["log", "logRatio"] as const).map((k) => {
      const set = new TrajectorySet(o.differentiable!(phi, layout, 4), startTrajectories(family, key(2), 0, 2));
      set.step.setPhi(phi);
      return [k, set] as const;
    });
    const items = sets[0]![1].items;
    // log f(theta_0): the task's loss summed over its functions, on the first minibatch.
    const log0 = items.map((tr) => Math.log(tr.instance.task.lossAndGrad(tr.instance.theta0, foldIn(tr.instance.batchKey, 0)).loss));
    assert.deepEqual(items.map((tr) => initialLogLoss(tr.instance)), log0);
    for (const index of [0, 1]) {
      const [a, b] = sets.map(([k, set]) => run(k, index, set));
      assert.deepEqual(bits(a!.grad), bits(b!.grad), `truncation ${index}: the same gradient`);
      const shift = (log0[0]! + log0[1]!) / 2;
      assert.ok(Math.abs(a!.metaLoss - shift - b!.metaLoss) < 1e-9, `truncation ${index}: ${a!.metaLoss} - ${shift} vs ${b!.metaLoss}`);
      // log f(theta_0) > 0 on these quadratics: the ratio reads lower.
      if (index === 1) assert.ok(b!.metaLoss < a!.metaLoss);
    }
  });

  it("ES and PES segments take the horizon's log f(theta_0) off the mean log loss", () => {
    const o = opt();
    const phi = o.init(key(3)).flat;
    const inst = startTrajectories(family, key(4), 0, 1)[0]!.instance;
    const seg = { task: inst.task, batchKey: inst.batchKey, position: 0, length: 5, horizon: 5, from: 1 };
    const start = { theta: inst.theta0, state: null };
    const log = runSegment(o, phi, start, { ...seg, metaLoss: "log" }).loss;
    const ratio = runSegment(o, phi, start, { ...seg, metaLoss: "logRatio", logLoss0: initialLogLoss(inst) }).loss;
    assert.equal(ratio, log - initialLogLoss(inst));
  });

  it("validation scores the mean log of f(theta_t) / f(theta_0)", () => {
    const o = opt();
    const phi = o.init(key(5)).flat;
    const valid = validationInstances(family, key(6), 3);
    const log = validationScore(o, phi, valid, 10, "log");
    const ratio = validationScore(o, phi, valid, 10, "logRatio");
    const log0 = valid.map((v) => Math.log(v.task.lossAndGrad(v.theta0, foldIn(v.batchKey, 0)).loss / v.task.instances));
    const want = log - log0.reduce((a, b) => a + b, 0) / valid.length;
    assert.ok(Math.abs(ratio - want) < 1e-9, `${ratio} vs ${want}`);
  });
});

describe("heavy-tailed horizons", () => {
  it("fixed gives horizon / unroll; logUniform draws k in 1 .. horizon / unroll with P(k) = log((k + 1) / k) / log(K + 1), the same per key", () => {
    const fixed = resolveMetaTrainConfig({ unroll: 5, horizon: 80 });
    assert.equal(horizonTruncations(fixed, key(0), 3), 16);
    const cfg = resolveMetaTrainConfig({ unroll: 5, horizon: 80, horizonSampling: "logUniform" });
    const draws = Array.from({ length: 4000 }, (_, h) => horizonTruncations(cfg, key(7), h));
    assert.deepEqual(draws.slice(0, 50), Array.from({ length: 50 }, (_, h) => horizonTruncations(cfg, key(7), h)));
    assert.notDeepEqual(draws.slice(0, 50), Array.from({ length: 50 }, (_, h) => horizonTruncations(cfg, key(8), h)));
    assert.ok(draws.every((k) => Number.isInteger(k) && k >= 1 && k <= 16));
    for (const k of [1, 2, 8, 16]) {
      const p = Math.log((k + 1) / k) / Math.log(17);
      const seen = draws.filter((d) => d === k).length / draws.length;
      // Four standard errors of a binomial proportion over 4000 draws.
      assert.ok(Math.abs(seen - p) < 4 * Math.sqrt((p * (1 - p)) / draws.length), `P(k = ${k}): ${seen} vs ${p}`);
    }
  });

  it("metaTrain runs each group of horizons for its drawn number of truncations, telling the estimator that horizon", () => {
    const o = opt();
    const cfg = resolveMetaTrainConfig({ unroll: 4, horizon: 32, epochs: 1, horizonsPerEpoch: 6, validationTasks: 1, horizonSampling: "logUniform" });
    const state = initMetaTrainState(o, cfg);
    const seen: [number, number][] = [];
    const spy: GradientEstimator = {
      name: "spy",
      estimate(t, set) {
        for (const tr of set.items) tr.position += t.length;
        seen.push([set.items[0]!.horizon, t.horizon]);
        return null;
      },
    };
    metaTrain(o, family, cfg, state, {}, spy);
    const want = Array.from({ length: 6 }, (_, h) => horizonTruncations(cfg, state.trainKey, h));
    for (let h = 0; h < 6; h++) {
      const mine = seen.filter(([x]) => x === h);
      assert.equal(mine.length, want[h], `horizon ${h}`);
      assert.ok(mine.every(([, horizon]) => horizon === want[h]! * 4));
    }
    assert.ok(new Set(want).size > 1, `the draws vary (${want.join(", ")})`);
  });

  it("configs: an unknown law or meta-loss, or metaLossFrom with varying horizons, is a ConfigError", () => {
    for (const bad of [{ horizonSampling: "pareto" }, { metaLoss: "ratio" }, { horizonSampling: "logUniform", metaLossFrom: 5 }]) {
      assert.throws(() => resolveMetaTrainConfig(bad as never), ConfigError, JSON.stringify(bad));
    }
  });
});

/**
 * The gradient-estimator and trajectory seams of meta-training: metaTrain tells every
 * estimator the optimizer, and gives one that runs it forward only a set without a
 * differentiable step; trajectories (PES's particles included) survive as records.
 * The estimators themselves are tested in meta_es_pes.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { key } from "../src/core/rng.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { resolveMetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { metaTrain } from "../src/meta/train.ts";
import { truncatedBptt } from "../src/meta/truncated_bptt.ts";
import type { Estimate, GradientEstimator, Truncation } from "../src/meta/estimator.ts";
import { pes } from "../src/meta/pes.ts";
import { startTrajectories, TrajectorySet } from "../src/meta/trajectory.ts";

const opt = () => lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 }, createReferenceEngine);
const family = quadraticFamily({ dim: 3, instances: 1 });
const trunc = (phi: Float32Array, index = 0): Truncation => ({ phi, index, length: 4, horizon: 8, metaLoss: "sum", metaLossFrom: 1, family });

describe("gradient estimators", () => {
  it("metaTrain names the optimizer to every estimator and gives a forward-only one a set without a step", () => {
    const o = opt();
    const seen: string[] = [];
    const spy = (forwardOnly: boolean): GradientEstimator => ({
      name: "spy",
      forwardOnly,
      estimate(t: Truncation, set: TrajectorySet): Estimate | null {
        assert.equal(t.optimizer, o);
        assert.equal(set.hasStep, !forwardOnly);
        if (forwardOnly) assert.throws(() => set.step, /no differentiable step/);
        for (const tr of set.items) tr.position += t.length;
        seen.push(`${forwardOnly ? "forward" : "step"} ${t.index}`);
        return null;
      },
    });
    const cfg = resolveMetaTrainConfig({ unroll: 4, horizon: 8, epochs: 1, horizonsPerEpoch: 1, validationTasks: 1 });
    for (const forwardOnly of [true, false]) metaTrain(o, family, cfg, initMetaTrainState(o, cfg), {}, spy(forwardOnly));
    assert.deepEqual(seen, ["forward 0", "forward 1", "step 0", "step 1"]);
  });
});

describe("trajectories", () => {
  it("a trajectory set rebuilt from its records continues exactly as the original", () => {
    const o = opt();
    const phi = o.init(key(4)).flat;
    const layout = family.sample(key(0)).layout;
    const est = truncatedBptt();
    const a = new TrajectorySet(o.differentiable(phi, layout, 4), startTrajectories(family, key(12), 5, 2));
    a.step.setPhi(phi);
    est.estimate(trunc(phi, 0), a);
    const records = a.records();
    assert.deepEqual(records.map((r) => [r.horizon, r.position, r.live]), [[5, 4, true], [6, 4, true]]);
    const b = TrajectorySet.fromRecords(o.differentiable(phi, layout, 4), family, key(12), records);
    b.step.setPhi(phi);
    const ra = est.estimate(trunc(phi, 1), a)!;
    const rb = est.estimate(trunc(phi, 1), b)!;
    assert.deepEqual(rb.grad, ra.grad);
    assert.equal(rb.metaLoss, ra.metaLoss);
    assert.deepEqual(b.items.map((t) => t.theta), a.items.map((t) => t.theta));
  });

  it("a PES set rebuilt from its records mid-horizon continues exactly: the particles travel in the record", () => {
    const o = opt();
    const phi = o.init(key(4)).flat;
    const est = pes({ sigma: 0.01, pairs: 2 });
    const t = (index: number): Truncation => ({ ...trunc(phi, index), optimizer: o });
    const a = new TrajectorySet(null, startTrajectories(family, key(12), 5, 2));
    est.estimate(t(0), a);
    const records = a.records();
    assert.deepEqual(records.map((r) => [r.horizon, r.position, r.particles?.length]), [[5, 4, 2], [6, 4, 2]]);
    // The perturbed particles diverged from one another.
    assert.notDeepEqual(records[0]!.particles![0]!.plus.theta, records[0]!.particles![0]!.minus.theta);
    const b = TrajectorySet.fromRecords(null, family, key(12), records);
    const ra = est.estimate(t(1), a)!;
    const rb = est.estimate(t(1), b)!;
    assert.deepEqual(rb.grad, ra.grad);
    assert.equal(rb.metaLoss, ra.metaLoss);
    // A fresh start of the same horizons resets the particles: the first truncation again.
    const c = new TrajectorySet(null, startTrajectories(family, key(12), 5, 2));
    assert.deepEqual(est.estimate(t(0), c)!.grad, est.estimate(t(0), TrajectorySet.fromRecords(null, family, key(12), records.map((r) => ({ ...r, position: 0 }))))!.grad);
  });
});

/**
 * The gradient-estimator and trajectory seams of meta-training: a toy estimator that sees only
 * losses (antithetic evolution strategies) runs through the same interface and loop as
 * truncated BPTT and estimates the same meta-gradient; trajectories survive as records.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { resolveMetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { metaTrain } from "../src/meta/train.ts";
import { truncatedBptt } from "../src/meta/truncated_bptt.ts";
import { localFrom, type Estimate, type GradientEstimator, type Truncation } from "../src/meta/estimator.ts";
import { batchKeys, startTrajectories, TrajectorySet } from "../src/meta/trajectory.ts";
import { advanceUnroll } from "../src/meta/unroll.ts";

/**
 * Antithetic ES on the sum of the truncation's losses after each step ("after" weights): for
 * each of `pairs` directions eps, (L(phi + s eps) - L(phi - s eps)) / (2 s) eps, from the same
 * trajectory state. It calls only the step's forward and the task's loss, never a backward.
 */
function toyEs(pairs: number, sigma: number, seed: number): GradientEstimator {
  let calls = 0;
  return {
    name: "toy-es",
    estimate(trunc: Truncation, set: TrajectorySet): Estimate | null {
      if (localFrom(trunc) > trunc.length) throw new Error("toy-es: every step counts");
      const grad = new Float32Array(trunc.phi.length);
      let loss = 0;
      set.items.forEach((tr, k) => {
        set.enter(k);
        const start = set.step.getState();
        const rollout = (phi: Float32Array): number => {
          set.step.setPhi(phi);
          set.step.setState(start);
          const keys = batchKeys(tr);
          let theta = tr.theta;
          let sum = 0;
          for (let t = 0; t < trunc.length; t++) {
            const { loss: f, grad: g } = tr.instance.task.lossAndGrad(theta, keys(t));
            theta = set.step.step(theta, g, { loss: f, step: tr.position + t }, false);
            sum += tr.instance.task.lossAndGrad(theta, keys(t + 1)).loss;
          }
          return sum;
        };
        const eps = normal(foldIn(key(seed), calls++), pairs * grad.length);
        for (let j = 0; j < pairs; j++) {
          const e = eps.subarray(j * grad.length, (j + 1) * grad.length);
          const plus = trunc.phi.map((p, i) => p + sigma * e[i]!);
          const minus = trunc.phi.map((p, i) => p - sigma * e[i]!);
          const d = (rollout(plus) - rollout(minus)) / (2 * sigma);
          for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! + (d * e[i]!) / pairs / set.items.length;
        }
        set.step.setPhi(trunc.phi);
        set.step.setState(start);
        const a = advanceUnroll({ task: tr.instance.task, step: set.step, theta: tr.theta, T: trunc.length, keys: batchKeys(tr) });
        loss += a.losses.slice(1).reduce((x, y) => x + y, 0);
        tr.theta = a.theta;
        tr.first = a.last;
        tr.position += trunc.length;
        set.leave(k);
      });
      return { metaLoss: loss / set.items.length, grad, live: set.items.length, diverged: 0 };
    },
  };
}

const opt = () => lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 }, createReferenceEngine);
const family = quadraticFamily({ dim: 3, instances: 1 });
const trunc = (phi: Float32Array, index = 0): Truncation => ({ phi, index, length: 4, horizon: 8, metaLoss: "sum", metaLossFrom: 1, family });

const cosine = (a: Float32Array, b: Float32Array): number => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
};

describe("gradient estimators", () => {
  it("a loss-only estimator (antithetic ES) estimates the exact meta-gradient through the same interface", () => {
    const o = opt();
    const phi = o.init(key(3)).flat;
    const estimateWith = (est: GradientEstimator): Estimate => {
      const step = o.differentiable(phi, family.sample(key(0)).layout, 4);
      step.setPhi(phi);
      const set = new TrajectorySet(step, startTrajectories(family, key(11), 0, 1));
      return est.estimate(trunc(phi), set)!;
    };
    // Second order: the exact gradient of the losses that ES sees (the task's gradient is not detached).
    const exact = estimateWith(truncatedBptt({ secondOrder: true }));
    const es = estimateWith(toyEs(2000, 1e-3, 5));
    // The toy's loss is the sum, TBPTT's the mean per step: compare directions.
    const c = cosine(es.grad, exact.grad);
    assert.ok(c > 0.95, `ES vs exact meta-gradient: cosine ${c}`);
    console.log(`ES vs exact meta-gradient: cosine ${c.toFixed(4)}`);
    assert.ok(Math.abs(es.metaLoss / 4 - exact.metaLoss) < 1e-6 * Math.abs(exact.metaLoss), `same losses: ${es.metaLoss / 4} vs ${exact.metaLoss}`);
  });

  it("metaTrain runs a loss-only estimator in place of truncated BPTT", () => {
    const o = opt();
    const cfg = resolveMetaTrainConfig({ unroll: 4, horizon: 8, epochs: 2, horizonsPerEpoch: 2, validationTasks: 2, metaLr: 0.01, seed: 2 });
    const s0 = initMetaTrainState(o, cfg);
    const scores: number[] = [];
    const { state } = metaTrain(o, family, cfg, s0, { onEpoch: (_s, score) => scores.push(score) }, toyEs(4, 1e-2, 9));
    assert.equal(state.metaIteration, 2 * 2 * 2);
    assert.equal(scores.length, 2);
    assert.notDeepEqual(Array.from(state.phi), Array.from(s0.phi));
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
});

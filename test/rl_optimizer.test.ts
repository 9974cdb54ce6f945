/**
 * A trained Li & Malik policy as a first-class learned optimizer: the registry builds it from
 * its file, the name rule takes `rl:FILE`, and its transform (init/update, the contract every
 * kind keeps) takes exactly the rollout's steps on the same keys, bit for bit.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { ConfigError } from "../src/core/errors.ts";
import { runOptimizer } from "../src/eval/evaluate.ts";
import { candidateFor } from "../src/eval/candidates.ts";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { learnedKind, LEARNED_KIND_NAMES } from "../src/learned/registry.ts";
import { resolveOptimizer } from "../src/learned/resolve.ts";
import { rlPolicyOptimizer } from "../src/learned/rl/optimizer.ts";
import { initPolicyPhi, policyMean } from "../src/learned/rl/policy.ts";
import { applyUpdates } from "../src/optimizers/transform.ts";
import { saveRlPolicy } from "../src/rl/optimizer.ts";
import { policyActor, rollout } from "../src/rl/rollout.ts";
import { logisticRegressionFamily } from "../src/tasks/logistic_regression.ts";
import { FileFormatError } from "../src/io/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-rl-optimizer-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A policy away from its initialisation (so its hidden layer and history matter). */
function jittered(config: { history: number; hidden: number; initLr: number }) {
  const opt = rlPolicyOptimizer(config);
  const phi = initPolicyPhi(opt.shape, key(1));
  const jitter = normal(key(2), phi.length, 0.05);
  for (let i = 0; i < phi.length; i++) phi[i] = phi[i]! + jitter[i]!;
  return { opt, phi };
}

const bits = (a: ArrayLike<number>): number[] => Array.from(new Float32Array(Array.from(a)), (v) => new Uint32Array(new Float32Array([v]).buffer)[0]!);

describe("the rl-policy kind", () => {
  it("is registered: built from a config, described, and refusing a bad config with ConfigError", () => {
    assert.ok(LEARNED_KIND_NAMES.includes("rl-policy"));
    const k = learnedKind("rl-policy");
    const opt = k.build({ history: 3, hidden: 4 });
    // w1 [9, 4], b1 [4], w2 [4], lin [9], b2, logStd.
    assert.equal(opt.phiSize, 9 * 4 + 4 + 4 + 9 + 1 + 1);
    assert.match(k.describe({ history: 3, hidden: 4 }).architecture, /history 3, 9 features per coordinate; one hidden layer of 4 tanh units/);
    assert.throws(() => k.build({ history: 0 }), ConfigError);
    assert.throws(() => k.build({ hidden: 5000 }), /'hidden' must be an integer in \[1, 4096\]/);
  });

  it("takes the rollout's steps on the same keys, to the bit: every update, point and objective", () => {
    const { opt, phi } = jittered({ history: 4, hidden: 6, initLr: 0.3 });
    const task = logisticRegressionFamily({ dim: 3, points: 30 }).sample(key(5));
    const x0 = task.init(key(6));
    const batchKey = key(7);
    const T = 20;
    const ref = rollout(task, x0, T, 4, batchKey, policyActor(opt.shape, phi, null));
    assert.equal(ref.diverged, false);
    // The transform driven by hand, as a user's training loop would: init, then update with the loss.
    const tx = opt.optFn(phi, task.layout);
    let theta = x0;
    let state = tx.init(theta);
    for (let t = 0; t < T; t++) {
      assert.deepEqual(bits(theta), bits(ref.xs[t]!), `point ${t}`);
      const { loss, grad } = task.lossAndGrad(theta, foldIn(batchKey, t));
      assert.equal(loss / task.instances, ref.losses[t], `objective ${t}`);
      const [upd, next] = tx.update(grad, state, theta, { loss, step: t, horizon: T });
      // The update is the policy's mean at the rollout's features, rounded to float32.
      const mean = Float32Array.from({ length: upd.length }, (_, i) => policyMean(opt.shape, phi, ref.feats[t]!, i * opt.shape.F));
      assert.deepEqual(bits(upd), bits(mean), `update ${t}`);
      state = next;
      theta = applyUpdates(theta, upd);
    }
    assert.deepEqual(bits(theta), bits(ref.xs[T]!));
    // And through the evaluation protocol: the same objective curve.
    assert.deepEqual(Array.from(runOptimizer(task, opt.optFn(phi, task.layout), x0, T, batchKey).losses), Array.from(ref.losses));
    assert.ok(ref.losses[T]! < ref.losses[0]!, "the policy descends");
  });

  it("loads by any name (path, rl:FILE, rl-policy:FILE) and runs as the rollout does; wrong kinds and updates without a loss are refused", () => {
    const { opt, phi } = jittered({ history: 3, hidden: 5, initLr: 0.2 });
    const path = join(dir, "policy.safetensors");
    saveRlPolicy(path, opt.config, phi, { trainer: "pg", task: "logistic-regression", taskConfig: { dim: 3 }, steps: 10 });
    const loaded = loadLearnedOptimizer(path);
    assert.equal(loaded.optimizer.kind, "rl-policy");
    assert.deepEqual(loaded.optimizer.config, opt.config);
    assert.deepEqual(bits(loaded.phi), bits(phi));
    const task = logisticRegressionFamily({ dim: 3, points: 30 }).sample(key(8));
    const x0 = task.init(key(9));
    const ref = rollout(task, x0, 12, 3, key(10), policyActor(opt.shape, phi, null));
    for (const spec of [path, `rl:${path}`, `rl-policy:${path}`]) {
      const r = resolveOptimizer(spec);
      assert.ok(r.source === "file" && r.loaded.optimizer.kind === "rl-policy", spec);
      const c = candidateFor(spec);
      assert.equal(c.tune, false);
      assert.deepEqual(Array.from(runOptimizer(task, c.make(undefined, task.layout), x0, 12, key(10)).losses), Array.from(ref.losses), spec);
      c.close?.();
    }
    assert.throws(() => resolveOptimizer("rl:pretrained/quadratic"), (e: unknown) => e instanceof FileFormatError && /holds a 'lstm' optimizer; expected kind 'rl-policy'/.test(e.message));
    assert.throws(() => resolveOptimizer("rl:"), /give the optimizer file after 'rl:'/);
    const tx = loaded.optimizer.optFn(loaded.phi, task.layout);
    assert.throws(() => tx.update(new Float32Array(task.layout.size), tx.init(x0), x0), /must carry the loss/);
    assert.throws(() => tx.update(new Float32Array(2), tx.init(x0), x0, { loss: 1 }), /made for 4 parameters/);
  });
});

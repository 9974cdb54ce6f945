/**
 * `taskFromModel`: a tfjs model factory and a dataset as an l2o TaskFamily. Its layout is the
 * model's variables, theta_0 a function of the key through the model's own initialisers, its
 * gradient checked by finite differences, its minibatches functions of the keys; it
 * meta-trains a learned optimizer; bad input is refused in one line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { L2oOptimizer, learned, LOSS_NAMES, taskFromModel, TfjsAdapterError, type ModelData } from "../src/adapters/tfjs/index.ts";
import { foldIn, key, normal } from "../src/core/rng.ts";
import { saveLearnedOptimizer } from "../src/learned/file.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { resolveMetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { metaTrain } from "../src/meta/train.ts";

await tf.setBackend("cpu");

/** A small regression problem: y = tanh(x A) + noise, 4 inputs, 2 outputs, 256 examples. */
function regression(n = 256): ModelData {
  const xs = normal(key(11), n * 4);
  const a = normal(key(12), 8);
  const ys = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += xs[i * 4 + k]! * a[k * 2 + j]!;
      ys[i * 2 + j] = Math.tanh(s);
    }
  }
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.tensor2d(ys, [n, 2]) };
}
const data = regression();
/** A 4-8-2 tanh network with tfjs's default initialisers (glorot uniform kernels, zero biases). */
const makeModel = (): tf.LayersModel =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: "tanh" }), tf.layers.dense({ units: 2 })] });

describe("taskFromModel", () => {
  const family = taskFromModel(makeModel, data, "meanSquaredError", { batchSize: 16, name: "tiny-regression", test: data });

  test("lays out the model's variables by position, and draws theta_0 from the key with the model's initialisers", () => {
    assert.deepEqual(family.layout.entries.map((e) => [e.name, e.shape, e.group]), [
      ["v0", [4, 8], "fc"],
      ["v1", [8], "fc"],
      ["v2", [8, 2], "fc"],
      ["v3", [2], "fc"],
    ]);
    assert.equal(family.config.parameters, 58);
    const task = family.sample(key(1));
    const a = task.init(key(2));
    assert.deepEqual(task.init(key(2)), a, "the same key gives the same theta_0");
    assert.notDeepEqual(task.init(key(3)), a, "another key another theta_0");
    const limit = Math.sqrt(6 / (4 + 8)); // glorot uniform, first kernel
    const kernel = family.layout.view(a, "v0");
    assert.ok(kernel.every((v) => Math.abs(v) <= limit) && kernel.some((v) => Math.abs(v) > limit / 2), "the first kernel is glorot uniform");
    assert.ok(family.layout.view(a, "v1").every((v) => v === 0), "biases start at zero");
  });

  test("the gradient agrees with finite differences; the minibatch is a function of the keys", () => {
    const task = family.sample(key(4));
    const theta = task.init(key(5));
    const k = key(6);
    const { loss, grad } = task.lossAndGrad(theta, k);
    assert.equal(task.lossAndGrad(theta, k).loss, loss, "the same keys give the same minibatch");
    assert.notEqual(task.lossAndGrad(theta, key(7)).loss, loss, "another step key another minibatch");
    assert.notEqual(family.sample(key(8)).lossAndGrad(theta, k).loss, loss, "another task another data order");
    const h = 1e-2;
    for (const i of [0, 13, 33, 40, 57]) {
      const up = new Float32Array(theta);
      const down = new Float32Array(theta);
      up[i]! += h;
      down[i]! -= h;
      const fd = (task.lossAndGrad(up, k).loss - task.lossAndGrad(down, k).loss) / (2 * h);
      assert.ok(Math.abs(fd - grad[i]!) < 2e-3 + 2e-2 * Math.abs(fd), `coordinate ${i}: finite differences ${fd}, gradient ${grad[i]}`);
    }
    const metrics = task.evaluate!(theta);
    assert.ok(Number.isFinite(metrics.loss!) && metrics.loss! > 0);
  });

  test("meta-trains a learned optimizer for a few iterations on it, which model.fit then uses from its file", async () => {
    const opt = lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 });
    const cfg = resolveMetaTrainConfig({ unroll: 5, horizon: 10, epochs: 2, horizonsPerEpoch: 2, validationTasks: 2, metaLr: 0.01, seed: 3 });
    const state0 = initMetaTrainState(opt, cfg);
    const iterations: number[] = [];
    const { state } = metaTrain(opt, family, cfg, state0, { onIteration: (_s, metaLoss) => iterations.push(metaLoss) });
    assert.equal(state.metaIteration, 8, "2 epochs x 2 horizons x 2 unrolls");
    assert.ok(iterations.length === 8 && iterations.every(Number.isFinite), `meta-losses ${iterations.join(", ")}`);
    assert.ok(Number.isFinite(state.bestScore));
    assert.notDeepEqual(state.phi, state0.phi, "meta-training moved phi");

    const dir = mkdtempSync(join(tmpdir(), "l2o-tfjs-task-"));
    try {
      const file = join(dir, "tiny.safetensors");
      saveLearnedOptimizer(file, opt, state.bestPhi);
      const model = makeModel();
      const before = model.getWeights().map((w) => w.dataSync().slice());
      model.compile({ optimizer: learned(file), loss: "meanSquaredError" });
      const losses = (await model.fit(data.x, data.y, { epochs: 2, batchSize: 64, shuffle: false, verbose: 0 })).history.loss as number[];
      assert.equal((model.optimizer as L2oOptimizer).iterations, 8);
      assert.ok(losses.every(Number.isFinite), `losses ${losses.join(", ")}`);
      assert.notDeepEqual(model.getWeights().map((w) => w.dataSync()), before, "the optimizer moved the weights");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bad input is refused in one line", () => {
    const oneLine = (re: RegExp) => (e: Error) => e instanceof TfjsAdapterError && re.test(e.message) && !e.message.includes("\n");
    assert.throws(() => taskFromModel(makeModel, data, "hinge" as never), oneLine(new RegExp(`unknown loss 'hinge' \\(known: ${LOSS_NAMES.join(", ")}`)));
    assert.throws(() => taskFromModel(makeModel, { x: data.x, y: data.y.slice(0, 10) }, "meanSquaredError"), oneLine(/256 examples, data.y 10/));
    assert.throws(() => taskFromModel(makeModel, data, "meanSquaredError", { batchSize: 0 }), oneLine(/batchSize/));
    assert.throws(() => taskFromModel(makeModel, { x: tf.zeros([8, 5]), y: tf.zeros([8, 2]) }, "meanSquaredError"), oneLine(/do not take the data/));
    let calls = 0;
    const growing = taskFromModel(() => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 + calls++ }), tf.layers.dense({ units: 2 })] }), data, "meanSquaredError");
    assert.throws(() => growing.sample(key(1)).init(foldIn(key(1), 1)), oneLine(/one architecture/));
  });
});

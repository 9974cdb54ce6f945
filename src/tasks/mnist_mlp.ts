/**
 * A multilayer perceptron classifying MNIST digits with softmax cross-entropy: the optimizee of
 * Andrychowicz et al. 2016, section 3.2 (one hidden layer of 20 sigmoid units, minibatches of
 * 128), with the variations the paper tries (more layers, ReLU activations). This file is the
 * task family and the public face of the MLP tasks; the config is in `mnist_mlp_config.ts`,
 * the task itself in `mlp_task.ts`.
 *
 * Two backends compute the loss, the gradient and the test-set logits (config `backend`):
 * - `wasm` (the default): the WebAssembly SIMD kernels of `assembly/mlp.ts` (see
 *   `mlp_wasm.ts`), one instance per family, the minibatch gathered straight into its memory.
 *   The same bits on every CPU.
 * - `jax`: jax-js (see `mlp_jax.ts`), `jit(valueAndGrad(loss))` over the flat parameter
 *   vector, one compiled function per architecture, shared by every task of that shape. Every
 *   MNIST number in docs/RESULTS.md and every shipped MNIST file was made with it, so it
 *   replays them bit for bit.
 * The two agree to float32 rounding (test/mlp_wasm.test.ts). Hessian-vector products (second
 * order) always come from jax-js, on the same minibatch.
 *
 * For 784-20-10 with batch 128 on the 2-core development machine, a loss and gradient with
 * the minibatch drawn takes about 0.3 ms with `wasm`, 1.3 ms with `jax`; a Hessian-vector
 * product about 7 ms; `evaluate` about 40 ms with `jax`.
 */
import { foldIn, randint, type Key } from "../core/rng.ts";
import { gatherImages, gatherPixels, loadMnist, MNIST_CLASSES, MNIST_PIXELS, type LoadMnistOptions } from "../data/mnist.ts";
import type { Task, TaskFamily } from "./base.ts";
import { EVAL_CHUNK, makeMlpTask, type Batch } from "./mlp_task.ts";
import { mlpWasm, type MlpWasm } from "./mlp_wasm.ts";
import { resolveMnistMlpConfig, type MnistMlpConfig, type ResolvedMnistMlpConfig } from "./mnist_mlp_config.ts";

export {
  MLP_ACTIVATIONS,
  MLP_BACKENDS,
  MNIST_MLP_DEFAULTS,
  MNIST_MLP_LIMITS,
  resolveMnistMlpConfig,
  type MlpActivation,
  type MlpBackend,
  type MnistMlpConfig,
  type ResolvedMnistMlpConfig,
} from "./mnist_mlp_config.ts";
export { mlpLayout, mlpTaskFrom, type MlpData } from "./mlp_task.ts";

/**
 * The MNIST MLP family of Andrychowicz et al. 2016, section 3.2: a 784-(hidden)-10 network,
 * batch-mean softmax cross-entropy on minibatches of `batchSize` training images drawn with
 * replacement. The minibatch is a pure function of the sampled task's key and the key passed
 * to `lossAndGrad`, so tasks sampled with different keys see different data orders.
 * `evaluate` gives the loss and accuracy on the 10,000 test images. Tasks differ only in
 * their data order; theta_0 comes from `init(key)`. MNIST is loaded on the first `sample`.
 */
export function mnistMlpFamily(config: MnistMlpConfig = {}, data: LoadMnistOptions = {}): TaskFamily<ResolvedMnistMlpConfig> {
  const cfg = resolveMnistMlpConfig(config);
  const dims = [MNIST_PIXELS, ...cfg.hidden, MNIST_CLASSES];
  // One set of kernels for every task of the family (calls are synchronous), made on first use.
  let wasm: MlpWasm | undefined;
  let params = 0;
  for (let k = 1; k < dims.length; k++) params += dims[k - 1]! * dims[k]! + dims[k]!;
  return {
    name: "mnist-mlp",
    config: cfg,
    // theta_0, and each task's labels (and, with jax, its own image buffer); the kernels and
    // MNIST itself are shared by every task.
    instanceBytes: 4 * params + cfg.batchSize * (cfg.backend === "wasm" ? 1 : 4 * MNIST_PIXELS + 1),
    sample(key: Key): Task {
      const mnist = loadMnist(data);
      const train = mnist.train;
      const B = cfg.batchSize;
      // One image buffer per task, refilled by every call: the batch is copied into jax-js
      // (np.array) before the next call, and a fresh 400 kB array per step was garbage enough
      // to move meta-training's peak memory.
      // With `wasm` that buffer is the kernels' own input rows.
      if (cfg.backend === "wasm") wasm ??= mlpWasm(dims, cfg.activation, Math.max(B, EVAL_CHUNK));
      const w = wasm;
      const images = w !== undefined ? w.x.subarray(0, B * MNIST_PIXELS) : new Float32Array(B * MNIST_PIXELS);
      const labels = new Uint8Array(B);
      const batch = (k: Key): Batch => {
        const idx = randint(foldIn(foldIn(k, key[0]), key[1]), B, 0, train.n);
        for (let i = 0; i < B; i++) labels[i] = train.labels[idx[i]!]!;
        if (w === undefined) return { x: gatherImages(train, idx, images), labels, n: B };
        // The kernels scale the bytes themselves (about 10x faster than gatherImages).
        gatherPixels(train, idx, w.bytes);
        w.rowsFromBytes(B);
        return { x: images, labels, n: B };
      };
      return makeMlpTask({
        name: "mnist-mlp",
        dims,
        activation: cfg.activation,
        initStd: cfg.initStd,
        batch,
        test: mnist.test,
        ...(wasm !== undefined ? { wasm } : {}),
      });
    },
  };
}

/**
 * A small convolutional network classifying images, the optimizee of Andrychowicz et al.
 * 2016, section 3.3 (Figure 7: three convolution layers with max pooling and batch
 * normalisation, then a fully connected layer of 32 units, on CIFAR-10). Here: per layer a 3x3
 * convolution with same padding, batch normalisation with the batch's own statistics (learned
 * scale and shift), ReLU and 2x2 max pooling; then a fully connected layer of `fc` ReLU units
 * and the output layer; mean softmax cross-entropy on minibatches drawn with replacement.
 *
 * Data: MNIST from the shipped package by default (1 x 28 x 28), or CIFAR-10 from the user's
 * own binary batches (`dataset: "cifar10"`, `dataDir`; 3 x 32 x 32). `labels` keeps some
 * classes (CIFAR-2 and CIFAR-5 style problems; the held-out-labels variant trains on some
 * classes and evaluates on others). Pixels are scaled to [0, 1].
 *
 * Backends (config `backend`): `wasm` (default; `cnn_wasm.ts`, the layers of
 * `src/kernels/conv.ts`) and `jax` (`cnn_jax.ts`, the reference). They agree to float32
 * rounding (test/cnn.test.ts). No Hessian-vector products (no second-order meta-training).
 *
 * `evaluate` gives the loss and accuracy on the first `testImages` test images of the kept
 * classes, in whole batches of `batchSize` (each batch normalised by its own statistics, as in
 * training: the task keeps no running averages, theta being all its state).
 */
import { foldIn, normal, randint, type Key } from "../core/rng.ts";
import { checkCifarDir, loadCifar10 } from "../data/cifar.ts";
import { loadMnist } from "../data/mnist.ts";
import { keepClasses, type LabelledSplit } from "../data/subset.ts";
import type { LossAndGrad, Metrics, Task, TaskFamily } from "./base.ts";
import { cnnDimsOf, cnnInput, resolveCnnConfig, type CnnConfig, type CnnDims, type ResolvedCnnConfig } from "./cnn_config.ts";
import { cnnJaxKernels } from "./cnn_jax.ts";
import { cnnLayout, cnnWasm, type CnnWasm } from "./cnn_wasm.ts";
import { f32, jax } from "./mlp_jax.ts";
import { tallyLogits, type LogitTally } from "./test_metrics.ts";

export { CNN_DEFAULTS, CNN_LIMITS, resolveCnnConfig, type CnnConfig, type ResolvedCnnConfig } from "./cnn_config.ts";
export { cnnLayout } from "./cnn_wasm.ts";

interface Splits {
  readonly train: LabelledSplit;
  readonly test: LabelledSplit;
}

function loadSplits(cfg: ResolvedCnnConfig): Splits {
  const raw: Splits = cfg.dataset === "mnist" ? loadMnist(cfg.dataDir === "" ? {} : { dir: cfg.dataDir }) : loadCifar10(cfg.dataDir);
  if (cfg.labels.length === 0) return raw;
  return { train: keepClasses(raw.train, cfg.labels, `${cfg.dataset} training set`), test: keepClasses(raw.test, cfg.labels, `${cfg.dataset} test set`) };
}

/** theta_0: He (N(0, 2 / fan-in) weights) or N(0, initStd^2); batch-norm scales 1, shifts and biases 0 under He. */
function initTheta(cfg: ResolvedCnnConfig, d: CnnDims, key: Key): Float32Array {
  const layout = cnnLayout(d);
  const theta = new Float32Array(layout.size);
  layout.entries.forEach((e, j) => {
    const v = theta.subarray(e.offset, e.offset + e.size);
    if (e.name.endsWith(".scale")) v.fill(1);
    else if (e.name.endsWith(".shift")) v.fill(0);
    else if (cfg.init === "normal") v.set(normal(foldIn(key, j), e.size, cfg.initStd));
    else if (e.name.endsWith(".w")) v.set(normal(foldIn(key, j), e.size, Math.sqrt(2 / fanIn(e.name, e.shape))));
  });
  return theta;
}

/** Inputs per output of a weight tensor: c*3*3 for a convolution [k, c, 3, 3], din for a dense [din, dout]. */
function fanIn(name: string, shape: readonly number[]): number {
  return name.startsWith("conv") ? shape[1]! * 9 : shape[0]!;
}

/**
 * The CNN family: tasks differ in their data order (the key) and theta_0 (`init(key)`). Data
 * is loaded on the first `sample`; a missing CIFAR-10 folder or file is reported at once.
 */
export function cnnFamily(config: CnnConfig = {}): TaskFamily<ResolvedCnnConfig> {
  const cfg = resolveCnnConfig(config);
  if (cfg.dataset === "cifar10") checkCifarDir(cfg.dataDir);
  const d = cnnDimsOf(cfg);
  const inp = cnnInput(cfg.dataset);
  const inSize = inp.c * inp.h * inp.w;
  const B = cfg.batchSize;
  const layout = cnnLayout(d);
  let wasm: CnnWasm | undefined;
  return {
    name: "cnn",
    config: cfg,
    // theta_0 and the task's labels (and, with jax, its images); the kernels' arena and the data are shared.
    instanceBytes: 4 * layout.size + B + (cfg.backend === "jax" ? 4 * B * inSize : 0),
    sample(key: Key): Task {
      const data = loadSplits(cfg);
      const train = data.train;
      if (cfg.backend === "wasm") wasm ??= cnnWasm(d, B);
      const w = wasm;
      const labels = new Uint8Array(B);
      const images = w === undefined ? new Float32Array(B * inSize) : undefined;
      /** Fills the batch of `k` (pixels into the kernels' bytes, or scaled into `images`) and its labels. */
      const fill = (k: Key): void => {
        const idx = randint(foldIn(foldIn(k, key[0]), key[1]), B, 0, train.n);
        for (let i = 0; i < B; i++) {
          const j = idx[i]!;
          labels[i] = train.labels[j]!;
          const px = train.pixels.subarray(j * inSize, (j + 1) * inSize);
          if (w !== undefined) w.bytes.set(px, i * inSize);
          else for (let p = 0; p < inSize; p++) images![i * inSize + p] = px[p]! / 255;
        }
      };
      const jaxArgs = (x: Float32Array, y: Uint8Array, n: number) => {
        const { numpy: jnp } = jax();
        const onehot = new Float32Array(n * d.classes);
        for (let i = 0; i < n; i++) onehot[i * d.classes + y[i]!] = 1;
        return [jnp.array(x).reshape([n, inp.c, inp.h, inp.w]), jnp.array(onehot).reshape([n, d.classes])] as const;
      };
      return {
        name: "cnn",
        layout,
        instances: 1,
        init: (k: Key): Float32Array => initTheta(cfg, d, k),
        lossAndGrad(theta: Float32Array, k: Key): LossAndGrad {
          layout.check(theta);
          fill(k);
          if (w !== undefined) return w.lossGrad(theta, labels, B);
          const [x, y] = jaxArgs(images!, labels, B);
          const [v, g] = cnnJaxKernels(d).lossGrad(jax().numpy.array(theta), x, y);
          return { loss: v.dataSync()[0]!, grad: f32(g.dataSync()) };
        },
        evaluate: (theta: Float32Array): Metrics => evaluateCnn(theta, data.test, cfg, d, w),
      };
    },
  };
}

/** Test loss and accuracy over whole batches of the first `testImages` test images (see the file's comment). */
function evaluateCnn(theta: Float32Array, test: LabelledSplit, cfg: ResolvedCnnConfig, d: CnnDims, w: CnnWasm | undefined): Metrics {
  const inp = cnnInput(cfg.dataset);
  const inSize = inp.c * inp.h * inp.w;
  const avail = Math.min(cfg.testImages, test.n);
  const B = Math.min(cfg.batchSize, avail);
  const chunks = Math.max(1, Math.floor(avail / B));
  const tally: LogitTally = { lossSum: 0, correct: 0 };
  for (let s = 0; s < chunks * B; s += B) {
    const px = test.pixels.subarray(s * inSize, (s + B) * inSize);
    let z: Float32Array;
    if (w !== undefined) {
      w.bytes.set(px);
      z = w.logits(theta, B);
    } else {
      const x = Float32Array.from(px, (v) => v / 255);
      z = f32(cnnJaxKernels(d).logits(jax().numpy.array(theta), jax().numpy.array(x).reshape([B, inp.c, inp.h, inp.w])).dataSync());
    }
    tallyLogits(tally, z, B, d.classes, test.labels, s);
  }
  const n = chunks * B;
  return { testLoss: tally.lossSum / n, testAccuracy: tally.correct / n };
}


/**
 * A multilayer perceptron classifying MNIST digits with softmax cross-entropy: the optimizee of
 * Andrychowicz et al. 2016, section 3.2 (one hidden layer of 20 sigmoid units, minibatches of
 * 128), with the variations the paper tries (more layers, ReLU activations).
 *
 * Two backends compute the loss, the gradient and the test-set logits (config `backend`):
 * - `wasm` (the default): the WebAssembly SIMD kernels of `assembly/mlp.ts` (see
 *   `mlp_wasm.ts`), one instance per family, the minibatch gathered straight into its memory.
 *   The same bits on every CPU.
 * - `jax`: jax-js, `jit(valueAndGrad(loss))` over the flat parameter vector, one compiled
 *   function per architecture, shared by every task of that shape. Every MNIST number in
 *   docs/RESULTS.md and every shipped MNIST file was made with it, so it replays them bit
 *   for bit.
 * The two agree to float32 rounding (test/mlp_wasm.test.ts). Hessian-vector products (second
 * order) always come from jax-js, on the same minibatch.
 *
 * For 784-20-10 with batch 128 on the 2-core development machine, a loss and gradient with
 * the minibatch drawn takes about 0.3 ms with `wasm`, 1.3 ms with `jax`; a Hessian-vector
 * product about 7 ms; `evaluate` about 40 ms with `jax`.
 */
import { createRequire } from "node:module";
import type { numpy as np } from "@jax-js/jax";
import { ParamLayout } from "../core/layout.ts";
import { foldIn, normal, randint, type Key } from "../core/rng.ts";
import { gatherImages, gatherPixels, imageRows, loadMnist, MNIST_CLASSES, MNIST_PIXELS, type LoadMnistOptions, type MnistSplit } from "../data/mnist.ts";
import type { LossAndGrad, Metrics, Task, TaskFamily } from "./base.ts";
import { mlpWasm, type MlpWasm } from "./mlp_wasm.ts";

/** Hidden-layer nonlinearities. */
export const MLP_ACTIVATIONS = ["sigmoid", "relu", "tanh"] as const;
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];

/** Where the loss, gradient and logits are computed (see the file comment). */
export const MLP_BACKENDS = ["wasm", "jax"] as const;
export type MlpBackend = (typeof MLP_BACKENDS)[number];

export interface MnistMlpConfig {
  /** Widths of the hidden layers. Default `[20]`. */
  readonly hidden?: readonly number[];
  /** Hidden nonlinearity. Default `sigmoid`. */
  readonly activation?: MlpActivation;
  /** Training images per minibatch. Default 128. */
  readonly batchSize?: number;
  /** Standard deviation of the initial weights and biases, N(0, initStd^2). Default 0.1. */
  readonly initStd?: number;
  /** `wasm` (default, fastest) or `jax` (replays results made with it bit for bit). */
  readonly backend?: MlpBackend;
}

export type ResolvedMnistMlpConfig = Required<MnistMlpConfig>;

export const MNIST_MLP_DEFAULTS: ResolvedMnistMlpConfig = Object.freeze({
  hidden: Object.freeze([20]),
  activation: "sigmoid",
  batchSize: 128,
  initStd: 0.1,
  backend: "wasm",
});

function fail(what: string, v: unknown): never {
  throw new Error(`mnist-mlp: ${what}, got ${JSON.stringify(v)}`);
}

function checkActivation(v: unknown): MlpActivation {
  if (!MLP_ACTIVATIONS.includes(v as MlpActivation)) fail(`'activation' must be one of ${MLP_ACTIVATIONS.join(", ")}`, v);
  return v as MlpActivation;
}

function checkBackend(v: unknown): MlpBackend {
  if (!MLP_BACKENDS.includes(v as MlpBackend)) fail(`'backend' must be one of ${MLP_BACKENDS.join(", ")}`, v);
  return v as MlpBackend;
}

function checkInitStd(v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail("'initStd' must be a finite number >= 0", v);
  return v;
}

/** Fills in defaults and validates; throws a clear error on a bad value. */
export function resolveMnistMlpConfig(config: MnistMlpConfig = {}): ResolvedMnistMlpConfig {
  const hidden = config.hidden ?? MNIST_MLP_DEFAULTS.hidden;
  if (!Array.isArray(hidden) || !hidden.every((h) => Number.isInteger(h) && h >= 1)) {
    fail("'hidden' must be a list of positive integer layer widths", hidden);
  }
  const batchSize = config.batchSize ?? MNIST_MLP_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) fail("'batchSize' must be a positive integer", batchSize);
  return {
    hidden: [...hidden],
    activation: checkActivation(config.activation ?? MNIST_MLP_DEFAULTS.activation),
    batchSize,
    initStd: checkInitStd(config.initStd ?? MNIST_MLP_DEFAULTS.initStd),
    backend: checkBackend(config.backend ?? MNIST_MLP_DEFAULTS.backend),
  };
}

/** The layout of an MLP with layer widths `dims` (input first): `w{k}` [din, dout], `b{k}` [dout], group `fc`. */
export function mlpLayout(dims: readonly number[]): ParamLayout {
  const specs = [];
  for (let k = 1; k < dims.length; k++) {
    specs.push({ name: `w${k}`, shape: [dims[k - 1]!, dims[k]!], group: "fc" });
    specs.push({ name: `b${k}`, shape: [dims[k]!], group: "fc" });
  }
  return new ParamLayout(specs);
}

type JaxModule = typeof import("@jax-js/jax");
let jaxModule: JaxModule | undefined;

/**
 * jax-js, loaded at its first use (the `jax` backend, Hessian-vector products) instead of
 * when l2o is imported: it costs about 30 ms and 35 MB that a command on the `wasm` backend
 * never needs. Its CommonJS build is the one loaded, so that loading stays synchronous;
 * nothing else in l2o imports jax-js, so there is one copy of it.
 */
function jax(): JaxModule {
  return (jaxModule ??= createRequire(import.meta.url)("@jax-js/jax") as JaxModule);
}

type Fn = (x: np.Array) => np.Array;
/**
 * Sigmoid as (1 + tanh(x / 2)) / 2: jax-js 0.1.25's `nn.sigmoid` has a NaN gradient for
 * x below about -88 (exp(-x) overflows float32 and its derivative becomes inf / inf), which
 * a learned optimizer's larger steps reach within a few dozen MNIST steps.
 */
const stableSigmoid: Fn = (x) => jax().numpy.tanh(x.mul(0.5)).mul(0.5).add(0.5);
const ACT: Record<MlpActivation, Fn> = {
  sigmoid: stableSigmoid,
  relu: (x) => jax().nn.relu(x),
  tanh: (x) => jax().numpy.tanh(x),
};

/** Compiled functions for one architecture. Arguments are consumed, as everywhere in jax-js. */
interface MlpKernels {
  readonly lossGrad: (theta: np.Array, x: np.Array, y: np.Array) => [np.Array, np.Array];
  readonly hvp: (theta: np.Array, v: np.Array, x: np.Array, y: np.Array) => np.Array;
  readonly logits: (theta: np.Array, x: np.Array) => np.Array;
}

const kernelCache = new Map<string, MlpKernels>();

function kernels(dims: readonly number[], activation: MlpActivation): MlpKernels {
  const id = `${dims.join("-")}/${activation}`;
  const hit = kernelCache.get(id);
  if (hit) return hit;
  const act = ACT[activation];
  const { jit, jvp, grad, valueAndGrad, nn, numpy: jnp } = jax();
  const forward = (theta: np.Array, x: np.Array): np.Array => {
    let h = x;
    let o = 0;
    for (let k = 1; k < dims.length; k++) {
      const din = dims[k - 1]!;
      const dout = dims[k]!;
      const w = theta.ref.slice([o, o + din * dout]).reshape([din, dout]);
      o += din * dout;
      const b = theta.ref.slice([o, o + dout]);
      o += dout;
      h = jnp.matmul(h, w).add(b);
      if (k < dims.length - 1) h = act(h);
    }
    theta.dispose();
    return h;
  };
  // Batch-mean softmax cross-entropy; y is one-hot [B, classes].
  const loss = (theta: np.Array, x: np.Array, y: np.Array): np.Array => {
    const z = forward(theta, x);
    return nn.logsumexp(z.ref, -1).sub(z.mul(y).sum(-1)).mean();
  };
  const k: MlpKernels = {
    lossGrad: jit(valueAndGrad(loss)),
    hvp: jit((theta: np.Array, v: np.Array, x: np.Array, y: np.Array) => {
      const [g, hv] = jvp((t: np.Array) => grad(loss)(t, x.ref, y.ref), [theta], [v]);
      g.dispose();
      x.dispose();
      y.dispose();
      return hv;
    }),
    logits: jit(forward),
  };
  kernelCache.set(id, k);
  return k;
}

function f32(a: unknown): Float32Array {
  if (!(a instanceof Float32Array)) throw new Error("mnist-mlp: expected float32 data from jax-js");
  return a;
}

/** A minibatch: inputs [n, din] row-major and integer class labels. */
interface Batch {
  readonly x: Float32Array;
  readonly labels: ArrayLike<number>;
  readonly n: number;
}

function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const y = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) y[i * classes + labels[i]!] = 1;
  return y;
}

interface MlpSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly activation: MlpActivation;
  readonly initStd: number;
  readonly batch: (key: Key) => Batch;
  readonly test?: MnistSplit;
  /** The `wasm` backend's kernels (absent: `jax`). */
  readonly wasm?: MlpWasm;
}

/** Images per forward pass when evaluating on a whole split. */
const EVAL_CHUNK = 1000;

function makeMlpTask(spec: MlpSpec): Task {
  const { dims, initStd, batch } = spec;
  const din = dims[0]!;
  const classes = dims[dims.length - 1]!;
  const layout = mlpLayout(dims);
  let compiled: MlpKernels | undefined;
  /** The jax-js functions, made (and jax-js loaded) at the first call that needs them. */
  const k = (): MlpKernels => (compiled ??= kernels(dims, spec.activation));
  const arr = (a: Float32Array): np.Array => jax().numpy.array(a);
  const put = (b: Batch) => [arr(b.x).reshape([b.n, din]), arr(oneHot(b.labels, classes)).reshape([b.n, classes])] as const;
  const w = spec.wasm;
  /** The batch's rows in the kernels' input rows (a family's batch sets them there itself). */
  const toWasm = (m: MlpWasm, b: Batch): void => {
    if (b.x.buffer === m.x.buffer && b.x.byteOffset === m.x.byteOffset) return;
    m.x.set(b.x);
    m.rowsFromFloats(b.n);
  };

  const task: Task = {
    name: spec.name,
    layout,
    instances: 1,
    init(key: Key): Float32Array {
      return normal(key, layout.size, initStd);
    },
    lossAndGrad(theta: Float32Array, key: Key): LossAndGrad {
      layout.check(theta);
      if (w !== undefined) {
        const b = batch(key);
        toWasm(w, b);
        return w.lossGrad(theta, b.labels, b.n);
      }
      const [x, y] = put(batch(key));
      const [v, g] = k().lossGrad(arr(theta), x, y);
      const loss = v.dataSync()[0]!;
      return { loss, grad: f32(g.dataSync()) };
    },
    hvp(theta: Float32Array, v: Float32Array, key: Key): Float32Array {
      layout.check(theta);
      layout.check(v);
      const [x, y] = put(batch(key));
      return f32(k().hvp(arr(theta), arr(v), x, y).dataSync());
    },
  };
  const test = spec.test;
  if (test === undefined) return task;
  return {
    ...task,
    evaluate(theta: Float32Array): Metrics {
      layout.check(theta);
      let lossSum = 0;
      let correct = 0;
      for (let s = 0; s < test.n; s += EVAL_CHUNK) {
        const n = Math.min(EVAL_CHUNK, test.n - s);
        const z =
          w !== undefined
            ? (w.bytes.set(test.pixels.subarray(s * din, (s + n) * din)), w.rowsFromBytes(n), w.logits(theta, n))
            : f32(k().logits(arr(theta), arr(imageRows(test, s, n)).reshape([n, din])).dataSync());
        for (let i = 0; i < n; i++) {
          const row = z.subarray(i * classes, (i + 1) * classes);
          let best = 0;
          let max = -Infinity;
          for (let c = 0; c < classes; c++) if (row[c]! > max) [max, best] = [row[c]!, c];
          let se = 0;
          for (let c = 0; c < classes; c++) se += Math.exp(row[c]! - max);
          const label = test.labels[s + i]!;
          lossSum += max + Math.log(se) - row[label]!;
          if (best === label) correct++;
        }
      }
      return { testLoss: lossSum / test.n, testAccuracy: correct / test.n };
    },
  };
}

/** Data for `mlpTaskFrom`: one fixed batch used whole on every call. */
export interface MlpData {
  /** Inputs, `n * dims[0]` values row-major. */
  readonly x: Float32Array;
  /** `n` integer class labels in `[0, dims[last])`. */
  readonly labels: ArrayLike<number>;
  /** Layer widths, input first, classes last, e.g. `[8, 4, 3]`. */
  readonly dims: readonly number[];
  readonly activation?: MlpActivation;
  /** Default 0.1. */
  readonly initStd?: number;
  /** Default `wasm`. */
  readonly backend?: MlpBackend;
}

/**
 * An MLP task on given data (to reproduce fixtures such as `ref/fixtures/check_W.json`): the
 * loss is the mean softmax cross-entropy over the whole batch, and the key is ignored.
 * Parameters are packed as in `mnistMlpFamily`.
 */
export function mlpTaskFrom(data: MlpData): Task {
  const dims = data.dims;
  if (dims.length < 2 || !dims.every((d) => Number.isInteger(d) && d >= 1)) fail("'dims' must list at least two positive integer widths", dims);
  const din = dims[0]!;
  const classes = dims[dims.length - 1]!;
  const n = data.labels.length;
  if (n < 1) fail("need at least one example", n);
  if (data.x.length !== n * din) throw new Error(`mlp: x needs ${n} x ${din} = ${n * din} values, got ${data.x.length}`);
  for (let i = 0; i < n; i++) {
    const l = data.labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= classes) throw new Error(`mlp: label ${l} at index ${i} is not in [0, ${classes})`);
  }
  const b: Batch = { x: Float32Array.from(data.x), labels: Uint8Array.from(data.labels), n };
  const activation = checkActivation(data.activation ?? "sigmoid");
  const backend = checkBackend(data.backend ?? MNIST_MLP_DEFAULTS.backend);
  return makeMlpTask({
    name: "mlp",
    dims: [...dims],
    activation,
    initStd: checkInitStd(data.initStd ?? MNIST_MLP_DEFAULTS.initStd),
    batch: () => b,
    ...(backend === "wasm" ? { wasm: mlpWasm(dims, activation, n) } : {}),
  });
}

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
  return {
    name: "mnist-mlp",
    config: cfg,
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

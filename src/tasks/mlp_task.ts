/**
 * MLP tasks on either backend: the parameter layout, the task made from a spec (the minibatch
 * source, the backend, optionally a test split) and `mlpTaskFrom`, an MLP on given data.
 */
import type { numpy as np } from "@jax-js/jax";
import { ParamLayout } from "../core/layout.ts";
import { normal, type Key } from "../core/rng.ts";
import { imageRows, type MnistSplit } from "../data/mnist.ts";
import type { LossAndGrad, Metrics, Task } from "./base.ts";
import { f32, jax, jaxMlpKernels, type MlpKernels } from "./mlp_jax.ts";
import { mlpWasm, type MlpWasm } from "./mlp_wasm.ts";
import { checkActivation, checkBackend, checkInitStd, failConfig, MNIST_MLP_DEFAULTS, type MlpActivation, type MlpBackend } from "./mnist_mlp_config.ts";
import { tallyLogits, type LogitTally } from "./test_metrics.ts";

/** The layout of an MLP with layer widths `dims` (input first): `w{k}` [din, dout], `b{k}` [dout], group `fc`. */
export function mlpLayout(dims: readonly number[]): ParamLayout {
  const specs = [];
  for (let k = 1; k < dims.length; k++) {
    specs.push({ name: `w${k}`, shape: [dims[k - 1]!, dims[k]!], group: "fc" });
    specs.push({ name: `b${k}`, shape: [dims[k]!], group: "fc" });
  }
  return new ParamLayout(specs);
}

/** A minibatch: inputs [n, din] row-major and integer class labels. */
export interface Batch {
  readonly x: Float32Array;
  readonly labels: ArrayLike<number>;
  readonly n: number;
}

function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const y = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) y[i * classes + labels[i]!] = 1;
  return y;
}

/** What `makeMlpTask` needs: the architecture, where minibatches come from, the backend. */
export interface MlpSpec {
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
export const EVAL_CHUNK = 1000;

export function makeMlpTask(spec: MlpSpec): Task {
  const { dims, initStd, batch } = spec;
  const din = dims[0]!;
  const classes = dims[dims.length - 1]!;
  const layout = mlpLayout(dims);
  let compiled: MlpKernels | undefined;
  /** The jax-js functions, made (and jax-js loaded) at the first call that needs them. */
  const k = (): MlpKernels => (compiled ??= jaxMlpKernels(dims, spec.activation));
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
      const tally: LogitTally = { lossSum: 0, correct: 0 };
      for (let s = 0; s < test.n; s += EVAL_CHUNK) {
        const n = Math.min(EVAL_CHUNK, test.n - s);
        const z =
          w !== undefined
            ? (w.bytes.set(test.pixels.subarray(s * din, (s + n) * din)), w.rowsFromBytes(n), w.logits(theta, n))
            : f32(k().logits(arr(theta), arr(imageRows(test, s, n)).reshape([n, din])).dataSync());
        tallyLogits(tally, z, n, classes, test.labels, s);
      }
      return { testLoss: tally.lossSum / test.n, testAccuracy: tally.correct / test.n };
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
  if (dims.length < 2 || !dims.every((d) => Number.isInteger(d) && d >= 1)) failConfig("'dims' must list at least two positive integer widths", dims);
  const din = dims[0]!;
  const classes = dims[dims.length - 1]!;
  const n = data.labels.length;
  if (n < 1) failConfig("need at least one example", n);
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

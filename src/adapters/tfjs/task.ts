/**
 * `taskFromModel`: a tfjs model family and a dataset as an l2o `TaskFamily`, so that an
 * optimizer can be meta-trained (`metaTrain`) on the user's own kind of model.
 *
 * - The layout: the model's trainable variables by position, groups from shapes
 *   (`layoutOfShapes`, as the optimizer sees them in `model.fit`).
 * - `init(key)`: a fresh model from `makeModel`, with its own initialisers, read into theta_0.
 *   tfjs's initialisers seed themselves from `Math.random`; while `makeModel` runs,
 *   `Math.random` draws from the key instead, so theta_0 is a function of the key (a
 *   different key, a different initialisation; the same key, the same bits).
 * - `lossAndGrad(theta, key)`: theta written into one shared model (built once per family),
 *   the loss's minibatch mean on `batchSize` examples drawn with replacement (a function of
 *   the task's key and the step's key, as the MNIST task draws them), and its gradient by
 *   `tf.variableGrads`. A variable the loss does not reach gets a zero gradient.
 * - `evaluate(theta)` (with `options.test`): the loss on the whole test set.
 * Non-trainable weights (batch-norm statistics) are not part of theta; layers that draw
 * random numbers in training (dropout) draw them from tfjs, not from the key.
 */
import { gather, tensor, tensor1d, tidy, variableGrads } from "@tensorflow/tfjs-core";
import type { Scalar, Tensor, Variable } from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { bits, foldIn, key as makeKey, randint, type Key } from "../../core/rng.ts";
import type { ParamLayout } from "../../core/layout.ts";
import type { Task, TaskFamily } from "../../tasks/base.ts";
import { TfjsAdapterError } from "./errors.ts";
import { layoutOfShapes, sameShapes, shapesText } from "./layout.ts";
import { lossFunction, type LossFunction, type LossName } from "./losses.ts";

/** Inputs `x` and targets `y`, one example per row of the first dimension. */
export interface ModelData {
  readonly x: Tensor;
  readonly y: Tensor;
}

export interface TaskFromModelOptions {
  /** Examples per minibatch, drawn with replacement (1 to 65,536; default 32, as `model.fit`'s). */
  readonly batchSize?: number;
  /** The family's name in logs and tables (default `tfjs-model`). */
  readonly name?: string;
  /** Held-out data: `evaluate(theta)` gives the loss on it. */
  readonly test?: ModelData;
}

export interface TfjsTaskConfig {
  readonly batchSize: number;
  readonly examples: number;
  readonly parameters: number;
  readonly loss: string;
}

/** The family, with the layout its tasks share and `dispose` for the model it computes with. */
export interface TfjsTaskFamily extends TaskFamily<TfjsTaskConfig> {
  readonly layout: ParamLayout;
  /** Frees the model that computes losses and gradients (the data stay the caller's). */
  dispose(): void;
}

const MAX_BATCH = 65_536;
/** Test examples per forward pass in `evaluate`. */
const EVAL_CHUNK = 1024;

/** `f()` with `Math.random` drawing from `k` (53-bit uniforms), restored afterwards. */
function withKeyedRandom<T>(k: Key, f: () => T): T {
  const saved = Math.random;
  let block = 0;
  let buf: Uint32Array = new Uint32Array(0);
  let at = 0;
  Math.random = () => {
    if (at >= buf.length) {
      buf = bits(foldIn(k, block++), 256);
      at = 0;
    }
    const hi = buf[at++]! >>> 5;
    const lo = buf[at++]! >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
  try {
    return f();
  } finally {
    Math.random = saved;
  }
}

function checkData(what: string, d: ModelData | undefined): number {
  if (d === undefined || typeof d !== "object" || d.x === undefined || d.y === undefined || typeof d.x.shape !== "object" || typeof d.y.shape !== "object") {
    throw new TfjsAdapterError(`taskFromModel: ${what} must be {x, y}, two tfjs tensors`);
  }
  const n = d.x.shape[0];
  if (d.x.rank < 1 || n === undefined || n < 1) throw new TfjsAdapterError(`taskFromModel: ${what}.x has shape [${d.x.shape.join(", ")}]; it needs one example per row`);
  if (d.y.shape[0] !== n) throw new TfjsAdapterError(`taskFromModel: ${what}.x has ${n} examples, ${what}.y ${d.y.shape[0]}`);
  return n;
}

/**
 * The task family of the models `makeModel` builds, trained on `data` with `loss` (a name
 * from `LOSS_NAMES`, tfjs-layers' formulas, or a function). `makeModel` must build the same
 * architecture on every call. Throws `TfjsAdapterError` for data of the wrong shape, an
 * unknown loss or a model that does not take the data.
 */
export function taskFromModel(makeModel: () => LayersModel, data: ModelData, loss: LossName | LossFunction, options: TaskFromModelOptions = {}): TfjsTaskFamily {
  const n = checkData("data", data);
  if (options.test !== undefined) checkData("test", options.test);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new TfjsAdapterError(`taskFromModel: batchSize must be an integer from 1 to ${MAX_BATCH}, got ${batchSize}`);
  }
  const lossOf = lossFunction(loss);
  const name = options.name ?? "tfjs-model";

  /** A model from `makeModel` with Math.random drawn from `k`, and its trainable variables. */
  const build = (k: Key): { model: LayersModel; vars: Variable[]; shapes: number[][] } => {
    const model = withKeyedRandom(k, makeModel);
    if (model === null || typeof model !== "object" || !Array.isArray(model.trainableWeights)) {
      throw new TfjsAdapterError("taskFromModel: makeModel must return a tfjs LayersModel (tf.sequential(...) or tf.model(...))");
    }
    const weights = model.trainableWeights;
    if (weights.length === 0) throw new TfjsAdapterError("taskFromModel: the model has no trainable weights");
    const bad = weights.find((w) => w.dtype !== "float32");
    if (bad !== undefined) throw new TfjsAdapterError(`taskFromModel: weight '${bad.name}' is ${bad.dtype}; l2o optimizes float32 weights`);
    return { model, vars: weights.map((w) => w.read() as Variable), shapes: weights.map((w) => [...w.shape] as number[]) };
  };

  const worker = build(makeKey(0));
  const layout = layoutOfShapes(worker.shapes);
  const sizes = layout.entries.map((e) => e.size);
  const forward = (x: Tensor, y: Tensor): Scalar => lossOf(y, worker.model.apply(x, { training: true }) as Tensor);
  try {
    tidy(() => forward(gather(data.x, [0]), gather(data.y, [0])));
  } catch (e) {
    worker.model.dispose();
    throw new TfjsAdapterError(`taskFromModel: the model and the loss do not take the data (x [${data.x.shape.join(", ")}], y [${data.y.shape.join(", ")}]): ${(e as Error).message}`);
  }

  const assign = (theta: Float32Array): void => {
    layout.check(theta);
    tidy(() => {
      let o = 0;
      worker.vars.forEach((v, i) => {
        v.assign(tensor(theta.slice(o, o + sizes[i]!), v.shape, "float32"));
        o += sizes[i]!;
      });
    });
  };

  const init = (k: Key): Float32Array => {
    const fresh = build(k);
    try {
      if (!sameShapes(fresh.shapes, worker.shapes)) {
        throw new TfjsAdapterError(`taskFromModel: makeModel built variables of shapes ${shapesText(fresh.shapes)}, before ${shapesText(worker.shapes)}; it must build one architecture`);
      }
      const theta = new Float32Array(layout.size);
      let o = 0;
      for (const v of fresh.vars) {
        theta.set(v.dataSync() as Float32Array, o);
        o += v.size;
      }
      return theta;
    } finally {
      fresh.model.dispose();
    }
  };

  const evaluateOn = (test: ModelData) => (theta: Float32Array) => {
    assign(theta);
    const m = test.x.shape[0]!;
    let total = 0;
    for (let s = 0; s < m; s += EVAL_CHUNK) {
      const idx = Array.from({ length: Math.min(EVAL_CHUNK, m - s) }, (_, i) => s + i);
      const chunk = tidy(() => lossOf(gather(test.y, idx), worker.model.apply(gather(test.x, idx), { training: false }) as Tensor));
      total += chunk.dataSync()[0]! * idx.length;
      chunk.dispose();
    }
    return { loss: total / m };
  };

  return {
    name,
    config: { batchSize, examples: n, parameters: layout.size, loss: typeof loss === "string" ? loss : "custom" },
    instanceBytes: 4 * layout.size,
    layout,
    sample(taskKey: Key): Task {
      return {
        name,
        layout,
        instances: 1,
        init,
        lossAndGrad(theta, k) {
          assign(theta);
          const idx = tensor1d(randint(foldIn(foldIn(k, taskKey[0]), taskKey[1]), batchSize, 0, n), "int32");
          const { value, grads } = tidy(() => {
            const xb = gather(data.x, idx);
            const yb = gather(data.y, idx);
            return variableGrads(() => forward(xb, yb), worker.vars);
          });
          idx.dispose();
          const grad = new Float32Array(layout.size);
          let o = 0;
          worker.vars.forEach((v, i) => {
            const g = grads[v.name];
            if (g !== undefined) grad.set(g.dataSync() as Float32Array, o);
            o += sizes[i]!;
          });
          const lossValue = value.dataSync()[0]!;
          value.dispose();
          for (const g of Object.values(grads)) g.dispose();
          return { loss: lossValue, grad };
        },
        ...(options.test !== undefined ? { evaluate: evaluateOn(options.test) } : {}),
      };
    },
    dispose() {
      worker.model.dispose();
    },
  };
}

/**
 * `l2o/tfjs`: l2o's optimizers for TensorFlow.js models, and tfjs models as l2o tasks.
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { learned } from "l2o/tfjs";
 *
 * model.compile({ optimizer: learned(), loss: "categoricalCrossentropy" }); // the shipped `general`; or "mnist", a file, "adam@0.01"
 * await model.fit(xs, ys, { epochs: 5 });
 * await model.save("file://...", { includeOptimizer: true }); // the optimizer's state too
 * ```
 *
 * `learned(name)` is a `tf.Optimizer` (registered with `tf.serialization.registerClass`, so
 * `tf.loadLayersModel` restores it, per-coordinate state included, once this module is
 * imported); `taskFromModel(makeModel, data, loss)` makes a `TaskFamily` of a model factory
 * and a dataset, for meta-training an optimizer on one's own kind of model.
 *
 * `@tensorflow/tfjs` (or `@tensorflow/tfjs-core` with `@tensorflow/tfjs-layers`) is an optional
 * peer dependency: the main entry (`l2o`) never imports this module, so l2o itself never
 * needs tfjs. Any tfjs backend works (the pure-JS `cpu`, the WebAssembly `wasm`): the
 * optimizer reads gradients out and writes variables back, its step runs in l2o's kernels.
 */
export { L2oOptimizer, learned, type LearnedOptions } from "./optimizer.ts";
export { taskFromModel, type ModelData, type TaskFromModelOptions, type TfjsTaskConfig, type TfjsTaskFamily } from "./task.ts";
export { LOSS_NAMES, type LossName, type LossFunction } from "./losses.ts";
export { layoutOfShapes } from "./layout.ts";
export { TfjsAdapterError, NonFiniteGradientError } from "./errors.ts";
export { DEFAULT_OPTIMIZER } from "../defaults.ts";

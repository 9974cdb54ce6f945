/**
 * Losses for `taskFromModel` by name, with tfjs-layers' formulas (the ones `model.compile({loss})`
 * uses), written with tfjs-core ops so that the adapter needs tfjs-layers for its types only;
 * or the caller's own function. Each gives the minibatch mean as a scalar.
 */
import { abs, backend, cast, clipByValue, div, floor, log, mean, mul, neg, oneHot, reshape, square, sub, sum } from "@tensorflow/tfjs-core";
import type { Scalar, Tensor } from "@tensorflow/tfjs-core";
import { TfjsAdapterError } from "./errors.ts";

/** A loss of the labels and the model's output: per example (it is averaged) or already a scalar. */
export type LossFunction = (yTrue: Tensor, yPred: Tensor) => Tensor;

/** Per-example losses, as tfjs-layers defines them. */
const LOSSES = {
  meanSquaredError: (t: Tensor, p: Tensor): Tensor => mean(square(sub(p, t)), -1),
  meanAbsoluteError: (t: Tensor, p: Tensor): Tensor => mean(abs(sub(p, t)), -1),
  /** Labels one-hot, outputs probabilities (after a softmax), renormalised and clipped as in Keras. */
  categoricalCrossentropy: (t: Tensor, p: Tensor): Tensor => {
    const eps = backend().epsilon();
    const last = p.shape.length - 1;
    const q = clipByValue(div(p, sum(p, last, true)), eps, 1 - eps);
    return neg(sum(mul(cast(t, "float32"), log(q)), last));
  },
  /** Labels as class indices, outputs probabilities. */
  sparseCategoricalCrossentropy: (t: Tensor, p: Tensor): Tensor => {
    const classes = p.shape[p.shape.length - 1]!;
    const hot = reshape(oneHot(cast(floor(reshape(t, [-1])), "int32"), classes), p.shape);
    return LOSSES.categoricalCrossentropy(hot, p);
  },
} as const satisfies Record<string, LossFunction>;

export type LossName = keyof typeof LOSSES;
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** The scalar loss `loss` names or is. */
export function lossFunction(loss: LossName | LossFunction): (yTrue: Tensor, yPred: Tensor) => Scalar {
  let f: LossFunction;
  if (typeof loss === "function") f = loss;
  else if (typeof loss === "string" && Object.hasOwn(LOSSES, loss)) f = LOSSES[loss];
  else throw new TfjsAdapterError(`taskFromModel: unknown loss '${String(loss).slice(0, 100)}' (known: ${LOSS_NAMES.join(", ")}, or a function (yTrue, yPred) => tensor)`);
  return (t, p) => {
    const v = f(t, p);
    return (v.rank === 0 ? v : mean(v)) as Scalar;
  };
}

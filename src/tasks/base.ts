/**
 * The one boundary between the optimizer world and the model world: a task is asked for a
 * loss and a gradient at a point, `Float32Array` in, `{loss, grad}` out. The optimizee's
 * gradient is treated as a constant by meta-training (Andrychowicz et al. 2016, section 2),
 * so nothing else crosses. Second order needs Hessian-vector products, which a task may offer.
 */
import type { Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";

export interface LossAndGrad {
  /** The objective at theta: the sum over the task's `instances` independent functions. */
  readonly loss: number;
  /** The exact gradient of `loss` with respect to theta (a fresh array the caller owns). */
  readonly grad: Float32Array;
}

/** Extra evaluation metrics for a parameter vector (for example full test-set loss, accuracy). */
export type Metrics = Readonly<Record<string, number>>;

export interface Task {
  /** Registry name of the family this task was drawn from, e.g. `quadratic`. */
  readonly name: string;
  readonly layout: ParamLayout;
  /**
   * How many independent functions this task optimises at once (a batch of quadratics shares
   * one flat vector for speed). `loss` is their sum; reports divide by `instances` so that
   * every number l2o prints is a per-function loss.
   */
  readonly instances: number;
  /** A fresh initial point theta_0. */
  init(key: Key): Float32Array;
  /**
   * Loss and gradient at theta. `key` picks the minibatch (stochastic tasks); deterministic
   * tasks ignore it.
   */
  lossAndGrad(theta: Float32Array, key: Key): LossAndGrad;
  /** Hessian-vector product at theta on the same minibatch as `lossAndGrad(theta, key)`. */
  hvp?(theta: Float32Array, v: Float32Array, key: Key): Float32Array;
  /** Metrics beyond the training loss (full test set loss and accuracy for MNIST). */
  evaluate?(theta: Float32Array): Metrics;
}

/** A distribution over tasks: `sample(key)` draws a fresh problem (a new function, new data order). */
export interface TaskFamily<C = unknown> {
  readonly name: string;
  readonly config: C;
  /**
   * About how many bytes one sampled task and its theta_0 hold (its data and parameters), when
   * the family knows: a caller that holds many instances at once (evaluation, validation) can
   * refuse a count that would need gigabytes before drawing any.
   */
  readonly instanceBytes?: number;
  sample(key: Key): Task;
}

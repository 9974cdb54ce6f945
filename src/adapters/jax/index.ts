/**
 * `l2o/jax`: l2o's optimizers for jax-js training loops, with `@jax-js/optax`'s contract.
 *
 * ```ts
 * import { grad, numpy as np } from "@jax-js/jax";
 * import { applyUpdates, learned } from "l2o/jax";
 *
 * const opt = learned(); // the shipped `general`; or "mnist", a file path, "adam@0.01"
 * let state = opt.init(params.ref);
 * const g = grad(loss)(params.ref);
 * [updates, state] = opt.update(g, state, params.ref);
 * params = applyUpdates(params, updates);
 * ```
 *
 * The main entry (`l2o`) never imports this module, so that importing l2o never loads jax-js.
 */
export {
  learned,
  applyUpdates,
  type GradientTransformation,
  type LearnedGradientTransformation,
  type LearnedOptions,
  type OptState,
} from "./learned.ts";
export { JaxTreeError, NonFiniteGradientError } from "./tree.ts";
export { DEFAULT_OPTIMIZER } from "../defaults.ts";

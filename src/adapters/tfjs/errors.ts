/** The errors `l2o/tfjs` raises for input a user can fix (each an `L2oError`, one line). */
import { L2oError } from "../../core/errors.ts";

/**
 * Input the TensorFlow.js adapter cannot use: weights for another model or optimizer given to
 * `setWeights`, a variable list that changed between steps, a model factory that builds
 * different shapes, an unknown loss, data of the wrong shape.
 */
export class TfjsAdapterError extends L2oError {
  override readonly name: string = "TfjsAdapterError";
}

/** A gradient with a NaN or an infinity: the step is refused rather than poison the optimizer's state (the class the core optimizers throw). */
export { NonFiniteGradientError } from "../../core/errors.ts";

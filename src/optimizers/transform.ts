/**
 * Optimizers as pure transforms over flat arrays (in the manner of optax): `init(params)`
 * makes a named, readonly state; `update(grads, state, params)` returns `[updates, state]`;
 * only `applyUpdates` changes parameters. Updates are added: theta <- theta + updates.
 */
import { ruleKernels } from "../kernels/rules.ts";

/** Optimizer state: a named, readonly record of arrays and numbers, stored by name. */
export type OptState = {
  readonly [field: string]: Float32Array | number | OptState | readonly OptState[];
};

/**
 * What a step knows besides the gradient: the loss at `params`, the step's index and the
 * run's horizon. Hand-designed rules ignore it; learned optimizers may read it.
 */
export interface StepContext {
  readonly loss?: number;
  /** Steps taken before this one in the run (0 for the first update). */
  readonly step?: number;
  /** Steps the run will take in all, where known. */
  readonly horizon?: number;
}

export interface GradientTransformation {
  init(params: Float32Array): OptState;
  /** Returns `[updates, newState]`. Must not modify `grads`, `state` or `params`. */
  update(grads: Float32Array, state: OptState, params: Float32Array, ctx?: StepContext): [Float32Array, OptState];
  /**
   * For a transform that asks for its next gradient away from its parameters (a look-ahead
   * point: the hierarchical RNN's attention, Wichrowska et al. 2017, 3.2.1): `params` is where
   * its updates lead, the point its next gradient is evaluated at; this gives the parameters it
   * stands at, which a run reports the loss of and returns. Absent: `params` itself.
   */
  paramsAt?(params: Float32Array, state: OptState): Float32Array;
}

/**
 * A transformation that can multiply its updates by a constant in the same pass, with the
 * bits of `chain(tx, scale(c))` (each update rounded to float32, then times `c`, rounded
 * again). `chain` uses it when a `scale` follows; the state is the transformation's own.
 */
export interface ScalableTransformation extends GradientTransformation {
  updateScaled(grads: Float32Array, state: OptState, params: Float32Array, c: number): [Float32Array, OptState];
}

/** `scale(c)`: stateless multiplication by `scaleFactor`. */
export interface ScaleTransformation extends GradientTransformation {
  readonly scaleFactor: number;
}

/** The state of a stateless transformation. */
export const EMPTY_STATE: OptState = Object.freeze({});

/** theta + updates, as a new array (on the rule kernels of src/kernels/rules.ts). */
export function applyUpdates(params: Float32Array, updates: Float32Array): Float32Array {
  if (params.length !== updates.length) {
    throw new Error(`applyUpdates: ${params.length} parameters but ${updates.length} updates`);
  }
  return ruleKernels().add(params, updates);
}

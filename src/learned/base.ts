/**
 * A learned optimizer is a family of gradient transformations indexed by meta-parameters
 * `phi` (learned_optimization's convention). Hand-designed optimizers are learned optimizers
 * with an empty `phi`, so every benchmark and evaluation treats all optimizers alike.
 */
import type { Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { GradientTransformation } from "../optimizers/transform.ts";

export interface LearnedOptimizer {
  /** A short name for tables and files, e.g. `lstm` or `adam(lr=0.01)`. */
  readonly name: string;
  /** Number of meta-parameters (0 for a hand-designed optimizer). */
  readonly phiSize: number;
  /** Fresh meta-parameters. */
  init(key: Key): Float32Array;
  /** The optimizer that `phi` describes, for parameters laid out as `layout`. */
  optFn(phi: Float32Array, layout: ParamLayout): GradientTransformation;
}

/** Wraps a hand-designed transformation as a learned optimizer with an empty `phi`. */
export function handDesigned(name: string, tx: GradientTransformation): LearnedOptimizer {
  return {
    name,
    phiSize: 0,
    init: () => new Float32Array(0),
    optFn: () => tx,
  };
}

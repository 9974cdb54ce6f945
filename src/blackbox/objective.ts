/**
 * What the black-box methods minimise: a function on the unit cube [0, 1]^d whose values are on
 * the scale of a unit-variance GP prior. The methods see `value` only; the training of the
 * learned optimizer also reads `gradient` (functions drawn from a GP have one), never at test.
 */
export interface Objective {
  readonly name: string;
  readonly dim: number;
  /** The normalised value at a point of the unit cube. */
  value(u: ArrayLike<number>): number;
  /** The value on the function's own scale (the benchmark's units), for reports. */
  raw(u: ArrayLike<number>): number;
  /** The known global minimum on the function's own scale, where there is one. */
  readonly knownMin?: number;
}

/** An objective with its gradient in the unit cube's coordinates (training functions). */
export interface Differentiable extends Objective {
  /** Writes ∂value/∂u into `out` and returns the value. */
  valueAndGradient(u: ArrayLike<number>, out: Float64Array): number;
}

/**
 * The adaptive KL step of Levine & Abbeel (2014), as Levine et al. (2016) use it in guided
 * policy search. After an iteration, compare the improvement of the C-step's objective that
 * the old model predicted (old controller minus new controller, both under the model the step
 * was planned with) with the improvement actually found (the new controller under the model
 * refitted to its own samples). Modelling the improvement as a function of the step epsilon,
 * I(epsilon) = a epsilon - b epsilon^2 with a epsilon = predicted and b epsilon^2 = predicted -
 * actual, its maximiser is epsilon * predicted / (2 (predicted - actual)): the bound is
 * multiplied by that ratio, the ratio clamped to [minChange, maxChange] and the multiplier of
 * the base bound to [minMult, maxMult].
 *
 * An accurate model (actual ~ predicted) grows the step (up to maxChange per iteration); an
 * actual improvement half the predicted one keeps it; a worse one (or a loss) shrinks it.
 */

export interface StepBounds {
  /** Range of the multiplier of the base KL bound. */
  readonly minMult: number;
  readonly maxMult: number;
  /** Range of one iteration's change of the multiplier. */
  readonly minChange: number;
  readonly maxChange: number;
}

export const STEP_DEFAULTS: StepBounds = Object.freeze({ minMult: 0.01, maxMult: 10, minChange: 0.1, maxChange: 5 });

/** The next multiplier of the base KL bound, from the last one and the predicted and actual improvements (cost decreases). */
export function nextStepMult(mult: number, predicted: number, actual: number, bounds: StepBounds = STEP_DEFAULTS): number {
  if (!Number.isFinite(predicted) || !Number.isFinite(actual)) return Math.max(bounds.minMult, mult * bounds.minChange);
  // The floor on the denominator keeps a perfect (or better than predicted) model from dividing by zero.
  const scale = Math.max(Math.abs(predicted), 1e-12);
  const change = predicted / (2 * Math.max(1e-4 * scale, predicted - actual));
  const clamped = Math.min(bounds.maxChange, Math.max(bounds.minChange, change));
  return Math.min(bounds.maxMult, Math.max(bounds.minMult, mult * clamped));
}

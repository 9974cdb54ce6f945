/**
 * Small checks shared by the optimizer transforms: hyperparameter validation, finiteness of
 * gradients, and typed reads of named state fields (a state may come from a file, so its
 * fields are checked by name rather than trusted by position).
 */
import { ConfigError, NonFiniteGradientError, shownNumber as shown } from "../core/errors.ts";
import { firstNonFinite } from "../core/finite.ts";
import type { OptState } from "./transform.ts";

/** Throws a ConfigError (a hyperparameter the caller gave) unless `v` is a finite number greater than 0. */
export function checkPositive(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new ConfigError(`${owner}: ${what} must be a finite number > 0, got ${shown(v)}`);
  }
  return v;
}

/** Throws unless `v` is a finite number greater than or equal to 0. */
export function checkNonNegative(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0)) {
    throw new ConfigError(`${owner}: ${what} must be a finite number >= 0, got ${shown(v)}`);
  }
  return v;
}

/** Throws unless `v` is a finite number. */
export function checkFinite(owner: string, what: string, v: number): number {
  if (!Number.isFinite(v)) throw new ConfigError(`${owner}: ${what} must be a finite number, got ${shown(v)}`);
  return v;
}

/** Throws unless 0 <= v < 1 (a decay rate). */
export function checkDecay(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0 && v < 1)) {
    throw new ConfigError(`${owner}: ${what} must be in [0, 1), got ${shown(v)}`);
  }
  return v;
}

/**
 * Throws a NonFiniteGradientError naming `owner` if `grads` holds a NaN or an infinity.
 * Optimizer state fed a non-finite gradient is poisoned for good, so the step is refused
 * rather than taken.
 */
export function assertFiniteGrads(owner: string, grads: Float32Array): void {
  const i = firstNonFinite(grads);
  if (i >= 0) {
    throw new NonFiniteGradientError(`${owner}: gradients contained NaN/Inf (${grads[i]} at index ${i} of ${grads.length})`);
  }
}

/** The named array `key` of `state`, checked to exist and to hold `n` values. */
export function stateArray(owner: string, state: OptState, key: string, n: number): Float32Array {
  const v = state[key];
  if (!(v instanceof Float32Array)) {
    throw new Error(`${owner}: state has no Float32Array field '${key}'`);
  }
  if (v.length !== n) {
    throw new Error(`${owner}: ${n} gradients but state '${key}' holds ${v.length} values`);
  }
  return v;
}

/** The named number `key` of `state`, checked to exist. */
export function stateNumber(owner: string, state: OptState, key: string): number {
  const v = state[key];
  if (typeof v !== "number") throw new Error(`${owner}: state has no number field '${key}'`);
  return v;
}

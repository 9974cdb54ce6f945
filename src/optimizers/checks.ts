/**
 * Small checks shared by the optimizer transforms: hyperparameter validation, finiteness of
 * gradients, and typed reads of named state fields (a state may come from a file, so its
 * fields are checked by name rather than trusted by position).
 */
import type { OptState } from "./transform.ts";

/** Throws unless `v` is a finite number greater than 0. */
export function checkPositive(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new Error(`${owner}: ${what} must be a finite number > 0, got ${v}`);
  }
  return v;
}

/** Throws unless `v` is a finite number greater than or equal to 0. */
export function checkNonNegative(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0)) {
    throw new Error(`${owner}: ${what} must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/** Throws unless `v` is a finite number. */
export function checkFinite(owner: string, what: string, v: number): number {
  if (!Number.isFinite(v)) throw new Error(`${owner}: ${what} must be a finite number, got ${v}`);
  return v;
}

/** Throws unless 0 <= v < 1 (a decay rate). */
export function checkDecay(owner: string, what: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0 && v < 1)) {
    throw new Error(`${owner}: ${what} must be in [0, 1), got ${v}`);
  }
  return v;
}

/**
 * Throws an Error naming `owner` if `grads` holds a NaN or an infinity. Optimizer state fed a
 * non-finite gradient is poisoned for good, so the step is refused rather than taken.
 */
export function assertFiniteGrads(owner: string, grads: Float32Array): void {
  // g * 0 is (+-)0 for every finite g and NaN otherwise, so four running sums of it stay 0
  // exactly when all are finite: one multiply-add per value, about a third of the time of
  // testing each (this check runs before every hand-designed optimizer's step).
  const n = grads.length;
  const m = n & ~3;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let i = 0; i < m; i += 4) {
    a0 += grads[i]! * 0;
    a1 += grads[i + 1]! * 0;
    a2 += grads[i + 2]! * 0;
    a3 += grads[i + 3]! * 0;
  }
  for (let i = m; i < n; i++) a0 += grads[i]! * 0;
  if (a0 + a1 + a2 + a3 === 0) return;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i]!;
    if (!Number.isFinite(g)) {
      throw new Error(
        `${owner}: gradients contained NaN/Inf (${g} at index ${i} of ${grads.length})`,
      );
    }
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

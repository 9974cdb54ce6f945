/**
 * The errors a user can cause and fix: a bad name, a malformed number, a missing or corrupt
 * file, an invalid configuration, a kernel that is not built, a problem too big for a
 * kernel's memory. Every such error class extends `L2oError`, so a caller tells them from bugs
 * with one `instanceof`: the CLI prints an `L2oError` as one line and exits with code 2, and
 * reports anything else as an internal error (exit code 1).
 */
export class L2oError extends Error {
  override readonly name: string = "L2oError";
}

/**
 * A gradient with a NaN or an infinity handed to an optimizer: the step is refused before any
 * state changes, since a state fed one is poisoned for good (every optimizer and both adapters
 * throw it). Usually the loss diverged: lower the learning rate, or check the model.
 */
export class NonFiniteGradientError extends L2oError {
  override readonly name: string = "NonFiniteGradientError";
}

/** An invalid configuration (of a task, an optimizer, or a training run). */
export class ConfigError extends L2oError {
  override readonly name: string = "ConfigError";
}

/**
 * A value as an error message shows it: JSON, except that a non-finite number anywhere in it
 * reads as itself (NaN, Infinity, -Infinity), where JSON would print null and blame a value the
 * caller never gave.
 */
export function shownValue(v: unknown): string {
  const marker = "\u0001nonfinite:";
  try {
    const json = JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? `${marker}${x}` : x));
    if (json === undefined) return String(v);
    return json.replace(/"\\u0001nonfinite:(-?Infinity|NaN)"/g, "$1");
  } catch {
    // A BigInt or a cycle: no JSON for it.
    return typeof v === "object" && v !== null ? "(a value that cannot be shown as JSON)" : String(v);
  }
}

/**
 * A value a caller gave where a number belongs, as a message shows it: a number as itself,
 * anything else with its type, so that the string "0.1" does not read as the valid 0.1.
 */
export function shownNumber(v: unknown): string {
  if (typeof v === "number" || v === undefined || v === null) return String(v);
  return `${typeof v} ${shownValue(v)}`;
}

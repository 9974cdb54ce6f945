/**
 * The message every task config check ends in: `<task>: <what>, got <value as JSON>`, thrown
 * as a ConfigError. A value nested too deeply for JSON.stringify (it overflows the stack) is
 * named so instead of failing with a RangeError.
 */
import { ConfigError, shownValue as shownAnyValue } from "../core/errors.ts";

/**
 * `v` as an error message shows it (core's `shownValue`: JSON with NaN and infinities as
 * themselves); a value nested too deeply for JSON.stringify is named so.
 */
export function shownValue(v: unknown): string {
  try {
    JSON.stringify(v);
  } catch {
    return "a value too deeply nested to show";
  }
  return shownAnyValue(v);
}

/** Throws the ConfigError for a bad value in `task`'s config: `<task>: <what>, got <value as JSON>`. */
export function failTaskConfig(task: string, what: string, v: unknown): never {
  throw new ConfigError(`${task}: ${what}, got ${shownValue(v)}`);
}

import { L2oError } from "../core/errors.ts";

/**
 * A command-line mistake: a bad name, a malformed number, options that do not fit together.
 * Like every L2oError the CLI reports it as one line with exit code 2.
 */
export class UsageError extends L2oError {
  override readonly name = "UsageError";
}

/** Parses a number option, or throws a UsageError saying what was expected. */
export function parseNumber(flag: string, raw: string, opts: { integer?: boolean; min?: number; positive?: boolean } = {}): number {
  const v = Number(raw);
  const what = opts.integer ? "an integer" : "a number";
  if (raw.trim() === "" || !Number.isFinite(v)) throw new UsageError(`${flag} expects ${what}, got '${raw}'`);
  if (opts.integer && !Number.isInteger(v)) throw new UsageError(`${flag} expects ${what}, got '${raw}'`);
  if (opts.positive && !(v > 0)) throw new UsageError(`${flag} must be greater than 0, got '${raw}'`);
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`${flag} must be at least ${opts.min}, got '${raw}'`);
  return v;
}

/** Parses a JSON object option (task or optimizer configuration). */
export function parseJsonObject(flag: string, raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new UsageError(`${flag} expects a JSON object such as '{"hidden":[20]}', got '${raw}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError(`${flag} expects a JSON object such as '{"hidden":[20]}', got '${raw}'`);
  }
  return v as Record<string, unknown>;
}

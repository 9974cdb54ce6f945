import { L2oError } from "../core/errors.ts";

/**
 * A command-line mistake: a bad name, a malformed number, options that do not fit together.
 * Like every L2oError the CLI reports it as one line with exit code 2.
 */
export class UsageError extends L2oError {
  override readonly name = "UsageError";
}

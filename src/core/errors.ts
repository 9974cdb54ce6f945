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

/** An invalid configuration (of a task, an optimizer, or a training run). */
export class ConfigError extends L2oError {
  override readonly name: string = "ConfigError";
}

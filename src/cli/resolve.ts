/** Turns command-line names into task families and optimizer candidates, with clear errors. */
import { taskFamily, taskSpec } from "../tasks/registry.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { candidateFor, type NamedCandidate } from "../eval/candidates.ts";
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
import { ConfigError } from "../core/errors.ts";
import { UsageError } from "./errors.ts";

/**
 * A task family by registry name; unknown names and bad configuration are usage errors, the
 * latter prefixed with `--task-config:` (the defaults a command adds are valid).
 */
export function resolveTaskFamily(name: string, config: Record<string, unknown>): TaskFamily {
  try {
    taskSpec(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  try {
    return taskFamily(name, config);
  } catch (e) {
    // The registry reports a bad configuration as a plain Error, a task's own checks as a
    // ConfigError: both are usage errors. Other user errors (a missing data file) keep their
    // class; anything else (a TypeError) is a bug and stays one.
    if (e instanceof ConfigError || (e instanceof Error && Object.getPrototypeOf(e) === Error.prototype)) throw new UsageError(`--task-config: ${e.message}`);
    throw e;
  }
}

/**
 * The candidate an `--optimizer(s)` name gives (see `src/learned/resolve.ts` for the rule):
 * `lr` fixes a hand-designed optimizer's rate; `engine` and `threads` are the kernel a
 * learned one runs on (default: wasm on one thread).
 */
export function resolveCandidate(spec: string, lr?: number, engine?: EngineKind, threads: ThreadCount = 1): NamedCandidate {
  const candidate = candidateFor(spec, { ...(engine !== undefined ? { engine } : {}), threads }, lr);
  showWarnings(candidate.loaded);
  return candidate;
}

/**
 * Shows what loading an optimizer file warned about (a file without hashes, say) on stderr,
 * one `l2o: warning: ...` line each: the library returns warnings, the CLI prints them.
 */
export function showWarnings(loaded: { readonly warnings: readonly string[] } | undefined): void {
  for (const w of loaded?.warnings ?? []) process.stderr.write(`l2o: warning: ${w}\n`);
}

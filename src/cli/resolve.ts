/** Turns command-line names into task families and optimizer candidates, with clear errors. */
import { taskFamily, taskSpec, type TrainingDefaults } from "../tasks/registry.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { isTaskModulePath, taskModule } from "./user_task.ts";
import { candidateFor, type NamedCandidate } from "../eval/candidates.ts";
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
import { ConfigError } from "../core/errors.ts";
import { UsageError } from "./errors.ts";

const MODULE_HINT = "; or a task module of your own, e.g. --task ./my-task.ts";

/**
 * A task family by registry name, or from a task module (`./my-task.ts`: see
 * `src/cli/user_task.ts`; loaded before the command runs); unknown names and bad
 * configuration are usage errors, the latter prefixed with `--task-config:` (the defaults a
 * command adds are valid).
 */
export function resolveTaskFamily(name: string, config: Record<string, unknown>): TaskFamily {
  if (isTaskModulePath(name)) return taskModule(name).family(config);
  try {
    taskSpec(name);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}${MODULE_HINT}`);
  }
  try {
    return taskFamily(name, config);
  } catch (e) {
    // The registry and a task's own checks report a bad configuration as a ConfigError (a
    // plain Error from a task's factory counts as one too): usage errors. Other user errors
    // (a missing data file) keep their class; anything else (a TypeError) is a bug and stays one.
    if (e instanceof ConfigError || (e instanceof Error && Object.getPrototypeOf(e) === Error.prototype)) throw new UsageError(`--task-config: ${e.message}`);
    throw e;
  }
}

/** What `l2o train` takes from `--task`: its meta-training defaults and how its run record names it. */
export interface TrainingTask {
  readonly training: TrainingDefaults;
  /** The task in the run record: its registry name, or a module's absolute path. */
  readonly record: string;
  /**
   * More of the run record: a module's `taskModuleSha256` (of the module file's own bytes),
   * so that a checkpoint resumes only with the module it was made with.
   */
  readonly details: Readonly<Record<string, string>>;
}

/** The `TrainingTask` of `--task name` (registered, or a loaded module); an unknown name is a usage error. */
export function resolveTrainingTask(name: string): TrainingTask {
  if (isTaskModulePath(name)) {
    const m = taskModule(name);
    return { training: m.training, record: m.path, details: { taskModuleSha256: m.sha256 } };
  }
  try {
    return { training: taskSpec(name).training, record: name, details: {} };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}${MODULE_HINT}`);
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

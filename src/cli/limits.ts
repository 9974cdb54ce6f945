/**
 * The range of every size the command line takes, checked before any work starts (a count
 * outside it would otherwise mean hours of work or gigabytes before an error), and shown in
 * each option's help. The learned optimizer's own sizes (`--hidden`, `--layers`) are its
 * kind's limits in the registry, and a task config's are its task's (`QUADRATIC_LIMITS`,
 * `MNIST_MLP_LIMITS`); the task config also sizes each instance, which `checkInstanceMemory`
 * bounds for the commands that hold many at once.
 */
import type { TaskFamily } from "../tasks/base.ts";
import { learnedKind } from "../learned/registry.ts";
import { ES_LIMITS } from "../meta/config.ts";
import { UsageError } from "./errors.ts";
import { MAX_STEPS_TIMES_INSTANCES } from "../eval/evaluate.ts";

/** A closed range of integers. */
export interface CountRange {
  readonly min: number;
  readonly max: number;
}

/** The lstm kind's limit on `field` (the registry's, so that the flags and files agree). */
function lstmLimit(field: string): number {
  const v = learnedKind("lstm").limits[field];
  if (v === undefined) throw new Error(`the lstm kind declares no limit on '${field}'`);
  return v;
}

/** The ranges of the command line's counts. */
export const LIMITS = Object.freeze({
  /** `--hidden` (LSTM units per layer): the lstm kind's limit. */
  hidden: { min: 1, max: lstmLimit("hidden") },
  /** `--layers` (LSTM layers): the lstm kind's limit. */
  layers: { min: 1, max: lstmLimit("layers") },
  /** `--steps` of eval and run. */
  steps: { min: 1, max: 100_000 },
  /** `--instances` of run. */
  runInstances: { min: 1, max: 10_000 },
  /** `--instances` of eval and demo (a 95% interval needs two). */
  evalInstances: { min: 2, max: 10_000 },
  /** `--tune-instances` of eval. */
  tuneInstances: { min: 1, max: 1_000 },
  /** `--every` of run. */
  every: { min: 1, max: 100_000 },
  /** Entries of `--optimizers` and of `--lr-grid`. */
  listEntries: { min: 1, max: 64 },
  epochs: { min: 1, max: 1_000_000 },
  horizon: { min: 1, max: 100_000 },
  unroll: { min: 1, max: 10_000 },
  horizonsPerEpoch: { min: 1, max: 100_000 },
  metaBatch: { min: 1, max: 256 },
  validationTasks: { min: 1, max: 1_000 },
  patience: { min: 0, max: 1_000_000 },
  /** `--es-pairs` (antithetic pairs per trajectory of ES and PES): meta-training's own bound. */
  esPairs: { min: 1, max: ES_LIMITS.pairsMax },
  /**
   * `--threads`, in training and in eval and run: a fixed number, not a multiple of this
   * machine's cores, so that a training's recorded count replays on any machine.
   */
  threads: { min: 1, max: 64 },
} satisfies Record<string, CountRange>);

/**
 * `--steps` times `--instances` (eval and run keep each instance's loss at every step of the
 * optimizer being run: 80 MB at most): the library's own bound on an evaluation.
 */
export { MAX_STEPS_TIMES_INSTANCES };

/** Refuses `--steps` with `--instances` whose losses, every instance's at every step, would be more than `MAX_STEPS_TIMES_INSTANCES`. */
export function checkStepsTimesInstances(steps: number, instances: number): void {
  if (steps * instances > MAX_STEPS_TIMES_INSTANCES) {
    throw new UsageError(`--steps ${steps} with --instances ${instances} keeps ${grouped(steps * instances)} losses; steps x instances may be at most ${grouped(MAX_STEPS_TIMES_INSTANCES)}`);
  }
}

/** `--seconds` (demo, greater than 0) and `--max-seconds` (train, 0: no limit): at most 30 days. */
export const MAX_SECONDS = 2_592_000;

/**
 * Eval and run hold every instance they draw (task data and theta_0) at once, and training its
 * validation tasks and meta-batch: at most 2 GiB of them.
 */
export const INSTANCE_MEMORY_BYTES = 2 * 1024 ** 3;

/** An integer with thousands separators: 100,000. */
export function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A range for help text: `1 to 100,000`. */
export function rangeText(r: CountRange): string {
  return `${grouped(r.min)} to ${grouped(r.max)}`;
}

/**
 * Refuses `count` instances of `family` held at once when they would need more than
 * `INSTANCE_MEMORY_BYTES` (families that do not say their size pass). `what` names the flags
 * that gave the count, for the message.
 */
export function checkInstanceMemory(family: TaskFamily, count: number, what: string): void {
  const each = family.instanceBytes;
  if (each === undefined || count * each <= INSTANCE_MEMORY_BYTES) return;
  const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  throw new UsageError(
    `${what} would hold ${grouped(count)} ${family.name} instances of about ${(each / 1024 ** 2).toFixed(1)} MiB each at once, ` +
      `${gib(count * each)}; at most ${gib(INSTANCE_MEMORY_BYTES)}: give fewer instances or a smaller --task-config`,
  );
}

/**
 * A meta-training run with its files: a learned optimizer and a task family, the settings,
 * where to save the best optimizer (after every epoch that improves it), the checkpoint it
 * resumes from and writes after every epoch, and the JSONL log. The train and demo commands
 * run it; library code never prints, so what a run reports goes to its hooks.
 *
 * A run a user can trust:
 * - it locks its output, checkpoint and log (`src/io/lock.ts`): a second run on one of them is
 *   refused while the first is alive;
 * - its checkpoint records the run (`runRecord`), written at the start and after every epoch;
 *   resuming under other settings is refused (`checkRunRecord`), a damaged checkpoint is a
 *   `FileFormatError`; resuming rewinds the log to the checkpoint's position, so a resumed
 *   run's log is an uninterrupted one's (times aside);
 * - `runTrainJobAsync` returns to the event loop between horizons and stops at the next one when
 *   its `signal` is aborted, checkpointing that state (no validation): a resumed run continues
 *   as one never stopped;
 * - a training that made no update of phi (every unroll diverged) fails with
 *   `TrainingFailedError` and writes no optimizer file.
 */
import { existsSync, statSync, truncateSync } from "node:fs";
import { resolve } from "node:path";
import { L2oError } from "../core/errors.ts";
import type { TaskFamily } from "../tasks/base.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import { saveLearnedOptimizer } from "../learned/file.ts";
import { loadCheckpoint, saveCheckpoint, type CheckpointRecord, type CheckpointValue } from "../io/checkpoint.ts";
import { removeStaleTemps } from "../io/files.ts";
import { acquireLocks } from "../io/lock.ts";
import { jsonlWriter, type MetricWriter } from "../io/metrics.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { checkRunRecord, stateFromCheckpoint, stateToCheckpoint, type RunRecord } from "./checkpoint.ts";
import type { MetaTrainConfig } from "./config.ts";
import type { GradientEstimator } from "./estimator.ts";
import { initMetaTrainState, type MetaTrainState } from "./state.ts";
import { defaultEstimator, metaTrainSteps, type MetaTrainHooks, type MetaTrainResult } from "./train.ts";

export interface TrainJob {
  readonly optimizer: LearnedOptimizer;
  /** The task's registry name and the family it resolved to (both recorded in the file). */
  readonly task: string;
  readonly family: TaskFamily;
  readonly meta: MetaTrainConfig;
  readonly out: string;
  readonly checkpoint?: string;
  readonly log?: string;
  /** Start from these weights (a file trained before) instead of a fresh initialisation. */
  readonly init?: { readonly path: string; readonly phi: Float32Array };
  /** The estimator (default: truncated BPTT as `meta` asks). */
  readonly estimator?: GradientEstimator;
  /**
   * More to record under the file's `training` (the kernel, for example); the checkpoint's
   * run record holds it too, so it must be the same on resume (`threads` aside).
   */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly hooks?: TrainJobHooks;
}

export interface TrainJobHooks {
  /**
   * A checkpoint was found and training continues from it; `caveat`: something to tell the
   * user about it (an old checkpoint whose settings cannot be checked).
   */
  onResume?(state: MetaTrainState, path: string, caveat?: string): void;
  onIteration?(state: MetaTrainState, metaLoss: number): void;
  /** After each validation; `epoch` is the epoch validated (a cut one counts as the next). */
  onEpoch?(state: MetaTrainState, score: number, partial: boolean, epoch: number, seconds: number): void;
}

export interface TrainJobResult {
  readonly result: MetaTrainResult;
  readonly seconds: number;
}

/** A training that cannot give a trained optimizer (every unroll diverged): nothing was saved. */
export class TrainingFailedError extends L2oError {
  override readonly name = "TrainingFailedError";
}

/** Meta-iterations a run of `meta` makes at most (truncations that end before metaLossFrom update nothing). */
export function plannedIterations(meta: MetaTrainConfig): number {
  // ES over whole horizons updates once per horizon.
  const updating = meta.estimator === "es" ? 1 : meta.horizon / meta.unroll - Math.floor((meta.metaLossFrom - 1) / meta.unroll);
  return meta.epochs * (meta.horizonsPerEpoch / meta.metaBatch) * updating;
}

const json = (v: unknown): CheckpointRecord => JSON.parse(JSON.stringify(v ?? {})) as CheckpointRecord;

/**
 * The meta-training settings files and checkpoints record: all, except a fixed horizon
 * sampling, which runs from before it existed did not record (so their checkpoints resume).
 */
function recordedMeta(meta: MetaTrainConfig): Partial<MetaTrainConfig> {
  const { horizonSampling, ...rest } = meta;
  return horizonSampling === "fixed" ? rest : meta;
}

/**
 * What a checkpoint records of `job`'s run: the task and its resolved config, the optimizer's
 * kind and config, the file it started from (absolute path), the estimator, every
 * meta-training setting and the details (engine, threads, reduction).
 */
export function runRecord(job: TrainJob): RunRecord {
  return {
    task: job.task,
    taskConfig: json(job.family.config),
    optimizer: job.optimizer.kind,
    optimizerConfig: json(job.optimizer.config),
    init: job.init !== undefined ? resolve(job.init.path) : null,
    ...json(recordedMeta(job.meta)),
    // After the settings, whose `estimator` ("bptt", "es", "pes") it refines ("tbptt-second-order").
    estimator: (job.estimator ?? defaultEstimator(job.meta)).name,
    ...json(job.details),
  };
}

/**
 * Drops what the log at `path` holds after the checkpoint's position (`recorded`: the log's
 * absolute path and size when the checkpoint was written): lines of a run killed after it,
 * which the resumed run writes again. A log at another path is left as it is.
 */
function rewindLog(path: string, recorded: CheckpointValue | undefined, source: string): void {
  if (recorded === undefined) return;
  const r = recorded as Record<string, CheckpointValue>;
  if (typeof r !== "object" || r === null || typeof r.path !== "string" || typeof r.bytes !== "number" || !Number.isSafeInteger(r.bytes) || r.bytes < 0) {
    throw new FileFormatError(`${source}: field 'log' is damaged. Delete the checkpoint to start over.`, { path: source });
  }
  if (r.path !== resolve(path) || !existsSync(path)) return;
  if (statSync(path).size > r.bytes) truncateSync(path, r.bytes);
}

/**
 * A job's files opened for training: the starting state (fresh, or resumed from the
 * checkpoint), the hooks that log, save the best optimizer and checkpoint after every epoch,
 * and the end. `trainJobSteps` drives `metaTrainSteps` through it; a loop elsewhere (the
 * distributed learner of `src/dist/`) drives its own the same way.
 */
export interface OpenTrainJob {
  readonly state: MetaTrainState;
  readonly hooks: MetaTrainHooks;
  /**
   * Checkpoints a state a run stopped at (between horizons); `logBytes`: the log's size when
   * that state was reached (default: its size now), where a resumed run rewinds it to.
   */
  stopAt(s: MetaTrainState, logBytes?: number): void;
  /** The log's size now (undefined: no log). */
  logBytes(): number | undefined;
  /** The end of training: refuses a run that made no update, saves the best optimizer if not yet saved. */
  finish(result: MetaTrainResult): TrainJobResult;
  /** Releases the locks and closes the log. */
  close(): void;
}

/** Opens `job`'s files (locks them, resumes its checkpoint); the caller must `close()` it. */
export function openTrainJob(job: TrainJob): OpenTrainJob {
  const opt = job.optimizer;
  const files: Array<[string, string]> = [[job.out, "output file"]];
  if (job.checkpoint !== undefined) files.push([job.checkpoint, "checkpoint"]);
  if (job.log !== undefined) files.push([job.log, "log"]);
  const locks = acquireLocks(files);
  let writer: MetricWriter | undefined;
  const close = (): void => {
    writer?.close();
    for (const l of locks.reverse()) l.release();
  };
  try {
    for (const [path] of files) removeStaleTemps(path);
    const record = runRecord(job);
    let state: MetaTrainState = initMetaTrainState(opt, job.meta, job.init?.phi);
    const resuming = job.checkpoint !== undefined && existsSync(job.checkpoint);
    if (resuming) {
      const r = loadCheckpoint(job.checkpoint!);
      const caveat = checkRunRecord(r.run, record, job.checkpoint!);
      state = stateFromCheckpoint(r, opt.phiSize, job.meta);
      if (job.log !== undefined) rewindLog(job.log, r.log, job.checkpoint!);
      job.hooks?.onResume?.(state, job.checkpoint!, caveat);
    }
    // A fresh run's log is its own: appended to, an earlier run's lines would come first, and
    // its steps from 1 again would read as one training going back in time.
    if (!resuming && job.log !== undefined && existsSync(job.log)) truncateSync(job.log, 0);
    writer = job.log === undefined ? undefined : jsonlWriter(job.log);
    const logBytes = (): number | undefined => (job.log === undefined ? undefined : statSync(job.log).size);
    const saveState = (s: MetaTrainState, bytes?: number): void => {
      if (job.checkpoint === undefined) return;
      // Typed as a record: inferred, the empty branch reads `{ log?: undefined }`, which a
      // project without exactOptionalPropertyTypes refuses as a checkpoint value.
      const log: CheckpointRecord = job.log === undefined ? {} : { log: { path: resolve(job.log), bytes: bytes ?? statSync(job.log).size } };
      saveCheckpoint(job.checkpoint, { ...stateToCheckpoint(s), run: record, ...log });
    };
    // A run killed before its first epoch ends resumes from its start (and rewinds its log).
    if (!resuming) saveState(state);
    const started = performance.now();
    const training = (s: MetaTrainState): Record<string, unknown> => ({
      task: job.task,
      taskConfig: job.family.config as Record<string, unknown>,
      ...recordedMeta(job.meta),
      ...(job.details ?? {}),
      optimizer: opt.kind,
      ...(job.init !== undefined ? { init: job.init.path } : {}),
      epochsDone: s.epoch,
      metaIterations: s.metaIteration,
      skippedUnrolls: s.skipped,
    });
    const saveBest = (s: MetaTrainState): void => {
      saveLearnedOptimizer(job.out, opt, s.bestPhi, {
        training: training(s),
        validation: { score: s.bestScore, epoch: s.bestEpoch, tasks: job.meta.validationTasks, steps: job.meta.horizon },
      });
    };
    const hooks: MetaTrainHooks = {
      ...(writer ? { writer } : {}),
      onIteration: (s, loss) => job.hooks?.onIteration?.(s, loss),
      onEpoch: (s, score, partial) => {
        // An epoch cut short by the time limit is validated as epoch `s.epoch + 1` and resumed later.
        const epochNo = partial ? s.epoch + 1 : s.epoch;
        // Weights no update has touched are not a trained optimizer: never saved.
        if (s.metaIteration > 0 && s.bestEpoch === epochNo && s.bestScore === score) saveBest(s);
        saveState(s);
        job.hooks?.onEpoch?.(s, score, partial, epochNo, (performance.now() - started) / 1000);
      },
    };
    const finish = (result: MetaTrainResult): TrainJobResult => {
      const s = result.state;
      if (result.stopped !== "interrupted") {
        if (s.metaIteration === 0) {
          throw new TrainingFailedError(
            `training made no update of the optimizer's weights: every unroll diverged (a non-finite meta-loss or meta-gradient on ${s.skipped} of ${s.horizons} sampled tasks), ` +
              `so ${job.out} was not written; check the task configuration, or try a smaller output scale or --meta-lr`,
          );
        }
        // A resumed run that never beat the checkpoint's best has not written `out` yet.
        if (s.bestEpoch >= 0 && !existsSync(job.out)) saveBest(s);
      }
      return { result, seconds: (performance.now() - started) / 1000 };
    };
    return { state, hooks, stopAt: saveState, logBytes, finish, close };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * The job in steps: it yields between horizons (where `metaTrainSteps` does) and takes `true`
 * back to stop there.
 */
function* trainJobSteps(job: TrainJob): Generator<void, TrainJobResult, boolean | undefined> {
  const run = openTrainJob(job);
  try {
    const steps = metaTrainSteps(job.optimizer, job.family, job.meta, run.state, run.hooks, job.estimator);
    let result: MetaTrainResult;
    try {
      for (;;) {
        const next = steps.next();
        if (next.done) {
          result = next.value;
          break;
        }
        if ((yield) === true) {
          // Stopped between horizons: the state yielded is whole; checkpoint it as it is.
          result = { state: next.value, stopped: "interrupted" };
          run.stopAt(next.value);
          break;
        }
      }
    } finally {
      steps.return({ state: run.state, stopped: "interrupted" }); // releases the engines if it did not end
    }
    return run.finish(result);
  } finally {
    run.close();
  }
}

/** Runs a training job; the best phi is saved to `out` after every epoch that improves it. */
export function runTrainJob(job: TrainJob): TrainJobResult {
  const steps = trainJobSteps(job);
  for (;;) {
    const next = steps.next(false);
    if (next.done) return next.value;
  }
}

/**
 * `runTrainJob` that lets the event loop run between horizons (so signal handlers and timers
 * run during training) and, once `signal` is aborted, stops at the next horizon: the state
 * there is checkpointed (when the job has a checkpoint) and the result says `"interrupted"`.
 */
export async function runTrainJobAsync(job: TrainJob, options: { readonly signal?: AbortSignal } = {}): Promise<TrainJobResult> {
  const steps = trainJobSteps(job);
  for (;;) {
    const next = steps.next(options.signal?.aborted === true);
    if (next.done) return next.value;
    await new Promise<void>((res) => setImmediate(res));
  }
}

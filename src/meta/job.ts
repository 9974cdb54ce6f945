/**
 * A meta-training run with its files: a learned optimizer and a task family, the settings,
 * where to save the best optimizer (after every epoch that improves it), the checkpoint it
 * resumes from and writes after every epoch, and the JSONL log. The train and demo commands
 * run it; library code never prints, so what a run reports goes to its hooks.
 */
import { existsSync } from "node:fs";
import type { TaskFamily } from "../tasks/base.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import { saveLearnedOptimizer } from "../learned/file.ts";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { jsonlWriter } from "../io/metrics.ts";
import { stateFromCheckpoint, stateToCheckpoint } from "./checkpoint.ts";
import type { MetaTrainConfig } from "./config.ts";
import type { GradientEstimator } from "./estimator.ts";
import { initMetaTrainState, type MetaTrainState } from "./state.ts";
import { metaTrain, type MetaTrainResult } from "./train.ts";

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
  /** More to record under the file's `training` (the kernel, for example). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly hooks?: TrainJobHooks;
}

export interface TrainJobHooks {
  /** A checkpoint was found and training continues from it. */
  onResume?(state: MetaTrainState, path: string): void;
  onIteration?(state: MetaTrainState, metaLoss: number): void;
  /** After each validation; `epoch` is the epoch validated (a cut one counts as the next). */
  onEpoch?(state: MetaTrainState, score: number, partial: boolean, epoch: number, seconds: number): void;
}

/** Meta-iterations a run of `meta` makes at most (truncations that end before metaLossFrom update nothing). */
export function plannedIterations(meta: MetaTrainConfig): number {
  const updating = meta.horizon / meta.unroll - Math.floor((meta.metaLossFrom - 1) / meta.unroll);
  return meta.epochs * (meta.horizonsPerEpoch / meta.metaBatch) * updating;
}

/** Runs a training job; the best phi is saved to `out` after every epoch that improves it. */
export function runTrainJob(job: TrainJob): { result: MetaTrainResult; seconds: number } {
  const opt = job.optimizer;
  let state: MetaTrainState = initMetaTrainState(opt, job.meta, job.init?.phi);
  if (job.checkpoint !== undefined && existsSync(job.checkpoint)) {
    state = stateFromCheckpoint(loadCheckpoint(job.checkpoint), opt.phiSize);
    job.hooks?.onResume?.(state, job.checkpoint);
  }
  const writer = job.log === undefined ? undefined : jsonlWriter(job.log);
  const started = performance.now();
  const training = (s: MetaTrainState): Record<string, unknown> => ({
    task: job.task,
    taskConfig: job.family.config as Record<string, unknown>,
    ...job.meta,
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
  let result: MetaTrainResult;
  try {
    result = metaTrain(
      opt,
      job.family,
      job.meta,
      state,
      {
        ...(writer ? { writer } : {}),
        onIteration: (s, loss) => job.hooks?.onIteration?.(s, loss),
        onEpoch: (s, score, partial) => {
          // An epoch cut short by the time limit is validated as epoch `s.epoch + 1` and resumed later.
          const epochNo = partial ? s.epoch + 1 : s.epoch;
          if (s.bestEpoch === epochNo && s.bestScore === score) saveBest(s);
          if (job.checkpoint !== undefined) saveCheckpoint(job.checkpoint, stateToCheckpoint(s));
          job.hooks?.onEpoch?.(s, score, partial, epochNo, (performance.now() - started) / 1000);
        },
      },
      job.estimator,
    );
  } finally {
    writer?.close();
  }
  // A resumed run that never beat the checkpoint's best has not written `out` yet.
  if (result.state.bestEpoch >= 0 && !existsSync(job.out)) saveBest(result.state);
  return { result, seconds: (performance.now() - started) / 1000 };
}

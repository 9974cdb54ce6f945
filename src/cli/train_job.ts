/**
 * A meta-training run as the train and demo commands run it: a task name, the LSTM and
 * meta-training configurations, and where to save, checkpoint and log.
 */
import { existsSync } from "node:fs";
import { lstmOptimizer, type LstmOptimizer, type LstmOptimizerConfig } from "../learned/lstm_optimizer.ts";
import { saveLstmOptimizer } from "../learned/file.ts";
import { defaultEngineFactory, resolveEngineKind, type EngineKind } from "../kernels/select.ts";
import type { GradientReduction } from "../kernels/wasm.ts";
import { initMetaTrainState, metaTrain, type MetaTrainConfig, type MetaTrainResult, type MetaTrainState } from "../meta/train.ts";
import { stateFromCheckpoint, stateToCheckpoint } from "../meta/checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { jsonlWriter } from "../io/metrics.ts";
import { resolveTaskFamily } from "./resolve.ts";
import { progress } from "./progress.ts";

/**
 * Per-task training defaults: quadratics are meta-trained on batches of 128 functions with
 * raw gradients (the paper's setting); MNIST uses LogAndSign (p = 10) and output scale 0.1.
 */
export const TRAIN_DEFAULTS: Readonly<Record<string, { taskConfig: Record<string, unknown>; lstm: LstmOptimizerConfig }>> = {
  quadratic: { taskConfig: { instances: 128 }, lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } },
  "mnist-mlp": { taskConfig: {}, lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } },
};

export interface TrainJob {
  readonly task: string;
  readonly taskConfig: Record<string, unknown>;
  readonly lstm: LstmOptimizerConfig;
  readonly meta: MetaTrainConfig;
  readonly out: string;
  readonly engine: EngineKind;
  readonly threads: number;
  /** How the backward pass sums the weight gradient (default `chunks`). */
  readonly reduction?: GradientReduction;
  readonly checkpoint?: string;
  readonly log?: string;
  /** Start from these weights (a file trained before) instead of a fresh initialisation. */
  readonly init?: { readonly path: string; readonly phi: Float32Array };
  /** Print a line per epoch. */
  readonly verbose: boolean;
}

/** Runs a training job; the best phi is saved to `out` after every epoch that improves it. */
export function runTrainJob(job: TrainJob): { result: MetaTrainResult; opt: LstmOptimizer; seconds: number } {
  const family = resolveTaskFamily(job.task, job.taskConfig);
  const reduction = job.reduction ?? "chunks";
  const opt = lstmOptimizer(job.lstm, defaultEngineFactory(job.engine, job.threads, reduction));
  let state: MetaTrainState = initMetaTrainState(opt, job.meta, job.init?.phi);
  if (job.checkpoint !== undefined && existsSync(job.checkpoint)) {
    state = stateFromCheckpoint(loadCheckpoint(job.checkpoint), opt.phiSize);
    if (job.verbose) {
      const within = state.epochHorizons > 0 ? `, ${state.epochHorizons} horizons into epoch ${state.epoch + 1}` : "";
      process.stdout.write(`resuming from ${job.checkpoint} at epoch ${state.epoch}${within}\n`);
    }
  }
  const writer = job.log === undefined ? undefined : jsonlWriter(job.log);
  // Unrolls that end before metaLossFrom update nothing and are not meta-iterations.
  const updatingUnrolls = job.meta.horizon / job.meta.unroll - Math.floor((job.meta.metaLossFrom - 1) / job.meta.unroll);
  const totalIters = job.meta.epochs * (job.meta.horizonsPerEpoch / job.meta.metaBatch) * updatingUnrolls;
  const bar = progress(totalIters, "meta-iterations", " | meta-loss {loss}");
  const started = performance.now();
  const training = (s: MetaTrainState): Record<string, unknown> => ({
    task: job.task,
    taskConfig: family.config as Record<string, unknown>,
    ...job.meta,
    engine: resolveEngineKind(job.engine),
    threads: job.engine === "ref" ? 1 : job.threads,
    ...(job.engine === "ref" ? {} : { reduction }),
    lstm: job.lstm,
    ...(job.init !== undefined ? { init: job.init.path } : {}),
    epochsDone: s.epoch,
    metaIterations: s.metaIteration,
    skippedUnrolls: s.skipped,
  });
  const saveBest = (s: MetaTrainState): void => {
    saveLstmOptimizer(job.out, opt, s.bestPhi, {
      training: training(s),
      validation: { score: s.bestScore, epoch: s.bestEpoch, tasks: job.meta.validationTasks, steps: job.meta.horizon },
    });
  };
  const result = metaTrain(opt, family, job.meta, state, {
    ...(writer ? { writer } : {}),
    onIteration: (s, loss) => bar.update(s.metaIteration, { loss: loss.toFixed(4) }),
    onEpoch: (s, score, partial) => {
      // An epoch cut short by --max-seconds is validated as epoch `s.epoch + 1` and resumed later.
      const epochNo = partial ? s.epoch + 1 : s.epoch;
      if (s.bestEpoch === epochNo && s.bestScore === score) saveBest(s);
      if (job.checkpoint !== undefined) saveCheckpoint(job.checkpoint, stateToCheckpoint(s));
      if (job.verbose) {
        const secs = ((performance.now() - started) / 1000).toFixed(0);
        const cut = partial ? ` (time limit after ${s.epochHorizons} of ${job.meta.horizonsPerEpoch} horizons)` : "";
        process.stdout.write(
          `epoch ${String(epochNo).padStart(3)}${cut}  validation ${score.toPrecision(5)}  best ${s.bestScore.toPrecision(5)} (epoch ${s.bestEpoch})  ${secs}s\n`,
        );
      }
    },
  });
  bar.stop();
  writer?.close();
  // A resumed run that never beat the checkpoint's best has not written `out` yet.
  if (result.state.bestEpoch >= 0 && !existsSync(job.out)) saveBest(result.state);
  return { result, opt, seconds: (performance.now() - started) / 1000 };
}

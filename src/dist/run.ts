/**
 * A distributed training job: the files of `openTrainJob` (locks, resume, checkpoints, log,
 * best optimizer), a queue on Redis, and the synchronous or asynchronous learner.
 *
 * A synchronous run's checkpoint is a single-process run's (the same run record): either
 * resumes the other, bit for bit. An asynchronous run records its mode and staleness, so it
 * resumes only as one. When Redis stays away longer than `waitSeconds`, the last state the
 * run may stop at is checkpointed and the run stops with a `RedisLostError` that says so.
 */
import { randomBytes } from "node:crypto";
import { ConfigError } from "../core/errors.ts";
import { TASK_NAMES } from "../tasks/registry.ts";
import type { KernelOptions } from "../learned/kernel_options.ts";
import { resolveEngineKind } from "../kernels/select.ts";
import { L2O_VERSION } from "../io/version.ts";
import { keyToJSON } from "../core/rng.ts";
import { openTrainJob, type TrainJob, type TrainJobResult } from "../meta/job.ts";
import type { MetaTrainState } from "../meta/state.ts";
import { defaultEstimator, type MetaTrainResult } from "../meta/train.ts";
import { Dispatcher, RedisLostError, WaitInterrupted } from "./dispatch.ts";
import { JobRunner, type JobCounts } from "./jobs.ts";
import { trainSync, type LoopContext } from "./learner.ts";
import { trainAsync } from "./learner_async.ts";
import type { JobSetup } from "./protocol.ts";

export interface DistOptions {
  readonly redis: string;
  readonly queue: string;
  /** The engine the workers run the optimizer on (as `l2o train`'s --engine, --threads, --reduction). */
  readonly kernel: KernelOptions;
  /** Asynchronous mode: staleness bound and trajectories in flight; absent: synchronous. */
  readonly async?: { readonly staleness: number; readonly inFlight: number };
  /** Seconds to wait for a lost Redis before checkpointing and stopping (default 30). */
  readonly waitSeconds?: number;
  /** A refused job, a rejected result, a failure, the connection: one line each. */
  readonly onNotice?: (message: string) => void;
  /** Wait for this many workers before the first job (default 0: jobs wait in the queue). */
  readonly workersExpected?: number;
  /** The l2o version the jobs carry (default this one's; tests pose as an older learner). */
  readonly version?: string;
}

export interface DistTrainResult extends TrainJobResult {
  readonly counts: JobCounts & { readonly duplicates: number; readonly staleDropped: number };
}

/** Refuses what a distributed run cannot do faithfully, before anything starts. */
function checkDistributable(job: TrainJob, o: DistOptions): void {
  if (!TASK_NAMES.includes(job.task)) throw new ConfigError(`distributed training needs a registered task (the workers rebuild it by name); '${job.task}' is not one (see \`l2o tasks\`)`);
  // Workers run each trajectory's truncations as the learner numbers them, for horizons of one length.
  if ((job.meta.horizonSampling ?? "fixed") !== "fixed") throw new ConfigError(`distributed meta-training runs fixed horizons; --horizon-sampling ${job.meta.horizonSampling} trains in one process`);
  const engine = resolveEngineKind(o.kernel.engine ?? "wasm");
  if (o.async === undefined && engine === "wasm-fma" && job.optimizer.kind !== "hand") {
    throw new ConfigError(
      "synchronous distributed training needs an engine whose bits do not depend on the CPU (fused multiply-add results can differ between machines): " +
        "give --engine wasm-simd (or ref), or train with --async",
    );
  }
  if (o.async !== undefined && !(Number.isInteger(o.async.staleness) && o.async.staleness >= 0)) throw new ConfigError(`--staleness must be an integer >= 0, got ${o.async.staleness}`);
  if (o.async !== undefined && !(Number.isInteger(o.async.inFlight) && o.async.inFlight >= 1)) throw new ConfigError(`--in-flight must be a positive integer, got ${o.async.inFlight}`);
}

/** Runs `job` with its trajectories' work done by the workers on `o.queue`. */
export async function runDistTrainJob(job: TrainJob, o: DistOptions, options: { readonly signal?: AbortSignal } = {}): Promise<DistTrainResult> {
  checkDistributable(job, o);
  const estimator = defaultEstimator(job.meta);
  if (estimator.parts === undefined) throw new ConfigError(`the estimator ${estimator.name} cannot be cut per trajectory for workers`);
  const mode = o.async === undefined ? {} : { distributed: "async", staleness: o.async.staleness, inFlight: o.async.inFlight };
  const run = openTrainJob({ ...job, details: { ...(job.details ?? {}), ...mode } });
  const id = randomBytes(6).toString("hex");
  const notice = o.onNotice ?? (() => {});
  let dispatch: Dispatcher | undefined;
  // The last state the run may stop at, and the log's size then (a resumed run rewinds the log to it).
  let lastSafe: MetaTrainState = run.state;
  let lastLog = run.logBytes();
  const stale = { dropped: 0 };
  try {
    dispatch = await Dispatcher.open({ redis: o.redis, queue: o.queue, run: id, waitSeconds: o.waitSeconds ?? 30, onConnection: notice });
    const d = dispatch;
    if ((o.workersExpected ?? 0) > 0) await d.waitForWorkers(o.workersExpected!, notice, () => options.signal?.aborted === true);
    const setup: JobSetup = {
      task: job.task,
      taskConfig: JSON.parse(JSON.stringify(job.family.config ?? {})) as Record<string, unknown>,
      optimizer: { kind: job.optimizer.kind, config: JSON.parse(JSON.stringify(job.optimizer.config ?? {})) as unknown, phiSize: job.optimizer.phiSize },
      kernel: o.kernel,
      meta: {
        unroll: job.meta.unroll,
        horizon: job.meta.horizon,
        metaLoss: job.meta.metaLoss,
        metaLossFrom: job.meta.metaLossFrom,
        estimator: job.meta.estimator,
        ...(job.meta.esSigma !== undefined ? { esSigma: job.meta.esSigma } : {}),
        ...(job.meta.esPairs !== undefined ? { esPairs: job.meta.esPairs } : {}),
        secondOrder: job.meta.secondOrder,
        secondOrderScale: job.meta.secondOrderScale,
      },
      trainKey: keyToJSON(run.state.trainKey),
    };
    const jobs = new JobRunner(d, id, o.version ?? L2O_VERSION, setup, notice);
    const logCounts = (step: number): void => {
      const w = run.hooks.writer;
      if (w === undefined) return;
      for (const k of ["sent", "rejected", "refused", "failed"] as const) w.scalar(`dist/${k}`, jobs.counts[k], step);
      w.scalar("dist/duplicates", d.duplicates, step);
      w.scalar("dist/stale_dropped", stale.dropped, step);
    };
    const ctx: LoopContext = {
      opt: job.optimizer,
      family: job.family,
      cfg: job.meta,
      parts: estimator.parts,
      jobs,
      hooks: {
        ...run.hooks,
        onEpoch: (s, score, partial) => {
          logCounts(partial ? s.epoch + 1 : s.epoch);
          run.hooks.onEpoch?.(s, score, partial);
        },
      },
      // Kept a few versions back: asynchronous jobs in flight fetch the version they were sent with.
      publish: (v, phi) => d.publishPhi(v, phi, o.async === undefined ? 1 : o.async.staleness + 8),
      stopping: () => options.signal?.aborted === true,
      safe: (s) => {
        lastSafe = s;
        lastLog = run.logBytes();
      },
    };
    let result: MetaTrainResult;
    try {
      result = o.async === undefined ? await trainSync(ctx, run.state) : await trainAsync(ctx, run.state, o.async, stale);
    } catch (e) {
      // Stopped while waiting for results: the last safe state is where a resumed run goes on.
      if (!(e instanceof WaitInterrupted || e instanceof RedisLostError)) throw e;
      if (e instanceof RedisLostError) {
        run.stopAt(lastSafe, lastLog);
        const where = job.checkpoint !== undefined ? `the checkpoint ${job.checkpoint} holds epoch ${lastSafe.epoch}, horizon ${lastSafe.horizons}: start Redis and run the same command to resume` : "no --checkpoint was given, so the run starts over";
        throw new RedisLostError(`${e.message}; ${where}`);
      }
      result = { state: lastSafe, stopped: "interrupted" };
    }
    if (result.stopped === "interrupted") run.stopAt(result.state, result.state === lastSafe ? lastLog : undefined);
    const done = run.finish(result);
    return { ...done, counts: { ...jobs.counts, duplicates: d.duplicates, staleDropped: stale.dropped } };
  } finally {
    await dispatch?.close();
    run.close();
  }
}

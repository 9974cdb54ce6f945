/**
 * A worker's computation of one job: the trajectory's record through one truncation under
 * the job's phi, with the estimator's own per-trajectory work (`TrajectoryParts.part`), so
 * the part is the one a single process computes, bit for bit. The task family, the optimizer
 * and its differentiable step are built once per setup and kept.
 *
 * `checkJob` is the version check: a job from another l2o version or job format, or naming
 * an optimizer kind, task or engine this worker does not have, is refused with
 * `RefusedJobError` (not retried).
 */
import { hostname } from "node:os";
import { L2oError } from "../core/errors.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { taskFamily, TASK_NAMES } from "../tasks/registry.ts";
import type { DifferentiableStep, LearnedOptimizer } from "../learned/contract.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "../learned/registry.ts";
import { L2O_VERSION } from "../io/version.ts";
import { resolveMetaTrainConfig } from "../meta/config.ts";
import type { GradientEstimator, TrajectoryParts, Truncation } from "../meta/estimator.ts";
import { defaultEstimator } from "../meta/train.ts";
import { horizonInstance, TrajectorySet } from "../meta/trajectory.ts";
import { b64, decodeRecord, encodeRecord, PROTOCOL, trainKeyOf, type JobData, type JobSetup, type ResultData } from "./protocol.ts";

/** A job this worker must not compute (another version, an unknown kind): failed at once, never retried. */
export class RefusedJobError extends L2oError {
  override readonly name = "RefusedJobError";
}

/** Refuses a job this worker cannot compute faithfully; `version` is this worker's l2o version. */
export function checkJob(job: JobData, version: string = L2O_VERSION): void {
  if (typeof job !== "object" || job === null) throw new RefusedJobError("refused: the job is not an l2o meta-gradient job");
  if (job.protocol !== PROTOCOL || job.l2o !== version) {
    throw new RefusedJobError(`refused: the job comes from l2o ${String(job.l2o)} (job format ${String(job.protocol)}), this worker runs l2o ${version} (job format ${PROTOCOL}); run workers of the learner's version`);
  }
  const kind = job.setup?.optimizer?.kind;
  if (!LEARNED_KIND_NAMES.includes(kind)) throw new RefusedJobError(`refused: the job trains a '${String(kind)}' optimizer, which this worker's l2o ${version} does not have (it has ${LEARNED_KIND_NAMES.join(", ")})`);
  if (!TASK_NAMES.includes(job.setup.task)) throw new RefusedJobError(`refused: the job's task '${String(job.setup.task)}' is not registered in this worker's l2o ${version}`);
}

interface Built {
  readonly family: TaskFamily;
  readonly opt: LearnedOptimizer;
  readonly estimator: GradientEstimator & { readonly parts: TrajectoryParts };
  step?: { readonly layout: ParamLayout; readonly step: DifferentiableStep } | undefined;
}

/** Builds and keeps each setup's family, optimizer and estimator (a worker serves one run at a time, rarely more). */
export class JobComputer {
  readonly #built = new Map<string, Built>();
  readonly #name = `${hostname()}:${process.pid}`;

  #build(setup: JobSetup): Built {
    const id = JSON.stringify(setup);
    const had = this.#built.get(id);
    if (had !== undefined) return had;
    let opt: LearnedOptimizer;
    let family: TaskFamily;
    try {
      family = taskFamily(setup.task, setup.taskConfig);
      opt = learnedKind(setup.optimizer.kind).build(setup.optimizer.config, setup.kernel);
    } catch (e) {
      throw new RefusedJobError(`refused: this worker cannot build the job's task or optimizer: ${(e as Error).message}`);
    }
    if (opt.phiSize !== setup.optimizer.phiSize) {
      throw new RefusedJobError(`refused: the job's '${opt.kind}' optimizer has ${setup.optimizer.phiSize} weights, this worker's build of its config ${opt.phiSize}`);
    }
    const estimator = defaultEstimator(resolveMetaTrainConfig(setup.meta));
    if (estimator.parts === undefined) throw new RefusedJobError(`refused: the estimator ${estimator.name} cannot be cut per trajectory`);
    for (const old of this.#built.values()) old.step?.step.dispose();
    this.#built.clear();
    const built: Built = { family, opt, estimator: estimator as Built["estimator"] };
    this.#built.set(id, built);
    return built;
  }

  /** Computes `job` under `phi` (checked by `checkJob` first). */
  compute(job: JobData, phi: Float32Array): ResultData {
    const started = performance.now();
    const b = this.#build(job.setup);
    if (phi.length !== b.opt.phiSize) throw new RefusedJobError(`refused: phi version ${job.phiVersion} has ${phi.length} floats, the optimizer ${b.opt.phiSize}`);
    const meta = job.setup.meta;
    const record = decodeRecord(job.record, "the job's record");
    let stepFor: DifferentiableStep | null = null;
    if (b.estimator.forwardOnly !== true) {
      // The layout of this horizon's task (drawn again by the set below: a small cost next to the truncation).
      const layout = horizonInstance(b.family, trainKeyOf(job.setup), record.horizon).task.layout;
      if (b.step === undefined || !b.step.layout.sameAs(layout)) {
        b.step?.step.dispose();
        b.step = undefined;
        b.step = { layout, step: b.opt.differentiable!(phi, layout, meta.unroll) };
      }
      b.step.step.setPhi(phi);
      stepFor = b.step.step;
    }
    const set = TrajectorySet.fromRecords(stepFor, b.family, trainKeyOf(job.setup), [record]);
    const trunc: Truncation = {
      phi,
      index: job.index,
      length: meta.unroll,
      horizon: meta.horizon,
      metaLoss: meta.metaLoss,
      metaLossFrom: meta.metaLossFrom,
      family: b.family,
      optimizer: b.opt,
    };
    const part = b.estimator.parts.advances(trunc) ? b.estimator.parts.part(trunc, set, 0) : null;
    return {
      protocol: PROTOCOL,
      run: job.run,
      phiVersion: job.phiVersion,
      horizon: record.horizon,
      index: job.index,
      part: part === null || part === "diverged" ? part : { loss: part.loss, grad: b64(part.grad) },
      record: encodeRecord(set.records()[0]!),
      worker: this.#name,
      computeMs: performance.now() - started,
    };
  }

  dispose(): void {
    for (const b of this.#built.values()) b.step?.step.dispose();
    this.#built.clear();
  }
}

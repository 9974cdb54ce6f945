/**
 * The gradient-estimator contract (learned_optimization's `GradientEstimator`): given phi and
 * a set of trajectories, advance each by one truncation and estimate the meta-gradient over
 * them. Truncated backpropagation through time (`truncatedBptt`) differentiates through the
 * optimizer's step; estimators that see only losses (ES, PES) perturb phi and run the step
 * forward alone through the same interface.
 */
import type { TaskFamily } from "../tasks/base.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import type { MetaLossKind } from "./config.ts";
import type { TrajectorySet } from "./trajectory.ts";

/** What every estimator is told about the truncation at hand. */
export interface Truncation {
  /** phi, already set in the trajectories' step. */
  readonly phi: Float32Array;
  /** Which truncation of the horizon: steps index * length .. (index + 1) * length. */
  readonly index: number;
  /** Steps per truncation (T). */
  readonly length: number;
  /** Steps per horizon. */
  readonly horizon: number;
  /** Each step's term: its loss or the log of its loss. */
  readonly metaLoss: MetaLossKind;
  /** The first step of the horizon whose loss counts (1-based, as `MetaTrainConfig.metaLossFrom`). */
  readonly metaLossFrom: number;
  readonly family: TaskFamily;
  /**
   * The optimizer being trained: estimators that run it forward through `optFn` (ES, PES)
   * need it; `metaTrain` always sets it.
   */
  readonly optimizer?: Pick<LearnedOptimizer, "kind" | "optFn">;
}

export interface Estimate {
  /** The mean per-step (and per-function) meta-loss over the trajectories that counted. */
  readonly metaLoss: number;
  /** The meta-gradient averaged over them (`phi.length` floats). */
  readonly grad: Float32Array;
  /** Trajectories that counted; 0 when every one diverged. */
  readonly live: number;
  /** Trajectories that diverged in this truncation (dropped for the rest of their horizon). */
  readonly diverged: number;
}

export interface GradientEstimator {
  /** A short name that training files record, e.g. `tbptt`. */
  readonly name: string;
  /**
   * True for an estimator that runs the optimizer forward alone (`optFn`), seeing only
   * losses: it needs no differentiable step, so it trains any kind, and its trajectory set
   * has none.
   */
  readonly forwardOnly?: boolean;
  /**
   * Advances every live trajectory by one truncation and returns the meta-gradient, or null
   * when the truncation lies wholly before `metaLossFrom` (the trajectories only advance) or
   * the estimator makes no update there (ES over whole horizons updates once per horizon).
   */
  estimate(trunc: Truncation, trajectories: TrajectorySet): Estimate | null;
}

/**
 * Points of truncation `index` before `from` (local indices: point s is step index * T + s)
 * do not count; 0 when all count, above T when none does.
 */
export function localFrom(trunc: Pick<Truncation, "index" | "length" | "metaLossFrom">): number {
  return Math.max(0, trunc.metaLossFrom - trunc.index * trunc.length);
}

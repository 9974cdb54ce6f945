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
  /**
   * The estimate cut per trajectory, for estimators whose trajectories are independent (all
   * three here): `estimate` is `estimateByParts(parts, ...)`, so a trajectory's part can be
   * computed elsewhere (`src/dist/`) and combined in task order with the same bits.
   */
  readonly parts?: TrajectoryParts;
}

/** One trajectory's term of an estimate: its meta-loss and its term of the gradient's sum. */
export interface TrajectoryPart {
  readonly loss: number;
  /** Its term of the sum over the trajectories (float64, exactly as the estimator adds it). */
  readonly grad: Float64Array;
}

/** What an estimator does per trajectory, and how the parts combine. */
export interface TrajectoryParts {
  /** Whether the truncation moves the trajectories at all (ES: its first truncation alone). */
  advances(trunc: Truncation): boolean;
  /** Whether the truncation gives an estimate (false: the trajectories only advance). */
  estimates(trunc: Truncation): boolean;
  /**
   * Advances live trajectory `k` of the set by the truncation: its part when the truncation
   * estimates, "diverged" when it diverged there (it is marked dead), null when it only advanced.
   */
  part(trunc: Truncation, set: TrajectorySet, k: number): TrajectoryPart | "diverged" | null;
  /** The precision the parts are summed in before the mean (the estimators' own choice, kept for the bits). */
  readonly sum: "f32" | "f64";
}

/**
 * Parts in task order combined into the estimate: summed in the estimator's precision,
 * divided by the live count; the meta-loss is their mean.
 */
export function combineParts(parts: readonly (TrajectoryPart | "diverged")[], n: number, sum: "f32" | "f64"): Estimate {
  const acc = sum === "f32" ? new Float32Array(n) : new Float64Array(n);
  let live = 0;
  let diverged = 0;
  let lossSum = 0;
  for (const p of parts) {
    if (p === "diverged") {
      diverged++;
      continue;
    }
    for (let i = 0; i < n; i++) acc[i] = acc[i]! + p.grad[i]!;
    lossSum += p.loss;
    live++;
  }
  const grad = sum === "f32" ? (acc as Float32Array) : new Float32Array(n);
  if (live > 0) for (let i = 0; i < n; i++) grad[i] = acc[i]! / live;
  return { metaLoss: live > 0 ? lossSum / live : NaN, grad, live, diverged };
}

/** The estimator `name` whose `estimate` is `estimateByParts` over `parts`; `forwardOnly` as in `GradientEstimator`. */
export function estimatorFromParts(name: string, parts: TrajectoryParts, forwardOnly = false): GradientEstimator {
  return { name, ...(forwardOnly ? { forwardOnly: true } : {}), parts, estimate: (trunc, set) => estimateByParts(parts, trunc, set) };
}

/** `estimate` from an estimator's parts: every live trajectory in order, then `combineParts`. */
export function estimateByParts(p: TrajectoryParts, trunc: Truncation, set: TrajectorySet): Estimate | null {
  if (!p.advances(trunc)) return null;
  const parts: (TrajectoryPart | "diverged")[] = [];
  set.items.forEach((tr, k) => {
    if (!tr.live) return;
    const r = p.part(trunc, set, k);
    if (r !== null) parts.push(r);
  });
  return p.estimates(trunc) ? combineParts(parts, trunc.phi.length, p.sum) : null;
}

/**
 * Points of truncation `index` before `from` (local indices: point s is step index * T + s)
 * do not count; 0 when all count, above T when none does.
 */
export function localFrom(trunc: Pick<Truncation, "index" | "length" | "metaLossFrom">): number {
  return Math.max(0, trunc.metaLossFrom - trunc.index * trunc.length);
}

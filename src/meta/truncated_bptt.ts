/**
 * Truncated backpropagation through time as a gradient estimator (Andrychowicz et al. 2016,
 * section 3): each trajectory's truncation is differentiated through the optimizer's step
 * (`unrollMetaGrad`), first order by default, with the Hessian-vector products of the task
 * for second order; the trajectories' gradients are averaged.
 */
import { firstNonFinite } from "../core/finite.ts";
import type { GradientEstimator, TrajectoryPart, TrajectoryParts, Truncation } from "./estimator.ts";
import { estimatorFromParts, localFrom } from "./estimator.ts";
import { batchKeys, type TrajectorySet } from "./trajectory.ts";
import { advanceUnroll, unrollMetaGrad } from "./unroll.ts";
import { isLogMetaLoss } from "./config.ts";
import { initialLogLoss } from "./recipe.ts";

export interface TruncatedBpttOptions {
  /** Keep the second-order terms (needs a task with `hvp`; default false, as in the paper). */
  readonly secondOrder?: boolean;
  /** The weight of the second-order terms in (0, 1] (default 1, exact). */
  readonly secondOrderScale?: number;
}

/** The truncated-BPTT estimator. */
export function truncatedBptt(opts: TruncatedBpttOptions = {}): GradientEstimator {
  const secondOrder = opts.secondOrder ?? false;
  const secondOrderScale = opts.secondOrderScale ?? 1;
  const parts: TrajectoryParts = {
    sum: "f32",
    advances: () => true,
    estimates: (trunc) => localFrom(trunc) <= trunc.length,
    part(trunc: Truncation, set: TrajectorySet, k: number): TrajectoryPart | "diverged" | null {
      const T = trunc.length;
      const from = localFrom(trunc);
      const tr = set.enter(k);
      const at = { position: tr.position, horizon: trunc.horizon, ...(tr.first ? { first: tr.first } : {}) };
      if (from > T) {
        const a = advanceUnroll({ task: tr.instance.task, step: set.step, theta: tr.theta, T, keys: batchKeys(tr), ...at });
        tr.theta = a.theta;
        tr.first = a.last;
        tr.position += T;
        set.leave(k);
        return null;
      }
      const r = unrollMetaGrad({
        task: tr.instance.task,
        step: set.step,
        theta: tr.theta,
        T,
        weights: isLogMetaLoss(trunc.metaLoss) ? "log" : "after",
        keys: batchKeys(tr),
        ...at,
        secondOrder,
        secondOrderScale,
        from,
      });
      // A mean per counted step (and per function: log f is already free of the batch's size).
      const counted = T - Math.max(0, from - 1);
      const norm = isLogMetaLoss(trunc.metaLoss) ? counted : counted * tr.instance.task.instances;
      // The log loss-ratio: log f - log f(theta_0), the same gradient.
      const loss = r.metaLoss / norm - (trunc.metaLoss === "logRatio" ? initialLogLoss(tr.instance) : 0);
      if (!Number.isFinite(loss) || firstNonFinite(r.dphi) >= 0) {
        // A diverged trajectory: drop the rest of its horizon; it does not touch phi.
        tr.live = false;
        return "diverged";
      }
      const grad = new Float64Array(r.dphi.length);
      for (let i = 0; i < grad.length; i++) grad[i] = r.dphi[i]! / norm;
      tr.theta = r.theta;
      tr.first = r.last;
      tr.position += T;
      set.leave(k);
      return { loss, grad };
    },
  };
  return estimatorFromParts(secondOrder ? "tbptt-second-order" : "tbptt", parts);
}

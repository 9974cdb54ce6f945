/**
 * Truncated backpropagation through time as a gradient estimator (Andrychowicz et al. 2016,
 * section 3): each trajectory's truncation is differentiated through the optimizer's step
 * (`unrollMetaGrad`), first order by default, with the Hessian-vector products of the task
 * for second order; the trajectories' gradients are averaged.
 */
import { firstNonFinite } from "../core/finite.ts";
import type { Estimate, GradientEstimator, Truncation } from "./estimator.ts";
import { localFrom } from "./estimator.ts";
import { batchKeys, type TrajectorySet } from "./trajectory.ts";
import { advanceUnroll, unrollMetaGrad } from "./unroll.ts";

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
  return {
    name: secondOrder ? "tbptt-second-order" : "tbptt",
    estimate(trunc: Truncation, set: TrajectorySet): Estimate | null {
      const T = trunc.length;
      const from = localFrom(trunc);
      const at = (tr: { position: number }) => ({ position: tr.position, horizon: trunc.horizon });
      if (from > T) {
        set.items.forEach((tr, k) => {
          if (!tr.live) return;
          set.enter(k);
          const a = advanceUnroll({ task: tr.instance.task, step: set.step, theta: tr.theta, T, keys: batchKeys(tr), ...at(tr), ...(tr.first ? { first: tr.first } : {}) });
          tr.theta = a.theta;
          tr.first = a.last;
          tr.position += T;
          set.leave(k);
        });
        return null;
      }
      // A mean per counted step (and per function: log f is already free of the batch's size).
      const counted = T - Math.max(0, from - 1);
      const acc = new Float32Array(trunc.phi.length);
      let live = 0;
      let diverged = 0;
      let lossSum = 0;
      set.items.forEach((tr, k) => {
        if (!tr.live) return;
        set.enter(k);
        const r = unrollMetaGrad({
          task: tr.instance.task,
          step: set.step,
          theta: tr.theta,
          T,
          weights: trunc.metaLoss === "log" ? "log" : "after",
          keys: batchKeys(tr),
          ...at(tr),
          ...(tr.first ? { first: tr.first } : {}),
          secondOrder,
          secondOrderScale,
          from,
        });
        const norm = trunc.metaLoss === "log" ? counted : counted * tr.instance.task.instances;
        const loss = r.metaLoss / norm;
        if (!Number.isFinite(loss) || firstNonFinite(r.dphi) >= 0) {
          // A diverged trajectory: drop the rest of its horizon; it does not touch phi.
          tr.live = false;
          diverged++;
          return;
        }
        for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + r.dphi[i]! / norm;
        lossSum += loss;
        live++;
        tr.theta = r.theta;
        tr.first = r.last;
        tr.position += T;
        set.leave(k);
      });
      if (live > 0) for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / live;
      return { metaLoss: live > 0 ? lossSum / live : NaN, grad: acc, live, diverged };
    },
  };
}

/**
 * Validation during meta-training: the optimizer with the current phi runs on fixed held-out
 * instances with evaluation's own rollout (`runOptimizer`), and its score is the mean
 * per-function loss (or log loss) over the counted steps: lower is better.
 */
import type { Key } from "../core/rng.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { drawInstances, runOptimizer, type Instance } from "../eval/evaluate.ts";
import { transformsByLayout, type LearnedOptimizer } from "../learned/contract.ts";
import { isLogMetaLoss, type MetaLossKind } from "./config.ts";

/** The validation instances of a run: `count` instances drawn from its validation key. */
export function validationInstances(family: TaskFamily, validKey: Key, count: number): Instance[] {
  return drawInstances(family, validKey, count);
}

/**
 * Mean per-function loss over steps from..horizon (default 1..horizon) on each validation
 * instance, averaged (with `metaLoss` "log": the mean of its natural log; "logRatio": of
 * log f(theta_t) / f(theta_0)); a run that
 * diverges scores Infinity.
 */
export function validationScore(
  opt: Pick<LearnedOptimizer, "optFn" | "initialParams">,
  phi: Float32Array,
  instances: readonly Instance[],
  horizon: number,
  metaLoss: MetaLossKind = "sum",
  from = 1,
): number {
  let total = 0;
  // One transform for all instances of one layout (engines made once); each run starts from
  // init's zero state, and its state is only ever passed back to the next update, so no copy
  // of it is made per step.
  const txs = transformsByLayout(opt, phi, { copyState: false });
  try {
    for (const v of instances) {
      const theta0 = opt.initialParams?.(phi, v.task.layout, v.theta0) ?? v.theta0;
      const { losses } = runOptimizer(v.task, txs.get(v.task.layout), theta0, horizon, v.batchKey);
      let sum = 0;
      // The log loss-ratio's offset: log f(theta_0) (runOptimizer's losses are per function; their ratio is the same).
      const log0 = metaLoss === "logRatio" ? Math.log(Math.max(losses[0]!, 1e-30)) : 0;
      for (let t = from; t <= horizon; t++) {
        const l = losses[t]!;
        if (l === Infinity) {
          sum = Infinity;
          break;
        }
        // (A loss that underflows to 0 counts as 1e-30 under "log", not as -Infinity.)
        sum += isLogMetaLoss(metaLoss) ? Math.log(Math.max(l, 1e-30)) - log0 : l;
      }
      total += sum / (horizon - from + 1);
    }
  } finally {
    txs.dispose();
  }
  return total / instances.length;
}

/**
 * Two parts of Wichrowska et al. 2017's training recipe, usable with any kind and estimator:
 * heavy-tailed horizon lengths (`MetaTrainConfig.horizonSampling`) and the log loss-ratio
 * meta-objective (`MetaTrainConfig.metaLoss` "logRatio"), whose offset log f(theta_0) each
 * horizon's instance gives.
 */
import { foldIn, uniform, type Key } from "../core/rng.ts";
import type { Instance } from "../eval/evaluate.ts";
import type { MetaTrainConfig } from "./config.ts";

/**
 * Truncations the group of horizons that starts at horizon `first` runs: horizon / unroll
 * when fixed; with "logUniform", k in 1 .. horizon / unroll with log k uniform on
 * [0, log(horizon / unroll + 1)), drawn from the group's own key (the same k for a resumed run).
 */
export function horizonTruncations(cfg: Pick<MetaTrainConfig, "horizon" | "unroll" | "horizonSampling">, trainKey: Key, first: number): number {
  const most = cfg.horizon / cfg.unroll;
  if (cfg.horizonSampling === "fixed") return most;
  const u = uniform(foldIn(foldIn(trainKey, "horizon-length"), first), 1, 0, 1)[0]!;
  return Math.min(most, Math.max(1, Math.floor(Math.exp(u * Math.log(most + 1)))));
}

const LOG_FLOOR = 1e-30;
const cache = new WeakMap<Instance, number>();

/**
 * log f(theta_0) on the horizon's first minibatch, f the task's loss summed over its functions
 * as the estimators' log terms take it (a loss of 0 counts as 1e-30); cached per instance.
 */
export function initialLogLoss(instance: Instance): number {
  let v = cache.get(instance);
  if (v === undefined) {
    const { task } = instance;
    v = Math.log(Math.max(task.lossAndGrad(instance.theta0, foldIn(instance.batchKey, 0)).loss, LOG_FLOOR));
    cache.set(instance, v);
  }
  return v;
}

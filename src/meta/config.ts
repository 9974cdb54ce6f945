/**
 * Meta-training's settings: truncation and horizon, the outer optimizer, epochs and
 * validation, the meta-loss, the gradient estimator, the time limit; defaults and validation.
 */
import { ConfigError, shownValue } from "../core/errors.ts";

export interface MetaTrainConfig {
  /** Optimizee steps per truncation (T, default 20). */
  readonly unroll: number;
  /** Optimizee steps per sampled task before a reset (default 100; a multiple of `unroll`). */
  readonly horizon: number;
  /** Adam learning rate on phi (default 0.003). */
  readonly metaLr: number;
  /** Clip the meta-gradient to this global L2 norm before Adam (0 turns clipping off; default 1). */
  readonly clipNorm: number;
  readonly epochs: number;
  /** Horizons per epoch (default 20; a multiple of `metaBatch`). */
  readonly horizonsPerEpoch: number;
  /**
   * Horizons whose meta-gradients are averaged for each update of phi (default 1, the paper's
   * one trajectory per update). They run one after another on the same engines, each with its
   * own task, theta and LSTM state, so memory does not grow with it; each unroll's update
   * waits for all of them.
   */
  readonly metaBatch: number;
  /** Held-out validation tasks scored after each epoch (default 4). */
  readonly validationTasks: number;
  /** Stop after this many epochs without a better validation score (0: never stop early). */
  readonly patience: number;
  /** Keep second-order terms (needs a task with `hvp`); the paper drops them (default false). */
  readonly secondOrder: boolean;
  /**
   * With `secondOrder`, the weight of the second-order terms in (0, 1] (default 1, exact); see
   * `UnrollOptions.secondOrderScale`.
   */
  readonly secondOrderScale: number;
  /**
   * What each optimizee step contributes: `"sum"`, its loss (the paper's sum_t f(theta_t),
   * the default), or `"log"`, the log of its loss, which weighs late, small losses as much
   * as the first, large ones (see docs/RESULTS.md, MNIST); `"logRatio"`, log f(theta_t) /
   * f(theta_0) with theta_0 the horizon's start (Wichrowska et al. 2017's objective): the
   * gradient of "log", its value free of each task's scale, so scores of different tasks
   * compare. Validation scores the same quantity.
   */
  readonly metaLoss: MetaLossKind;
  /**
   * How long each group of horizons runs: `"fixed"`, `horizon` steps (the default);
   * `"logUniform"`, a number of truncations k drawn per group with log k uniform on
   * [0, log(horizon / unroll + 1)) (P(k) ~ 1/k: many short runs, a heavy tail of long ones, as
   * Wichrowska et al. 2017 train), so `horizon` is the longest. Validation runs `horizon`.
   */
  readonly horizonSampling: HorizonSampling;
  /**
   * The first optimizee step of each horizon whose loss counts (1 to horizon; default 1, the
   * paper's sum over every step). Later values aim the training at the end of the horizon:
   * the losses of steps before it get weight 0, the unrolls that end before it only move
   * theta and the LSTM state on (no meta-gradient, no update of phi), and validation scores
   * steps `metaLossFrom` .. horizon.
   */
  readonly metaLossFrom: number;
  /**
   * The meta-gradient's estimator: `"bptt"`, truncated backpropagation through time (the
   * default; first or second order, needs a kind with a differentiable step); `"es"`,
   * antithetic evolution strategies over whole horizons (one update per horizon); `"pes"`,
   * persistent evolution strategies over truncations (unbiased for the smoothed meta-loss of
   * the whole horizon). ES and PES see only losses, so they train any kind.
   */
  readonly estimator: EstimatorName;
  /** ES and PES: the perturbation's standard deviation in phi's units (default 0.01; absent for bptt). */
  readonly esSigma?: number;
  /** ES and PES: antithetic pairs per trajectory (default 16; absent for bptt). */
  readonly esPairs?: number;
  readonly seed: number;
  /**
   * The seed the validation tasks are drawn from (default: `seed`). Runs with different seeds
   * but the same validation seed are scored on the same tasks, so their scores compare.
   */
  readonly validationSeed?: number;
  /**
   * Stop after this many seconds of training (0: no limit). Checked after each horizon, so
   * that a resumed run continues the same sequence of horizons as an uninterrupted one.
   */
  readonly maxSeconds: number;
}

export type MetaLossKind = "sum" | "log" | "logRatio";

export const META_LOSS_KINDS: readonly MetaLossKind[] = ["sum", "log", "logRatio"];

/** Whether each step's term is a log (its gradient weights each loss by 1 / f). */
export const isLogMetaLoss = (k: MetaLossKind): boolean => k !== "sum";

export type HorizonSampling = "fixed" | "logUniform";

export const HORIZON_SAMPLINGS: readonly HorizonSampling[] = ["fixed", "logUniform"];

export type EstimatorName = "bptt" | "es" | "pes";

export const ESTIMATORS: readonly EstimatorName[] = ["bptt", "es", "pes"];

/**
 * The largest `metaLr` (and `l2o train --meta-lr`): Adam moves each weight by about the rate
 * per step, so a rate above 1 only throws phi where every run diverges (the few-shot trainer
 * has the same bound).
 */
export const META_LR_MAX = 1;

/** The bounds of `esSigma` and `esPairs` (the CLI shows them). */
export const ES_LIMITS = Object.freeze({ sigmaMax: 1, pairsMax: 4096, sigmaDefault: 0.01, pairsDefault: 16 });

export const META_TRAIN_DEFAULTS: MetaTrainConfig = {
  unroll: 20,
  horizon: 100,
  metaLr: 0.003,
  clipNorm: 1,
  epochs: 50,
  horizonsPerEpoch: 20,
  metaBatch: 1,
  validationTasks: 4,
  patience: 0,
  secondOrder: false,
  secondOrderScale: 1,
  metaLoss: "sum",
  metaLossFrom: 1,
  horizonSampling: "fixed",
  estimator: "bptt",
  seed: 0,
  maxSeconds: 0,
};

/** Validates a partial configuration over the defaults. */
export function resolveMetaTrainConfig(c: Partial<MetaTrainConfig> = {}): MetaTrainConfig {
  // A misspelt field (epoch for epochs) would otherwise leave its default in force without a word.
  const known = [...Object.keys(META_TRAIN_DEFAULTS), "esSigma", "esPairs", "validationSeed"];
  const unknown = Object.keys(c).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ConfigError(`meta-training: unknown field(s) ${unknown.join(", ")} (known: ${known.join(", ")})`);
  const out = { ...META_TRAIN_DEFAULTS, ...c };
  const posInt = (k: keyof MetaTrainConfig): void => {
    const v = out[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ConfigError(`meta-training: ${k} must be a positive integer, got ${v}`);
  };
  (["unroll", "horizon", "epochs", "horizonsPerEpoch", "metaBatch", "validationTasks"] as const).forEach(posInt);
  if (out.horizonsPerEpoch % out.metaBatch !== 0) {
    throw new ConfigError(`meta-training: horizonsPerEpoch (${out.horizonsPerEpoch}) must be a multiple of metaBatch (${out.metaBatch})`);
  }
  if (out.horizon % out.unroll !== 0) throw new ConfigError(`meta-training: horizon (${out.horizon}) must be a multiple of unroll (${out.unroll})`);
  if (!(typeof out.metaLr === "number" && out.metaLr > 0 && out.metaLr <= META_LR_MAX)) {
    throw new ConfigError(`meta-training: metaLr must be in (0, ${META_LR_MAX}], got ${shownValue(out.metaLr)}`);
  }
  if (!(out.clipNorm >= 0)) throw new ConfigError(`meta-training: clipNorm must be >= 0, got ${out.clipNorm}`);
  if (!(Number.isInteger(out.patience) && out.patience >= 0)) throw new ConfigError(`meta-training: patience must be an integer >= 0`);
  if (!(out.secondOrderScale > 0 && out.secondOrderScale <= 1)) throw new ConfigError(`meta-training: secondOrderScale must be in (0, 1], got ${out.secondOrderScale}`);
  if (out.secondOrderScale !== 1 && !out.secondOrder) throw new ConfigError("meta-training: secondOrderScale weighs the second-order terms; it needs secondOrder");
  if (!(out.maxSeconds >= 0)) throw new ConfigError(`meta-training: maxSeconds must be >= 0`);
  if (!Number.isSafeInteger(out.seed)) throw new ConfigError(`meta-training: seed must be an integer`);
  if (out.validationSeed !== undefined && !Number.isSafeInteger(out.validationSeed)) throw new ConfigError(`meta-training: validationSeed must be an integer`);
  if (!META_LOSS_KINDS.includes(out.metaLoss)) throw new ConfigError(`meta-training: metaLoss must be one of ${META_LOSS_KINDS.join(", ")}, got '${String(out.metaLoss)}'`);
  if (!HORIZON_SAMPLINGS.includes(out.horizonSampling)) {
    throw new ConfigError(`meta-training: horizonSampling must be one of ${HORIZON_SAMPLINGS.join(", ")}, got '${String(out.horizonSampling)}'`);
  }
  if (out.horizonSampling !== "fixed" && out.metaLossFrom !== 1) {
    throw new ConfigError(`meta-training: metaLossFrom counts from a step of the horizon; with horizonSampling '${out.horizonSampling}' the horizons vary, so it must be 1`);
  }
  if (!Number.isInteger(out.metaLossFrom) || out.metaLossFrom < 1 || out.metaLossFrom > out.horizon) {
    throw new ConfigError(`meta-training: metaLossFrom must be an integer from 1 to the horizon (${out.horizon}), got ${out.metaLossFrom}`);
  }
  return resolveEstimator(out);
}

/** Checks the estimator's settings: ES and PES get their defaults, truncated BPTT takes none of theirs. */
function resolveEstimator(out: MetaTrainConfig): MetaTrainConfig {
  const name = out.estimator;
  if (!ESTIMATORS.includes(name)) throw new ConfigError(`meta-training: estimator must be one of ${ESTIMATORS.join(", ")}, got '${String(name)}'`);
  if (name === "bptt") {
    if (out.esSigma !== undefined || out.esPairs !== undefined) throw new ConfigError("meta-training: esSigma and esPairs set the es and pes estimators; this run's estimator is bptt");
    const { esSigma: _s, esPairs: _p, ...rest } = out;
    return rest;
  }
  if (out.secondOrder) throw new ConfigError(`meta-training: secondOrder belongs to the bptt estimator; ${name} sees only losses`);
  const esSigma = out.esSigma ?? ES_LIMITS.sigmaDefault;
  const esPairs = out.esPairs ?? ES_LIMITS.pairsDefault;
  if (!(esSigma > 0 && esSigma <= ES_LIMITS.sigmaMax)) throw new ConfigError(`meta-training: esSigma must be in (0, ${ES_LIMITS.sigmaMax}], got ${esSigma}`);
  if (!Number.isInteger(esPairs) || esPairs < 1 || esPairs > ES_LIMITS.pairsMax) {
    throw new ConfigError(`meta-training: esPairs must be an integer from 1 to ${ES_LIMITS.pairsMax}, got ${esPairs}`);
  }
  return { ...out, esSigma, esPairs };
}


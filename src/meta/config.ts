/**
 * Meta-training's settings: truncation and horizon, the outer optimizer, epochs and
 * validation, the meta-loss, the time limit; defaults and validation.
 */
import { ConfigError } from "../core/errors.ts";

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
   * as the first, large ones (see docs/RESULTS.md, MNIST). Validation scores the same quantity.
   */
  readonly metaLoss: MetaLossKind;
  /**
   * The first optimizee step of each horizon whose loss counts (1 to horizon; default 1, the
   * paper's sum over every step). Later values aim the training at the end of the horizon:
   * the losses of steps before it get weight 0, the unrolls that end before it only move
   * theta and the LSTM state on (no meta-gradient, no update of phi), and validation scores
   * steps `metaLossFrom` .. horizon.
   */
  readonly metaLossFrom: number;
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

export type MetaLossKind = "sum" | "log";

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
  seed: 0,
  maxSeconds: 0,
};

/** Validates a partial configuration over the defaults. */
export function resolveMetaTrainConfig(c: Partial<MetaTrainConfig> = {}): MetaTrainConfig {
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
  if (!(out.metaLr > 0 && Number.isFinite(out.metaLr))) throw new ConfigError(`meta-training: metaLr must be > 0, got ${out.metaLr}`);
  if (!(out.clipNorm >= 0)) throw new ConfigError(`meta-training: clipNorm must be >= 0, got ${out.clipNorm}`);
  if (!(Number.isInteger(out.patience) && out.patience >= 0)) throw new ConfigError(`meta-training: patience must be an integer >= 0`);
  if (!(out.secondOrderScale > 0 && out.secondOrderScale <= 1)) throw new ConfigError(`meta-training: secondOrderScale must be in (0, 1], got ${out.secondOrderScale}`);
  if (out.secondOrderScale !== 1 && !out.secondOrder) throw new ConfigError("meta-training: secondOrderScale weighs the second-order terms; it needs secondOrder");
  if (!(out.maxSeconds >= 0)) throw new ConfigError(`meta-training: maxSeconds must be >= 0`);
  if (!Number.isSafeInteger(out.seed)) throw new ConfigError(`meta-training: seed must be an integer`);
  if (out.validationSeed !== undefined && !Number.isSafeInteger(out.validationSeed)) throw new ConfigError(`meta-training: validationSeed must be an integer`);
  if (out.metaLoss !== "sum" && out.metaLoss !== "log") throw new ConfigError(`meta-training: metaLoss must be 'sum' or 'log', got '${String(out.metaLoss)}'`);
  if (!Number.isInteger(out.metaLossFrom) || out.metaLossFrom < 1 || out.metaLossFrom > out.horizon) {
    throw new ConfigError(`meta-training: metaLossFrom must be an integer from 1 to the horizon (${out.horizon}), got ${out.metaLossFrom}`);
  }
  return out;
}


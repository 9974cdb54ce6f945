/**
 * The meta-training state: one named record (phi, the outer optimizer's state, the keys,
 * counters and the best phi so far), so that a checkpoint writes it as it is and training
 * resumes exactly where it stopped.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, key as makeKey, type Key } from "../core/rng.ts";
import type { OptState } from "../optimizers/transform.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import type { MetaLossKind, MetaTrainConfig } from "./config.ts";
import { outerOptimizer } from "./outer.ts";

/** Everything meta-training needs to continue: one named record, checkpointed as it is. */
export type MetaTrainState = {
  readonly phi: Float32Array;
  /** The outer Adam's state ({count, mu, nu}). */
  readonly adam: OptState;
  /** Root of the training keys; horizon h draws from foldIn(trainKey, h). */
  readonly trainKey: Key;
  /** Root of the validation tasks (fixed for the whole run). */
  readonly validKey: Key;
  readonly epoch: number;
  readonly metaIteration: number;
  readonly horizons: number;
  /**
   * Horizons already done in the epoch in progress (epoch + 1): non-zero only when a time
   * limit stopped training part-way through an epoch, which a resumed run then finishes.
   */
  readonly epochHorizons: number;
  /**
   * The sum of the meta-losses of the epoch in progress and the number of updates they came
   * from (its mean is logged as the epoch's loss), so that an epoch cut short and resumed
   * reports the same mean as one run straight through.
   */
  readonly epochLoss: number;
  readonly epochUpdates: number;
  /** Unrolls skipped because the meta-loss or meta-gradient was not finite. */
  readonly skipped: number;
  readonly bestPhi: Float32Array;
  readonly bestScore: number;
  readonly bestEpoch: number;
  /**
   * What the scores measure (the run's `metaLoss`; null: not recorded, a checkpoint older
   * than the option): a run may only resume with the same.
   */
  readonly scoreKind: MetaLossKind | null;
  /** The first step the scores count (the run's `metaLossFrom`; 1 in checkpoints older than it). */
  readonly scoreFrom: number;
};

/**
 * A fresh state: phi from the optimizer's initialiser (or `phi0`, to fine-tune weights
 * trained before), a fresh outer Adam, keys from the seed.
 */
export function initMetaTrainState(opt: Pick<LearnedOptimizer, "init" | "phiSize">, cfg: MetaTrainConfig, phi0?: Float32Array): MetaTrainState {
  const root = makeKey(cfg.seed);
  if (phi0 !== undefined) {
    if (phi0.length !== opt.phiSize) throw new ConfigError(`meta-training: the initial phi has ${phi0.length} floats, the optimizer ${opt.phiSize}`);
    if (!phi0.every(Number.isFinite)) throw new ConfigError("meta-training: the initial phi holds NaN or infinite values");
  }
  const phi = phi0 !== undefined ? new Float32Array(phi0) : opt.init(foldIn(root, "phi")).flat;
  return {
    phi,
    adam: outerOptimizer(cfg).init(phi),
    trainKey: foldIn(root, "train"),
    validKey: foldIn(cfg.validationSeed === undefined ? root : makeKey(cfg.validationSeed), "valid"),
    epoch: 0,
    metaIteration: 0,
    horizons: 0,
    epochHorizons: 0,
    epochLoss: 0,
    epochUpdates: 0,
    skipped: 0,
    bestPhi: new Float32Array(phi),
    bestScore: Infinity,
    bestEpoch: -1,
    scoreKind: cfg.metaLoss,
    scoreFrom: cfg.metaLossFrom,
  };
}


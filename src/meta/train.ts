/**
 * Meta-training of the coordinatewise LSTM optimizer (Andrychowicz et al. 2016, section 3):
 * Adam on phi over the meta-loss L(phi) = E_f [sum_t w_t f(theta_t)], w_t = 1, estimated by
 * truncated backpropagation through time.
 *
 * Reset semantics. A *horizon* (default 100 optimizee steps) starts with a fresh task drawn
 * from the family, a fresh theta_0 and a zero LSTM state. It is cut into *unrolls* of T steps
 * (default 20); each unroll is one meta-iteration: the meta-gradient of its T losses, one Adam
 * step on phi. Between unrolls theta and the LSTM state carry over, but no gradient flows
 * back across the cut. An *epoch* is `horizonsPerEpoch` horizons, after which the optimizer
 * runs on a fixed set of held-out validation tasks and the best phi so far is kept (early
 * stopping after `patience` epochs without improvement).
 *
 * With `metaBatch` K > 1, K horizons (tasks) advance together, unroll by unroll: each unroll's
 * meta-gradients of the K trajectories are averaged into one Adam step, so a meta-iteration
 * covers K trajectories and an epoch has horizonsPerEpoch / K updates per unroll position.
 *
 * The meta-loss that is reported and differentiated is the mean per-function, per-step loss
 * of the unroll (the sum divided by the task's instances and the number of weighted terms),
 * so the learning rate and the clipping norm do not depend on the batch of functions.
 *
 * The whole state is one named record (`MetaTrainState`), so a checkpoint writes it as it is
 * and training resumes exactly where it stopped.
 */
import { firstNonFinite } from "../core/finite.ts";
import { foldIn, key as makeKey, split, type Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { Task, TaskFamily } from "../tasks/base.ts";
import { adam } from "../optimizers/alias.ts";
import { applyUpdates, type OptState } from "../optimizers/transform.ts";
import { transformsByLayout, type LstmInstance, type LstmOptimizer, type LstmTransform } from "../learned/lstm_optimizer.ts";
import { advanceUnroll, unrollMetaGrad } from "./unroll.ts";
import type { MetricWriter } from "../io/metrics.ts";

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
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`meta-training: ${k} must be a positive integer, got ${v}`);
  };
  (["unroll", "horizon", "epochs", "horizonsPerEpoch", "metaBatch", "validationTasks"] as const).forEach(posInt);
  if (out.horizonsPerEpoch % out.metaBatch !== 0) {
    throw new Error(`meta-training: horizonsPerEpoch (${out.horizonsPerEpoch}) must be a multiple of metaBatch (${out.metaBatch})`);
  }
  if (out.horizon % out.unroll !== 0) throw new Error(`meta-training: horizon (${out.horizon}) must be a multiple of unroll (${out.unroll})`);
  if (!(out.metaLr > 0 && Number.isFinite(out.metaLr))) throw new Error(`meta-training: metaLr must be > 0, got ${out.metaLr}`);
  if (!(out.clipNorm >= 0)) throw new Error(`meta-training: clipNorm must be >= 0, got ${out.clipNorm}`);
  if (!(Number.isInteger(out.patience) && out.patience >= 0)) throw new Error(`meta-training: patience must be an integer >= 0`);
  if (!(out.secondOrderScale > 0 && out.secondOrderScale <= 1)) throw new Error(`meta-training: secondOrderScale must be in (0, 1], got ${out.secondOrderScale}`);
  if (out.secondOrderScale !== 1 && !out.secondOrder) throw new Error("meta-training: secondOrderScale weighs the second-order terms; it needs secondOrder");
  if (!(out.maxSeconds >= 0)) throw new Error(`meta-training: maxSeconds must be >= 0`);
  if (!Number.isSafeInteger(out.seed)) throw new Error(`meta-training: seed must be an integer`);
  if (out.validationSeed !== undefined && !Number.isSafeInteger(out.validationSeed)) throw new Error(`meta-training: validationSeed must be an integer`);
  if (out.metaLoss !== "sum" && out.metaLoss !== "log") throw new Error(`meta-training: metaLoss must be 'sum' or 'log', got '${String(out.metaLoss)}'`);
  if (!Number.isInteger(out.metaLossFrom) || out.metaLossFrom < 1 || out.metaLossFrom > out.horizon) {
    throw new Error(`meta-training: metaLossFrom must be an integer from 1 to the horizon (${out.horizon}), got ${out.metaLossFrom}`);
  }
  return out;
}

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
export function initMetaTrainState(opt: LstmOptimizer, cfg: MetaTrainConfig, phi0?: Float32Array): MetaTrainState {
  const root = makeKey(cfg.seed);
  if (phi0 !== undefined) {
    if (phi0.length !== opt.phiSize) throw new Error(`meta-training: the initial phi has ${phi0.length} floats, the optimizer ${opt.phiSize}`);
    if (!phi0.every(Number.isFinite)) throw new Error("meta-training: the initial phi holds NaN or infinite values");
  }
  const phi = phi0 !== undefined ? new Float32Array(phi0) : opt.init(foldIn(root, "phi"));
  return {
    phi,
    adam: adam(cfg.metaLr).init(phi),
    trainKey: foldIn(root, "train"),
    validKey: foldIn(cfg.validationSeed === undefined ? root : makeKey(cfg.validationSeed), "valid"),
    epoch: 0,
    metaIteration: 0,
    horizons: 0,
    epochHorizons: 0,
    skipped: 0,
    bestPhi: new Float32Array(phi),
    bestScore: Infinity,
    bestEpoch: -1,
    scoreKind: cfg.metaLoss,
    scoreFrom: cfg.metaLossFrom,
  };
}

/** Scales `g` in place so that its L2 norm is at most `max` (0: no clipping); returns the norm before. */
export function clipByGlobalNorm(g: Float32Array, max: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const norm = Math.sqrt(s);
  if (max > 0 && norm > max) {
    const c = max / norm;
    for (let i = 0; i < g.length; i++) g[i] = g[i]! * c;
  }
  return norm;
}

/**
 * Mean per-function loss over steps from..horizon (default 1..horizon) on each validation
 * task, averaged (with `metaLoss` "log": the mean of its natural log): lower is better.
 */
export function validationScore(
  opt: LstmOptimizer,
  phi: Float32Array,
  tasks: readonly ValidationTask[],
  horizon: number,
  metaLoss: MetaLossKind = "sum",
  from = 1,
): number {
  let total = 0;
  // One transform for all tasks of one layout (engines made once); each task starts from
  // init's zero state, and its state is only ever passed back to the next update, so no copy
  // of it is made per step.
  const txs = transformsByLayout(opt, phi, { copyState: false });
  try {
    for (const v of tasks) total += taskScore(txs.get(v.task.layout), v);
  } finally {
    txs.dispose();
  }
  return total / tasks.length;

  function taskScore(tx: LstmTransform, v: ValidationTask): number {
    let theta = v.theta0;
    let state = tx.init(theta);
    let sum = 0;
    for (let t = 0; t <= horizon; t++) {
      const { loss, grad } = v.task.lossAndGrad(theta, foldIn(v.batchKey, t));
      if (!Number.isFinite(loss)) {
        sum = Infinity;
        break;
      }
      // (A loss that underflows to 0 counts as 1e-30 under "log", not as -Infinity.)
      if (t >= from) sum += metaLoss === "log" ? Math.log(Math.max(loss / v.task.instances, 1e-30)) : loss / v.task.instances;
      if (t === horizon) break;
      const [u, next] = tx.update(grad, state, theta);
      state = next;
      theta = applyUpdates(theta, u);
    }
    return sum / (horizon - from + 1);
  }
}

export interface ValidationTask {
  readonly task: Task;
  readonly theta0: Float32Array;
  readonly batchKey: Key;
}

function sampleTask(family: TaskFamily, k: Key): ValidationTask {
  const [tk, ik, bk] = split(k, 3) as [Key, Key, Key];
  const task = family.sample(tk);
  return { task, theta0: task.init(ik), batchKey: bk };
}

export interface MetaTrainHooks {
  readonly writer?: MetricWriter;
  /**
   * Called after every validation with the new state (to checkpoint it). `partial`: a time
   * limit ended the epoch early; it was validated (so its phi can be kept as the best, as
   * epoch `state.epoch + 1`) but stays in progress, and a resumed run finishes it.
   */
  readonly onEpoch?: (state: MetaTrainState, score: number, partial: boolean) => void;
  /** Called after every meta-iteration (for progress bars). */
  readonly onIteration?: (state: MetaTrainState, metaLoss: number) => void;
}

export interface MetaTrainResult {
  readonly state: MetaTrainState;
  /** Why training ended. */
  readonly stopped: "epochs" | "patience" | "time";
}

/**
 * Meta-trains `opt` on `family` from `state` (fresh or resumed) until `cfg.epochs` epochs,
 * early stopping or the time limit. Returns the final state; its `bestPhi` is the result.
 */
export function metaTrain(
  opt: LstmOptimizer,
  family: TaskFamily,
  cfg: MetaTrainConfig,
  state: MetaTrainState,
  hooks: MetaTrainHooks = {},
): MetaTrainResult {
  if (state.scoreKind !== null && state.scoreKind !== cfg.metaLoss) {
    throw new Error(
      `meta-training: the state's scores are mean ${state.scoreKind} losses, this run's metaLoss is '${cfg.metaLoss}'; ` +
        `resume with metaLoss '${state.scoreKind}' (--meta-loss ${state.scoreKind}), or start a new run`,
    );
  }
  if (state.scoreFrom !== cfg.metaLossFrom) {
    throw new Error(
      `meta-training: the state's scores count the steps from ${state.scoreFrom}, this run's metaLossFrom is ${cfg.metaLossFrom}; ` +
        `resume with metaLossFrom ${state.scoreFrom} (--meta-loss-from ${state.scoreFrom}), or start a new run`,
    );
  }
  const started = performance.now();
  const outer = adam(cfg.metaLr);
  const valid = Array.from({ length: cfg.validationTasks }, (_, i) => sampleTask(family, foldIn(state.validKey, i)));
  const unrollsPerHorizon = cfg.horizon / cfg.unroll;
  let inst: LstmInstance | undefined;
  let instLayout: ParamLayout | undefined;
  let s: MetaTrainState = { ...state, scoreKind: cfg.metaLoss, scoreFrom: cfg.metaLossFrom };
  let stopped: MetaTrainResult["stopped"] = "epochs";
  try {
    while (s.epoch < cfg.epochs) {
      let epochLoss = 0;
      let epochCount = 0;
      const K = cfg.metaBatch;
      for (let h = s.epochHorizons; h < cfg.horizonsPerEpoch; h += K) {
        // K horizons side by side: horizon s.horizons + k is trajectory k of this update.
        const trajs = Array.from({ length: K }, (_, k) => {
          const v = sampleTask(family, foldIn(s.trainKey, s.horizons + k));
          return { ...v, theta: v.theta0, first: undefined as ReturnType<Task["lossAndGrad"]> | undefined, state: undefined as Float32Array | undefined, live: true };
        });
        const layout = trajs[0]!.task.layout;
        if (!trajs.every((t) => layout.sameAs(t.task.layout))) throw new Error("meta-training: the tasks of one meta-batch have different parameter layouts");
        if (inst === undefined || instLayout === undefined || !instLayout.sameAs(layout)) {
          inst?.dispose();
          inst = opt.instantiate(s.phi, layout, cfg.unroll);
          instLayout = layout;
        }
        const lstm = inst;
        lstm.setPhi(s.phi);
        lstm.resetState();
        /** Puts trajectory k's LSTM state in the engines (with one trajectory it stays there). */
        const enter = (k: number): void => {
          if (K === 1) return;
          const st = trajs[k]!.state;
          if (st === undefined) lstm.resetState();
          else lstm.setState(st);
        };
        const leave = (k: number): void => {
          if (K > 1) trajs[k]!.state = lstm.getState();
        };
        const acc = new Float32Array(opt.phiSize);
        for (let u = 0; u < unrollsPerHorizon; u++) {
          // Points of this unroll before `from` do not count (local indices; point s is step u T + s).
          const from = Math.max(0, cfg.metaLossFrom - u * cfg.unroll);
          const keysOf = (k: number) => (t: number) => foldIn(trajs[k]!.batchKey, u * cfg.unroll + t);
          if (from > cfg.unroll) {
            for (let k = 0; k < K; k++) {
              const tr = trajs[k]!;
              if (!tr.live) continue;
              enter(k);
              const a = advanceUnroll({ task: tr.task, lstm, theta: tr.theta, T: cfg.unroll, keys: keysOf(k), ...(tr.first ? { first: tr.first } : {}) });
              tr.theta = a.theta;
              tr.first = a.last;
              leave(k);
            }
            continue;
          }
          // A mean per counted step (and per function: log f is already free of the batch's size).
          const counted = cfg.unroll - Math.max(0, from - 1);
          acc.fill(0);
          let live = 0;
          let lossSum = 0;
          for (let k = 0; k < K; k++) {
            const tr = trajs[k]!;
            if (!tr.live) continue;
            enter(k);
            const r = unrollMetaGrad({
              task: tr.task,
              lstm,
              theta: tr.theta,
              T: cfg.unroll,
              weights: cfg.metaLoss === "log" ? "log" : "after",
              keys: keysOf(k),
              ...(tr.first ? { first: tr.first } : {}),
              secondOrder: cfg.secondOrder,
              secondOrderScale: cfg.secondOrderScale,
              from,
            });
            const norm = cfg.metaLoss === "log" ? counted : counted * tr.task.instances;
            const loss = r.metaLoss / norm;
            if (!Number.isFinite(loss) || firstNonFinite(r.dphi) >= 0) {
              // A diverged trajectory: drop the rest of its horizon; it does not touch phi.
              tr.live = false;
              s = { ...s, skipped: s.skipped + 1 };
              hooks.writer?.scalar("meta/skipped", s.skipped, s.metaIteration);
              continue;
            }
            for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + r.dphi[i]! / norm;
            lossSum += loss;
            live++;
            tr.theta = r.theta;
            tr.first = r.last;
            leave(k);
          }
          if (live === 0) break;
          for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / live;
          const metaLoss = lossSum / live;
          const gnorm = clipByGlobalNorm(acc, cfg.clipNorm);
          const [upd, adamState] = outer.update(acc, s.adam, s.phi);
          const phi = applyUpdates(s.phi, upd);
          lstm.setPhi(phi);
          s = { ...s, phi, adam: adamState, metaIteration: s.metaIteration + 1 };
          epochLoss += metaLoss;
          epochCount++;
          hooks.writer?.scalar("meta/loss", metaLoss, s.metaIteration);
          hooks.writer?.scalar("meta/grad_norm", gnorm, s.metaIteration);
          hooks.onIteration?.(s, metaLoss);
        }
        s = { ...s, horizons: s.horizons + K, epochHorizons: h + K };
        if (cfg.maxSeconds > 0 && (performance.now() - started) / 1000 > cfg.maxSeconds) {
          stopped = "time";
          break;
        }
      }
      const partial = s.epochHorizons < cfg.horizonsPerEpoch;
      const score = validationScore(opt, s.phi, valid, cfg.horizon, cfg.metaLoss, cfg.metaLossFrom);
      const better = score < s.bestScore;
      const epochNo = s.epoch + 1;
      s = {
        ...s,
        ...(partial ? {} : { epoch: epochNo, epochHorizons: 0 }),
        ...(better ? { bestPhi: new Float32Array(s.phi), bestScore: score, bestEpoch: epochNo } : {}),
      };
      // A cut epoch is validated again when a resumed run finishes it: its numbers go to their
      // own series, so that each epoch has one line in "valid/score".
      const tag = partial ? "partial_" : "";
      hooks.writer?.scalar(`meta/${tag}epoch_loss`, epochCount > 0 ? epochLoss / epochCount : NaN, epochNo);
      hooks.writer?.scalar(`valid/${tag}score`, score, epochNo);
      hooks.onEpoch?.(s, score, partial);
      if (stopped === "time") break;
      if (cfg.patience > 0 && s.epoch - Math.max(s.bestEpoch, 0) >= cfg.patience) {
        stopped = "patience";
        break;
      }
    }
  } finally {
    inst?.dispose();
  }
  return { state: s, stopped };
}

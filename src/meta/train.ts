/**
 * Meta-training of a learned optimizer (Andrychowicz et al. 2016, section 3): Adam on phi over
 * the meta-loss L(phi) = E_f [sum_t w_t f(theta_t)], w_t = 1, estimated by a gradient
 * estimator (truncated backpropagation through time by default). This file is the short
 * loop; the trajectories, the estimator, the outer update and validation have a module each.
 *
 * Reset semantics. A *horizon* (default 100 optimizee steps) starts with a fresh task drawn
 * from the family, a fresh theta_0 and a zero LSTM state. It is cut into *unrolls* of T steps
 * (default 20); each unroll is one meta-iteration: the meta-gradient of its T losses, one Adam
 * step on phi. Between unrolls theta and the optimizer's state carry over, but no gradient flows
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
 * The estimator is truncated BPTT unless the configuration names ES over whole horizons or
 * PES (`MetaTrainConfig.estimator`); those run the optimizer forward alone, so a kind without
 * a differentiable step trains with them.
 *
 * The whole state is one named record (`MetaTrainState`), so a checkpoint writes it as it is
 * and training resumes exactly where it stopped.
 */
import { ConfigError } from "../core/errors.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { TaskFamily } from "../tasks/base.ts";
import type { MetricWriter } from "../io/metrics.ts";
import type { DifferentiableStep, LearnedOptimizer } from "../learned/contract.ts";
import { ES_LIMITS, type MetaTrainConfig } from "./config.ts";
import type { GradientEstimator } from "./estimator.ts";
import { antitheticEs } from "./es.ts";
import { pes } from "./pes.ts";
import { outerOptimizer, outerStep } from "./outer.ts";
import { horizonTruncations } from "./recipe.ts";
import type { MetaTrainState } from "./state.ts";
import { startTrajectories, TrajectorySet } from "./trajectory.ts";
import { truncatedBptt } from "./truncated_bptt.ts";
import { validationInstances, validationScore } from "./validation.ts";

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
  /** Why training ended ("interrupted": a caller of `metaTrainSteps` stopped it, see `runTrainJobAsync`). */
  readonly stopped: "epochs" | "patience" | "time" | "interrupted";
}


/** The estimator a configuration asks for: truncated BPTT (first or second order), ES or PES. */
export function defaultEstimator(
  cfg: Pick<MetaTrainConfig, "secondOrder" | "secondOrderScale"> & Partial<Pick<MetaTrainConfig, "estimator" | "esSigma" | "esPairs">>,
): GradientEstimator {
  const name = cfg.estimator ?? "bptt";
  if (name === "bptt") return truncatedBptt({ secondOrder: cfg.secondOrder, secondOrderScale: cfg.secondOrderScale });
  const opts = { sigma: cfg.esSigma ?? ES_LIMITS.sigmaDefault, pairs: cfg.esPairs ?? ES_LIMITS.pairsDefault };
  return name === "es" ? antitheticEs(opts) : pes(opts);
}

/** Refuses a state whose scores measure something else than this run's. */
function checkResumable(state: MetaTrainState, cfg: MetaTrainConfig): void {
  if (state.scoreKind !== null && state.scoreKind !== cfg.metaLoss) {
    throw new ConfigError(
      `meta-training: the state's scores are mean ${state.scoreKind} losses, this run's metaLoss is '${cfg.metaLoss}'; ` +
        `resume with metaLoss '${state.scoreKind}' (--meta-loss ${state.scoreKind}), or start a new run`,
    );
  }
  if (state.scoreFrom !== cfg.metaLossFrom) {
    throw new ConfigError(
      `meta-training: the state's scores count the steps from ${state.scoreFrom}, this run's metaLossFrom is ${cfg.metaLossFrom}; ` +
        `resume with metaLossFrom ${state.scoreFrom} (--meta-loss-from ${state.scoreFrom}), or start a new run`,
    );
  }
}

/**
 * Meta-trains `opt` on `family` from `state` (fresh or resumed) until `cfg.epochs` epochs,
 * early stopping or the time limit. Returns the final state; its `bestPhi` is the result.
 * `estimator` defaults to truncated BPTT as `cfg` asks (`defaultEstimator`). It runs
 * `metaTrainSteps` to the end.
 */
export function metaTrain(
  opt: LearnedOptimizer,
  family: TaskFamily,
  cfg: MetaTrainConfig,
  state: MetaTrainState,
  hooks: MetaTrainHooks = {},
  estimator: GradientEstimator = defaultEstimator(cfg),
): MetaTrainResult {
  const steps = metaTrainSteps(opt, family, cfg, state, hooks, estimator);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * `metaTrain` in steps: it yields the state after each group of `metaBatch` horizons that
 * leaves the epoch unfinished, and after each epoch's validation (when another epoch
 * follows), and returns the result. Each state yielded is one a run may stop at: checkpointed
 * as it is (`epochHorizons` records the progress through the epoch), it resumes into the same
 * training as one never stopped. A caller that stops early calls `return()` on the generator,
 * which releases the engines. Between steps an asynchronous caller lets the event loop run
 * (signals, timers).
 */
export function* metaTrainSteps(
  opt: LearnedOptimizer,
  family: TaskFamily,
  cfg: MetaTrainConfig,
  state: MetaTrainState,
  hooks: MetaTrainHooks = {},
  estimator: GradientEstimator = defaultEstimator(cfg),
): Generator<MetaTrainState, MetaTrainResult, void> {
  checkResumable(state, cfg);
  const forwardOnly = estimator.forwardOnly === true;
  const makeStep = opt.differentiable?.bind(opt);
  if (makeStep === undefined && !forwardOnly) {
    throw new ConfigError(`meta-training: a '${opt.kind}' optimizer has no differentiable step to train by gradient; train it with estimator es or pes (--estimator), which need only its losses`);
  }
  if (opt.initialParams !== undefined) {
    // Trajectories start at the task's theta_0, and no estimator yet carries dL/dtheta_0 to phi.
    throw new ConfigError(`meta-training: a '${opt.kind}' optimizer learns its initial parameters, which no gradient estimator trains yet`);
  }
  const started = performance.now();
  const outer = outerOptimizer(cfg);
  const valid = validationInstances(family, state.validKey, cfg.validationTasks);
  // Second-order terms need the tasks' Hessian-vector products: refused here, before any update, not at the first unroll.
  const lacking = cfg.secondOrder && !forwardOnly ? valid.find((v) => v.task.hvp === undefined) : undefined;
  if (lacking !== undefined) throw new ConfigError(`meta-training: secondOrder needs Hessian-vector products (hvp), which ${family.name}'s task '${lacking.task.name}' lacks; train first order`);
  const K = cfg.metaBatch;
  let step: { layout: ParamLayout; step: DifferentiableStep } | undefined;
  let s: MetaTrainState = { ...state, scoreKind: cfg.metaLoss, scoreFrom: cfg.metaLossFrom };
  let stopped: MetaTrainResult["stopped"] = "epochs";
  try {
    while (s.epoch < cfg.epochs) {
      for (let h = s.epochHorizons; h < cfg.horizonsPerEpoch; h += K) {
        // K horizons side by side: horizon s.horizons + k is trajectory k of this update.
        const items = startTrajectories(family, s.trainKey, s.horizons, K);
        const layout = items[0]!.instance.task.layout;
        if (!items.every((t) => layout.sameAs(t.instance.task.layout))) throw new ConfigError("meta-training: the tasks of one meta-batch have different parameter layouts");
        if (!forwardOnly && (step === undefined || !step.layout.sameAs(layout))) {
          step?.step.dispose();
          step = undefined;
          step = { layout, step: makeStep!(s.phi, layout, cfg.unroll) };
        }
        step?.step.setPhi(s.phi);
        const set = new TrajectorySet(step?.step ?? null, items);
        // The group's horizon: `cfg.horizon`, or drawn from a heavy-tailed law (horizonSampling).
        const truncations = horizonTruncations(cfg, s.trainKey, s.horizons);
        const horizon = truncations * cfg.unroll;
        for (let u = 0; u < truncations; u++) {
          const est = estimator.estimate(
            { phi: s.phi, index: u, length: cfg.unroll, horizon, metaLoss: cfg.metaLoss, metaLossFrom: cfg.metaLossFrom, family, optimizer: opt },
            set,
          );
          if (est === null) continue;
          for (let d = 0; d < est.diverged; d++) {
            s = { ...s, skipped: s.skipped + 1 };
            hooks.writer?.scalar("meta/skipped", s.skipped, s.metaIteration);
          }
          if (est.live === 0) break;
          const o = outerStep(outer, s.phi, s.adam, est.grad, cfg.clipNorm);
          step?.step.setPhi(o.phi);
          s = { ...s, phi: o.phi, adam: o.state, metaIteration: s.metaIteration + 1, epochLoss: s.epochLoss + est.metaLoss, epochUpdates: s.epochUpdates + 1 };
          hooks.writer?.scalar("meta/loss", est.metaLoss, s.metaIteration);
          hooks.writer?.scalar("meta/grad_norm", o.gradNorm, s.metaIteration);
          hooks.onIteration?.(s, est.metaLoss);
        }
        s = { ...s, horizons: s.horizons + K, epochHorizons: h + K };
        if (cfg.maxSeconds > 0 && (performance.now() - started) / 1000 > cfg.maxSeconds) {
          stopped = "time";
          break;
        }
        if (s.epochHorizons < cfg.horizonsPerEpoch) yield s;
      }
      const partial = s.epochHorizons < cfg.horizonsPerEpoch;
      s = endEpoch(opt, cfg, hooks, s, valid, partial);
      if (stopped === "time") break;
      if (cfg.patience > 0 && s.epoch - Math.max(s.bestEpoch, 0) >= cfg.patience) {
        stopped = "patience";
        break;
      }
      if (s.epoch < cfg.epochs) yield s;
    }
  } finally {
    step?.step.dispose();
  }
  return { state: s, stopped };
}

/**
 * What a training loop does after an epoch (or a part of one that a time limit cut): validate
 * phi, keep it as the best if it is, log the epoch's meta-loss and score, call `onEpoch`. A cut
 * epoch is validated again when a resumed run finishes it: its numbers go to their own series,
 * so that each epoch has one line in "valid/score". Shared by `metaTrainSteps` and the
 * distributed learner.
 */
export function endEpoch(
  opt: LearnedOptimizer,
  cfg: MetaTrainConfig,
  hooks: MetaTrainHooks,
  s: MetaTrainState,
  valid: ReturnType<typeof validationInstances>,
  partial: boolean,
): MetaTrainState {
  const score = validationScore(opt, s.phi, valid, cfg.horizon, cfg.metaLoss, cfg.metaLossFrom);
  const better = score < s.bestScore;
  const epochNo = s.epoch + 1;
  const epochLoss = s.epochUpdates > 0 ? s.epochLoss / s.epochUpdates : NaN;
  const next: MetaTrainState = {
    ...s,
    ...(partial ? {} : { epoch: epochNo, epochHorizons: 0, epochLoss: 0, epochUpdates: 0 }),
    ...(better ? { bestPhi: new Float32Array(s.phi), bestScore: score, bestEpoch: epochNo } : {}),
  };
  const tag = partial ? "partial_" : "";
  hooks.writer?.scalar(`meta/${tag}epoch_loss`, epochLoss, epochNo);
  hooks.writer?.scalar(`valid/${tag}score`, score, epochNo);
  hooks.onEpoch?.(next, score, partial);
  return next;
}

/**
 * The synchronous learner: `metaTrainSteps`'s loop with each truncation's per-trajectory work
 * sent to the workers. For each group of K horizons it keeps the K trajectory records; for
 * each truncation it publishes phi, sends one job per live trajectory, waits for all K
 * parts, combines them in task order (`combineParts`, the estimator's own precision) and
 * applies the outer step. The parts are the single process's parts bit for bit, so the run
 * is the single-process `--meta-batch K` run, bit for bit, on an engine whose bits do not
 * depend on the CPU (`wasm-simd`, `ref`).
 *
 * Validation after each epoch runs here, on the learner; so do the checkpoints (through
 * `openTrainJob`), at the same points as a single-process run's.
 */
import type { TaskFamily } from "../tasks/base.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import type { MetaTrainConfig } from "../meta/config.ts";
import { combineParts, type TrajectoryPart, type TrajectoryParts, type Truncation } from "../meta/estimator.ts";
import { outerOptimizer, outerStep } from "../meta/outer.ts";
import type { MetaTrainState } from "../meta/state.ts";
import { endEpoch as endEpochOf, type MetaTrainHooks, type MetaTrainResult } from "../meta/train.ts";
import { startTrajectories, type TrajectoryRecord } from "../meta/trajectory.ts";
import { validationInstances } from "../meta/validation.ts";
import type { JobRunner } from "./jobs.ts";

export interface LoopContext {
  readonly opt: LearnedOptimizer;
  readonly family: TaskFamily;
  readonly cfg: MetaTrainConfig;
  readonly parts: TrajectoryParts;
  readonly jobs: JobRunner;
  readonly hooks: MetaTrainHooks;
  /** Publishes phi version `version` and gives its key. */
  readonly publish: (version: number, phi: Float32Array) => Promise<string>;
  /** True once the run should stop at its next safe point. */
  readonly stopping: () => boolean;
  /** Each state the run may stop at (a checkpoint of it resumes as the run goes on). */
  readonly safe: (s: MetaTrainState) => void;
}

/** What `metaTrainSteps` does after an epoch (`endEpoch` of src/meta/train.ts), for this loop. */
export function endEpoch(c: LoopContext, s: MetaTrainState, valid: ReturnType<typeof validationInstances>, partial: boolean): MetaTrainState {
  return endEpochOf(c.opt, c.cfg, c.hooks, s, valid, partial);
}

/** The outer step on an estimate, with `metaTrainSteps`'s log lines; the new state. */
export function applyEstimate(c: LoopContext, outer: ReturnType<typeof outerOptimizer>, s: MetaTrainState, grad: Float32Array, metaLoss: number): MetaTrainState {
  const o = outerStep(outer, s.phi, s.adam, grad, c.cfg.clipNorm);
  const next = { ...s, phi: o.phi, adam: o.state, metaIteration: s.metaIteration + 1, epochLoss: s.epochLoss + metaLoss, epochUpdates: s.epochUpdates + 1 };
  c.hooks.writer?.scalar("meta/loss", metaLoss, next.metaIteration);
  c.hooks.writer?.scalar("meta/grad_norm", o.gradNorm, next.metaIteration);
  c.hooks.onIteration?.(next, metaLoss);
  return next;
}

/** The truncation `index` as the estimators see it. */
export function truncationAt(c: Pick<LoopContext, "cfg" | "family" | "opt">, phi: Float32Array, index: number): Truncation {
  const { cfg } = c;
  return { phi, index, length: cfg.unroll, horizon: cfg.horizon, metaLoss: cfg.metaLoss, metaLossFrom: cfg.metaLossFrom, family: c.family, optimizer: c.opt };
}

/** The records of horizons first .. first + count - 1 at their start. */
export function freshRecords(family: TaskFamily, s: MetaTrainState, first: number, count: number): TrajectoryRecord[] {
  return startTrajectories(family, s.trainKey, first, count).map((t) => ({ horizon: t.horizon, position: 0, theta: t.theta, state: null, live: true }));
}

/** Synchronous distributed meta-training from `state` (fresh or resumed). */
export async function trainSync(c: LoopContext, state: MetaTrainState): Promise<MetaTrainResult> {
  const { cfg, hooks } = c;
  const started = performance.now();
  const outer = outerOptimizer(cfg);
  const valid = validationInstances(c.family, state.validKey, cfg.validationTasks);
  const truncations = cfg.horizon / cfg.unroll;
  const K = cfg.metaBatch;
  let s: MetaTrainState = { ...state, scoreKind: cfg.metaLoss, scoreFrom: cfg.metaLossFrom };
  let stopped: MetaTrainResult["stopped"] = "epochs";
  while (s.epoch < cfg.epochs) {
    for (let h = s.epochHorizons; h < cfg.horizonsPerEpoch; h += K) {
      const records = freshRecords(c.family, s, s.horizons, K);
      for (let u = 0; u < truncations; u++) {
        const trunc = truncationAt(c, s.phi, u);
        if (!c.parts.advances(trunc)) continue;
        const key = await c.publish(s.metaIteration, s.phi);
        const live = records.map((r, k) => (r.live ? k : -1)).filter((k) => k >= 0);
        await c.jobs.send(live.map((k) => records[k]!), u, s.metaIteration, key);
        const got = new Map<number, TrajectoryPart | "diverged" | null>();
        while (got.size < live.length) {
          const r = await c.jobs.next(c.stopping);
          const k = records.findIndex((x) => x.horizon === r.horizon);
          if (k < 0 || got.has(k)) continue;
          got.set(k, r.part);
          records[k] = r.record;
        }
        if (!c.parts.estimates(trunc)) continue;
        // In task order, as the single process adds them.
        const parts = live.map((k) => got.get(k)).filter((p): p is TrajectoryPart | "diverged" => p !== null && p !== undefined);
        const est = combineParts(parts, s.phi.length, c.parts.sum);
        for (let d = 0; d < est.diverged; d++) {
          s = { ...s, skipped: s.skipped + 1 };
          hooks.writer?.scalar("meta/skipped", s.skipped, s.metaIteration);
        }
        if (est.live === 0) break;
        s = applyEstimate(c, outer, s, est.grad, est.metaLoss);
      }
      s = { ...s, horizons: s.horizons + K, epochHorizons: h + K };
      if (cfg.maxSeconds > 0 && (performance.now() - started) / 1000 > cfg.maxSeconds) {
        stopped = "time";
        break;
      }
      if (s.epochHorizons < cfg.horizonsPerEpoch) {
        c.safe(s);
        if (c.stopping()) return { state: s, stopped: "interrupted" };
      }
    }
    s = endEpoch(c, s, valid, s.epochHorizons < cfg.horizonsPerEpoch);
    if (stopped === "time") break;
    if (cfg.patience > 0 && s.epoch - Math.max(s.bestEpoch, 0) >= cfg.patience) {
      stopped = "patience";
      break;
    }
    if (s.epoch < cfg.epochs) {
      c.safe(s);
      if (c.stopping()) return { state: s, stopped: "interrupted" };
    }
  }
  return { state: s, stopped };
}

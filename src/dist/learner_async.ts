/**
 * The asynchronous learner (learned_optimization's asynchronous training): `inFlight`
 * trajectories are always out at the workers, each job under the phi version current when it
 * was sent. Each result moves its trajectory on and is sent out again at once; its part joins
 * the next update unless it is more than `staleness` phi versions old, when it is dropped and
 * counted (`dist/stale_dropped`). Every K parts make one outer step.
 *
 * An epoch is `horizonsPerEpoch` horizons: no horizon of the next one starts before the
 * epoch's last ends, so a checkpoint (after validation) holds no trajectory in flight and a
 * resumed run starts the next epoch. Runs are not reproducible bit for bit (the order of
 * results depends on the workers' timing); `--max-seconds` is checked at epoch ends.
 */
import { combineParts, type TrajectoryPart } from "../meta/estimator.ts";
import { outerOptimizer } from "../meta/outer.ts";
import type { MetaTrainState } from "../meta/state.ts";
import type { MetaTrainResult } from "../meta/train.ts";
import type { TrajectoryRecord } from "../meta/trajectory.ts";
import { validationInstances } from "../meta/validation.ts";
import { applyEstimate, endEpoch, freshRecords, truncationAt, type LoopContext } from "./learner.ts";

export interface AsyncOptions {
  /** Parts older than this many phi versions are dropped. */
  readonly staleness: number;
  /** Trajectories out at the workers at once. */
  readonly inFlight: number;
}

/** Asynchronous distributed meta-training from `state`; `stale` counts the dropped parts. */
export async function trainAsync(c: LoopContext, state: MetaTrainState, o: AsyncOptions, stale: { dropped: number }): Promise<MetaTrainResult> {
  const { cfg, hooks } = c;
  const started = performance.now();
  const outer = outerOptimizer(cfg);
  const valid = validationInstances(c.family, state.validKey, cfg.validationTasks);
  const K = cfg.metaBatch;
  let s: MetaTrainState = { ...state, scoreKind: cfg.metaLoss, scoreFrom: cfg.metaLossFrom, epochHorizons: 0, epochLoss: 0, epochUpdates: 0 };
  let safeState = s;
  let accepted: (TrajectoryPart | "diverged")[] = [];
  let stopped: MetaTrainResult["stopped"] = "epochs";
  while (s.epoch < cfg.epochs) {
    const first = s.horizons;
    let assigned = 0;
    let done = 0;
    // Sends a trajectory's next truncation under the current phi, or ends its horizon and starts the next one of the epoch.
    const sendNext = async (r: TrajectoryRecord | undefined): Promise<void> => {
      for (;;) {
        if (r === undefined) {
          if (assigned >= cfg.horizonsPerEpoch) return;
          r = freshRecords(c.family, s, first + assigned, 1)[0]!;
          assigned++;
        }
        const index = r.position / cfg.unroll;
        if (r.live && r.position < cfg.horizon && c.parts.advances(truncationAt(c, s.phi, index))) {
          await c.jobs.send([r], index, s.metaIteration, await c.publish(s.metaIteration, s.phi));
          return;
        }
        done++;
        r = undefined;
      }
    };
    for (let i = 0; i < Math.min(o.inFlight, cfg.horizonsPerEpoch); i++) await sendNext(undefined);
    while (done < cfg.horizonsPerEpoch) {
      const r = await c.jobs.next(c.stopping);
      const age = s.metaIteration - r.phiVersion;
      if (age > o.staleness) {
        stale.dropped++;
        hooks.writer?.scalar("dist/stale_dropped", stale.dropped, s.metaIteration);
      } else if (r.part !== null) accepted.push(r.part);
      if (accepted.length >= K) {
        const est = combineParts(accepted, s.phi.length, c.parts.sum);
        accepted = [];
        for (let d = 0; d < est.diverged; d++) {
          s = { ...s, skipped: s.skipped + 1 };
          hooks.writer?.scalar("meta/skipped", s.skipped, s.metaIteration);
        }
        if (est.live > 0) s = applyEstimate(c, outer, s, est.grad, est.metaLoss);
      }
      await sendNext(r.record);
    }
    s = endEpoch(c, { ...s, horizons: first + cfg.horizonsPerEpoch }, valid, false);
    if (cfg.maxSeconds > 0 && (performance.now() - started) / 1000 > cfg.maxSeconds) {
      stopped = "time";
      break;
    }
    if (cfg.patience > 0 && s.epoch - Math.max(s.bestEpoch, 0) >= cfg.patience) {
      stopped = "patience";
      break;
    }
    safeState = s;
    c.safe(s);
    if (s.epoch < cfg.epochs && c.stopping()) return { state: s, stopped: "interrupted" };
  }
  return { state: s, stopped };
}

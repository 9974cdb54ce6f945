/**
 * What the loss-only estimators (ES, PES) share: a particle's forward run through `optFn`
 * with perturbed weights, the perturbations drawn from keys, and the antithetic combination.
 *
 * The work per perturbation is a pure function of phi, the perturbation's key (the
 * trajectory's batch key, the truncation and the pair) and the particle's record (theta and
 * the optimizer's state), so it can run on another machine and send back two losses; the
 * combination into a meta-gradient needs only those losses and the perturbations, which the
 * keys give again.
 */
import { firstNonFinite } from "../core/finite.ts";
import { foldIn, normal, type Key } from "../core/rng.ts";
import type { Instance } from "../eval/evaluate.ts";
import type { Task } from "../tasks/base.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import { applyUpdates } from "../optimizers/transform.ts";
import { isLogMetaLoss, type MetaLossKind } from "./config.ts";
import type { TrajectoryPart, Truncation } from "./estimator.ts";
import { initialLogLoss } from "./recipe.ts";
import type { Particle } from "./trajectory.ts";

/** The optimizer's part that a forward run needs. */
export type ForwardOptimizer = Pick<LearnedOptimizer, "kind" | "optFn">;

/** A stretch of a trajectory that a particle runs: `length` steps from `position`. */
export interface Segment {
  readonly task: Task;
  /** The trajectory's minibatch key: point t of the segment uses foldIn(batchKey, position + t). */
  readonly batchKey: Key;
  readonly position: number;
  readonly length: number;
  readonly horizon: number;
  readonly metaLoss: MetaLossKind;
  /** Local index of the first point that counts (as `localFrom`): points max(1, from) .. length count. */
  readonly from: number;
  /** With metaLoss "logRatio": log f(theta_0) of the horizon, taken off the mean log loss. */
  readonly logLoss0?: number;
}

export interface SegmentResult {
  /**
   * The segment's meta-loss: the mean over its counted points of f (per function) or log f,
   * as truncated BPTT reports it; 0 when no point counts; NaN when any loss of the segment is
   * not finite (the particle diverged).
   */
  readonly loss: number;
  /** Where the particle stands after the segment. */
  readonly particle: Particle;
}

/**
 * The segment of `instance`'s trajectory given by `at`: the instance's task and minibatch key,
 * and with metaLoss "logRatio" its log f(theta_0), which the meta-loss is measured from.
 */
export function instanceSegment(instance: Instance, at: Omit<Segment, "task" | "batchKey" | "logLoss0">): Segment {
  return { task: instance.task, batchKey: instance.batchKey, ...at, ...(at.metaLoss === "logRatio" ? { logLoss0: initialLogLoss(instance) } : {}) };
}

/** The points of a segment that count toward its meta-loss. */
export function countedPoints(seg: Pick<Segment, "length" | "from">): number {
  return Math.max(0, seg.length - Math.max(0, seg.from - 1));
}

/**
 * Runs `particle` through the segment with the optimizer of weights `phi` (its own transform,
 * disposed afterwards): a pure function of its arguments.
 */
export function runSegment(opt: ForwardOptimizer, phi: Float32Array, particle: Particle, seg: Segment): SegmentResult {
  const { task, length: T } = seg;
  const tx = opt.optFn(phi, task.layout);
  try {
    let theta = particle.theta;
    let state = particle.state ?? tx.init(theta);
    const keyAt = (t: number): Key => foldIn(seg.batchKey, seg.position + t);
    let cur = task.lossAndGrad(theta, keyAt(0));
    let finite = Number.isFinite(cur.loss);
    let sum = 0;
    const first = Math.max(1, seg.from);
    for (let t = 0; t < T && finite; t++) {
      // A gradient that is not finite ends the segment as diverged, as in evaluation (the
      // transform would refuse it rather than poison its state).
      if (firstNonFinite(cur.grad) >= 0) {
        finite = false;
        break;
      }
      const [updates, next] = tx.update(cur.grad, state, theta, { loss: cur.loss, step: seg.position + t, horizon: seg.horizon });
      state = next;
      theta = applyUpdates(theta, updates);
      cur = task.lossAndGrad(theta, keyAt(t + 1));
      const f = cur.loss;
      finite = Number.isFinite(f);
      if (!finite || t + 1 < first) continue;
      if (isLogMetaLoss(seg.metaLoss)) {
        if (!(f > 0)) throw new Error(`${seg.metaLoss} meta-loss: it needs positive losses, got f(theta_${seg.position + t + 1}) = ${f}`);
        sum += Math.log(f);
      } else sum += f;
    }
    const counted = countedPoints(seg);
    const norm = isLogMetaLoss(seg.metaLoss) ? counted : counted * task.instances;
    const offset = seg.metaLoss === "logRatio" ? (seg.logLoss0 ?? 0) : 0;
    const loss = !finite ? NaN : counted === 0 ? 0 : sum / norm - offset;
    return { loss, particle: { theta, state } };
  } finally {
    tx.dispose();
  }
}

/**
 * The key of the perturbation of `pair` in truncation `truncation` of the trajectory whose
 * minibatch key is `batchKey` (`label` keeps the estimators' draws apart).
 */
export function perturbationKey(batchKey: Key, label: "es" | "pes", truncation: number, pair: number): Key {
  return foldIn(foldIn(foldIn(batchKey, `perturbation/${label}`), truncation), pair);
}

/** The perturbation of that key: `n` standard normal numbers. */
export function perturbation(k: Key, n: number): Float32Array {
  return normal(k, n);
}

/** phi + scale * eps, as a new array. */
export function perturbed(phi: Float32Array, eps: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(phi.length);
  for (let i = 0; i < out.length; i++) out[i] = phi[i]! + scale * eps[i]!;
  return out;
}

/** An antithetic pair's losses and the direction its difference is multiplied by. */
export interface PairLosses {
  readonly plus: number;
  readonly minus: number;
  /** ES: the pair's eps; PES: the sum of the eps drawn for the pair in the horizon so far. */
  readonly direction: Float32Array;
}

/**
 * The combination step: sum_j (L+_j - L-_j) direction_j / (2 sigma P) over the P pairs (the
 * antithetic estimate of the gradient of the Gaussian-smoothed meta-loss), in float64.
 */
export function antitheticGradient(pairs: readonly PairLosses[], sigma: number, n: number): Float64Array {
  const g = new Float64Array(n);
  for (const p of pairs) {
    const c = (p.plus - p.minus) / (2 * sigma * pairs.length);
    for (let i = 0; i < n; i++) g[i] = g[i]! + c * p.direction[i]!;
  }
  return g;
}

/**
 * A trajectory's part from its pairs' losses: the mean over the pairs of (L+ + L-) / 2 and the
 * antithetic gradient; "diverged" when any loss is not finite (the caller drops the trajectory).
 */
export function antitheticPart(pairs: readonly PairLosses[], sigma: number, n: number): TrajectoryPart | "diverged" {
  if (!pairs.every((r) => Number.isFinite(r.plus) && Number.isFinite(r.minus))) return "diverged";
  return { loss: pairs.reduce((s, r) => s + (r.plus + r.minus) / 2, 0) / pairs.length, grad: antitheticGradient(pairs, sigma, n) };
}

/** The optimizer a loss-only estimator runs, which `metaTrain` passes in the truncation. */
export function forwardOptimizer(trunc: Truncation, estimator: string): ForwardOptimizer {
  if (trunc.optimizer === undefined) throw new Error(`${estimator}: the truncation does not name the optimizer to run (Truncation.optimizer)`);
  return trunc.optimizer;
}

/** Checks the perturbation scale and the number of pairs an estimator is made with. */
export function checkPerturbations(estimator: string, sigma: number, pairs: number): void {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new Error(`${estimator}: sigma must be a finite number > 0, got ${sigma}`);
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`${estimator}: pairs must be a positive integer, got ${pairs}`);
}

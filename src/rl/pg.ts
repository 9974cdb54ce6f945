/**
 * Meta-training the policy by plain policy gradient: REINFORCE (Williams 1992) with a baseline.
 * Each iteration draws `batch` fresh training problems, runs the stochastic policy on each for
 * `steps` steps, and takes the objective values as costs (Li & Malik: the cost of a step is
 * the objective at the point it reaches), here relative to the run's start:
 * c_t = f(x_{t+1}) / f(x_0). With the cost-to-go R_t = sum_{s >= t} c_s and the baseline b_t,
 * the mean of R_t over the batch at step t, the estimate of the gradient of the expected cost is
 *
 *   sum over runs, t, coordinates i of  grad log pi(a_{t,i} | s_{t,i}) (R_t - b_t) / batch,
 *
 * the advantages divided by their standard deviation over the batch; Adam takes the step.
 * A run that diverges (or rises above 10 f(x_0)) stops there and costs 10 per remaining step.
 */
import { foldIn, key as makeKey, split, type Key } from "../core/rng.ts";
import { adam } from "../optimizers/alias.ts";
import { applyUpdates } from "../optimizers/transform.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { policyLogProbGrad, type PolicyShape } from "../learned/rl/policy.ts";
import { policyActor, rollout, type Trajectory } from "./rollout.ts";

export interface PgOptions {
  readonly family: TaskFamily;
  /** Steps per run (the horizon T). */
  readonly steps: number;
  readonly iterations: number;
  /** Runs per iteration. */
  readonly batch: number;
  /** Adam's learning rate on phi. */
  readonly lr: number;
  readonly seed: number;
  /** Called after each iteration with its mean cost per step (relative objective) over the batch. */
  readonly onIteration?: (iteration: number, meanCost: number, phi: Float32Array) => void;
}

/** The penalty cost per step after a divergence. */
export const DIVERGED_COST = 10;

/** Costs c_t = f(x_{t+1}) / f(x_0) of a run, t = 0..T-1 (DIVERGED_COST past a divergence). */
export function relativeCosts(tr: Trajectory): Float64Array {
  const f0 = Math.max(Math.abs(tr.losses[0]!), 1e-12);
  const c = new Float64Array(tr.steps);
  for (let t = 0; t < tr.steps; t++) {
    const f = tr.losses[t + 1]!;
    c[t] = Number.isFinite(f) ? Math.min(f / f0, DIVERGED_COST) : DIVERGED_COST;
  }
  return c;
}

/** The training problems of iteration `it`: task and initial point from their own keys. */
export function trainingDraw(family: TaskFamily, root: Key, it: number, j: number): { task: ReturnType<TaskFamily["sample"]>; theta0: Float32Array; batchKey: Key; noise: Key } {
  const [kTask, kInit, kBatch, kNoise] = split(foldIn(foldIn(root, it), j), 4) as [Key, Key, Key, Key];
  const task = family.sample(kTask);
  return { task, theta0: task.init(kInit), batchKey: kBatch, noise: kNoise };
}

/**
 * The REINFORCE gradient of the expected relative cost, for runs made with `phi`. With
 * `normalize` (the trainer's choice) the advantages are divided by their spread over the batch,
 * a rescaling per step; without it the estimate's expectation is (1 - 1/batch) times the
 * gradient of the expected cost (the baseline, a batch mean, includes the run itself).
 */
export function reinforceGradient(shape: PolicyShape, phi: ArrayLike<number>, runs: readonly Trajectory[], normalize = true): Float64Array {
  const T = Math.max(...runs.map((r) => r.steps));
  const togo = runs.map((r) => {
    const c = relativeCosts(r);
    const R = new Float64Array(T);
    let s = 0;
    for (let t = r.steps - 1; t >= 0; t--) R[t] = s += c[t]!;
    return R;
  });
  const grad = new Float64Array(shape.size);
  const hidden = new Float64Array(shape.cfg.hidden);
  for (let t = 0; t < T; t++) {
    const col = togo.map((R) => R[t]!);
    const mean = col.reduce((a, b) => a + b, 0) / col.length;
    const std = normalize ? Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length) || 1 : 1;
    runs.forEach((r, j) => {
      if (t >= r.actions.length) return; // a diverged run took no step here
      const adv = (col[j]! - mean) / std / runs.length;
      if (adv === 0) return;
      for (let i = 0; i < r.n; i++) policyLogProbGrad(shape, phi, r.feats[t]!, i * shape.F, r.actions[t]![i]!, adv, grad, hidden);
    });
  }
  return grad;
}

/** Trains phi by REINFORCE with a baseline; returns the trained phi and the cost per iteration. */
export function trainPg(shape: PolicyShape, phi0: Float32Array, opts: PgOptions): { phi: Float32Array; costs: number[] } {
  const root = foldIn(makeKey(opts.seed), "rl/train");
  const outer = adam(opts.lr);
  let phi: Float32Array = phi0.slice();
  let state = outer.init(phi);
  const costs: number[] = [];
  for (let it = 0; it < opts.iterations; it++) {
    const runs: Trajectory[] = [];
    for (let j = 0; j < opts.batch; j++) {
      const d = trainingDraw(opts.family, root, it, j);
      runs.push(rollout(d.task, d.theta0, opts.steps, shape.cfg.history, d.batchKey, policyActor(shape, phi, d.noise), DIVERGED_COST));
    }
    const mean = runs.reduce((s, r) => s + relativeCosts(r).reduce((a, b) => a + b, 0) / r.steps, 0) / runs.length;
    costs.push(mean);
    const g = Float32Array.from(reinforceGradient(shape, phi, runs));
    const [upd, next] = outer.update(g, state, phi);
    state = next;
    phi = applyUpdates(phi, upd);
    opts.onIteration?.(it, mean, phi);
  }
  return { phi, costs };
}

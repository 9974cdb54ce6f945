/**
 * One truncation of truncated backpropagation through time: the meta-gradient of a learned
 * optimizer over T optimizee steps (Andrychowicz et al. 2016, section 2, equation 3 and
 * figure 2), for any kind with a differentiable step (`DifferentiableStep`).
 *
 * Forward, for t = 0..T-1:
 *
 *   (f_t, g_t) = task.lossAndGrad(theta_t, key_t);   theta_{t+1} = step(theta_t, g_t)
 *
 * (for the LSTM, step = theta + scale * LSTM(preprocess(g))), and finally (f_T, g_T) at
 * theta_T. The meta-loss is L = sum_{s=0..T} w_s f_s. Backward, with the optimizee gradients
 * detached (the paper's choice, which spares second derivatives):
 *
 *   A_s = dL/dtheta_s = w_s g_s + A_{s+1} (+ the step's own use of theta_s)   (A_T = w_T g_T)
 *   the step's backward, given A_{t+1}  ->  dL/dphi
 *
 * With `secondOrder`, the gradient also flows through g_t = grad f(theta_t): A_t gains
 * H_t · dL/dg_t, where H_t is the task's Hessian at theta_t and dL/dg_t comes out of the
 * step's backward for t, so backward steps and Hessian-vector products interleave.
 *
 * The step keeps its state across calls: after one unroll it holds the state at step T (the
 * truncation cut), so the next call continues the same optimizee trajectory. A non-finite
 * loss is not an error here: it shows in `metaLoss` for the caller to act on. If the task
 * throws part-way, the step is left mid-unroll: reset its state.
 */
import { ConfigError } from "../core/errors.ts";
import type { Key } from "../core/rng.ts";
import type { LossAndGrad, Task } from "../tasks/base.ts";
import type { DifferentiableStep, StepContext } from "../learned/contract.ts";

/** Which losses the meta-loss sums over the T + 1 points theta_0..theta_T. */
export type MetaLossWeights =
  /** f(theta_0) .. f(theta_{T-1}): the PyTorch reference and its fixtures. */
  | "before"
  /** f(theta_1) .. f(theta_T): the paper's training objective. */
  | "after"
  /**
   * log f(theta_1) .. log f(theta_T): each step's loss counts by its ratio to the step
   * before rather than its size, so the late, small losses weigh as much as the first, large
   * ones. Its gradient is the "after" one with w_s = 1 / f(theta_s); the losses must be > 0.
   */
  | "log"
  /** Explicit weights w_0..w_T (T + 1 numbers). */
  | ArrayLike<number>;

export interface UnrollOptions {
  readonly task: Task;
  /** The learned optimizer's differentiable step, its state and weights already set. */
  readonly step: DifferentiableStep;
  /** The position of theta_0 in its horizon and the horizon's length, for the steps' context. */
  readonly position?: number;
  readonly horizon?: number;
  /** theta_0 (not modified). */
  readonly theta: Float32Array;
  /** Unroll length (optimizee steps); each engine must have capacity >= T. */
  readonly T: number;
  readonly weights: MetaLossWeights;
  /** Batch key for the point theta_t, t = 0..T (T + 1 keys or a function of t). */
  readonly keys: readonly Key[] | ((t: number) => Key);
  /** Loss and gradient at theta_0 on key 0, when already known (the previous unroll's `last`). */
  readonly first?: LossAndGrad;
  /** Keep the second-order terms (needs `task.hvp`). Default false, as in the paper. */
  readonly secondOrder?: boolean;
  /**
   * With `secondOrder`, the weight of the second-order terms (default 1: the exact
   * meta-gradient). Below 1 it damps the path through the optimizee's gradient: each step's
   * feedback H_t ... enters at that weight, so their product over a long unroll cannot
   * explode as the exact one does on MNIST (docs/RESULTS.md). 0 gives the first-order result.
   */
  readonly secondOrderScale?: number;
  /** When given, dL/dphi is added into it and it is returned as `dphi`. */
  readonly dphi?: Float32Array;
  /**
   * The first point that counts: the weights of theta_0 .. theta_{from-1} are set to 0
   * (after "log" has made its own). Default 0 (all count). Meta-training uses it to count
   * only the later steps of a horizon (`MetaTrainConfig.metaLossFrom`).
   */
  readonly from?: number;
}

export interface UnrollResult {
  /** L = sum_s w_s f(theta_s). */
  readonly metaLoss: number;
  /** dL/dphi (first order unless `secondOrder`), `step.phiSize` floats. */
  readonly dphi: Float32Array;
  /** theta_T, where the next truncation starts. */
  readonly theta: Float32Array;
  /** Loss and gradient at theta_T on key T: pass it as the next unroll's `first`. */
  readonly last: LossAndGrad;
  /** f(theta_0) .. f(theta_T) (T + 1 numbers). */
  readonly losses: Float64Array;
}

function resolveWeights(w: Exclude<MetaLossWeights, "log">, T: number): Float64Array {
  const out = new Float64Array(T + 1);
  if (w === "before" || w === "after") {
    for (let s = 0; s < T; s++) out[w === "before" ? s : s + 1] = 1;
    return out;
  }
  if (w.length !== T + 1) throw new Error(`unroll: ${w.length} meta-loss weights for T = ${T} (need T + 1 = ${T + 1})`);
  for (let s = 0; s <= T; s++) {
    const v = w[s]!;
    if (!Number.isFinite(v)) throw new Error(`unroll: meta-loss weight ${s} is ${v}`);
    out[s] = v;
  }
  return out;
}

/**
 * The meta-loss and meta-gradient of one truncation of T optimizee steps (Andrychowicz et al.
 * 2016, section 2; truncated BPTT as in section 3). Leaves the engines at the state of step T.
 */
export function unrollMetaGrad(opts: UnrollOptions): UnrollResult {
  const { task, step, T } = opts;
  const n = step.n;
  const secondOrder = opts.secondOrder ?? false;
  const gamma = opts.secondOrderScale ?? 1;
  if (!(gamma >= 0 && gamma <= 1)) throw new Error(`unroll: secondOrderScale must be in [0, 1], got ${gamma}`);
  const keyAt = checkedKeyAt(opts);
  // A user's choice, not a bug: one line (a mixture may draw such a task in the middle of a run).
  if (secondOrder && task.hvp === undefined) throw new ConfigError(`unroll: secondOrder needs Hessian-vector products (hvp), which task '${task.name}' lacks; train first order`);
  if (step.capacity < T) throw new Error(`unroll: the step's tape holds ${step.capacity} steps, T = ${T}`);
  if (step.recorded !== 0) throw new Error("unroll: the step has steps on its tape; call finishBackward first");
  const logLoss = opts.weights === "log";
  const w = resolveWeights(opts.weights === "log" ? "after" : opts.weights, T);
  const from = opts.from ?? 0;
  if (!Number.isInteger(from) || from < 0) throw new Error(`unroll: from must be an integer >= 0, got ${from}`);
  const dphi = opts.dphi ?? new Float32Array(step.phiSize);
  if (dphi.length !== step.phiSize) throw new Error(`unroll: dphi has ${dphi.length} floats, expected ${step.phiSize}`);
  const ctxAt = contextAt(opts);

  // Forward.
  const losses = new Float64Array(T + 1);
  const grads: Float32Array[] = [];
  const thetas: Float32Array[] = [];
  let theta = opts.theta;
  let cur = opts.first ?? task.lossAndGrad(theta, keyAt(0));
  for (let t = 0; t < T; t++) {
    checkLossAndGrad(cur, n, t);
    losses[t] = cur.loss;
    grads.push(cur.grad);
    if (secondOrder) thetas.push(theta);
    theta = step.step(theta, cur.grad, ctxAt(t, cur.loss), secondOrder ? "inputs" : "phi");
    cur = task.lossAndGrad(theta, keyAt(t + 1));
  }
  checkLossAndGrad(cur, n, T);
  losses[T] = cur.loss;
  grads.push(cur.grad);
  let metaLoss = 0;
  // A non-positive loss under the log meta-loss is an error, raised once the tape is cleared.
  let logError: string | null = null;
  if (logLoss) {
    // d log f / d theta = grad f / f: the "after" weights divided by each loss. A non-finite
    // loss makes the meta-loss NaN (the caller skips the unroll, as with "after").
    for (let s = Math.max(1, from); s <= T; s++) {
      const f = losses[s]!;
      if (f > 0 && f < Infinity) {
        metaLoss += Math.log(f);
        w[s] = 1 / f;
      } else {
        if (f <= 0) logError ??= `unroll: the log meta-loss needs positive losses, got f(theta_${s}) = ${f}`;
        metaLoss = NaN;
        w[s] = 0;
      }
    }
    for (let s = 0; s < Math.min(from, T + 1); s++) w[s] = 0;
  } else {
    for (let s = 0; s < Math.min(from, T + 1); s++) w[s] = 0;
    for (let s = 0; s <= T; s++) if (w[s] !== 0) metaLoss += w[s]! * losses[s]!;
  }

  // Backward: A = dL/dtheta_{t+1}, accumulated in float64.
  const A = new Float64Array(n);
  addScaled(A, w[T]!, grads[T]!);
  // With second order, dL/dg_t from the step's backward.
  const dGrad = secondOrder ? new Float32Array(n) : undefined;
  for (let t = T - 1; t >= 0; t--) {
    step.backward(A, dGrad);
    addScaled(A, w[t]!, grads[t]!);
    if (dGrad !== undefined) {
      const hv = task.hvp!(thetas[t]!, dGrad, keyAt(t));
      if (hv.length !== n) throw new Error(`unroll: task.hvp returned ${hv.length} floats, expected ${n}`);
      addScaled(A, gamma, hv);
    }
  }
  step.finishBackward(dphi);
  if (logError !== null) throw new Error(logError);
  return { metaLoss, dphi, theta, last: cur, losses };
}

/**
 * Checks what both unroll functions take (T, and the task, step and theta all of one size)
 * and returns the batch key of point t, failing clearly when a key is missing.
 */
function checkedKeyAt(opts: Pick<UnrollOptions, "task" | "step" | "theta" | "T" | "keys">): (t: number) => Key {
  const { task, step, T, keys } = opts;
  const n = step.n;
  if (!Number.isInteger(T) || T < 1) throw new Error(`unroll: T must be a positive integer, got ${T}`);
  if (task.layout.size !== n) throw new Error(`unroll: the task has ${task.layout.size} coordinates, the learned optimizer's step ${n}`);
  if (opts.theta.length !== n) throw new Error(`unroll: theta has ${opts.theta.length} coordinates, expected ${n}`);
  return (t) => {
    const k = typeof keys === "function" ? keys(t) : keys[t];
    if (k === undefined) throw new Error(`unroll: no batch key for step ${t} (need T + 1 = ${T + 1} keys)`);
    return k;
  };
}

/** The context of local step t: its loss, its index in the horizon and the horizon. */
function contextAt(opts: Pick<UnrollOptions, "position" | "horizon">): (t: number, loss: number) => StepContext {
  const at = opts.position ?? 0;
  const horizon = opts.horizon;
  return (t, loss) => (horizon === undefined ? { loss, step: at + t } : { loss, step: at + t, horizon });
}

/**
 * T optimizee steps without recording anything: the truncation `unrollMetaGrad` would run
 * with every weight 0, at the cost of its forward pass alone. Meta-training uses it for the
 * unrolls that end before `metaLossFrom`. Leaves the step at the state of step T.
 */
export function advanceUnroll(
  opts: Pick<UnrollOptions, "task" | "step" | "theta" | "T" | "keys" | "first" | "position" | "horizon">,
): Pick<UnrollResult, "theta" | "last" | "losses"> {
  const { task, step, T } = opts;
  const n = step.n;
  const keyAt = checkedKeyAt(opts);
  const ctxAt = contextAt(opts);
  const losses = new Float64Array(T + 1);
  let theta = opts.theta;
  let cur = opts.first ?? task.lossAndGrad(theta, keyAt(0));
  for (let t = 0; t < T; t++) {
    checkLossAndGrad(cur, n, t);
    losses[t] = cur.loss;
    theta = step.step(theta, cur.grad, ctxAt(t, cur.loss), false);
    cur = task.lossAndGrad(theta, keyAt(t + 1));
  }
  checkLossAndGrad(cur, n, T);
  losses[T] = cur.loss;
  return { theta, last: cur, losses };
}

function addScaled(a: Float64Array, s: number, g: Float32Array): void {
  if (s === 0) return;
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + s * g[i]!;
}

function checkLossAndGrad(r: LossAndGrad, n: number, t: number): void {
  if (r.grad.length !== n) throw new Error(`unroll: task gradient at step ${t} has ${r.grad.length} floats, expected ${n}`);
}

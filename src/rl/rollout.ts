/**
 * One run of an optimizer seen as a policy: at step t the task is evaluated at x_t (one
 * objective evaluation: loss and gradient), the history is updated, an actor picks the step
 * a_t and x_{t+1} = x_t + a_t. The trajectory keeps what the trainers need: the points, the
 * gradients, the objective values (the costs), the policy's features and the steps taken.
 */
import { foldIn, normal, type Key } from "../core/rng.ts";
import type { Task } from "../tasks/base.ts";
import { allFeatures, newHistory, pushHistory, type History } from "../learned/rl/history.ts";
import { policyMean, policyStd, type PolicyShape } from "../learned/rl/policy.ts";

export interface Trajectory {
  /** Coordinates. */
  readonly n: number;
  /** Steps taken (T). */
  readonly steps: number;
  /** Per-function objective f(x_0) .. f(x_T) (T + 1 values); Infinity from a divergence on. */
  readonly losses: Float64Array;
  /** x_0 .. x_T, n each. */
  readonly xs: Float64Array[];
  /** The gradients at x_0 .. x_T. */
  readonly grads: Float64Array[];
  /** The policy's features at steps 0 .. T-1 (n rows of 3H each). */
  readonly feats: Float64Array[];
  /** The steps a_0 .. a_{T-1}. */
  readonly actions: Float64Array[];
  /** True when the loss or gradient stopped being finite (the run stopped there). */
  readonly diverged: boolean;
}

/** What an actor sees at step t: the point, its gradient and the history (features included). */
export interface ActorInput {
  readonly t: number;
  readonly x: Float64Array;
  readonly grad: Float64Array;
  readonly history: History;
  /** The policy features of every coordinate (n rows of 3H). */
  readonly feats: Float64Array;
}

/** Picks the step a_t. */
export type Actor = (input: ActorInput) => Float64Array;

/**
 * Runs `act` on `task` from `theta0` for `steps` steps; minibatch of step t from foldIn(batchKey,
 * t). With `stopAbove`, a run whose objective exceeds stopAbove * f(x_0) stops as diverged
 * (training: its cost is capped there anyway, and its huge features would swamp a gradient).
 */
export function rollout(task: Task, theta0: Float32Array, steps: number, H: number, batchKey: Key, act: Actor, stopAbove = Infinity): Trajectory {
  const n = theta0.length;
  const losses = new Float64Array(steps + 1).fill(Infinity);
  const xs: Float64Array[] = [];
  const grads: Float64Array[] = [];
  const feats: Float64Array[] = [];
  const actions: Float64Array[] = [];
  const hist = newHistory(n, H);
  let x = Float64Array.from(theta0);
  const theta = new Float32Array(n);
  for (let t = 0; t <= steps; t++) {
    theta.set(x);
    const { loss, grad } = task.lossAndGrad(theta, foldIn(batchKey, t));
    const tooHigh = t > 0 && Math.abs(loss) > stopAbove * Math.abs(losses[0]!);
    if (tooHigh || !Number.isFinite(loss) || !grad.every(Number.isFinite)) return { n, steps, losses, xs, grads, feats, actions, diverged: true };
    losses[t] = loss / task.instances;
    const g = Float64Array.from(grad);
    xs.push(x);
    grads.push(g);
    // The objective as the transform's step context carries it (the task's sum), so that a
    // trained policy reads the same features in `optimizer.ts` as in training.
    pushHistory(hist, x, loss, g);
    if (t === steps) break;
    const f = allFeatures(hist);
    const a = act({ t, x, grad: g, history: hist, feats: f });
    feats.push(f);
    actions.push(a);
    const next = new Float64Array(n);
    // Through float32, as the task sees it: the step recorded is the one actually taken. The
    // step is rounded to float32 before it is added, as a transform's float32 update is by
    // `applyUpdates`, so that the policy's transform visits these points bit for bit.
    for (let i = 0; i < n; i++) next[i] = Math.fround(x[i]! + Math.fround(a[i]!));
    for (let i = 0; i < n; i++) a[i] = next[i]! - x[i]!;
    x = next;
  }
  return { n, steps, losses, xs, grads, feats, actions, diverged: false };
}

/**
 * The policy as an actor: mean steps, plus Gaussian noise of the policy's std when `noise`
 * is a key (exploration; step t's draw from foldIn(noise, t)), none when it is null.
 */
export function policyActor(shape: PolicyShape, phi: ArrayLike<number>, noise: Key | null): Actor {
  const std = policyStd(shape, phi);
  return ({ t, feats, x }) => {
    const n = x.length;
    const eps = noise === null ? null : normal(foldIn(noise, t), n);
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = policyMean(shape, phi, feats, i * shape.F) + (eps ? std * eps[i]! : 0);
    return a;
  };
}

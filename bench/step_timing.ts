/**
 * The timing loop of a full training step (minibatch gradient, update, `applyUpdates`) that
 * the step benches share: 60 steps from the task's initial point, the first 10 warm-up.
 */
import { foldIn, type Key } from "../src/core/rng.ts";
import type { Task } from "../src/tasks/base.ts";
import { applyUpdates, type GradientTransformation } from "../src/optimizers/transform.ts";

/** Milliseconds of each of the 50 steps after the warm-up, in order. */
export function trainingStepTimes(task: Task, tx: GradientTransformation, initKey: Key, batchKey: Key): number[] {
  let theta = task.init(initKey);
  let state = tx.init(theta);
  const times: number[] = [];
  for (let it = 0; it < 60; it++) {
    const t0 = performance.now();
    const { grad } = task.lossAndGrad(theta, foldIn(batchKey, it));
    const [u, s] = tx.update(grad, state, theta);
    state = s;
    theta = applyUpdates(theta, u);
    if (it >= 10) times.push(performance.now() - t0);
  }
  return times;
}

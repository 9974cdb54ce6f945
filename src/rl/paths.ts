/**
 * The paths of optimizers on one instance of a two-parameter task (Li & Malik's 2-D logistic
 * regression picture): the points each visits within an evaluation budget. An optimizer that
 * reads one gradient per step visits one point per evaluation; conjugate gradient and L-BFGS
 * show the points their line searches accept. `objectiveGrid` samples the objective around
 * the paths for the picture's background.
 */
import { foldIn } from "../core/rng.ts";
import { ConfigError } from "../core/errors.ts";
import type { Candidate, Instance } from "../eval/evaluate.ts";
import { applyUpdates } from "../optimizers/transform.ts";
import { runCg, runLbfgs } from "./line_search_methods.ts";
import type { LineSearchMethod } from "./compare.ts";

export interface OptimizerPath {
  readonly optimizer: string;
  /** The visited points, x_0 first, two coordinates each. */
  readonly points: [number, number][];
}

const pair = (x: ArrayLike<number>): [number, number] => [x[0]!, x[1]!];

/** The path of `c` (at rate `lr`) over `evals` evaluations of `inst`. */
export function candidatePath(c: Candidate, lr: number | undefined, inst: Instance, evals: number): OptimizerPath {
  if (inst.task.layout.size !== 2) throw new ConfigError(`paths are drawn for tasks of 2 parameters; this one has ${inst.task.layout.size} (logistic-regression with {"dim":2,"bias":false} has 2)`);
  const tx = c.make(lr, inst.task.layout) as ReturnType<Candidate["make"]> & { dispose?: () => void };
  let theta = inst.theta0;
  const points = [pair(theta)];
  try {
    let state = tx.init(theta);
    for (let t = 0; t < evals - 1; t++) {
      const { loss, grad } = inst.task.lossAndGrad(theta, foldIn(inst.batchKey, t));
      if (!Number.isFinite(loss)) break;
      const [upd, next] = tx.update(grad, state, theta, { loss, step: t, horizon: evals - 1 });
      state = next;
      theta = applyUpdates(theta, upd);
      if (!theta.every(Number.isFinite)) break;
      points.push(pair(theta));
    }
  } finally {
    tx.dispose?.();
  }
  return { optimizer: c.label, points };
}

/** The accepted points of a line-search method within `evals` evaluations. */
export function lineSearchPath(m: LineSearchMethod, inst: Instance, evals: number): OptimizerPath {
  const r = (m === "cg" ? runCg : runLbfgs)(inst.task, inst.theta0, evals, inst.batchKey);
  return { optimizer: m, points: r.path.map(pair) };
}

/** The objective on a `size` x `size` grid over the box around `paths` (with a margin). */
export function objectiveGrid(inst: Instance, paths: readonly OptimizerPath[], size = 40): { x: number; y: number; f: number }[] {
  const all = paths.flatMap((p) => p.points);
  const lo = [0, 1].map((d) => Math.min(...all.map((p) => p[d]!)));
  const hi = [0, 1].map((d) => Math.max(...all.map((p) => p[d]!)));
  const pad = [0, 1].map((d) => 0.15 * (hi[d]! - lo[d]! || 1));
  const out: { x: number; y: number; f: number }[] = [];
  const theta = new Float32Array(2);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      theta[0] = lo[0]! - pad[0]! + ((i + 0.5) / size) * (hi[0]! - lo[0]! + 2 * pad[0]!);
      theta[1] = lo[1]! - pad[1]! + ((j + 0.5) / size) * (hi[1]! - lo[1]! + 2 * pad[1]!);
      out.push({ x: theta[0], y: theta[1], f: inst.task.lossAndGrad(theta, inst.batchKey).loss / inst.task.instances });
    }
  }
  return out;
}

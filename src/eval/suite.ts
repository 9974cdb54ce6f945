/**
 * The held-out suite: a fixed list of problems for judging learned optimizers off their
 * training distribution, written down before any of the suite's optimizers was trained
 * against it. Each problem is a task family and config, a horizon, and how many test and
 * tuning instances to draw (eval's protocol, `evaluate`: baselines tuned on the tuning
 * instances, every optimizer run on the same fresh test instances). The list changes only
 * with `SUITE_VERSION`, so two reports with the same version ran the same problems.
 *
 * What the problems vary, against the shipped optimizers' training (`pretrained/quadratic`:
 * 10-d quadratics, 100 steps; `pretrained/mnist`: one sigmoid layer of 20 units, minibatches
 * of 128, 100 steps):
 * - quadratics of other dimensions (3, 30, 100), another scale (theta_0 ten times farther)
 *   and a longer horizon;
 * - MNIST MLPs deeper, wider, with ReLU or tanh, smaller minibatches, a longer horizon;
 * - the convolutional network on MNIST;
 * - problems no registered task samples, so no training distribution holds them: the
 *   neural-art task at 16 x 16 pixels, the chained Rosenbrock function in 10 dimensions and
 *   Beale's function (`src/eval/suite_tasks.ts`).
 */
import { ConfigError } from "../core/errors.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { taskFamily, type TaskConfig } from "../tasks/registry.ts";
import { SUITE_TASKS } from "./suite_tasks.ts";

/** The suite's version: a report names it, and it changes whenever a problem does. */
export const SUITE_VERSION = "heldout-1";

/** The seed of every problem's instances (eval's `eval/test` and `eval/tune` roots). */
export const SUITE_SEED = 0;

export interface SuiteProblem {
  /** Unique name, e.g. `quadratic-100d`. */
  readonly name: string;
  /** What differs from training, in a few words. */
  readonly shift: string;
  /** A task registry name, or one of the suite's own families (`SUITE_TASKS`). */
  readonly task: string;
  readonly config: TaskConfig;
  /** Optimization steps (the horizon). */
  readonly steps: number;
  /** Test instances in a full run. */
  readonly instances: number;
  /** Tuning instances for the baselines in a full run (separate from the test ones). */
  readonly tuneInstances: number;
}

/** A quick run's instances per problem: enough for a paired interval, in a few minutes per optimizer. */
export const QUICK = Object.freeze({ instances: 4, tuneInstances: 2 });

const FULL = { instances: 10, tuneInstances: 3 } as const;

const p = (name: string, shift: string, task: string, config: TaskConfig, steps = 100): SuiteProblem => ({ name, shift, task, config, steps, ...FULL });

/** The suite, in report order. */
export const SUITE: readonly SuiteProblem[] = Object.freeze([
  p("quadratic-3d", "dimension 3", "quadratic", { dim: 3 }),
  p("quadratic-30d", "dimension 30", "quadratic", { dim: 30 }),
  p("quadratic-100d", "dimension 100", "quadratic", { dim: 100 }),
  p("quadratic-far", "theta_0 10x farther (initStd 10)", "quadratic", { dim: 10, initStd: 10 }),
  p("quadratic-long", "400 steps", "quadratic", { dim: 10 }, 400),
  p("mlp-deep", "3 hidden layers of 20", "mnist-mlp", { hidden: [20, 20, 20] }),
  p("mlp-wide", "one hidden layer of 100", "mnist-mlp", { hidden: [100] }),
  p("mlp-relu", "ReLU", "mnist-mlp", { activation: "relu" }),
  p("mlp-tanh", "tanh", "mnist-mlp", { activation: "tanh" }),
  p("mlp-batch16", "minibatches of 16", "mnist-mlp", { batchSize: 16 }),
  p("mlp-long", "300 steps", "mnist-mlp", {}, 300),
  p("cnn-mnist", "convolutional network (minibatches of 32)", "cnn", { batchSize: 32, testImages: 1000 }),
  p("art-16", "unseen task: neural art, 16 x 16", "art", { size: 16 }),
  p("rosenbrock-10d", "unseen task: chained Rosenbrock, 10-d", "rosenbrock-chain", { dim: 10, jitter: 0.1 }, 200),
  p("beale-2d", "unseen task: Beale's function", "function2d", { name: "beale", jitter: 0.2 }, 200),
]);

/** The problems' names, in suite order. */
export const SUITE_NAMES: readonly string[] = SUITE.map((s) => s.name);

/** The problems `names` lists, in suite order (all of them when `names` is absent); an unknown name is a ConfigError. */
export function suiteProblems(names?: readonly string[]): SuiteProblem[] {
  if (names === undefined) return [...SUITE];
  if (names.length === 0) throw new ConfigError(`no suite problem named; known problems: ${SUITE_NAMES.join(", ")}`);
  for (const n of names) {
    if (!SUITE_NAMES.includes(n)) throw new ConfigError(`unknown suite problem '${n}'; known problems: ${SUITE_NAMES.join(", ")}`);
  }
  return SUITE.filter((s) => names.includes(s.name));
}

/** The problem's task family: the suite's own, or the registry's. */
export function problemFamily(problem: Pick<SuiteProblem, "task" | "config">): TaskFamily {
  const own = Object.hasOwn(SUITE_TASKS, problem.task) ? SUITE_TASKS[problem.task] : undefined;
  return own !== undefined ? own(problem.config) : taskFamily(problem.task, problem.config);
}

/** The problem's instance counts for a full or a quick run. */
export function problemCounts(problem: SuiteProblem, quick: boolean): { instances: number; tuneInstances: number } {
  return quick ? { ...QUICK } : { instances: problem.instances, tuneInstances: problem.tuneInstances };
}

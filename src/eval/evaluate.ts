/**
 * The evaluation protocol, the same for every optimizer (Andrychowicz et al. 2016, section 3):
 * each hand-designed baseline's learning rate is tuned per task by grid search on tuning
 * instances that are separate from the test instances, judged by mean final loss; then every
 * optimizer runs on the same fresh test instances (same functions, same initial points, same
 * minibatches) and the per-function loss at every step is summarised with a 95% interval.
 */
import { ConfigError } from "../core/errors.ts";
import { firstNonFinite } from "../core/finite.ts";
import { foldIn, key as makeKey, split, type Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { Metrics, Task, TaskFamily } from "../tasks/base.ts";
import { applyUpdates, type GradientTransformation } from "../optimizers/transform.ts";
import { summarize, summarizeSteps } from "./stats.ts";

/**
 * The learning-rate grid: half-decade steps from 1e-4 to 10. The protocol asks for at least
 * 1e-4..1; 3 and 10 are there because tuned Adam on the quadratics picks 1, the old edge.
 */
export const DEFAULT_LR_GRID: readonly number[] = [10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4];

/**
 * The most losses an evaluation keeps: every test instance's loss at every step (Float64, so
 * 80 MB), and the longest single run. Beyond it an absurd size would mean gigabytes and hours
 * before anything failed, so it is refused first (the command line shows the same bound).
 */
export const MAX_STEPS_TIMES_INSTANCES = 10_000_000;

/** The most test or tuning instances an evaluation draws (each is held at once, task data and all). */
export const MAX_EVAL_INSTANCES = 10_000;

/** Refuses a count that is not an integer from `min` to `max`, naming `what`. */
function checkCount(what: string, n: number, min: number, max: number): void {
  if (!(Number.isInteger(n) && n >= min && n <= max)) throw new ConfigError(`${what} must be an integer from ${min} to ${max}, got ${n}`);
}

/** An optimizer to evaluate: either its learning rate is tuned, or it is used as it is. */
export interface Candidate {
  /** Label for tables and JSON, e.g. `adam` or `lstm:pretrained/quadratic`. */
  readonly label: string;
  /** Builds the transform for a task's layout; `lr` is the tuned or fixed rate, if any. */
  make(lr: number | undefined, layout: ParamLayout): GradientTransformation;
  /** Tune the learning rate on the grid (hand-designed optimizers); false for learned ones. */
  readonly tune: boolean;
  /**
   * The point a run starts from, given the instance's theta_0: for an optimizer that learns
   * its initial parameters (the MAML family); absent, theta_0 itself.
   */
  start?(layout: ParamLayout, theta0: Float32Array): Float32Array;
  /** A fixed learning rate (skips tuning). */
  readonly lr?: number;
  /** Frees what `make` keeps between runs (a learned optimizer's engines); called once its runs are done. */
  close?(): void;
}

export interface RunResult {
  /** Per-function loss at theta_0 .. theta_steps (length steps + 1); Infinity once diverged. */
  readonly losses: Float64Array;
  /** True if a loss or gradient became NaN or infinite. */
  readonly diverged: boolean;
  /** The task's extra metrics at the final point, if it has any and the run did not diverge. */
  readonly metrics?: Metrics;
}

/**
 * Runs `tx` on `task` from `theta0` for `steps` steps; the minibatch of step t is drawn with
 * `foldIn(batchKey, t)`. Stops early, marking the run diverged, on a non-finite loss or gradient.
 */
export function runOptimizer(
  task: Task,
  tx: GradientTransformation,
  theta0: Float32Array,
  steps: number,
  batchKey: Key,
  withMetrics = false,
): RunResult {
  checkCount("runOptimizer: steps", steps, 0, MAX_STEPS_TIMES_INSTANCES);
  const losses = new Float64Array(steps + 1).fill(Infinity);
  let theta = theta0;
  let state = tx.init(theta);
  for (let t = 0; t <= steps; t++) {
    const { loss, grad } = task.lossAndGrad(theta, foldIn(batchKey, t));
    if (!Number.isFinite(loss) || firstNonFinite(grad) >= 0) return { losses, diverged: true };
    // A look-ahead transform's gradient point is not its parameters: the loss reported is theirs, on the same batch.
    const own = t === 0 || tx.paramsAt === undefined ? loss : task.lossAndGrad(tx.paramsAt(theta, state), foldIn(batchKey, t)).loss;
    if (!Number.isFinite(own)) return { losses, diverged: true };
    losses[t] = own / task.instances;
    if (t === steps) break;
    const [updates, next] = tx.update(grad, state, theta, { loss, step: t, horizon: steps });
    state = next;
    theta = applyUpdates(theta, updates);
  }
  const final = tx.paramsAt === undefined ? theta : tx.paramsAt(theta, state);
  if (withMetrics && task.evaluate) return { losses, diverged: false, metrics: task.evaluate(final) };
  return { losses, diverged: false };
}

/** Builds the candidate's transform for `inst`, runs it, and frees what it holds (engines, workers). */
export function runCandidate(c: Candidate, lr: number | undefined, inst: Instance, steps: number, withMetrics = false): RunResult {
  const tx = c.make(lr, inst.task.layout) as GradientTransformation & { dispose?: () => void };
  try {
    const theta0 = c.start?.(inst.task.layout, inst.theta0) ?? inst.theta0;
    return runOptimizer(inst.task, tx, theta0, steps, inst.batchKey, withMetrics);
  } finally {
    tx.dispose?.();
  }
}

/** A test or tuning instance: a fresh function, its initial point and its minibatch key. */
export interface Instance {
  readonly task: Task;
  readonly theta0: Float32Array;
  readonly batchKey: Key;
}

/** The instance drawn from `k`: its task, initial point and minibatch key, each from its own split. */
export function drawInstance(family: TaskFamily, k: Key): Instance {
  const [taskKey, initKey, batchKey] = split(k, 3) as [Key, Key, Key];
  const task = family.sample(taskKey);
  return { task, theta0: task.init(initKey), batchKey };
}

/** The `count` (1 to `MAX_EVAL_INSTANCES`: all are held at once) instances drawn from `root`, the same for every optimizer. */
export function drawInstances(family: TaskFamily, root: Key, count: number): Instance[] {
  checkCount("drawInstances: count", count, 1, MAX_EVAL_INSTANCES);
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) out.push(drawInstance(family, foldIn(root, i)));
  return out;
}

/**
 * Key namespaces. Evaluation draws from roots that meta-training never uses ("eval/test",
 * "eval/tune" versus "train" and "valid"), so test functions are fresh for any seed.
 */
export function evalRoots(seed: number): { test: Key; tune: Key } {
  const root = makeKey(seed);
  return { test: foldIn(root, "eval/test"), tune: foldIn(root, "eval/tune") };
}

export interface TuneResult {
  readonly lr: number;
  /** True when the best rate is the grid's largest or smallest: widen the grid to be sure. */
  readonly atEdge: boolean;
  /** Mean final loss on the tuning instances for every learning rate tried (Infinity if any diverged). */
  readonly scores: ReadonlyArray<{ readonly lr: number; readonly finalMean: number }>;
}

/**
 * Grid search: the learning rate with the lowest mean final loss on the tuning instances.
 * `onRun` is called after each run with the rate it tried.
 */
export function tuneLearningRate(
  c: Candidate,
  instances: readonly Instance[],
  steps: number,
  grid: readonly number[] = DEFAULT_LR_GRID,
  onRun?: (lr: number) => void,
): TuneResult {
  if (grid.length === 0) throw new ConfigError("tuneLearningRate: the learning-rate grid is empty");
  // With no instances every mean would be 0/0 and the grid's first rate would win unseen.
  if (instances.length === 0) throw new ConfigError("tuneLearningRate: no tuning instances to score the learning rates on");
  const scores: Array<{ lr: number; finalMean: number }> = [];
  for (const lr of grid) {
    let sum = 0;
    for (const inst of instances) {
      const r = runCandidate(c, lr, inst, steps);
      sum += r.diverged ? Infinity : r.losses[steps]!;
      onRun?.(lr);
    }
    scores.push({ lr, finalMean: sum / instances.length });
  }
  let best = scores[0]!;
  for (const s of scores) if (s.finalMean < best.finalMean) best = s;
  const sorted = [...grid].sort((a, b) => a - b);
  return { lr: best.lr, atEdge: best.lr === sorted[0] || best.lr === sorted[sorted.length - 1], scores };
}

export interface CandidateResult {
  readonly optimizer: string;
  /** The learning rate used (tuned or fixed); null for learned optimizers. */
  readonly lr: number | null;
  readonly meanLoss: number[];
  readonly ci95: number[];
  readonly finalMean: number;
  readonly finalCi95: number;
  /** Each test instance's final loss, in instance order (the same for every optimizer): for paired comparisons. */
  readonly finalLosses: number[];
  /** Runs that diverged (their losses count as Infinity). */
  readonly diverged: number;
  /** Mean of the task's extra metrics at the final point (for MNIST: testLoss, testAccuracy). */
  readonly metrics?: Record<string, { mean: number; ci95: number }>;
  readonly tuning?: TuneResult["scores"];
  /** The tuned rate is at the end of the grid (widen it to be sure). */
  readonly lrAtGridEdge?: boolean;
}

export interface EvalOptions {
  readonly steps: number;
  readonly instances: number;
  readonly seed: number;
  /** Tuning instances (default 5, never the test ones). */
  readonly tuneInstances?: number;
  readonly lrGrid?: readonly number[];
  /** Called as each candidate's tuning and testing start (library code never prints). */
  readonly onProgress?: (label: string, phase: "tune" | "test", done: number, total: number) => void;
  /** Called at the start (no run done) and after every run, tuning or test: how far the whole evaluation is, in runs. */
  readonly onRun?: (p: EvalProgress) => void;
}

/** How far an evaluation is, after a run. */
export interface EvalProgress {
  /** The candidate being tuned or tested. */
  readonly label: string;
  readonly phase: "tune" | "test";
  /** Its place in the candidates (0-based), and how many there are. */
  readonly candidate: number;
  readonly candidates: number;
  /** The learning rate the run tried (tuning). */
  readonly lr?: number;
  /** Runs done so far, of every candidate and phase. */
  readonly runsDone: number;
  /** Runs the evaluation makes in all: grid x tuning instances per tuned candidate, and the test instances per candidate. */
  readonly runsTotal: number;
}

export interface EvalReport {
  readonly task: string;
  readonly steps: number;
  readonly instances: number;
  readonly seed: number;
  readonly results: CandidateResult[];
}

/** Tunes and evaluates each candidate on the same fresh instances of `family`. */
export function evaluate(family: TaskFamily, candidates: readonly Candidate[], opts: EvalOptions): EvalReport {
  checkCount("evaluate: steps", opts.steps, 1, MAX_STEPS_TIMES_INSTANCES);
  checkCount("evaluate: instances", opts.instances, 1, MAX_EVAL_INSTANCES);
  if (opts.tuneInstances !== undefined) checkCount("evaluate: tuneInstances", opts.tuneInstances, 1, MAX_EVAL_INSTANCES);
  if (opts.steps * opts.instances > MAX_STEPS_TIMES_INSTANCES) {
    throw new ConfigError(`evaluate: ${opts.steps} steps on ${opts.instances} instances keep ${opts.steps * opts.instances} losses; steps x instances may be at most ${MAX_STEPS_TIMES_INSTANCES}`);
  }
  const grid = opts.lrGrid ?? DEFAULT_LR_GRID;
  const badRate = grid.find((lr) => !(Number.isFinite(lr) && lr > 0));
  if (grid.length === 0 || badRate !== undefined) {
    throw new ConfigError(`evaluate: lrGrid must hold learning rates, each a finite number > 0, got [${grid.join(", ")}]`);
  }
  const roots = evalRoots(opts.seed);
  const test = drawInstances(family, roots.test, opts.instances);
  const needTuning = candidates.some((c) => c.tune && c.lr === undefined);
  const tuneSet = needTuning ? drawInstances(family, roots.tune, opts.tuneInstances ?? 5) : [];
  const results: CandidateResult[] = [];
  const gridSize = (opts.lrGrid ?? DEFAULT_LR_GRID).length;
  const runsTotal = candidates.reduce((n, c) => n + (c.tune && c.lr === undefined ? gridSize * tuneSet.length : 0) + test.length, 0);
  let runsDone = 0;
  const phaseOf = (c: Candidate): "tune" | "test" => (c.tune && c.lr === undefined ? "tune" : "test");
  const report = (ci: number, phase: "tune" | "test", lr?: number): void =>
    opts.onRun?.({ label: candidates[ci]!.label, phase, candidate: ci, candidates: candidates.length, ...(lr !== undefined ? { lr } : {}), runsDone, runsTotal });
  if (candidates.length > 0) report(0, phaseOf(candidates[0]!));
  const ran = (ci: number, phase: "tune" | "test", lr?: number): void => {
    runsDone++;
    report(ci, phase, lr);
  };
  candidates.forEach((c, ci) => {
    let lr: number | undefined = c.lr;
    let tuning: TuneResult["scores"] | undefined;
    let atEdge = false;
    if (c.tune && lr === undefined) {
      opts.onProgress?.(c.label, "tune", ci, candidates.length);
      const t = tuneLearningRate(c, tuneSet, opts.steps, opts.lrGrid, (rate) => ran(ci, "tune", rate));
      lr = t.lr;
      tuning = t.scores;
      atEdge = t.atEdge;
    }
    opts.onProgress?.(c.label, "test", ci, candidates.length);
    let runs: RunResult[];
    try {
      runs = test.map((inst) => {
        const r = runCandidate(c, lr, inst, opts.steps, true);
        ran(ci, "test");
        return r;
      });
    } finally {
      c.close?.();
    }
    const r = summariseRuns(c.label, lr ?? null, runs, tuning);
    results.push(atEdge ? { ...r, lrAtGridEdge: true } : r);
  });
  return { task: family.name, steps: opts.steps, instances: opts.instances, seed: opts.seed, results };
}

function summariseRuns(
  label: string,
  lr: number | null,
  runs: readonly RunResult[],
  tuning: TuneResult["scores"] | undefined,
): CandidateResult {
  const per = summarizeSteps(runs.map((r) => r.losses));
  const steps = per.length - 1;
  const final = summarize(runs.map((r) => r.losses[steps]!));
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics ?? {})))];
  const metrics: Record<string, { mean: number; ci95: number }> = {};
  for (const m of metricNames) {
    const s = summarize(runs.filter((r) => r.metrics?.[m] !== undefined).map((r) => r.metrics![m]!));
    metrics[m] = { mean: s.mean, ci95: s.ci95 };
  }
  return {
    optimizer: label,
    lr,
    meanLoss: per.map((s) => s.mean),
    ci95: per.map((s) => s.ci95),
    finalMean: final.mean,
    finalCi95: final.ci95,
    finalLosses: runs.map((r) => r.losses[steps]!),
    diverged: runs.filter((r) => r.diverged).length,
    ...(metricNames.length > 0 ? { metrics } : {}),
    ...(tuning ? { tuning } : {}),
  };
}

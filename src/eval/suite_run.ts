/**
 * Running the held-out suite (`src/eval/suite.ts`) and summarising it. On each problem one
 * evaluation (`evaluate`) runs the optimizers under test and the baselines on the same fresh
 * test instances, each baseline's learning rate tuned on that problem's own tuning instances;
 * then each optimizer is set against the best tuned baseline (`compareWithBest`, as in the
 * generalisation grid): the ratio of mean final losses and the paired comparison. The summary
 * per optimizer is the fraction of problems with ratio <= 1 and the largest ratio, against the
 * targets: ratio <= 1 on at least 80% of the problems and never above 2.
 */
import { key } from "../core/rng.ts";
import { DEFAULT_LR_GRID, evaluate, type Candidate, type EvalProgress } from "./evaluate.ts";
import { compareWithBest, compareWithRows, type BestComparison, type GridRow } from "./grid.ts";
import { problemCounts, problemFamily, SUITE_SEED, SUITE_VERSION, type SuiteProblem } from "./suite.ts";

/** The targets: ratio <= 1 on at least this fraction of the problems ... */
export const TARGET_FRACTION = 0.8;
/** ... and no ratio above this. */
export const TARGET_MAX_RATIO = 2;

/** One optimizer on one problem: against the best tuned baseline. */
export type SuiteEntry = Omit<BestComparison, "baselines">;

export interface SuiteProblemResult {
  readonly problem: string;
  readonly shift: string;
  readonly task: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly steps: number;
  readonly instances: number;
  readonly tuneInstances: number;
  /** The baselines, each tuned on this problem. */
  readonly baselines: GridRow[];
  /** One entry per optimizer under test, in the order given. */
  readonly entries: SuiteEntry[];
  /** Wall-clock seconds the problem took. */
  readonly seconds: number;
}

export interface SuiteSummary {
  readonly optimizer: string;
  readonly problems: number;
  /** Problems with ratio <= 1. */
  readonly atMostOne: number;
  readonly fraction: number;
  /** Problems where the paired interval says the optimizer ends lower, and where it says the best baseline does. */
  readonly lowerLearned: number;
  readonly lowerBaseline: number;
  readonly maxRatio: number;
  /** The problem with the largest ratio. */
  readonly worst: string;
  /** Ratio <= 1 on at least TARGET_FRACTION of the problems and never above TARGET_MAX_RATIO. */
  readonly meetsTargets: boolean;
}

export interface SuiteReport {
  readonly suite: string;
  readonly seed: number;
  readonly quick: boolean;
  readonly optimizers: string[];
  readonly baselines: string[];
  readonly lrGrid: number[];
  readonly problems: SuiteProblemResult[];
  readonly summary: SuiteSummary[];
  /** Every problem asked for is done (false in the report written after each problem but the last). */
  readonly complete: boolean;
}

/** How far a suite run is: the problem, its run, and the work in step-coordinates (a run's steps x (coordinates + a fixed cost)). */
export interface SuiteProgress {
  readonly problem: string;
  readonly index: number;
  readonly problems: number;
  readonly run: EvalProgress;
  readonly workDone: number;
  readonly workTotal: number;
}

export interface SuiteOptions {
  readonly quick: boolean;
  readonly lrGrid?: readonly number[];
  readonly onRun?: (p: SuiteProgress) => void;
  /** Called after each problem with the report so far (to save it as it comes). */
  readonly onProblem?: (report: SuiteReport) => void;
  /**
   * The tuned baselines' rows of problems already run with the same baselines, counts, seed
   * and grid (an earlier report's, `suiteBaselinesFrom`), by problem name: those problems run
   * only the optimizers under test and compare them with these rows. The baselines' runs do
   * not depend on which optimizers run beside them, so the report is the same.
   */
  readonly baselineRows?: ReadonlyMap<string, readonly GridRow[]>;
}

/** What every run costs whatever the problem's size, in coordinates (the grid's estimate). */
const RUN_OVERHEAD_COORDINATES = 5_000;

/** Per optimizer: the fraction of problems with ratio <= 1, the largest ratio, the paired verdicts, and whether the targets are met. */
export function summarizeSuite(optimizers: readonly string[], problems: readonly SuiteProblemResult[]): SuiteSummary[] {
  return optimizers.map((optimizer, i) => {
    const entries = problems.map((p) => ({ problem: p.problem, e: p.entries[i]! }));
    // A NaN ratio (0 / 0) counts as the worst.
    const ratioOf = (r: number): number => (Number.isNaN(r) ? Infinity : r);
    let worst = entries[0];
    for (const x of entries) if (ratioOf(x.e.ratio) > ratioOf(worst!.e.ratio)) worst = x;
    const atMostOne = entries.filter((x) => x.e.ratio <= 1).length;
    const fraction = entries.length === 0 ? 0 : atMostOne / entries.length;
    const maxRatio = worst === undefined ? 0 : ratioOf(worst.e.ratio);
    return {
      optimizer,
      problems: entries.length,
      atMostOne,
      fraction,
      lowerLearned: entries.filter((x) => x.e.lower === "learned").length,
      lowerBaseline: entries.filter((x) => x.e.lower === "baseline").length,
      maxRatio,
      worst: worst?.problem ?? "",
      meetsTargets: entries.length > 0 && fraction >= TARGET_FRACTION && maxRatio <= TARGET_MAX_RATIO,
    };
  });
}

function runsOf(c: Candidate, instances: number, tuneInstances: number, grid: number): number {
  return (c.tune && c.lr === undefined ? grid * tuneInstances : 0) + instances;
}

/**
 * Runs `optimizers` and `baselines` on every problem of `problems`, in order; each optimizer's
 * and baseline's `close` is called after each problem's runs. Returns the whole report.
 */
export function runSuite(problems: readonly SuiteProblem[], optimizers: readonly Candidate[], baselines: readonly Candidate[], opts: SuiteOptions): SuiteReport {
  if (optimizers.length === 0) throw new Error("runSuite: give at least one optimizer to test");
  if (baselines.length === 0) throw new Error("runSuite: give at least one baseline");
  const lrGrid = [...(opts.lrGrid ?? DEFAULT_LR_GRID)];
  const candidates = [...optimizers, ...baselines];
  const families = problems.map(problemFamily);
  const counts = problems.map((p) => problemCounts(p, opts.quick));
  const work = problems.map((p, i) => {
    const size = families[i]!.sample(key(0)).layout.size + RUN_OVERHEAD_COORDINATES;
    return p.steps * size;
  });
  const reused = problems.map((p) => opts.baselineRows?.get(p.name));
  const runHere = problems.map((_p, i) => (reused[i] === undefined ? candidates : optimizers));
  const workOf = (i: number): number => work[i]! * runHere[i]!.reduce((n, c) => n + runsOf(c, counts[i]!.instances, counts[i]!.tuneInstances, lrGrid.length), 0);
  const workTotal = problems.reduce((a, _p, i) => a + workOf(i), 0);
  let workBefore = 0;
  const done: SuiteProblemResult[] = [];
  const labels = optimizers.map((o) => o.label);
  const reportOf = (complete: boolean): SuiteReport => ({
    suite: SUITE_VERSION,
    seed: SUITE_SEED,
    quick: opts.quick,
    optimizers: labels,
    baselines: baselines.map((b) => b.label),
    lrGrid,
    problems: [...done],
    summary: summarizeSuite(labels, done),
    complete,
  });
  problems.forEach((problem, i) => {
    const started = performance.now();
    const { instances, tuneInstances } = counts[i]!;
    const report = evaluate(families[i]!, runHere[i]!, {
      steps: problem.steps,
      instances,
      tuneInstances,
      seed: SUITE_SEED,
      lrGrid,
      onRun: (run) => opts.onRun?.({ problem: problem.name, index: i, problems: problems.length, run, workDone: workBefore + run.runsDone * work[i]!, workTotal }),
    });
    workBefore += workOf(i);
    const rows = reused[i];
    const base = report.results.slice(optimizers.length);
    const tested = report.results.slice(0, optimizers.length);
    const compared = tested.map((r) => (rows === undefined ? compareWithBest(r, base) : compareWithRows(r, rows)));
    const entries = compared.map(({ baselines: _rows, ...entry }) => entry);
    const baselineRows = compared[0]!.baselines;
    done.push({
      problem: problem.name,
      shift: problem.shift,
      task: problem.task,
      config: problem.config,
      steps: problem.steps,
      instances,
      tuneInstances,
      baselines: baselineRows,
      entries,
      seconds: (performance.now() - started) / 1000,
    });
    opts.onProblem?.(reportOf(i === problems.length - 1));
  });
  return reportOf(true);
}

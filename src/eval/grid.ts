/**
 * Generalisation grids (Andrychowicz et al. 2016, Figures 5 and 6): one optimizer against
 * tuned baselines on a grid of networks, hidden layers x units per layer. Each cell is one
 * evaluation with eval's protocol (`evaluate`): every baseline's learning rate tuned on that
 * cell's own tuning instances, then every optimizer run on the same fresh test instances. A
 * cell records the best tuned baseline (lowest mean final loss), the ratio of the optimizer's
 * mean final loss to it, and the paired comparison with it, instance by instance.
 */
import { key } from "../core/rng.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { DEFAULT_LR_GRID, evaluate, type Candidate, type CandidateResult, type EvalProgress, type EvalReport } from "./evaluate.ts";
import { comparePaired, type PairedComparison } from "./paired.ts";

/** A network of the grid: `layers` hidden layers of `units` units each. */
export interface GridPoint {
  readonly layers: number;
  readonly units: number;
}

/** One optimizer's result in a cell: its rate and final losses (per-step curves are left out). */
export interface GridRow {
  readonly optimizer: string;
  /** The tuned (or fixed) learning rate; null for a learned optimizer. */
  readonly lr: number | null;
  /** The tuned rate is at an end of the grid. */
  readonly lrAtGridEdge?: boolean;
  readonly finalMean: number;
  readonly finalCi95: number;
  /** Each test instance's final loss, in instance order (the same instances for every row). */
  readonly finalLosses: number[];
  readonly diverged: number;
  /** The task's metrics at the final point, mean and 95% interval (MNIST: testLoss, testAccuracy). */
  readonly metrics?: Record<string, { mean: number; ci95: number }>;
}

/** Which ends lower, by the paired 95% interval of the log10 advantage: `level` when it holds zero. */
export type GridVerdict = "learned" | "baseline" | "level";

/** An optimizer against tuned baselines on one task: the best baseline, the ratio and the paired comparison. */
export interface BestComparison {
  /** The optimizer under test. */
  readonly learned: GridRow;
  /** The baselines, each tuned on this cell. */
  readonly baselines: GridRow[];
  /** The baseline with the lowest mean final loss. */
  readonly best: string;
  /** The optimizer's mean final loss over the best baseline's: below 1, the optimizer is lower. */
  readonly ratio: number;
  /** Optimizer against the best baseline: `wins` counts instances where the optimizer ends lower; a positive advantage means it does. */
  readonly paired: PairedComparison;
  readonly lower: GridVerdict;
}

export interface GridCell extends GridPoint, BestComparison {
  /** Wall-clock seconds the cell took. */
  readonly seconds: number;
}

export interface GridOptions {
  readonly layers: readonly number[];
  readonly units: readonly number[];
  readonly steps: number;
  /** Test instances per cell. */
  readonly instances: number;
  /** Tuning instances per cell (separate from the test ones). */
  readonly tuneInstances: number;
  readonly seed: number;
  readonly lrGrid?: readonly number[];
  /** Cells already evaluated (a resumed run): kept as they are, not run again. */
  readonly done?: readonly GridCell[];
  /** Called at the start of each cell and after every run (library code never prints). */
  readonly onRun?: (p: GridProgress) => void;
  /** Called after each cell with every cell so far, in grid order (to save them as they come). */
  readonly onCell?: (cells: readonly GridCell[]) => void;
}

/** How far a grid is. Work is counted in runs times each run's cost in coordinates (see `RUN_OVERHEAD_COORDINATES`). */
export interface GridProgress {
  readonly point: GridPoint;
  /** The cell's place among the cells still to run (0-based), and how many those are. */
  readonly cell: number;
  readonly cells: number;
  readonly run: EvalProgress;
  readonly workDone: number;
  readonly workTotal: number;
}

/** The grid's points, row by row: every layer count with every unit count. */
export function gridPoints(layers: readonly number[], units: readonly number[]): GridPoint[] {
  return layers.flatMap((l) => units.map((u) => ({ layers: l, units: u })));
}

const samePoint = (a: GridPoint, b: GridPoint): boolean => a.layers === b.layers && a.units === b.units;

function gridRow(r: CandidateResult): GridRow {
  return {
    optimizer: r.optimizer,
    lr: r.lr,
    ...(r.lrAtGridEdge ? { lrAtGridEdge: true } : {}),
    finalMean: r.finalMean,
    finalCi95: r.finalCi95,
    finalLosses: r.finalLosses,
    diverged: r.diverged,
    ...(r.metrics ? { metrics: r.metrics } : {}),
  };
}

/** The verdict of a paired comparison: which side its 95% interval lies on, if it excludes zero. */
export function pairedVerdict(p: PairedComparison): GridVerdict {
  const { mean, ci95 } = p.log10Advantage;
  if (Number.isFinite(mean) && Number.isFinite(ci95)) return mean - ci95 > 0 ? "learned" : mean + ci95 < 0 ? "baseline" : "level";
  // A run that diverged makes the interval infinite; then only a one-sided sweep decides.
  if (p.wins === p.n) return "learned";
  if (p.wins === 0 && mean < 0) return "baseline";
  return "level";
}

/**
 * The optimizer `learned` against `baselines`, all run on the same instances. The best
 * baseline is the one with the lowest mean final loss (the first of equals; a diverged run
 * makes a mean infinite).
 */
export function compareWithBest(learned: CandidateResult, baselines: readonly CandidateResult[]): BestComparison {
  return compareWithRows(learned, baselines.map(gridRow));
}

/**
 * `compareWithBest` against baselines already reduced to their rows (for example read back
 * from an earlier report of the same instances): the same comparison, the same numbers.
 */
export function compareWithRows(learned: CandidateResult, baselines: readonly GridRow[]): BestComparison {
  if (baselines.length === 0) throw new Error("compareWithBest: needs at least one baseline's row");
  let best = baselines[0]!;
  for (const b of baselines) if (b.finalMean < best.finalMean) best = b;
  const paired = comparePaired(learned.finalLosses, best.finalLosses);
  return {
    learned: gridRow(learned),
    baselines: [...baselines],
    best: best.optimizer,
    ratio: learned.finalMean / best.finalMean,
    paired,
    lower: pairedVerdict(paired),
  };
}

/** A cell from an evaluation whose first row is the optimizer under test and whose other rows are the baselines (`compareWithBest`). */
export function cellFromReport(point: GridPoint, report: EvalReport, seconds: number): GridCell {
  const [learned, ...baselines] = report.results;
  if (learned === undefined || baselines.length === 0) throw new Error("cellFromReport: needs the optimizer's row and at least one baseline's");
  return { ...point, ...compareWithBest(learned, baselines), seconds };
}

/**
 * A run's cost in coordinates: its network's coordinates, plus what every run costs whatever the
 * network (drawing minibatches, the test-set metrics at the end), about 5,000 coordinates' worth
 * on the MNIST MLP (cells of 4k, 8k and 16k coordinates took 52, 78 and 121 s).
 */
const RUN_OVERHEAD_COORDINATES = 5_000;

/** Runs `c` counts in an evaluation: tuning (grid x tuning instances) where its rate is tuned, then the test instances. */
function runsOf(c: Candidate, opts: GridOptions): number {
  const tuned = c.tune && c.lr === undefined ? (opts.lrGrid ?? DEFAULT_LR_GRID).length * opts.tuneInstances : 0;
  return tuned + opts.instances;
}

/**
 * Evaluates `learned` against `baselines` on every network of the grid not in `opts.done`,
 * row by row; `familyFor` gives each network's task family. Returns every cell, done ones
 * included, in grid order. Each candidate's `close` is called after each cell's runs (they
 * are made again for the next network).
 */
export function generalizationGrid(
  familyFor: (p: GridPoint) => TaskFamily,
  learned: Candidate,
  baselines: readonly Candidate[],
  opts: GridOptions,
): GridCell[] {
  if (baselines.length === 0) throw new Error("generalizationGrid: give at least one baseline");
  const points = gridPoints(opts.layers, opts.units);
  const done = (opts.done ?? []).filter((c) => points.some((p) => samePoint(p, c)));
  const todo = points.filter((p) => !done.some((c) => samePoint(p, c)));
  const candidates = [learned, ...baselines];
  const runsPerCell = candidates.reduce((n, c) => n + runsOf(c, opts), 0);
  const families = todo.map(familyFor);
  const sizes = families.map((f) => f.sample(key(0)).layout.size + RUN_OVERHEAD_COORDINATES);
  const workTotal = sizes.reduce((a, s) => a + s * runsPerCell, 0);
  let workBefore = 0;
  const cells = [...done];
  const ordered = (): GridCell[] => points.flatMap((p) => cells.filter((c) => samePoint(p, c)));
  todo.forEach((point, i) => {
    const started = performance.now();
    const report = evaluate(families[i]!, candidates, {
      steps: opts.steps,
      instances: opts.instances,
      seed: opts.seed,
      tuneInstances: opts.tuneInstances,
      ...(opts.lrGrid !== undefined ? { lrGrid: opts.lrGrid } : {}),
      onRun: (run) => opts.onRun?.({ point, cell: i, cells: todo.length, run, workDone: workBefore + run.runsDone * sizes[i]!, workTotal }),
    });
    workBefore += runsPerCell * sizes[i]!;
    cells.push(cellFromReport(point, report, (performance.now() - started) / 1000));
    opts.onCell?.(ordered());
  });
  return ordered();
}

/** A cell's label in a table or figure: the ratio to two decimals, `*` when the paired interval excludes zero. */
export function cellLabel(c: Pick<GridCell, "ratio" | "lower">): string {
  const r = !Number.isFinite(c.ratio) ? String(c.ratio) : c.ratio >= 100 ? c.ratio.toExponential(1) : c.ratio.toFixed(2);
  return `${r}${c.lower === "level" ? "" : "*"}`;
}

/** A grid as `l2o generalize --json` writes it, after every cell (`complete`: the last is written and every cell of the grid is done). */
export interface GridReport {
  readonly task: string;
  /** What every network of the grid shares (its hidden layers are the cell's). */
  readonly taskConfig: Record<string, unknown>;
  readonly optimizer: string;
  readonly baselines: string[];
  readonly layers: number[];
  readonly units: number[];
  readonly steps: number;
  readonly instances: number;
  readonly tuneInstances: number;
  readonly seed: number;
  readonly lrGrid: number[];
  /** The kernel a learned optimizer ran on. */
  readonly engine: string;
  /** The cells done, in grid order. */
  readonly cells: GridCell[];
  readonly complete: boolean;
}

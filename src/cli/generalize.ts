/**
 * `l2o generalize`: how a learned optimizer carries over to networks it was not trained on
 * (Andrychowicz et al. 2016, Figures 5 and 6). The MNIST MLP on a grid of hidden layers x
 * units; in each cell the optimizer and the baselines, each baseline tuned on that network,
 * run on the same fresh instances (eval's protocol); the final-loss ratio to the best tuned
 * baseline and the paired comparison with it, as tables, JSON (written after every cell) and
 * a heatmap. The work is the library's (`src/eval/grid.ts`); this file reads options and shows.
 */
import type { Command } from "commander";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { generalizationGrid, type GridCell, type GridPoint, type GridReport } from "../eval/grid.ts";
import { checkOutputPaths } from "../io/paths.ts";
import { MLP_ACTIVATIONS, MNIST_MLP_LIMITS, type MlpActivation } from "../tasks/mnist_mlp_config.ts";
import { gridFigureSvg } from "../viz/grid_figure.ts";
import { figureFormat, writeFigure } from "../viz/file.ts";
import { UsageError } from "./errors.ts";
import { evalPhase } from "./eval_job.ts";
import { formatGridReport, mergeGrids, resumableCells, writeGridReport } from "./grid_report.ts";
import { checkInstanceMemory, LIMITS, rangeText, type CountRange, checkStepsTimesInstances } from "./limits.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, EVAL_THREADS, EVAL_THREADS_HELP, parseCount, parseEngine, parseEvalThreads, parseList, parseSeed, QUIET_HELP, parseLrGrid } from "./options.ts";
import { progress, type Progress } from "./progress.ts";
import { resolveCandidate, resolveTaskFamily } from "./resolve.ts";

const TASK = "mnist-mlp";
const LAYER_RANGE: CountRange = { min: 1, max: MNIST_MLP_LIMITS.depth };
const UNIT_RANGE: CountRange = { min: 1, max: MNIST_MLP_LIMITS.width };

interface GeneralizeFlags {
  optimizer: string;
  baselines: string;
  layers: string;
  units: string;
  activation: string;
  steps: string;
  instances: string;
  tuneInstances: string;
  seed: string;
  lrGrid?: string;
  json?: string;
  resume?: boolean;
  plot?: string;
  quiet?: boolean;
  engine: string;
  threads: string;
}

/** A comma-separated list of distinct counts within `range`, at least one, in ascending order (the grid's rows and columns). */
function parseCounts(flag: string, raw: string, range: CountRange): number[] {
  const xs = parseList(flag, raw).map((x) => parseCount(flag, x, range));
  if (xs.length === 0) throw new UsageError(`${flag} is empty: give at least one number from ${rangeText(range)}`);
  const twice = xs.find((x, i) => xs.indexOf(x) !== i);
  if (twice !== undefined) throw new UsageError(`${flag} lists ${twice} twice; give each once`);
  return xs.sort((a, b) => a - b);
}

function parseActivation(raw: string): MlpActivation {
  const a = MLP_ACTIVATIONS.find((x) => x === raw);
  if (a === undefined) throw new UsageError(`--activation expects one of ${MLP_ACTIVATIONS.join(", ")}, got '${raw}'`);
  return a;
}

/** What a cell is doing, for its progress: `network 2 x 40 (cell 3 of 18): testing mnist, optimizer 1 of 5`. */
function phaseOf(p: { point: GridPoint; cell: number; cells: number; run: Parameters<typeof evalPhase>[0] }): string {
  return `network ${p.point.layers} x ${p.point.units} (cell ${p.cell + 1} of ${p.cells}): ${evalPhase(p.run)}`;
}

export function registerGeneralizeCommand(program: Command): void {
  program
    .command("generalize")
    .description(
      "how an optimizer carries over to other MNIST networks (the paper's Figures 5 and 6): on every network of the grid hidden layers x units, " +
        "it and the baselines (each tuned on that network) run on the same fresh instances; shows its final loss over the best tuned baseline's, with the paired comparison",
    )
    .option("--optimizer <name>", "the optimizer to test: a pretrained name, lstm:FILE, or any optimizer name", "mnist")
    .option("--baselines <list>", `comma-separated baselines, each tuned per network (${rangeText(LIMITS.listEntries)} names)`, "adam,rmsprop,nag,sgd")
    .option("--layers <list>", `hidden-layer counts, the grid's rows (each ${rangeText(LAYER_RANGE)})`, "1,2,3")
    .option("--units <list>", `units per hidden layer, the grid's columns (each ${rangeText(UNIT_RANGE)})`, "5,10,20,40,80,160")
    .option("--activation <name>", `hidden nonlinearity: ${MLP_ACTIVATIONS.join(", ")}`, "sigmoid")
    .option("--steps <n>", `optimization steps (${rangeText(LIMITS.steps)})`, "200")
    .option("--instances <n>", `fresh test instances per network (${rangeText(LIMITS.evalInstances)})`, "10")
    .option("--tune-instances <n>", `learning-rate tuning instances per network, separate from the test ones (${rangeText(LIMITS.tuneInstances)})`, "3")
    .option("--seed <n>", "random seed, an integer (test instances never overlap training or tuning ones)", "0")
    .option("--lr-grid <list>", `comma-separated learning rates to tune on (default ${DEFAULT_LR_GRID.join(",")})`)
    .option("--json <file>", "write the report {task, optimizer, baselines, steps, instances, seed, ... (every setting), layers, units, cells: [{layers, units, learned, baselines, best, ratio, paired, lower}], complete}, again after every cell")
    .option("--resume", "continue the --json report (made with the same settings): keep its cells, those outside this run's grid too, and run only the missing ones")
    .option("--plot <file>", "draw the grid of ratios as a heatmap to FILE.svg or FILE.png, by its extension")
    .option("--quiet", QUIET_HELP)
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", EVAL_THREADS_HELP, String(EVAL_THREADS))
    .action(async (f: GeneralizeFlags) => {
      checkOutputPaths([[f.json, "--json", { report: true }], [f.plot, "--plot", { report: true }]]);
      if (f.plot !== undefined) figureFormat(f.plot, "--plot");
      if (f.resume === true && f.json === undefined) throw new UsageError("--resume needs --json: the report whose cells it keeps");
      const baselineNames = parseList("--baselines", f.baselines);
      if (baselineNames.length === 0) throw new UsageError("--baselines is empty: name at least one, e.g. adam,nag");
      const optimizerName = f.optimizer.trim();
      if (optimizerName === "") throw new UsageError("--optimizer is empty: name the optimizer to test, e.g. mnist");
      const layers = parseCounts("--layers", f.layers, LAYER_RANGE);
      const units = parseCounts("--units", f.units, UNIT_RANGE);
      const activation = parseActivation(f.activation);
      const steps = parseCount("--steps", f.steps, LIMITS.steps);
      const instances = parseCount("--instances", f.instances, LIMITS.evalInstances);
      checkStepsTimesInstances(steps, instances);
      const tuneInstances = parseCount("--tune-instances", f.tuneInstances, LIMITS.tuneInstances);
      const seed = parseSeed("--seed", f.seed);
      const lrGrid = parseLrGrid(f.lrGrid);
      const engine = parseEngine(f.engine);
      const threads = parseEvalThreads(f.threads);
      const taskConfig = { activation };
      const familyFor = (p: GridPoint) => resolveTaskFamily(TASK, { ...taskConfig, hidden: Array<number>(p.layers).fill(p.units) });
      const largest = { layers: Math.max(...layers), units: Math.max(...units) };
      checkInstanceMemory(familyFor(largest), instances + tuneInstances, `--instances ${instances} and --tune-instances ${tuneInstances} on ${largest.layers} x ${largest.units}`);

      const learned = resolveCandidate(optimizerName, undefined, engine, threads);
      const baselines = baselineNames.map((n) => resolveCandidate(n, undefined, engine, threads));
      // Names resolve to labels (`nag` runs as `nesterov`): compare those.
      const labels = baselines.map((b) => b.label);
      if (labels.includes(learned.label)) throw new UsageError(`--baselines lists ${learned.label}, the --optimizer itself; give it once`);
      const twice = labels.find((l, i) => labels.indexOf(l) !== i);
      if (twice !== undefined) throw new UsageError(`--baselines lists ${twice} twice; give each once`);
      const settings = { task: TASK, taskConfig, optimizer: learned.label, baselines: baselines.map((b) => b.label), steps, instances, tuneInstances, seed, lrGrid, engine };
      const earlier = f.resume === true ? resumableCells(f.json!, settings) : { layers: [], units: [], cells: [] };
      const done = earlier.cells;
      // The report holds the earlier report's cells too, those outside this run's grid included.
      const reportOf = (cells: readonly GridCell[], last: boolean): GridReport => {
        const m = mergeGrids(earlier, { layers, units, cells: [...cells] });
        return { ...settings, layers: m.layers, units: m.units, cells: m.cells, complete: last && m.complete };
      };
      let bar: Progress | undefined;
      let cells: GridCell[];
      try {
        cells = generalizationGrid(familyFor, learned, baselines, {
          layers, units, steps, instances, tuneInstances, seed, lrGrid, done,
          onRun: (p) => {
            const work = (x: number): number => Math.round(x / 1000);
            bar ??= progress({ phase: phaseOf(p), total: work(p.workTotal), unit: "k coordinate-runs", quiet: f.quiet === true });
            bar.update(work(p.workDone), { phase: phaseOf(p) });
          },
          onCell: (sofar) => {
            if (f.json !== undefined) writeGridReport(f.json, reportOf(sofar, false));
          },
        });
      } finally {
        bar?.stop();
      }
      const report = reportOf(cells, true);
      process.stdout.write(formatGridReport(report));
      if (f.json !== undefined) {
        writeGridReport(f.json, report);
        process.stdout.write(`report written to ${f.json}\n`);
      }
      if (f.plot !== undefined) {
        writeFigure(f.plot, await gridFigureSvg(report), { flag: "--plot", onWarning: (m) => process.stderr.write(`l2o: warning: ${m}\n`) });
        process.stdout.write(`figure written to ${f.plot}\n`);
      }
    });
}

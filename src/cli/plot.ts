/**
 * `l2o plot`: draw what a command wrote, as SVG or PNG (by the --out extension). Given
 * evaluation reports (`l2o eval --json`) of the same instances, merged as `l2o compare` merges
 * them: the per-step mean loss, one line per optimizer with its 95% interval. Given a training
 * log (`l2o train --log`): the meta-loss per meta-iteration and the validation score per
 * epoch. Which one a file is, its content says. The figures are src/viz/'s.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { checkOutputPath } from "../io/paths.ts";
import { evalFigureSvg } from "../viz/eval_figure.ts";
import { trainingFigureSvg } from "../viz/training_figure.ts";
import { figureInputKind, parseTrainingLog, trainingSeries } from "../viz/training_log.ts";
import { figureFormat, writeFigure } from "../viz/file.ts";
import { UsageError } from "./errors.ts";
import { mergeReports, readReport } from "./format.ts";

interface PlotFlags {
  out: string;
  title?: string;
  linear?: boolean;
}

/** A file's text, or a UsageError naming it. */
function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}; give a report from 'l2o eval --json' or a log from 'l2o train --log'`);
  }
}

/** The figure of `paths` as SVG text, and what it shows (for the line printed after it). */
async function figureOf(paths: readonly string[], f: PlotFlags): Promise<{ svg: string; shows: string }> {
  const inputs = paths.map((path) => {
    const text = readText(path);
    return { path, text, kind: figureInputKind(text, path) };
  });
  const logs = inputs.filter((x) => x.kind === "training-log");
  if (logs.length === 0) {
    const merged = mergeReports(paths.map((path) => ({ path, report: readReport(path) })));
    return { svg: await evalFigureSvg(merged, { title: f.title, linear: f.linear }), shows: `${merged.results.length} optimizers, ${merged.steps} steps` };
  }
  const log = logs[0]!;
  if (inputs.length > 1) {
    const other = inputs.find((x) => x !== log)!;
    throw new UsageError(`${log.path} is a training log and ${other.path} ${other.kind === "training-log" ? "another" : "an evaluation report"}: plot draws one training log at a time, or evaluation reports together`);
  }
  const records = parseTrainingLog(log.text, log.path);
  const s = trainingSeries(records);
  const svg = await trainingFigureSvg(records, { title: f.title, linear: f.linear });
  return { svg, shows: `${s.metaLoss.length} meta-iterations, ${s.validation.length} epochs` };
}

export function registerPlotCommand(program: Command): void {
  program
    .command("plot")
    .description(
      "draw 'l2o eval --json' reports of the same instances (mean loss per step, one line per optimizer with its 95% interval) " +
        "or an 'l2o train --log' training log (meta-loss per meta-iteration, validation score per epoch) as an SVG or PNG figure",
    )
    .argument("<files...>", "report files (same task, steps, instances and seed; merged as 'l2o compare' merges them), or one training log; which, their content says")
    .requiredOption("--out <file>", "the figure to write: FILE.svg (vector) or FILE.png (pixels, at twice the SVG's size), by its extension")
    .option("--title <text>", "figure title (default: task, instances and seed; for a log, its meta-iterations and epochs)")
    .option("--linear", "a linear loss axis instead of the log scale")
    .action(async (paths: string[], f: PlotFlags) => {
      checkOutputPath(f.out, "--out", { report: true });
      figureFormat(f.out, "--out");
      const { svg, shows } = await figureOf(paths, f);
      writeFigure(f.out, svg, { flag: "--out", onWarning: (m) => process.stderr.write(`l2o: warning: ${m}\n`) });
      process.stdout.write(`figure written to ${f.out} (${shows})\n`);
    });
}

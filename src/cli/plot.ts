/**
 * `l2o plot`: the per-step mean loss of evaluation reports as an SVG figure, as the paper's
 * Figure 4 draws it: one line per optimizer, its 95% interval as a band, the loss on a log
 * scale. Reports of the same instances (separate `l2o eval` runs) are merged as
 * `l2o compare` merges them. vega-lite builds the figure and vega renders it to SVG, with no
 * canvas; both load only when a figure is drawn.
 */
import type { Command } from "commander";
import type { TopLevelSpec } from "vega-lite";
import type { EvalReport } from "../eval/evaluate.ts";
import { mergeReports, readReport } from "./format.ts";
import { writeFileAtomic } from "../io/files.ts";
import { checkOutputPath } from "../io/paths.ts";

export interface LossFigureOptions {
  /** Figure title (default: the task, the instance count and the seed). */
  readonly title?: string | undefined;
  /** A linear loss axis instead of the log one. */
  readonly linear?: boolean | undefined;
}

/** One point of a line: an optimizer's mean loss at a step and its 95% interval. */
export interface LossPoint {
  readonly optimizer: string;
  readonly step: number;
  readonly loss: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The figure's points. Steps whose mean is not finite (diverged runs) or, on the log scale,
 * not positive are left out; on the log scale an interval reaching below a tenth of its mean
 * (heavy-tailed losses) is cut there, which the figure's subtitle says.
 */
export function lossPoints(r: EvalReport, linear = false): { points: LossPoint[]; clipped: boolean } {
  const points: LossPoint[] = [];
  let clipped = false;
  for (const row of r.results) {
    const label = row.lr === null ? row.optimizer : `${row.optimizer.split("@")[0]} (lr ${row.lr})`;
    row.meanLoss.forEach((loss, step) => {
      if (!Number.isFinite(loss) || (!linear && loss <= 0)) return;
      const ci = Number.isFinite(row.ci95[step]) ? row.ci95[step]! : 0;
      let lo = loss - ci;
      if (!linear && lo < loss / 10) {
        lo = loss / 10;
        clipped = true;
      }
      points.push({ optimizer: label, step, loss, lo, hi: loss + ci });
    });
  }
  return { points, clipped };
}


/** The vega-lite specification of the figure. */
export function lossFigureSpec(r: EvalReport, opts: LossFigureOptions = {}): TopLevelSpec {
  const { points, clipped } = lossPoints(r, opts.linear);
  const scale = opts.linear ? { type: "linear" as const, zero: false } : { type: "log" as const, nice: false };
  const y = { field: "loss", type: "quantitative" as const, title: `mean loss${opts.linear ? "" : " (log scale)"}`, scale };
  const color = {
    field: "optimizer",
    type: "nominal" as const,
    title: null,
    sort: null,
    legend: { symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 2 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: opts.title ?? `${r.task}: ${r.instances} fresh instances, seed ${r.seed}`,
      subtitle: `mean over instances per step, band: 95% interval${clipped ? " (cut at a tenth of the mean)" : ""}`,
    },
    width: 560,
    height: 360,
    data: { values: points as unknown as Record<string, unknown>[] },
    encoding: { x: { field: "step", type: "quantitative", title: "step", scale: { domain: [0, r.steps], nice: false } }, color },
    layer: [
      { mark: { type: "area", opacity: 0.15 }, encoding: { y: { ...y, field: "lo" }, y2: { field: "hi" } } },
      { mark: { type: "line", strokeWidth: 1.5 }, encoding: { y } },
    ],
    config: { font: "DejaVu Sans", legend: { orient: "right", labelLimit: 320 } },
  };
}

/** Renders a vega-lite specification to SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function registerPlotCommand(program: Command): void {
  program
    .command("plot")
    .description("draw 'l2o eval --json' reports of the same instances as an SVG figure: mean loss per step, one line per optimizer with its 95% interval")
    .argument("<reports...>", "report files (same task, steps, instances and seed; merged as 'l2o compare' merges them)")
    .requiredOption("--out <file>", "the SVG file to write")
    .option("--title <text>", "figure title (default: task, instances and seed)")
    .option("--linear", "a linear loss axis instead of the log scale")
    .action(async (paths: string[], f: { out: string; title?: string; linear?: boolean }) => {
      checkOutputPath(f.out, "--out");
      const merged = mergeReports(paths.map((path) => ({ path, report: readReport(path) })));
      const svg = await renderSvg(lossFigureSpec(merged, { title: f.title, linear: f.linear }));
      writeFileAtomic(f.out, new TextEncoder().encode(svg));
      process.stdout.write(`figure written to ${f.out} (${merged.results.length} optimizers, ${merged.steps} steps)\n`);
    });
}

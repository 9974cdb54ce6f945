/**
 * The figure of an evaluation report (`l2o eval --json`): the per-step mean loss as the paper's
 * Figure 4 draws it, one line per optimizer, its 95% interval as a band, the loss on a log
 * scale.
 */
import type { TopLevelSpec } from "vega-lite";
import type { EvalReport } from "../eval/evaluate.ts";
import { FIGURE_FONT, renderSvg, SERIES_COLORS } from "./render.ts";

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

/** The name a row is drawn under: a tuned or fixed rate is shown as `adam (lr 0.1)`. */
export function seriesLabel(row: EvalReport["results"][number]): string {
  return row.lr === null ? row.optimizer : `${row.optimizer.split("@")[0]} (lr ${row.lr})`;
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
    const label = seriesLabel(row);
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
    // Every row in report order, also one with no point to draw (it diverged at once).
    scale: { domain: [...new Set(r.results.map(seriesLabel))], range: [...SERIES_COLORS] },
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
    background: "white",
    data: { values: points as unknown as Record<string, unknown>[] },
    encoding: { x: { field: "step", type: "quantitative", title: "step", scale: { domain: [0, r.steps], nice: false } }, color },
    layer: [
      { mark: { type: "area", opacity: 0.15 }, encoding: { y: { ...y, field: "lo" }, y2: { field: "hi" } } },
      { mark: { type: "line", strokeWidth: 2 }, encoding: { y } },
    ],
    config: { font: FIGURE_FONT, legend: { orient: "right", labelLimit: 320 } },
  };
}

/** The figure of an evaluation report as SVG text (what `l2o plot REPORT.json` draws). */
export async function evalFigureSvg(report: EvalReport, opts: LossFigureOptions = {}): Promise<string> {
  return renderSvg(lossFigureSpec(report, opts));
}

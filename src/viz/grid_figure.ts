/**
 * The figure of a generalisation grid (`l2o generalize --plot`), as the paper's Figure 6 asks
 * it: hidden layers down, units per layer across, each network a cell coloured by log10 of
 * the optimizer's final loss over the best tuned baseline's (blue: the optimizer lower, red:
 * the baseline), labelled with the ratio (`0.83*`: the paired 95% interval excludes zero)
 * and the best baseline's name. Cells not run yet are grey.
 */
import type { TopLevelSpec } from "vega-lite";
import { cellLabel, gridPoints, type GridReport } from "../eval/grid.ts";
import { FIGURE_FONT, renderSvg } from "./render.ts";

export interface GridFigureOptions {
  /** Figure title (default: the optimizer, the task and its activation, the steps). */
  readonly title?: string | undefined;
}

/** One cell of the figure. */
export interface GridFigureCell {
  readonly layers: number;
  readonly units: number;
  /** Whether the cell was run. */
  readonly done: boolean;
  /** log10 of the ratio, cut to the colour scale's ends (null: not run, or not finite). */
  readonly logRatio: number | null;
  /** `0.83*`, or `not run`. */
  readonly label: string;
  /** The best tuned baseline's name (empty when not run). */
  readonly best: string;
}

/** Colours: the optimizer lower, level, the baseline lower. */
const BLUE = "#2166ac";
const WHITE = "#f7f7f7";
const RED = "#b2182b";

/** The figure's cells, one per grid point in grid order, and the colour scale's half-width in log10 units. */
export function gridFigureCells(r: GridReport): { cells: GridFigureCell[]; extent: number } {
  const finite = r.cells.map((c) => Math.log10(c.ratio)).filter((x) => Number.isFinite(x));
  // At least a tenth of a decade, so that cells within a few per cent stay pale.
  const extent = Math.max(0.1, ...finite.map(Math.abs));
  const cells = gridPoints(r.layers, r.units).map((p) => {
    const c = r.cells.find((x) => x.layers === p.layers && x.units === p.units);
    if (c === undefined) return { ...p, done: false, logRatio: null, label: "not run", best: "" };
    const lr = Math.log10(c.ratio);
    const logRatio = Number.isNaN(lr) ? null : Math.max(-extent, Math.min(extent, lr));
    return { ...p, done: true, logRatio, label: cellLabel(c), best: c.best };
  });
  return { cells, extent };
}

/** The vega-lite specification of the figure. */
export function gridFigureSpec(r: GridReport, opts: GridFigureOptions = {}): TopLevelSpec {
  const { cells, extent } = gridFigureCells(r);
  const activation = typeof r.taskConfig.activation === "string" ? `, ${r.taskConfig.activation}` : "";
  const x = { field: "units", type: "ordinal" as const, title: "units per hidden layer", scale: { domain: r.units }, sort: null, axis: { labelAngle: 0 } };
  const y = { field: "layers", type: "ordinal" as const, title: "hidden layers", scale: { domain: r.layers }, sort: null };
  const done = { filter: "datum.done" };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: opts.title ?? `${r.optimizer} on ${r.task}${activation}: final loss at step ${r.steps} over the best tuned baseline's`,
      subtitle: [
        `each cell one network: ${r.instances} fresh instances; baselines ${r.baselines.join(", ")}, each tuned on it (${r.tuneInstances} tuning instances)`,
        `label: the ratio of mean final losses (blue: ${r.optimizer} lower), * where the paired 95% interval excludes zero; below it the best baseline`,
      ],
    },
    width: Math.max(240, 80 * r.units.length),
    height: Math.max(80, 64 * r.layers.length),
    background: "white",
    data: { values: cells as unknown as Record<string, unknown>[] },
    encoding: { x, y },
    layer: [
      { mark: { type: "rect", fill: "#dddddd", stroke: "white", strokeWidth: 2 } },
      {
        transform: [done, { filter: "datum.logRatio !== null" }],
        mark: { type: "rect", stroke: "white", strokeWidth: 2 },
        encoding: {
          color: {
            field: "logRatio",
            type: "quantitative",
            title: ["log10 ratio", "(cut at the ends)"],
            scale: { domain: [-extent, 0, extent], range: [BLUE, WHITE, RED], clamp: true },
          },
        },
      },
      { transform: [done], mark: { type: "text", baseline: "bottom", dy: -1, fontSize: 13, fontWeight: "bold" }, encoding: { text: { field: "label" } } },
      { transform: [{ filter: "!datum.done" }], mark: { type: "text", fontSize: 11, fill: "#777777" }, encoding: { text: { field: "label" } } },
      { transform: [done], mark: { type: "text", baseline: "top", dy: 3, fontSize: 10 }, encoding: { text: { field: "best" } } },
    ],
    config: { font: FIGURE_FONT, axis: { grid: false, domain: false, ticks: false }, view: { stroke: null } },
  };
}

/** The figure of a generalisation grid as SVG text. */
export async function gridFigureSvg(report: GridReport, opts: GridFigureOptions = {}): Promise<string> {
  return renderSvg(gridFigureSpec(report, opts));
}

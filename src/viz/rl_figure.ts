/**
 * Li & Malik's figures: the mean objective against objective evaluations (an `l2o rl eval`
 * report, band: 95% interval, log scale), and the paths of optimizers over a two-parameter
 * objective (its values as the background, one line per optimizer).
 */
import type { TopLevelSpec } from "vega-lite";
import type { RlComparison } from "../rl/compare.ts";
import type { OptimizerPath } from "../rl/paths.ts";
import { FIGURE_FONT, SERIES_COLORS } from "./render.ts";

/** A legend's name: a file's folders left out (`lstm:runs/x.safetensors` as `lstm:x.safetensors`). */
const short = (name: string): string => name.replace(/(^|:)[^:]*[\\/]/, "$1");

const label = (c: RlComparison["curves"][number]): string => short(c.lr === null ? c.optimizer : `${c.optimizer} (lr ${c.lr})`);

/** The curves figure: x the evaluations spent, y the mean objective (cut at a tenth of the mean below). */
export function evalsFigureSpec(r: RlComparison, title?: string): TopLevelSpec {
  const points: Record<string, unknown>[] = [];
  for (const c of r.curves) {
    c.mean.forEach((m, k) => {
      if (!Number.isFinite(m) || m <= 0) return;
      const ci = Number.isFinite(c.ci95[k]) ? c.ci95[k]! : 0;
      points.push({ optimizer: label(c), evals: k + 1, f: m, lo: Math.max(m - ci, m / 10), hi: m + ci });
    });
  }
  const y = { field: "f", type: "quantitative" as const, title: "mean objective (log scale)", scale: { type: "log" as const, nice: false } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title ?? `${r.task}: ${r.instances} fresh instances, seed ${r.seed}`, subtitle: "band: 95% interval of the mean (cut at a tenth of it)" },
    width: 560,
    height: 360,
    background: "white",
    data: { values: points },
    encoding: {
      x: { field: "evals", type: "quantitative", title: "objective evaluations", scale: { domain: [1, r.evals], nice: false } },
      color: {
        field: "optimizer",
        type: "nominal",
        title: null,
        scale: { domain: r.curves.map(label), range: [...SERIES_COLORS] },
        sort: null,
        legend: { symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 2 },
      },
    },
    layer: [
      { mark: { type: "area", opacity: 0.12 }, encoding: { y: { ...y, field: "lo" }, y2: { field: "hi" } } },
      { mark: { type: "line", strokeWidth: 2 }, encoding: { y } },
    ],
    config: { font: FIGURE_FONT, legend: { orient: "right", labelLimit: 420 } },
  };
}

/** The paths figure: the objective on a grid as the background, each optimizer's path with its points. */
export function pathsFigureSpec(paths: readonly OptimizerPath[], grid: readonly { x: number; y: number; f: number }[], title: string): TopLevelSpec {
  const xs = grid.map((g) => g.x);
  const ys = grid.map((g) => g.y);
  const dx = (Math.max(...xs) - Math.min(...xs)) / (Math.sqrt(grid.length) - 1 || 1);
  const dy = (Math.max(...ys) - Math.min(...ys)) / (Math.sqrt(grid.length) - 1 || 1);
  const cells = grid.map((g) => ({ x: g.x - dx / 2, x2: g.x + dx / 2, y: g.y - dy / 2, y2: g.y + dy / 2, f: g.f }));
  const line = paths.flatMap((p) => p.points.map(([a, b], i) => ({ optimizer: short(p.optimizer), i, a, b })));
  const domain = { x: [Math.min(...xs) - dx / 2, Math.max(...xs) + dx / 2], y: [Math.min(...ys) - dy / 2, Math.max(...ys) + dy / 2] };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle: "background: the objective (log colour scale); one point per step or accepted line-search point" },
    width: 460,
    height: 460,
    background: "white",
    layer: [
      {
        data: { values: cells },
        mark: { type: "rect" },
        encoding: {
          x: { field: "x", type: "quantitative", title: "w1", scale: { domain: domain.x, nice: false } },
          x2: { field: "x2" },
          y: { field: "y", type: "quantitative", title: "w2", scale: { domain: domain.y, nice: false } },
          y2: { field: "y2" },
          fill: { field: "f", type: "quantitative", title: "objective", scale: { type: "log", scheme: "greys", reverse: true } },
        },
      },
      {
        data: { values: line },
        mark: { type: "line", point: true, strokeWidth: 2, clip: true },
        encoding: {
          x: { field: "a", type: "quantitative", scale: { domain: domain.x, nice: false } },
          y: { field: "b", type: "quantitative", scale: { domain: domain.y, nice: false } },
          order: { field: "i" },
          color: { field: "optimizer", type: "nominal", title: null, scale: { domain: paths.map((p) => short(p.optimizer)), range: [...SERIES_COLORS] }, sort: null },
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
    config: { font: FIGURE_FONT, legend: { orient: "right", labelLimit: 320 } },
  };
}

/**
 * A generalisation grid's report (`l2o generalize --json`) in and out: written whole after
 * every cell, read back to resume a sweep with the same settings, and shown as tables.
 */
import { existsSync, readFileSync } from "node:fs";
import { cellLabel, type GridCell, type GridReport } from "../eval/grid.ts";
import { writeFileAtomic } from "../io/files.ts";
import { UsageError } from "./errors.ts";
import { fmt, parseJsonWithNonFinite } from "./format.ts";

/** Writes `report` as JSON (non-finite numbers as strings), all at once: a killed run leaves the last whole report. */
export function writeGridReport(path: string, report: GridReport): void {
  const text = JSON.stringify(report, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n";
  writeFileAtomic(path, new TextEncoder().encode(text));
}

/** The settings two runs must share for one to continue the other (everything but the grid's axes and cells). */
const SETTINGS = ["task", "taskConfig", "optimizer", "baselines", "steps", "instances", "tuneInstances", "seed", "lrGrid", "engine"] as const;

function isCell(c: unknown, instances: number): c is GridCell {
  const x = c as Partial<GridCell> | null;
  const row = (r: unknown): boolean => {
    const y = r as { optimizer?: unknown; finalLosses?: unknown } | null;
    return typeof y?.optimizer === "string" && Array.isArray(y.finalLosses) && y.finalLosses.length === instances;
  };
  return (
    typeof x === "object" && x !== null && Number.isInteger(x.layers) && Number.isInteger(x.units) && row(x.learned) &&
    Array.isArray(x.baselines) && x.baselines.length > 0 && x.baselines.every(row) && typeof x.ratio === "number" && typeof x.best === "string"
  );
}

/** A grid's axes and the cells done on it. */
export type GridCells = Pick<GridReport, "layers" | "units" | "cells">;

/**
 * The grid of `path` that a run with `settings` continues (`--resume`): empty when the file
 * does not exist yet; a UsageError when it is not a grid report or was made with other settings.
 */
export function resumableCells(path: string, settings: Omit<GridReport, "cells" | "complete" | "layers" | "units">): GridCells {
  if (!existsSync(path)) return { layers: [], units: [], cells: [] };
  const fail = (why: string): never => {
    throw new UsageError(`--resume: ${path} ${why}`);
  };
  let v: unknown;
  try {
    v = parseJsonWithNonFinite(readFileSync(path, "utf8"));
  } catch (e) {
    fail(`cannot be read as JSON (${(e as Error).message}); give a file written by 'l2o generalize --json', or another --json`);
  }
  const o = v as Partial<GridReport> | null;
  if (typeof o !== "object" || o === null || !Array.isArray(o.cells) || typeof o.instances !== "number") {
    fail("is not an 'l2o generalize --json' report; give another --json to start a new one");
  }
  const r = o as GridReport;
  for (const k of SETTINGS) {
    if (JSON.stringify(r[k]) !== JSON.stringify(settings[k])) {
      fail(`was made with ${k} ${JSON.stringify(r[k])}, this run has ${JSON.stringify(settings[k])}; give the same settings, or another --json`);
    }
  }
  const counts = (xs: unknown): xs is number[] => Array.isArray(xs) && xs.every((x) => Number.isInteger(x));
  if (!counts(r.layers) || !counts(r.units)) fail("has no grid (layers and units); give another --json");
  if (!r.cells.every((c) => isCell(c, r.instances))) fail("has a cell without its optimizers' final losses; give another --json");
  return { layers: r.layers, units: r.units, cells: r.cells };
}

/**
 * A resumed report's grid: the earlier report's axes with this run's added (ascending), and
 * every cell of either, so that a run on part of a grid keeps the cells of the rest.
 */
export function mergeGrids(earlier: GridCells, run: GridCells): GridCells & { complete: boolean } {
  const union = (a: readonly number[], b: readonly number[]): number[] => [...new Set([...a, ...b])].sort((x, y) => x - y);
  const layers = union(earlier.layers, run.layers);
  const units = union(earlier.units, run.units);
  const at = (cs: readonly GridCell[], l: number, u: number): GridCell | undefined => cs.find((c) => c.layers === l && c.units === u);
  const points = layers.flatMap((l) => units.map((u) => [l, u] as const));
  const cells = points.flatMap(([l, u]) => at(run.cells, l, u) ?? at(earlier.cells, l, u) ?? []);
  return { layers, units, cells, complete: cells.length === points.length };
}

/** The ratios as a table, layers down and units across; `-` for a cell not run. */
export function formatRatioTable(r: GridReport): string {
  const head = ["layers \\ units", ...r.units.map(String)];
  const rows = r.layers.map((l) => [String(l), ...r.units.map((u) => {
    const c = r.cells.find((x) => x.layers === l && x.units === u);
    return c === undefined ? "-" : cellLabel(c);
  })]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

/** The cells one by one: the best baseline and its rate, both means, the ratio and the paired comparison. */
export function formatCells(r: GridReport): string {
  const head = ["network", "best baseline (lr)", r.optimizer, "+-95%", "baseline", "+-95%", "ratio", "lower on", "log10 advantage", "seconds"];
  const rows = r.cells.map((c) => {
    const best = c.baselines.find((b) => b.optimizer === c.best)!;
    const a = c.paired.log10Advantage;
    return [
      `${c.layers} x ${c.units}`,
      `${c.best} (${best.lr ?? "-"}${best.lrAtGridEdge ? ", grid edge" : ""})`,
      fmt(c.learned.finalMean),
      fmt(c.learned.finalCi95),
      fmt(best.finalMean),
      fmt(best.finalCi95),
      cellLabel(c),
      `${c.paired.wins}/${c.paired.n}`,
      `${a.mean >= 0 ? "+" : ""}${a.mean.toFixed(3)} +- ${a.ci95.toFixed(3)}`,
      c.seconds.toFixed(0),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

/** The whole report as `l2o generalize` prints it. */
export function formatGridReport(r: GridReport): string {
  const config = Object.entries(r.taskConfig).map(([k, v]) => `${k} ${String(v)}`).join(", ");
  return [
    `${r.task}${config === "" ? "" : ` (${config})`}: ${r.optimizer} against the best of ${r.baselines.join(", ")} (each tuned per network); ` +
      `${r.instances} fresh instances, ${r.steps} steps, seed ${r.seed}${r.complete ? "" : `; ${r.cells.length} of ${r.layers.length * r.units.length} cells done`}`,
    `final loss ratio, ${r.optimizer} / best tuned baseline (below 1: ${r.optimizer} lower); * the paired 95% interval of the log10 advantage excludes zero`,
    formatRatioTable(r),
    formatCells(r),
  ].join("\n");
}

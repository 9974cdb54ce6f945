/**
 * Evaluation reports in and out: numbers and reports as text, and reports as JSON files
 * (`l2o eval --json` writes them; `l2o compare` and `l2o plot` read and merge them); and an
 * error message as the one bounded line the CLI prints.
 */
import { readFileSync } from "node:fs";
import type { CandidateResult, EvalReport } from "../eval/evaluate.ts";
import { comparePaired } from "../eval/paired.ts";
import { sameRun, withoutRepeats } from "../eval/pool.ts";
import { writeFileAtomic } from "../io/files.ts";
import { UsageError } from "./errors.ts";

/** Characters of an error message that are shown; the rest are counted. */
const MESSAGE_CHARS = 500;

/**
 * An error message as one bounded line: control characters (a newline in a name, a terminal
 * escape) written as escapes, and anything past `MESSAGE_CHARS` characters replaced by its
 * count, so that a megabyte-long argument cannot make a megabyte-long message.
 */
export function oneLine(message: string): string {
  const chars = Array.from(message.length > 4 * MESSAGE_CHARS ? message.slice(0, 4 * MESSAGE_CHARS) : message);
  const more = chars.length > MESSAGE_CHARS ? Array.from(message).length - MESSAGE_CHARS : 0;
  const shown = (more > 0 ? chars.slice(0, MESSAGE_CHARS) : chars)
    .join("")
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  return more > 0 ? `${shown}... (${more} more characters)` : shown;
}

/** A number for a table: four decimals, or exponent notation for very large or very small ones. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4);
}

/** An evaluation report as a table, with each optimizer paired with the first. */
export function formatReport(r: EvalReport): string {
  const lines: string[] = [];
  const metricNames = [...new Set(r.results.flatMap((x) => Object.keys(x.metrics ?? {})))];
  lines.push(`${r.task}: ${r.instances} fresh instances, ${r.steps} steps, seed ${r.seed}; loss per function, mean and 95% interval`);
  const mid = Math.round(r.steps / 2);
  const head = ["optimizer", "lr", `loss@${mid}`, `loss@${r.steps}`, "+-95%", "log10", ...metricNames, "diverged"];
  const rows = r.results.map((x) => [
    x.optimizer,
    x.lr === null ? "-" : `${x.lr}${x.lrAtGridEdge ? "*" : ""}`,
    fmt(x.meanLoss[mid] ?? NaN),
    fmt(x.finalMean),
    fmt(x.finalCi95),
    Number.isFinite(x.finalMean) && x.finalMean > 0 ? Math.log10(x.finalMean).toFixed(3) : "-",
    ...metricNames.map((m) => (x.metrics?.[m] ? `${fmt(x.metrics[m]!.mean)}` : "-")),
    String(x.diverged),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  lines.push(line(head));
  for (const row of rows) lines.push(line(row));
  const best = [...r.results].sort((a, b) => a.finalMean - b.finalMean)[0];
  if (best) lines.push(`lowest final loss: ${best.optimizer}`);
  const first = r.results[0];
  if (first && r.results.length > 1) {
    lines.push(`paired with ${first.optimizer} on the same instances (final loss):`);
    for (const x of r.results.slice(1)) {
      const c = comparePaired(first.finalLosses, x.finalLosses);
      const a = c.log10Advantage;
      lines.push(`  vs ${x.optimizer}: lower on ${c.wins}/${c.n}; mean log10 advantage ${a.mean.toFixed(3)} +- ${a.ci95.toFixed(3)}`);
    }
  }
  if (r.results.some((x) => x.lrAtGridEdge)) lines.push("* tuned learning rate at the edge of the grid: widen --lr-grid to be sure");
  return lines.join("\n") + "\n";
}

/**
 * Writes `value` as JSON (non-finite numbers as strings), making the folder if needed.
 * Atomically: a report rewritten as it grows (suite's after every problem) is never left cut
 * short, or empty, by a kill or a full disk part way through; the old one stays until the new
 * one is complete.
 */
export function writeJson(path: string, value: unknown): void {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n";
  writeFileAtomic(path, new TextEncoder().encode(text));
}

/** JSON as `writeJson` writes it: its "Infinity", "-Infinity" and "NaN" strings back to numbers. */
export function parseJsonWithNonFinite(raw: string): unknown {
  return JSON.parse(raw, (_k, x: unknown) => (x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x === "NaN" ? NaN : x));
}

/** Reads an `l2o eval --json` report (non-finite numbers are written there as strings). */
export function readReport(path: string): EvalReport {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read report ${path}: ${(e as Error).message}; give a file written by 'l2o eval --json'`);
  }
  let v: unknown;
  try {
    v = parseJsonWithNonFinite(raw);
  } catch (e) {
    throw new UsageError(`report ${path} is not JSON (${(e as Error).message}); give a file written by 'l2o eval --json'`);
  }
  const o = v as Partial<EvalReport> | null;
  const ok =
    o !== null &&
    typeof o === "object" &&
    typeof o.task === "string" &&
    [o.steps, o.instances, o.seed].every((x) => typeof x === "number") &&
    Array.isArray(o.results) &&
    o.results.length > 0 &&
    o.results.every((r) => typeof r?.optimizer === "string" && Array.isArray(r.meanLoss) && Array.isArray(r.finalLosses) && r.finalLosses.length === o.instances);
  if (!ok) throw new UsageError(`report ${path} is not an 'l2o eval --json' report (task, steps, instances, seed, results with per-instance final losses)`);
  return o as EvalReport;
}

/**
 * The rows of `reports` in order, as one report. The reports must name the same task, steps,
 * instances and seed (then they ran on the same test instances); a row whose optimizer
 * appears again later must have the same final losses, and is kept once, as is a run that
 * repeats an earlier one under another spelling (`withoutRepeats`).
 */
export function mergeReports(reports: readonly { path: string; report: EvalReport }[]): EvalReport {
  const first = reports[0];
  if (first === undefined) throw new UsageError("compare: give at least one report");
  const base = first.report;
  const rows = new Map<string, { row: CandidateResult; path: string }>();
  for (const { path, report } of reports) {
    for (const k of ["task", "steps", "instances", "seed"] as const) {
      if (report[k] !== base[k]) {
        throw new UsageError(`compare: ${path} has ${k} ${JSON.stringify(report[k])}, ${first.path} ${JSON.stringify(base[k])}; only reports of the same instances can be paired`);
      }
    }
    for (const row of report.results) {
      const seen = rows.get(row.optimizer);
      if (seen === undefined) {
        rows.set(row.optimizer, { row, path });
      } else if (!sameRun(seen.row, row)) {
        throw new UsageError(
          `compare: ${row.optimizer} has other final losses in ${path} than in ${seen.path}: other instances (a different task config?) or another learning rate`,
        );
      }
    }
  }
  return withoutRepeats({ task: base.task, steps: base.steps, instances: base.instances, seed: base.seed, results: [...rows.values()].map((x) => x.row) });
}

/**
 * `l2o compare`: evaluation reports of the same instances, made by separate `l2o eval`
 * commands, as one table, paired with the first report's first optimizer. So a new optimizer
 * can be set against baselines that were tuned and run before, without running them again.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { CandidateResult, EvalReport } from "../eval/evaluate.ts";
import { UsageError } from "./errors.ts";
import { formatReport } from "./report.ts";
import { writeJson } from "./eval.ts";
import { fmt } from "./run.ts";
import { formatPooled, poolReports, sameRun, withoutRepeats, type PooledComparison } from "../eval/pool.ts";

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
    v = JSON.parse(raw, (_k, x: unknown) => (x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x === "NaN" ? NaN : x));
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

export function registerCompareCommand(program: Command): void {
  program
    .command("compare")
    .description("one table of 'l2o eval --json' reports of the same instances, paired with the first report's first optimizer")
    .argument("<reports...>", "report files (same task, steps, instances and seed)")
    .option("--json <file>", "write the merged report (with --pool, the pooled comparison)")
    .option(
      "--pool",
      "pool test sets of different seeds (same task and steps): the reports of each seed are merged, each set is paired with the first optimizer instance by instance, and the differences of all sets are summarised together; a hand-designed optimizer counts as one whatever its rate in each set",
    )
    .action((paths: string[], f: { json?: string; pool?: boolean }) => {
      const reports = paths.map((path) => ({ path, report: readReport(path) }));
      if (f.pool) {
        const seeds = [...new Set(reports.map((r) => r.report.seed))];
        const sets = seeds.map((s) => mergeReports(reports.filter((r) => r.report.seed === s)));
        let pooled: PooledComparison;
        try {
          pooled = poolReports(sets);
        } catch (e) {
          throw new UsageError(`compare --pool: ${(e as Error).message.replace(/^pool: /, "")}`);
        }
        process.stdout.write(formatPooled(pooled, fmt));
        if (f.json !== undefined) {
          writeJson(f.json, pooled);
          process.stdout.write(`pooled comparison written to ${f.json}\n`);
        }
        return;
      }
      const merged = mergeReports(reports);
      process.stdout.write(formatReport(merged));
      if (f.json !== undefined) {
        writeJson(f.json, merged);
        process.stdout.write(`report written to ${f.json}\n`);
      }
    });
}

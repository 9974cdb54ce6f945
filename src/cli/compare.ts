/**
 * `l2o compare`: evaluation reports of the same instances, made by separate `l2o eval`
 * commands, as one table, paired with the first report's first optimizer. So a new optimizer
 * can be set against baselines that were tuned and run before, without running them again.
 */
import type { Command } from "commander";
import { checkOutputPath } from "../io/paths.ts";
import { UsageError } from "./errors.ts";
import { fmt, formatReport, mergeReports, readReport, writeJson } from "./format.ts";
import { formatPooled, poolReports, type PooledComparison } from "../eval/pool.ts";

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
      if (f.json !== undefined) checkOutputPath(f.json, "--json", { report: true });
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

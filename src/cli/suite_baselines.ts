/**
 * `l2o suite --baselines-from FILE`: the tuned baselines of an earlier `l2o suite --out`
 * report, read back so that a new optimizer can be set against them without tuning them again
 * (on the full suite that tuning is nearly all of the time). Only a report of the same suite
 * version, seed, instance counts, learning-rate grid and baselines is accepted, and each of its
 * problems must be the suite's problem of that name: then its baselines ran on the very
 * instances this run would use, and reusing them gives the same report.
 */
import { readFileSync } from "node:fs";
import type { GridRow } from "../eval/grid.ts";
import { problemCounts, SUITE, SUITE_SEED, SUITE_VERSION } from "../eval/suite.ts";
import type { SuiteReport } from "../eval/suite_run.ts";
import { UsageError } from "./errors.ts";
import { parseJsonWithNonFinite } from "./format.ts";

/** What this run would tune: the report must match it. */
export interface SuiteBaselineSettings {
  readonly quick: boolean;
  readonly lrGrid: readonly number[];
  readonly baselines: readonly string[];
}

const isRow = (r: unknown, optimizer: string, instances: number): r is GridRow => {
  const o = r as Partial<GridRow> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    o.optimizer === optimizer &&
    typeof o.finalMean === "number" &&
    Array.isArray(o.finalLosses) &&
    o.finalLosses.length === instances &&
    o.finalLosses.every((x) => typeof x === "number")
  );
};

/** The tuned baselines' rows of each problem of the report at `path`, by problem name; a UsageError naming what does not match. */
export function readSuiteBaselines(path: string, settings: SuiteBaselineSettings): Map<string, GridRow[]> {
  const fail = (why: string): never => {
    throw new UsageError(`--baselines-from: ${path} ${why}`);
  };
  let raw = "";
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a report written by 'l2o suite --out'`);
  }
  let v: unknown;
  try {
    v = parseJsonWithNonFinite(raw);
  } catch (e) {
    fail(`is not JSON (${(e as Error).message}); give a report written by 'l2o suite --out'`);
  }
  const r = v as Partial<SuiteReport> | null;
  if (typeof r !== "object" || r === null || !Array.isArray(r.problems) || !Array.isArray(r.baselines)) {
    fail("is not an 'l2o suite --out' report (no problems and baselines)");
  }
  const report = r as SuiteReport;
  const same = (what: string, theirs: unknown, ours: unknown): void => {
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) fail(`was made with ${what} ${JSON.stringify(theirs)}, this run has ${JSON.stringify(ours)}`);
  };
  same("suite", report.suite, SUITE_VERSION);
  same("seed", report.seed, SUITE_SEED);
  same("quick", report.quick, settings.quick);
  same("--lr-grid", report.lrGrid, settings.lrGrid);
  same("--baselines", report.baselines, settings.baselines);
  const rows = new Map<string, GridRow[]>();
  for (const p of report.problems) {
    const name = (p as { problem?: unknown } | null)?.problem;
    const problem = SUITE.find((s) => s.name === name);
    if (problem === undefined) fail(`has a problem ${JSON.stringify(name)} that suite ${SUITE_VERSION} does not`);
    const { instances, tuneInstances } = problemCounts(problem!, settings.quick);
    same(`${problem!.name}'s task`, [p.task, p.config, p.steps, p.instances, p.tuneInstances], [problem!.task, problem!.config, problem!.steps, instances, tuneInstances]);
    if (!Array.isArray(p.baselines) || p.baselines.length !== settings.baselines.length || !p.baselines.every((b, i) => isRow(b, settings.baselines[i]!, instances))) {
      fail(`has no complete tuned-baseline rows for ${problem!.name} (each baseline in order, with its ${instances} final losses)`);
    }
    rows.set(problem!.name, p.baselines);
  }
  return rows;
}

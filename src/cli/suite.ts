/**
 * `l2o suite`: learned optimizers on the held-out suite (`src/eval/suite.ts`), problems off
 * their training distribution. On each problem the optimizers and the baselines (each tuned
 * on that problem's own instances) run on the same fresh test instances; the table shows each
 * optimizer's final loss over the best tuned baseline's with the paired comparison, and a
 * summary against the targets (ratio <= 1 on at least 80% of the problems, never above 2).
 * The work is the library's (`src/eval/suite_run.ts`); this file reads options and shows.
 */
import type { Command } from "commander";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { cellLabel } from "../eval/grid.ts";
import { QUICK, SUITE, SUITE_SEED, SUITE_VERSION, suiteProblems } from "../eval/suite.ts";
import { runSuite, TARGET_FRACTION, TARGET_MAX_RATIO, type SuiteReport, type SuiteSummary } from "../eval/suite_run.ts";
import { checkOutputPaths } from "../io/paths.ts";
import { UsageError } from "./errors.ts";
import { evalPhase } from "./eval_job.ts";
import { fmt, writeJson } from "./format.ts";
import { rangeText, LIMITS } from "./limits.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, EVAL_THREADS, EVAL_THREADS_HELP, parseEngine, parseEvalThreads, parseList, QUIET_HELP, parseLrGrid } from "./options.ts";
import { progress, type Progress } from "./progress.ts";
import { resolveCandidate } from "./resolve.ts";
import { readSuiteBaselines } from "./suite_baselines.ts";

interface SuiteFlags {
  optimizers?: string;
  baselines: string;
  problems?: string;
  out?: string;
  quick?: boolean;
  list?: boolean;
  lrGrid?: string;
  quiet?: boolean;
  engine: string;
  threads: string;
  baselinesFrom?: string;
}

/** Pads a table's rows: the first `left` columns to the left, the rest to the right. */
function table(head: string[], rows: string[][], left: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

/** The suite's problems as `l2o suite --list` prints them. */
export function formatSuiteList(): string {
  const rows = SUITE.map((p) => [p.name, p.shift, p.task, JSON.stringify(p.config), String(p.steps), `${p.instances} / ${p.tuneInstances}`]);
  return (
    `held-out suite ${SUITE_VERSION}: ${SUITE.length} problems, seed ${SUITE_SEED}; --quick: ${QUICK.instances} test / ${QUICK.tuneInstances} tuning instances each\n` +
    table(["problem", "differs from training", "task", "config", "steps", "test / tune"], rows, 4)
  );
}

/** One optimizer's summary line. */
export function formatSummary(s: SuiteSummary): string {
  const pct = (x: number): string => `${Math.round(100 * x)}%`;
  return (
    `${s.optimizer}: ratio <= 1 on ${s.atMostOne} of ${s.problems} problems (${pct(s.fraction)}), max ratio ${fmt(s.maxRatio)} (${s.worst}); ` +
    `paired: lower on ${s.lowerLearned}, behind on ${s.lowerBaseline}; targets (<= 1 on >= ${pct(TARGET_FRACTION)}, never > ${TARGET_MAX_RATIO}): ${s.meetsTargets ? "met" : "not met"}`
  );
}

/** The report as `l2o suite` prints it: per problem the best tuned baseline and each optimizer's ratio and lower-on count, then the summaries. */
export function formatSuiteReport(r: SuiteReport): string {
  const head = ["problem", "differs from training", "best baseline (lr)", "loss", ...r.optimizers.flatMap((o) => [`${o} ratio`, "lower on"]), "seconds"];
  const rows = r.problems.map((p) => {
    const e0 = p.entries[0]!;
    const best = p.baselines.find((b) => b.optimizer === e0.best)!;
    return [
      p.problem,
      p.shift,
      `${best.optimizer} (${best.lr ?? "-"}${best.lrAtGridEdge ? ", grid edge" : ""})`,
      fmt(best.finalMean),
      ...p.entries.flatMap((e) => [cellLabel(e), `${e.paired.wins}/${e.paired.n}`]),
      p.seconds.toFixed(0),
    ];
  });
  return [
    `held-out suite ${r.suite}${r.quick ? " (quick)" : ""}: ${r.optimizers.join(", ")} against the best of ${r.baselines.join(", ")} (each tuned per problem); seed ${r.seed}` +
      `${r.complete ? "" : `; ${r.problems.length} problems done`}`,
    `ratio: mean final loss over the best tuned baseline's (below 1: the optimizer ends lower); * the paired 95% interval of the log10 advantage excludes zero; lower on: test instances where the optimizer ends lower`,
    table(head, rows, 3),
    ...r.summary.map(formatSummary),
  ].join("\n") + "\n";
}

export function registerSuiteCommand(program: Command): void {
  program
    .command("suite")
    .description(
      `learned optimizers on the held-out suite (${SUITE_VERSION}, ${SUITE.length} problems off the training distributions): on each problem they and the baselines (each tuned on it) ` +
        "run on the same fresh instances; shows each optimizer's final loss over the best tuned baseline's, the paired comparison, and the summary against the targets",
    )
    .option("--optimizers <list>", `comma-separated optimizers to test (${rangeText(LIMITS.listEntries)} names): lstm:FILE, a pretrained name, or any optimizer name`)
    .option("--baselines <list>", "comma-separated baselines, each tuned per problem", "adam,rmsprop,nag,sgd")
    .option("--problems <list>", "comma-separated problems to run (default: all; see --list)")
    .option(
      "--baselines-from <file>",
      "reuse the tuned baselines of an earlier 'l2o suite --out' report (same suite, --quick, --lr-grid and --baselines) instead of tuning them again: " +
        "the same numbers, without the tuning that is most of the suite's time; problems the report lacks run in full",
    )
    .option("--out <file>", "write the report {suite, optimizers, baselines, problems: [{problem, baselines, entries: [{best, ratio, paired, lower}]}], summary} as JSON, again after every problem")
    .option("--quick", `${QUICK.instances} test and ${QUICK.tuneInstances} tuning instances per problem instead of each problem's own counts`)
    .option("--list", "print the suite's problems and exit")
    .option("--lr-grid <list>", `comma-separated learning rates to tune on (default ${DEFAULT_LR_GRID.join(",")})`)
    .option("--quiet", QUIET_HELP)
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", EVAL_THREADS_HELP, String(EVAL_THREADS))
    .action((f: SuiteFlags) => {
      const problems = suiteProblems(f.problems === undefined ? undefined : parseList("--problems", f.problems));
      if (f.list === true) {
        process.stdout.write(formatSuiteList());
        return;
      }
      checkOutputPaths([[f.out, "--out", { report: true }]]);
      const names = parseList("--optimizers", f.optimizers ?? "");
      if (names.length === 0) throw new UsageError("--optimizers is missing or empty: name at least one, e.g. lstm:pretrained/mnist");
      const baselineNames = parseList("--baselines", f.baselines);
      if (baselineNames.length === 0) throw new UsageError("--baselines is empty: name at least one, e.g. adam,nag");
      const lrGrid = parseLrGrid(f.lrGrid);
      const engine = parseEngine(f.engine);
      const threads = parseEvalThreads(f.threads);
      const optimizers = names.map((n) => resolveCandidate(n, undefined, engine, threads));
      const baselines = baselineNames.map((n) => resolveCandidate(n, undefined, engine, threads));
      for (const list of [optimizers, baselines]) {
        const labels = list.map((c) => c.label);
        const twice = labels.find((l, i) => labels.indexOf(l) !== i);
        if (twice !== undefined) throw new UsageError(`${list === optimizers ? "--optimizers" : "--baselines"} lists ${twice} twice; give each once`);
      }
      const baselineRows =
        f.baselinesFrom === undefined
          ? undefined
          : readSuiteBaselines(f.baselinesFrom, { quick: f.quick === true, lrGrid, baselines: baselines.map((b) => b.label) });
      let bar: Progress | undefined;
      let report: SuiteReport;
      try {
        report = runSuite(problems, optimizers, baselines, {
          quick: f.quick === true,
          lrGrid,
          ...(baselineRows !== undefined ? { baselineRows } : {}),
          onRun: (p) => {
            const phase = `${p.problem} (problem ${p.index + 1} of ${p.problems}): ${evalPhase(p.run)}`;
            const work = (x: number): number => Math.round(x / 1e6);
            bar ??= progress({ phase, total: work(p.workTotal), unit: "M step-coordinates", quiet: f.quiet === true });
            bar.update(work(p.workDone), { phase });
          },
          onProblem: (sofar) => {
            if (f.out !== undefined) writeJson(f.out, sofar);
          },
        });
      } finally {
        bar?.stop();
      }
      process.stdout.write(formatSuiteReport(report));
      if (f.out !== undefined) {
        writeJson(f.out, report);
        process.stdout.write(`report written to ${f.out}\n`);
      }
    });
}

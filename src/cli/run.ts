/** `l2o run`: one optimizer on fresh instances of a task, mean loss every few steps, JSONL log. */
import type { Command } from "commander";
import { foldIn, key as makeKey } from "../core/rng.ts";
import { drawInstances, runCandidate, type RunResult } from "../eval/evaluate.ts";
import { summarizeSteps } from "../eval/stats.ts";
import { writeFileAtomic } from "../io/files.ts";
import { lineFor } from "../io/metrics.ts";
import { checkOutputPath } from "../io/paths.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, EVAL_THREADS, EVAL_THREADS_HELP, parseCount, parseEngine, parseEvalThreads, parseNumber, parseSeed, parseTaskConfig, taskConfigWithData, DATA_HELP, QUIET_HELP } from "./options.ts";
import { checkInstanceMemory, grouped, LIMITS, MAX_STEPS_TIMES_INSTANCES, rangeText, checkStepsTimesInstances } from "./limits.ts";
import { fmt } from "./format.ts";
import { resolveTaskFamily, resolveCandidate } from "./resolve.ts";
import { progress } from "./progress.ts";

interface RunFlags {
  task: string;
  taskConfig?: string;
  data?: string;
  optimizer: string;
  lr?: string;
  steps: string;
  instances: string;
  seed: string;
  every?: string;
  out?: string;
  quiet?: boolean;
  engine: string;
  threads: string;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("run one optimizer on fresh instances of a task and print the mean loss")
    .requiredOption("--task <name>", "task family (see `l2o tasks`), or a module of your own: ./my-task.ts (see `l2o train --help`)")
    .option("--task-config <json>", "task configuration as a JSON object, e.g. '{\"hidden\":[40]}'")
    .option("--data <dir>", DATA_HELP)
    .requiredOption("--optimizer <spec>", "optimizer name (see `l2o optimizers`) or lstm:FILE")
    .option("--lr <number>", "learning rate (hand-designed optimizers; default: the optimizer's default)")
    .option("--steps <n>", `optimization steps (${rangeText(LIMITS.steps)}; steps x instances at most ${grouped(MAX_STEPS_TIMES_INSTANCES)})`, "100")
    .option("--instances <n>", `independent instances (fresh functions / runs) (${rangeText(LIMITS.runInstances)})`, "20")
    .option("--seed <n>", "random seed (an integer)", "0")
    .option("--every <n>", `print the mean loss every n steps (${rangeText(LIMITS.every)}; default steps/10)`)
    .option("--out <file>", "write a JSONL log of the per-step mean loss (replacing the file)")
    .option("--quiet", QUIET_HELP)
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", EVAL_THREADS_HELP, String(EVAL_THREADS))
    .action((f: RunFlags) => runCommand(f));
}

function runCommand(f: RunFlags): void {
  if (f.out !== undefined) checkOutputPath(f.out, "--out", { report: true });
  const steps = parseCount("--steps", f.steps, LIMITS.steps);
  const instances = parseCount("--instances", f.instances, LIMITS.runInstances);
  checkStepsTimesInstances(steps, instances);
  const seed = parseSeed("--seed", f.seed);
  const every = f.every === undefined ? Math.max(1, Math.round(steps / 10)) : parseCount("--every", f.every, LIMITS.every);
  const lr = f.lr === undefined ? undefined : parseNumber("--lr", f.lr, { positive: true });
  const engine = parseEngine(f.engine);
  const threads = parseEvalThreads(f.threads);
  const family = resolveTaskFamily(f.task, taskConfigWithData(f.task, parseTaskConfig(f.taskConfig), f.data));
  checkInstanceMemory(family, instances, `--instances ${instances}`);
  const cand = resolveCandidate(f.optimizer, undefined, engine, threads);
  if (!cand.tune && lr !== undefined) throw new UsageError(`--lr does not apply to the learned optimizer '${f.optimizer}'`);
  // `adam@0.1` fixes the rate too: two rates would leave one of them ignored without a word.
  if (cand.lr !== undefined && lr !== undefined) throw new UsageError(`--lr ${f.lr} and '${f.optimizer}' both set the learning rate; give one`);
  const rate = cand.tune ? (cand.lr ?? lr ?? cand.defaultLr) : undefined;
  const insts = drawInstances(family, foldIn(makeKey(seed), "run"), instances);
  const bar = progress({ phase: `running ${cand.label} on ${instances} instances`, total: instances, unit: "runs", quiet: f.quiet === true });
  let runs: RunResult[];
  try {
    runs = insts.map((inst, i) => {
      const r = runCandidate(cand, rate, inst, steps, true);
      bar.update(i + 1);
      return r;
    });
  } finally {
    cand.close?.();
    bar.stop();
  }
  const per = summarizeSteps(runs.map((r) => r.losses));
  // The log is this run's alone: written whole at the end, it replaces any earlier file at the
  // path (appended, a second run's steps would follow the first's as one zigzag curve).
  const log: string[] = [];
  process.stdout.write(
    `${family.name}, ${cand.label}${rate === undefined ? "" : ` lr=${rate}`}, ${instances} instances, seed ${seed}\n`,
  );
  process.stdout.write(`${"step".padStart(6)}  ${"mean loss".padStart(12)}  ${"+-95%".padStart(10)}\n`);
  per.forEach((s, t) => {
    log.push(lineFor({ step: t, meanLoss: s.mean, ci95: s.ci95, n: s.n }));
    if (t % every === 0 || t === steps) {
      process.stdout.write(`${String(t).padStart(6)}  ${fmt(s.mean).padStart(12)}  ${fmt(s.ci95).padStart(10)}\n`);
    }
  });
  const diverged = runs.filter((r) => r.diverged).length;
  if (diverged > 0) process.stdout.write(`${diverged} of ${instances} runs diverged (loss or gradient not finite)\n`);
  const metrics = runs.filter((r) => r.metrics).map((r) => r.metrics!);
  for (const name of Object.keys(metrics[0] ?? {})) {
    const mean = metrics.reduce((a, m) => a + (m[name] ?? 0), 0) / metrics.length;
    process.stdout.write(`final ${name}: ${fmt(mean)} (mean over ${metrics.length} runs)\n`);
  }
  if (f.out !== undefined) {
    writeFileAtomic(f.out, new TextEncoder().encode(log.join("")));
    process.stdout.write(`log written to ${f.out}\n`);
  }
}

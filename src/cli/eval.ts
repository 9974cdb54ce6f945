/** `l2o eval`: tuned baselines and learned optimizers on the same fresh instances. */
import type { Command } from "commander";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, EVAL_THREADS, EVAL_THREADS_HELP, parseEngine, parseEvalThreads, parseNumber, parseTaskConfig } from "./options.ts";
import { formatReport, writeJson } from "./format.ts";
import { runEvalJob } from "./eval_job.ts";

interface EvalFlags {
  task: string;
  taskConfig?: string;
  optimizers: string;
  steps: string;
  instances: string;
  seed: string;
  tuneInstances: string;
  lrGrid?: string;
  json?: string;
  quiet?: boolean;
  engine: string;
  threads: string;
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("evaluate optimizers on the same fresh instances; hand-designed ones get their learning rate tuned first")
    .requiredOption("--task <name>", "task family (see `l2o tasks`)")
    .option("--task-config <json>", "task configuration as a JSON object")
    .requiredOption("--optimizers <list>", "comma-separated: lstm:FILE, adam, adam@0.01, rmsprop, sgd, nag, ...")
    .option("--steps <n>", "optimization steps", "100")
    .option("--instances <n>", "fresh test instances", "100")
    .option("--seed <n>", "random seed (test instances never overlap training or tuning ones)", "0")
    .option("--tune-instances <n>", "instances for learning-rate tuning (separate from the test ones)", "5")
    .option("--lr-grid <list>", `comma-separated learning rates (default ${DEFAULT_LR_GRID.join(",")})`)
    .option("--json <file>", "write {task, steps, results: [{optimizer, lr, meanLoss[], ci95[], finalMean}]}")
    .option("--quiet", "no progress lines on standard error")
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", EVAL_THREADS_HELP, String(EVAL_THREADS))
    .action((f: EvalFlags) => {
      const optimizers = f.optimizers.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (optimizers.length === 0) throw new UsageError("--optimizers is empty: name at least one, e.g. adam,lstm:pretrained/quadratic");
      const lrGrid = f.lrGrid === undefined ? DEFAULT_LR_GRID : f.lrGrid.split(",").map((x) => parseNumber("--lr-grid", x, { positive: true }));
      const report = runEvalJob({
        task: f.task,
        taskConfig: parseTaskConfig(f.taskConfig),
        optimizers,
        steps: parseNumber("--steps", f.steps, { integer: true, positive: true }),
        instances: parseNumber("--instances", f.instances, { integer: true, min: 2 }),
        seed: parseNumber("--seed", f.seed, { integer: true }),
        tuneInstances: parseNumber("--tune-instances", f.tuneInstances, { integer: true, positive: true }),
        lrGrid,
        verbose: f.quiet !== true,
        engine: parseEngine(f.engine),
        threads: parseEvalThreads(f.threads),
      });
      process.stdout.write(formatReport(report));
      if (f.json !== undefined) {
        writeJson(f.json, report);
        process.stdout.write(`report written to ${f.json}\n`);
      }
    });
}

/** `l2o eval`: tuned baselines and learned optimizers on the same fresh instances. */
import type { Command } from "commander";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { checkOutputPaths } from "../io/paths.ts";
import { evalFigureSvg } from "../viz/eval_figure.ts";
import { figureFormat, writeFigure } from "../viz/file.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, EVAL_THREADS, EVAL_THREADS_HELP, parseCount, parseEngine, parseEvalThreads, parseList, parseSeed, parseTaskConfig, taskConfigWithData, DATA_HELP, QUIET_HELP, parseLrGrid } from "./options.ts";
import { checkInstanceMemory, grouped, LIMITS, MAX_STEPS_TIMES_INSTANCES, rangeText, checkStepsTimesInstances } from "./limits.ts";
import { resolveTaskFamily } from "./resolve.ts";
import { formatReport, writeJson } from "./format.ts";
import { runEvalJob } from "./eval_job.ts";

interface EvalFlags {
  task: string;
  taskConfig?: string;
  data?: string;
  optimizers: string;
  steps: string;
  instances: string;
  seed: string;
  tuneInstances: string;
  lrGrid?: string;
  json?: string;
  plot?: string;
  quiet?: boolean;
  engine: string;
  threads: string;
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("evaluate optimizers on the same fresh instances; hand-designed ones get their learning rate tuned first")
    .requiredOption("--task <name>", "task family (see `l2o tasks`), or a module of your own: ./my-task.ts (see `l2o train --help`)")
    .option("--task-config <json>", "task configuration as a JSON object")
    .option("--data <dir>", DATA_HELP)
    .requiredOption("--optimizers <list>", `comma-separated (${rangeText(LIMITS.listEntries)} names): lstm:FILE, rl:FILE (a policy from l2o rl train), adam, adam@0.01, rmsprop, sgd, nag, ...`)
    .option("--steps <n>", `optimization steps (${rangeText(LIMITS.steps)}; steps x instances at most ${grouped(MAX_STEPS_TIMES_INSTANCES)})`, "100")
    .option("--instances <n>", `fresh test instances (${rangeText(LIMITS.evalInstances)})`, "100")
    .option("--seed <n>", "random seed, an integer (test instances never overlap training or tuning ones)", "0")
    .option("--tune-instances <n>", `instances for learning-rate tuning (separate from the test ones) (${rangeText(LIMITS.tuneInstances)})`, "5")
    .option("--lr-grid <list>", `comma-separated learning rates (${rangeText(LIMITS.listEntries)} of them; default ${DEFAULT_LR_GRID.join(",")})`)
    .option("--json <file>", "write {task, steps, results: [{optimizer, lr, meanLoss[], ci95[], finalMean}]}")
    .option("--plot <file>", "also draw the loss figure (as 'l2o plot' draws the report) to FILE.svg or FILE.png, by its extension")
    .option("--quiet", QUIET_HELP)
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", EVAL_THREADS_HELP, String(EVAL_THREADS))
    .action(async (f: EvalFlags) => {
      checkOutputPaths([[f.json, "--json", { report: true }], [f.plot, "--plot", { report: true }]]);
      if (f.plot !== undefined) figureFormat(f.plot, "--plot");
      const optimizers = parseList("--optimizers", f.optimizers);
      if (optimizers.length === 0) throw new UsageError("--optimizers is empty: name at least one, e.g. adam,lstm:pretrained/quadratic");
      const lrGrid = parseLrGrid(f.lrGrid);
      const steps = parseCount("--steps", f.steps, LIMITS.steps);
      const instances = parseCount("--instances", f.instances, LIMITS.evalInstances);
      checkStepsTimesInstances(steps, instances);
      const tuneInstances = parseCount("--tune-instances", f.tuneInstances, LIMITS.tuneInstances);
      const seed = parseSeed("--seed", f.seed);
      const engine = parseEngine(f.engine);
      const threads = parseEvalThreads(f.threads);
      const taskConfig = taskConfigWithData(f.task, parseTaskConfig(f.taskConfig), f.data);
      checkInstanceMemory(resolveTaskFamily(f.task, taskConfig), instances + tuneInstances, `--instances ${instances} and --tune-instances ${tuneInstances}`);
      const report = runEvalJob({ task: f.task, taskConfig, optimizers, steps, instances, seed, tuneInstances, lrGrid, verbose: f.quiet !== true, engine, threads });
      process.stdout.write(formatReport(report));
      if (f.json !== undefined) {
        writeJson(f.json, report);
        process.stdout.write(`report written to ${f.json}\n`);
      }
      if (f.plot !== undefined) {
        writeFigure(f.plot, await evalFigureSvg(report), { flag: "--plot", onWarning: (m) => process.stderr.write(`l2o: warning: ${m}\n`) });
        process.stdout.write(`figure written to ${f.plot}\n`);
      }
    });
}

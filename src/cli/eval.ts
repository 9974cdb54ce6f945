/** `l2o eval`: tuned baselines and learned optimizers on the same fresh instances. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { DEFAULT_LR_GRID, evaluate, type EvalReport } from "../eval/evaluate.ts";
import { parseJsonObject, parseNumber, UsageError } from "./errors.ts";
import { resolveCandidate, resolveTaskFamily } from "./resolve.ts";
import { ENGINE_HELP, parseEngine, parseThreads, THREADS_HELP } from "./train.ts";
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
import { formatReport } from "./report.ts";

export interface EvalJob {
  readonly task: string;
  readonly taskConfig: Record<string, unknown>;
  readonly optimizers: readonly string[];
  readonly steps: number;
  readonly instances: number;
  readonly seed: number;
  readonly tuneInstances: number;
  readonly lrGrid: readonly number[];
  readonly verbose: boolean;
  /** The kernel learned optimizers run on (default: wasm). */
  readonly engine?: EngineKind;
  /** Its threads (default 1; `auto`: by coordinate count). */
  readonly threads?: ThreadCount;
}

export function runEvalJob(job: EvalJob): EvalReport {
  const family = resolveTaskFamily(job.task, job.taskConfig);
  const candidates = job.optimizers.map((o) => resolveCandidate(o, undefined, job.engine, job.threads));
  const report = evaluate(family, candidates, {
    steps: job.steps,
    instances: job.instances,
    seed: job.seed,
    tuneInstances: job.tuneInstances,
    lrGrid: job.lrGrid,
    onProgress: (label, phase) => {
      if (job.verbose) process.stderr.write(`${phase === "tune" ? "tuning" : "testing"} ${label}\n`);
    },
  });
  return report;
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n");
}

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
    .option("--engine <kind>", ENGINE_HELP, "wasm")
    .option("--threads <n>", THREADS_HELP, "auto")
    .action((f: EvalFlags) => {
      const optimizers = f.optimizers.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (optimizers.length === 0) throw new UsageError("--optimizers is empty: name at least one, e.g. adam,lstm:pretrained/quadratic");
      const lrGrid = f.lrGrid === undefined ? DEFAULT_LR_GRID : f.lrGrid.split(",").map((x) => parseNumber("--lr-grid", x, { positive: true }));
      const report = runEvalJob({
        task: f.task,
        taskConfig: f.taskConfig === undefined ? {} : parseJsonObject("--task-config", f.taskConfig),
        optimizers,
        steps: parseNumber("--steps", f.steps, { integer: true, positive: true }),
        instances: parseNumber("--instances", f.instances, { integer: true, min: 2 }),
        seed: parseNumber("--seed", f.seed, { integer: true }),
        tuneInstances: parseNumber("--tune-instances", f.tuneInstances, { integer: true, positive: true }),
        lrGrid,
        verbose: f.quiet !== true,
        engine: parseEngine(f.engine),
        threads: parseThreads(f.threads),
      });
      process.stdout.write(formatReport(report));
      if (f.json !== undefined) {
        writeJson(f.json, report);
        process.stdout.write(`report written to ${f.json}\n`);
      }
    });
}

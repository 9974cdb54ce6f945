/**
 * `l2o demo` (what `npm start` runs): meta-train an LSTM optimizer on random quadratics for a
 * few minutes, then evaluate it against tuned SGD, Nesterov momentum, RMSprop and Adam on 100
 * fresh functions it never saw, and print the table.
 */
import type { Command } from "commander";
import { resolveMetaTrainConfig } from "../meta/config.ts";
import { runTrainJob } from "../meta/job.ts";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { taskFamily, taskSpec } from "../tasks/registry.ts";
import { resolveEngineKind } from "../kernels/select.ts";
import { LSTM_KIND } from "../learned/lstm/kind.ts";
import { checkOutputPath } from "../io/paths.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_ENGINE, DEFAULT_REDUCTION, ENGINE_HELP, parseCount, parseEngine, parseSeconds, parseSeed, TRAIN_THREADS, QUIET_HELP, TRAINED_OUT_NOTE } from "./options.ts";
import { grouped, LIMITS, MAX_SECONDS, rangeText } from "./limits.ts";
import { consoleTrainHooks } from "./train_progress.ts";
import { runEvalJob } from "./eval_job.ts";
import { formatReport } from "./format.ts";

interface DemoFlags {
  seconds: string;
  out: string;
  instances: string;
  seed: string;
  engine: string;
  quiet?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("meta-train an LSTM optimizer on quadratics, then compare it with tuned baselines on fresh functions")
    .option("--seconds <x>", `meta-training time budget in seconds (above 0, at most ${grouped(MAX_SECONDS)}: 30 days)`, "150")
    .option("--out <file>", `where to save the trained optimizer; ${TRAINED_OUT_NOTE}`, "runs/demo-quadratic.safetensors")
    .option("--instances <n>", `fresh test functions (${rangeText(LIMITS.evalInstances)})`, "100")
    .option("--seed <n>", "random seed (an integer)", "0")
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--quiet", QUIET_HELP)
    .action((f: DemoFlags) => {
      // Every argument is checked before the training: nothing is refused minutes later.
      checkOutputPath(f.out, "--out", { trained: true });
      const seconds = parseSeconds("--seconds", f.seconds, true);
      const seed = parseSeed("--seed", f.seed);
      if (seed === Number.MAX_SAFE_INTEGER) throw new UsageError(`--seed ${seed}: the demo evaluates on seed + 1; give a smaller seed`);
      const instances = parseCount("--instances", f.instances, LIMITS.evalInstances);
      const engine = parseEngine(f.engine);
      const defaults = taskSpec("quadratic").training;
      const meta = resolveMetaTrainConfig({ epochs: 100000, horizonsPerEpoch: 10, maxSeconds: seconds, seed });
      process.stdout.write(
        `Meta-training a 2-layer, 20-unit coordinatewise LSTM optimizer on batches of 128 random 10-d quadratics\n` +
          `(unroll 20, horizon 100, Adam on phi) for about ${seconds}s...\n`,
      );
      const hooks = consoleTrainHooks(meta, { quiet: f.quiet === true });
      let run;
      try {
        run = runTrainJob({
          optimizer: LSTM_KIND.build(defaults.optimizer.lstm, { engine, threads: TRAIN_THREADS }),
          task: "quadratic",
          family: taskFamily("quadratic", defaults.taskConfig),
          meta,
          out: f.out,
          details: { engine: resolveEngineKind(engine), threads: engine === "ref" ? 1 : TRAIN_THREADS, ...(engine === "ref" ? {} : { reduction: DEFAULT_REDUCTION }) },
          hooks,
        });
      } finally {
        hooks.stop();
      }
      const { result, seconds: took } = run;
      const s = result.state;
      process.stdout.write(`trained ${s.metaIteration} meta-iterations in ${took.toFixed(0)}s; saved the best (epoch ${s.bestEpoch}) to ${f.out}\n\n`);
      process.stdout.write("Tuning each baseline's learning rate on separate functions, then testing all on fresh ones...\n");
      const report = runEvalJob({
        task: "quadratic",
        taskConfig: {},
        optimizers: [`lstm:${f.out}`, "adam", "rmsprop", "nag", "sgd"],
        steps: 100,
        instances,
        seed: seed + 1,
        tuneInstances: 10,
        lrGrid: DEFAULT_LR_GRID,
        verbose: f.quiet !== true,
        engine,
      });
      process.stdout.write(formatReport(report));
      // The command that gives this table again: the same test and tuning instances.
      const again = `--instances ${instances} --seed ${seed + 1} --tune-instances 10${f.engine === DEFAULT_ENGINE ? "" : ` --engine ${f.engine}`}`;
      process.stdout.write(`\nThe trained optimizer is in ${f.out}; evaluate it again with\n  npx l2o eval --task quadratic --optimizers lstm:${f.out},adam,rmsprop,nag,sgd ${again}\n`);
    });
}

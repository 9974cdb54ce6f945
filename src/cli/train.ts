/** `l2o train`: meta-train an LSTM optimizer on a task family and save it to one file. */
import type { Command } from "commander";
import { widenInputs, type LstmOptimizer, type LstmOptimizerConfig } from "../learned/lstm_optimizer.ts";
import { preprocessor, type PreprocessConfig } from "../learned/preprocess.ts";
import { loadLstmOptimizer } from "../learned/file.ts";
import { resolveMetaTrainConfig, type MetaTrainConfig } from "../meta/train.ts";
import { UsageError } from "./errors.ts";
import {
  DEFAULT_ENGINE,
  DEFAULT_REDUCTION,
  ENGINE_HELP,
  parseEngine,
  parseNumber,
  parsePreprocessFlag,
  parseReduction,
  parseTaskConfig,
  parseTrainThreads,
  REDUCTION_HELP,
  TRAIN_THREADS,
  TRAIN_THREADS_HELP,
} from "./options.ts";
import { runTrainJob, TRAIN_DEFAULTS, type TrainJob } from "./train_job.ts";

interface TrainFlags {
  task: string;
  taskConfig?: string;
  out: string;
  preprocess?: string;
  outputScale?: string;
  hidden: string;
  layers: string;
  unroll: string;
  horizon: string;
  metaLr: string;
  clip: string;
  epochs: string;
  horizonsPerEpoch: string;
  metaBatch: string;
  validationTasks: string;
  patience: string;
  secondOrder?: boolean;
  secondOrderScale: string;
  metaLoss: string;
  metaLossFrom: string;
  seed: string;
  validationSeed?: string;
  reduction: string;
  maxSeconds: string;
  engine: string;
  threads: string;
  checkpoint?: string;
  log?: string;
  init?: string;
}

/**
 * `--init` with `--preprocess`: only a LogAndSign file extended with moving averages (same p),
 * its new input weights zero, so training starts from exactly the file's optimizer.
 */
function widenedInit(
  init: { path: string; phi: Float32Array; lstm: LstmOptimizerConfig },
  opt: LstmOptimizer,
  pre: PreprocessConfig,
): { path: string; phi: Float32Array; lstm: LstmOptimizerConfig } {
  const from = opt.config.preprocess;
  if (pre.kind !== "logSignMomentum" || from.kind !== "logSign" || from.p !== pre.p) {
    throw new UsageError(
      `--init ${init.path} keeps its preprocessing (${JSON.stringify(from)}); --preprocess may only extend a logsign:P file to momentum:P:... with the same P, got ${JSON.stringify(pre)}`,
    );
  }
  const inputs = preprocessor(pre).inputs;
  return { ...init, phi: widenInputs(init.phi, opt.shape, inputs, opt.lstms), lstm: { ...init.lstm, preprocess: pre } };
}

export function registerTrainCommand(program: Command): void {
  program
    .command("train")
    .description("meta-train an LSTM optimizer on a task family and save it to one file")
    .requiredOption("--task <name>", "task family to train on (see `l2o tasks`)")
    .option("--task-config <json>", "task configuration (JSON object); quadratic defaults to {\"instances\":128}")
    .requiredOption("--out <file>", "where to save the trained optimizer (.safetensors)")
    .option("--preprocess <kind>", "gradient preprocessing: none, logsign[:P], scale:C, or momentum[:P[:B1,B2,...]] (LogAndSign of the gradient and of its bias-corrected moving averages, default P 10 and B 0.9) (default per task)")
    .option("--output-scale <x>", "update = scale * LSTM output (default 0.1)")
    .option("--hidden <n>", "LSTM units per layer", "20")
    .option("--layers <n>", "LSTM layers", "2")
    .option("--unroll <n>", "truncation length T", "20")
    .option("--horizon <n>", "optimizee steps per sampled task", "100")
    .option("--meta-lr <x>", "Adam learning rate on the LSTM weights", String(0.003))
    .option("--clip <x>", "clip the meta-gradient's global norm (0: off)", "1")
    .option("--epochs <n>", "epochs (validation after each)", "50")
    .option("--horizons-per-epoch <n>", "sampled tasks per epoch", "20")
    .option("--meta-batch <k>", "horizons whose meta-gradients are averaged for each update (run one after another; a divisor of --horizons-per-epoch)", "1")
    .option("--validation-tasks <n>", "held-out tasks for validation", "4")
    .option("--patience <n>", "stop after n epochs without improvement (0: never)", "0")
    .option("--second-order", "keep second-order terms (needs task Hessian-vector products)")
    .option("--second-order-scale <x>", "with --second-order, the weight of the second-order terms in (0, 1] (below 1 damps them)", "1")
    .option("--meta-loss <kind>", "each step's term in the meta-loss: sum (its loss, the paper's) or log (the log of its loss)", "sum")
    .option("--meta-loss-from <step>", "the first step of each horizon whose loss counts, in training and in validation (1: every step, the paper's)", "1")
    .option("--seed <n>", "random seed", "0")
    .option("--validation-seed <n>", "draw the validation tasks from this seed instead of --seed, so that runs with different seeds are scored on the same tasks")
    .option("--max-seconds <x>", "stop training after this many seconds (0: no limit)", "0")
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", TRAIN_THREADS_HELP, String(TRAIN_THREADS))
    .option("--reduction <kind>", REDUCTION_HELP, DEFAULT_REDUCTION)
    .option("--checkpoint <file>", "save the full training state after every epoch; resume from it if it exists")
    .option("--log <file>", "JSONL log of meta-loss and validation scores")
    .option("--init <file>", "start from a trained optimizer file (fine-tuning); its architecture, preprocessing and output scale are kept, except that --preprocess momentum:P:... may extend a logsign:P file (the new inputs' weights start at zero)")
    .action((f: TrainFlags, cmd: Command) => {
      const defaults = TRAIN_DEFAULTS[f.task];
      const taskConfig = { ...(defaults?.taskConfig ?? {}), ...parseTaskConfig(f.taskConfig) };
      let init: { path: string; phi: Float32Array; lstm: LstmOptimizerConfig } | undefined;
      if (f.init !== undefined) {
        const fixed = ["hidden", "layers", "outputScale"].filter((k) => cmd.getOptionValueSource(k) === "cli");
        if (fixed.length > 0) {
          const flags = fixed.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ");
          throw new UsageError(`--init ${f.init} fixes the architecture and output scale; drop ${flags}`);
        }
        const loaded = loadLstmOptimizer(f.init);
        init = { path: f.init, phi: loaded.phi, lstm: loaded.optimizer.config };
        if (f.preprocess !== undefined) init = widenedInit(init, loaded.optimizer, parsePreprocessFlag(f.preprocess));
      }
      const lstm: LstmOptimizerConfig = init !== undefined ? init.lstm : {
        ...(defaults?.lstm ?? {}),
        hidden: parseNumber("--hidden", f.hidden, { integer: true, positive: true }),
        layers: parseNumber("--layers", f.layers, { integer: true, positive: true }),
        ...(f.preprocess !== undefined ? { preprocess: parsePreprocessFlag(f.preprocess) } : {}),
        ...(f.outputScale !== undefined ? { outputScale: parseNumber("--output-scale", f.outputScale, { positive: true }) } : {}),
      };
      let meta: MetaTrainConfig;
      try {
        meta = resolveMetaTrainConfig({
          unroll: parseNumber("--unroll", f.unroll, { integer: true, positive: true }),
          horizon: parseNumber("--horizon", f.horizon, { integer: true, positive: true }),
          metaLr: parseNumber("--meta-lr", f.metaLr, { positive: true }),
          clipNorm: parseNumber("--clip", f.clip, { min: 0 }),
          epochs: parseNumber("--epochs", f.epochs, { integer: true, positive: true }),
          horizonsPerEpoch: parseNumber("--horizons-per-epoch", f.horizonsPerEpoch, { integer: true, positive: true }),
          metaBatch: parseNumber("--meta-batch", f.metaBatch, { integer: true, positive: true }),
          validationTasks: parseNumber("--validation-tasks", f.validationTasks, { integer: true, positive: true }),
          patience: parseNumber("--patience", f.patience, { integer: true, min: 0 }),
          secondOrder: f.secondOrder === true,
          secondOrderScale: parseNumber("--second-order-scale", f.secondOrderScale, { positive: true }),
          metaLoss: f.metaLoss as MetaTrainConfig["metaLoss"],
          metaLossFrom: parseNumber("--meta-loss-from", f.metaLossFrom, { integer: true, positive: true }),
          seed: parseNumber("--seed", f.seed, { integer: true }),
          ...(f.validationSeed !== undefined ? { validationSeed: parseNumber("--validation-seed", f.validationSeed, { integer: true }) } : {}),
          maxSeconds: parseNumber("--max-seconds", f.maxSeconds, { min: 0 }),
        });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const job: TrainJob = {
        task: f.task,
        taskConfig,
        lstm,
        meta,
        out: f.out,
        engine: parseEngine(f.engine),
        threads: parseTrainThreads(f.threads),
        reduction: parseReduction(f.reduction),
        ...(f.checkpoint !== undefined ? { checkpoint: f.checkpoint } : {}),
        ...(f.log !== undefined ? { log: f.log } : {}),
        ...(init !== undefined ? { init: { path: init.path, phi: init.phi } } : {}),
        verbose: true,
      };
      const { result, seconds } = runTrainJob(job);
      const s = result.state;
      process.stdout.write(
        `stopped (${result.stopped}) after ${s.epoch} epochs${s.epochHorizons > 0 ? ` and ${s.epochHorizons} horizons` : ""}, ${s.metaIteration} meta-iterations, ${seconds.toFixed(0)}s; ` +
          `best validation ${s.bestScore.toPrecision(5)} at epoch ${s.bestEpoch}\n`,
      );
      if (s.bestEpoch < 0) throw new UsageError("training never produced a finite validation score; nothing was saved (try a smaller --meta-lr or --output-scale)");
      process.stdout.write(`saved ${job.out}\n`);
    });
}

/** `l2o train`: meta-train an LSTM optimizer on a task family and save it to one file. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { lstmOptimizer, widenInputs, type LstmOptimizer, type LstmOptimizerConfig } from "../learned/lstm_optimizer.ts";
import { parsePreprocessConfig, preprocessor, type PreprocessConfig } from "../learned/preprocess.ts";
import { loadLstmOptimizer, saveLstmOptimizer } from "../learned/file.ts";
import { defaultEngineFactory, ENGINE_KINDS, resolveEngineKind, type EngineKind, type ThreadCount } from "../kernels/select.ts";
import { GRADIENT_REDUCTIONS, type GradientReduction } from "../kernels/wasm.ts";
import {
  initMetaTrainState,
  metaTrain,
  resolveMetaTrainConfig,
  type MetaTrainConfig,
  type MetaTrainResult,
  type MetaTrainState,
} from "../meta/train.ts";
import { stateFromCheckpoint, stateToCheckpoint } from "../meta/checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { jsonlWriter } from "../io/metrics.ts";
import { parseJsonObject, parseNumber, UsageError } from "./errors.ts";
import { resolveTaskFamily } from "./resolve.ts";
import { progress } from "./progress.ts";

/**
 * Per-task training defaults: quadratics are meta-trained on batches of 128 functions with
 * raw gradients (the paper's setting); MNIST uses LogAndSign (p = 10) and output scale 0.1.
 */
export const TRAIN_DEFAULTS: Readonly<Record<string, { taskConfig: Record<string, unknown>; lstm: LstmOptimizerConfig }>> = {
  quadratic: { taskConfig: { instances: 128 }, lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } },
  "mnist-mlp": { taskConfig: {}, lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } },
};

export interface TrainJob {
  readonly task: string;
  readonly taskConfig: Record<string, unknown>;
  readonly lstm: LstmOptimizerConfig;
  readonly meta: MetaTrainConfig;
  readonly out: string;
  readonly engine: EngineKind;
  readonly threads: number;
  /** How the backward pass sums the weight gradient (default `chunks`). */
  readonly reduction?: GradientReduction;
  readonly checkpoint?: string;
  readonly log?: string;
  /** Start from these weights (a file trained before) instead of a fresh initialisation. */
  readonly init?: { readonly path: string; readonly phi: Float32Array };
  /** Print a line per epoch. */
  readonly verbose: boolean;
}

/** Runs a training job; the best phi is saved to `out` after every epoch that improves it. */
export function runTrainJob(job: TrainJob): { result: MetaTrainResult; opt: LstmOptimizer; seconds: number } {
  const family = resolveTaskFamily(job.task, job.taskConfig);
  const reduction = job.reduction ?? "chunks";
  const opt = lstmOptimizer(job.lstm, defaultEngineFactory(job.engine, job.threads, reduction));
  let state: MetaTrainState = initMetaTrainState(opt, job.meta, job.init?.phi);
  if (job.checkpoint !== undefined && existsSync(job.checkpoint)) {
    state = stateFromCheckpoint(loadCheckpoint(job.checkpoint), opt.phiSize);
    if (job.verbose) {
      const within = state.epochHorizons > 0 ? `, ${state.epochHorizons} horizons into epoch ${state.epoch + 1}` : "";
      process.stdout.write(`resuming from ${job.checkpoint} at epoch ${state.epoch}${within}\n`);
    }
  }
  const writer = job.log === undefined ? undefined : jsonlWriter(job.log);
  // Unrolls that end before metaLossFrom update nothing and are not meta-iterations.
  const updatingUnrolls = job.meta.horizon / job.meta.unroll - Math.floor((job.meta.metaLossFrom - 1) / job.meta.unroll);
  const totalIters = job.meta.epochs * (job.meta.horizonsPerEpoch / job.meta.metaBatch) * updatingUnrolls;
  const bar = progress(totalIters, "meta-iterations", " | meta-loss {loss}");
  const started = performance.now();
  const training = (s: MetaTrainState): Record<string, unknown> => ({
    task: job.task,
    taskConfig: family.config as Record<string, unknown>,
    ...job.meta,
    engine: resolveEngineKind(job.engine),
    threads: job.engine === "ref" ? 1 : job.threads,
    ...(job.engine === "ref" ? {} : { reduction }),
    lstm: job.lstm,
    ...(job.init !== undefined ? { init: job.init.path } : {}),
    epochsDone: s.epoch,
    metaIterations: s.metaIteration,
    skippedUnrolls: s.skipped,
  });
  const saveBest = (s: MetaTrainState): void => {
    saveLstmOptimizer(job.out, opt, s.bestPhi, {
      training: training(s),
      validation: { score: s.bestScore, epoch: s.bestEpoch, tasks: job.meta.validationTasks, steps: job.meta.horizon },
    });
  };
  const result = metaTrain(opt, family, job.meta, state, {
    ...(writer ? { writer } : {}),
    onIteration: (s, loss) => bar.update(s.metaIteration, { loss: loss.toFixed(4) }),
    onEpoch: (s, score, partial) => {
      // An epoch cut short by --max-seconds is validated as epoch `s.epoch + 1` and resumed later.
      const epochNo = partial ? s.epoch + 1 : s.epoch;
      if (s.bestEpoch === epochNo && s.bestScore === score) saveBest(s);
      if (job.checkpoint !== undefined) saveCheckpoint(job.checkpoint, stateToCheckpoint(s));
      if (job.verbose) {
        const secs = ((performance.now() - started) / 1000).toFixed(0);
        const cut = partial ? ` (time limit after ${s.epochHorizons} of ${job.meta.horizonsPerEpoch} horizons)` : "";
        process.stdout.write(
          `epoch ${String(epochNo).padStart(3)}${cut}  validation ${score.toPrecision(5)}  best ${s.bestScore.toPrecision(5)} (epoch ${s.bestEpoch})  ${secs}s\n`,
        );
      }
    },
  });
  bar.stop();
  writer?.close();
  // A resumed run that never beat the checkpoint's best has not written `out` yet.
  if (result.state.bestEpoch >= 0 && !existsSync(job.out)) saveBest(result.state);
  return { result, opt, seconds: (performance.now() - started) / 1000 };
}

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

/** `none`, `logsign`, `logsign:P`, `scale:C`, or `momentum[:P[:B1,B2,...]]`. */
export function parsePreprocessFlag(raw: string): PreprocessConfig {
  const [kind, arg, more, ...rest] = raw.split(":") as [string, string | undefined, string | undefined, ...string[]];
  try {
    if (rest.length === 0) {
      if (kind === "none" && arg === undefined) return parsePreprocessConfig({ kind: "none" });
      if (kind === "logsign" && more === undefined) return parsePreprocessConfig({ kind: "logSign", p: arg === undefined ? 10 : Number(arg) });
      if (kind === "scale" && arg !== undefined && more === undefined) return parsePreprocessConfig({ kind: "scale", scale: Number(arg) });
      if (kind === "momentum") {
        const betas = more === undefined ? [0.9] : more.split(",").map(Number);
        return parsePreprocessConfig({ kind: "logSignMomentum", p: arg === undefined || arg === "" ? 10 : Number(arg), betas });
      }
    }
  } catch (e) {
    throw new UsageError(`--preprocess ${raw}: ${(e as Error).message}`);
  }
  throw new UsageError(`--preprocess expects none, logsign, logsign:P, scale:C or momentum[:P[:B1,B2,...]], got '${raw}'`);
}

export function parseEngine(raw: string): EngineKind {
  const kind = ENGINE_KINDS.find((k) => k === raw);
  if (kind !== undefined) return kind;
  throw new UsageError(`--engine expects one of ${ENGINE_KINDS.join(", ")}, got '${raw}'`);
}

/** The --engine option's help, shared by the commands that run the LSTM. */
/** `--threads` of the commands that use a trained optimizer (eval, run). */
export const THREADS_HELP =
  "worker threads for a learned optimizer's WebAssembly kernel, or auto: one per 4,096 coordinates, at most the machine's cores (results are the same bits on any count)";

/** Reads `--reduction`. */
export function parseReduction(v: string): GradientReduction {
  if (!(GRADIENT_REDUCTIONS as readonly string[]).includes(v)) {
    throw new UsageError(`--reduction expects ${GRADIENT_REDUCTIONS.join(" or ")}, got '${v}'`);
  }
  return v as GradientReduction;
}

/** Reads `--threads` of eval and run: a positive integer or `auto`. */
export function parseThreads(v: string): ThreadCount {
  if (v.trim() === "auto") return "auto";
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < 1) throw new UsageError(`--threads expects a positive integer or 'auto', got '${v}'`);
  return n;
}

export const ENGINE_HELP =
  "LSTM kernel: wasm (the fastest WebAssembly build here: wasm-fma, else wasm-simd), wasm-simd (multiply then add; replays files trained before wasm-fma existed bit for bit), wasm-fma (fused multiply-add) or ref (plain TypeScript)";

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
    .option("--engine <kind>", ENGINE_HELP, "wasm")
    .option("--threads <n>", "worker threads for the wasm kernel", "2")
    .option(
      "--reduction <kind>",
      "how the wasm kernel's backward pass sums the weight gradient: chunks (the same bits on any --threads) or threads (per thread: replays trainings made before chunks existed, with their --threads)",
      "chunks",
    )
    .option("--checkpoint <file>", "save the full training state after every epoch; resume from it if it exists")
    .option("--log <file>", "JSONL log of meta-loss and validation scores")
    .option("--init <file>", "start from a trained optimizer file (fine-tuning); its architecture, preprocessing and output scale are kept, except that --preprocess momentum:P:... may extend a logsign:P file (the new inputs' weights start at zero)")
    .action((f: TrainFlags, cmd: Command) => {
      const defaults = TRAIN_DEFAULTS[f.task];
      const taskConfig = { ...(defaults?.taskConfig ?? {}), ...(f.taskConfig === undefined ? {} : parseJsonObject("--task-config", f.taskConfig)) };
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
        threads: parseNumber("--threads", f.threads, { integer: true, positive: true }),
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

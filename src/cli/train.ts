/** `l2o train`: meta-train a learned optimizer of any trainable kind on a task family and save it to one file. */
import type { Command } from "commander";
import { foldIn, key as makeKey } from "../core/rng.ts";
import { resolveOptimizer } from "../learned/resolve.ts";
import type { KernelOptions } from "../learned/kernel_options.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "../learned/registry.ts";
import { extendPreprocessing } from "../learned/lstm/widen.ts";
import type { LstmOptimizer } from "../learned/lstm/optimizer.ts";
import type { LearnedOptimizer } from "../learned/contract.ts";
import { ES_LIMITS, ESTIMATORS, HORIZON_SAMPLINGS, META_LOSS_KINDS, META_LR_MAX, resolveMetaTrainConfig, type EstimatorName, type HorizonSampling, type MetaLossKind, type MetaTrainConfig } from "../meta/config.ts";
import { runTrainJobAsync } from "../meta/job.ts";
import { checkOutputPaths } from "../io/paths.ts";
import { UsageError } from "./errors.ts";
import { checkInstanceMemory, grouped, LIMITS, MAX_SECONDS, rangeText } from "./limits.ts";
import {
  DEFAULT_ENGINE,
  DEFAULT_REDUCTION,
  ENGINE_HELP,
  parseEngine,
  parseJsonObject,
  parseCount,
  parseNumber,
  parsePreprocessFlag,
  parseReduction,
  parseTape,
  parseMemoryBudget,
  parseSeconds,
  parseSeed,
  parseTaskConfig,
  taskConfigWithData,
  DATA_HELP,
  parseTrainThreads,
  REDUCTION_HELP,
  TAPE_HELP,
  MEMORY_BUDGET_HELP,
  TRAIN_THREADS,
  TRAIN_THREADS_HELP,
  QUIET_HELP,
  TRAINED_OUT_NOTE,
} from "./options.ts";
import { resolveTaskFamily, resolveTrainingTask, showWarnings } from "./resolve.ts";
import { consoleTrainHooks, reportInterrupted } from "./train_progress.ts";
import { stopOnSignals } from "./signals.ts";
import { checkTensorboardDir } from "../io/tensorboard.ts";
import { composeHooks, tensorboardTrainHooks } from "./train_tensorboard.ts";
import { DIST_HELP, distributed, runDistributed, type DistFlags } from "./train_dist.ts";

interface TrainFlags extends DistFlags {
  task: string;
  taskConfig?: string;
  data?: string;
  out: string;
  optimizer?: string;
  optimizerConfig?: string;
  preprocess?: string;
  outputScale?: string;
  hidden?: string;
  layers?: string;
  lstmGroups?: string;
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
  horizonSampling: string;
  estimator: string;
  esSigma?: string;
  esPairs?: string;
  seed: string;
  validationSeed?: string;
  reduction: string;
  tape: string;
  memoryBudget?: string;
  maxSeconds: string;
  engine: string;
  threads: string;
  checkpoint?: string;
  log?: string;
  init?: string;
  tensorboard?: string;
  quiet?: boolean;
}

/** The LSTM's shortcut flags, as config fields (only those given). */
function lstmFlags(f: TrainFlags): Record<string, unknown> {
  return {
    ...(f.hidden !== undefined ? { hidden: parseCount("--hidden", f.hidden, LIMITS.hidden) } : {}),
    ...(f.layers !== undefined ? { layers: parseCount("--layers", f.layers, LIMITS.layers) } : {}),
    ...(f.preprocess !== undefined ? { preprocess: parsePreprocessFlag(f.preprocess) } : {}),
    ...(f.outputScale !== undefined ? { outputScale: parseNumber("--output-scale", f.outputScale, { positive: true }) } : {}),
    ...(f.lstmGroups !== undefined ? { groups: parseLstmGroups(f.lstmGroups) } : {}),
  };
}

/**
 * `--lstm-groups conv/fc`: one LSTM per `/`-separated part, each part the layout groups it
 * drives joined by `+` (`conv+bn/fc`); `one`: a single LSTM for every coordinate.
 */
function parseLstmGroups(v: string): string[][] | undefined {
  if (v === "one") return undefined;
  const groups = v.split("/").map((part) => part.split("+"));
  if (groups.some((g) => g.some((name) => !/^[A-Za-z0-9_.-]+$/.test(name)))) {
    throw new UsageError(`--lstm-groups expects layout groups as conv/fc (one LSTM per part, groups in a part joined by +) or one, got '${v}'`);
  }
  return groups;
}

const flagName = (k: string): string => (k === "groups" ? "--lstm-groups" : `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

/**
 * The optimizer to train and its starting weights: a fresh one of `--optimizer` (default
 * lstm) configured by the task's defaults, `--optimizer-config` and the LSTM's shortcut flags;
 * or, with `--init`, the file's optimizer and weights (an LSTM file may extend its
 * preprocessing with `--preprocess momentum:P:...`).
 */
function optimizerToTrain(f: TrainFlags, kernel: KernelOptions): { opt: LearnedOptimizer; init?: { path: string; phi: Float32Array } } {
  const shortcuts = lstmFlags(f);
  if (f.init === undefined) {
    const kind = learnedKind(f.optimizer ?? "lstm");
    if (kind.kind === "hand") {
      // The registry's kind for hand-designed optimizers in files: it has no weights to learn.
      throw new UsageError(`--optimizer hand is a hand-designed optimizer, with no weights to meta-train; name a learned kind: ${LEARNED_KIND_NAMES.filter((k) => k !== "hand").join(", ")}`);
    }
    if (kind.kind !== "lstm" && Object.keys(shortcuts).length > 0) {
      throw new UsageError(`${Object.keys(shortcuts).map(flagName).join(", ")} configure --optimizer lstm; give a ${kind.kind} optimizer's settings in --optimizer-config`);
    }
    const config = {
      ...(resolveTrainingTask(f.task).training.optimizer[kind.kind] ?? {}),
      ...(f.optimizerConfig !== undefined ? parseJsonObject("--optimizer-config", f.optimizerConfig) : {}),
      ...shortcuts,
    };
    return { opt: kind.build(config, kernel) };
  }
  const fixed = [...Object.keys(shortcuts).filter((k) => k !== "preprocess"), ...(f.optimizerConfig !== undefined ? ["optimizerConfig"] : [])];
  if (fixed.length > 0) throw new UsageError(`--init ${f.init} fixes the architecture and output scale; drop ${fixed.map(flagName).join(", ")}`);
  // The one name rule: a shipped name (`--init quadratic`), a path, or KIND:FILE.
  const resolved = resolveOptimizer(f.init, kernel);
  if (resolved.source !== "file") throw new UsageError(`--init ${f.init} names a hand-designed optimizer; give a trained optimizer file`);
  const loaded = resolved.loaded;
  showWarnings(loaded);
  const kind = learnedKind(loaded.optimizer.kind);
  if (f.optimizer !== undefined && f.optimizer !== kind.kind) throw new UsageError(`--init ${f.init} holds a '${kind.kind}' optimizer, not --optimizer ${f.optimizer}`);
  if (f.preprocess === undefined) return { opt: loaded.optimizer, init: { path: f.init, phi: loaded.phi } };
  if (kind.kind !== "lstm") throw new UsageError(`--preprocess configures an LSTM optimizer; --init ${f.init} holds a '${kind.kind}' one`);
  let wide;
  try {
    wide = extendPreprocessing((loaded.optimizer as LstmOptimizer).config, loaded.phi, parsePreprocessFlag(f.preprocess));
  } catch (e) {
    throw new UsageError(`--init ${f.init} with --preprocess ${f.preprocess}: ${(e as Error).message}`);
  }
  return { opt: kind.build(wide.config, kernel), init: { path: f.init, phi: wide.phi } };
}

function metaConfig(f: TrainFlags): MetaTrainConfig {
  // The checks of one flag, in its own name (resolveMetaTrainConfig names the config's fields).
  if (!META_LOSS_KINDS.includes(f.metaLoss as MetaLossKind)) throw new UsageError(`--meta-loss expects ${META_LOSS_KINDS.join(", ")}, got '${f.metaLoss}'`);
  if (!HORIZON_SAMPLINGS.includes(f.horizonSampling as HorizonSampling)) throw new UsageError(`--horizon-sampling expects ${HORIZON_SAMPLINGS.join(" or ")}, got '${f.horizonSampling}'`);
  const horizon = parseCount("--horizon", f.horizon, LIMITS.horizon);
  const metaLossFrom = parseCount("--meta-loss-from", f.metaLossFrom, { min: 1, max: LIMITS.horizon.max });
  if (metaLossFrom > horizon) throw new UsageError(`--meta-loss-from must be from 1 to --horizon (${horizon}), got '${f.metaLossFrom}'`);
  const estimator = f.estimator as EstimatorName;
  if (!ESTIMATORS.includes(estimator)) throw new UsageError(`--estimator expects ${ESTIMATORS.join(", ")}, got '${f.estimator}'`);
  if (estimator === "bptt" && (f.esSigma !== undefined || f.esPairs !== undefined)) throw new UsageError("--es-sigma and --es-pairs set the es and pes estimators; add --estimator es or pes");
  try {
    return resolveMetaTrainConfig({
      unroll: parseCount("--unroll", f.unroll, LIMITS.unroll),
      horizon,
      metaLr: parseNumber("--meta-lr", f.metaLr, { positive: true, max: META_LR_MAX }),
      clipNorm: parseNumber("--clip", f.clip, { min: 0 }),
      epochs: parseCount("--epochs", f.epochs, LIMITS.epochs),
      horizonsPerEpoch: parseCount("--horizons-per-epoch", f.horizonsPerEpoch, LIMITS.horizonsPerEpoch),
      metaBatch: parseCount("--meta-batch", f.metaBatch, LIMITS.metaBatch),
      validationTasks: parseCount("--validation-tasks", f.validationTasks, LIMITS.validationTasks),
      patience: parseCount("--patience", f.patience, LIMITS.patience),
      secondOrder: f.secondOrder === true,
      secondOrderScale: parseNumber("--second-order-scale", f.secondOrderScale, { positive: true }),
      metaLoss: f.metaLoss as MetaLossKind,
      metaLossFrom,
      horizonSampling: f.horizonSampling as HorizonSampling,
      estimator,
      ...(f.esSigma !== undefined ? { esSigma: parseNumber("--es-sigma", f.esSigma, { positive: true, max: ES_LIMITS.sigmaMax }) } : {}),
      ...(f.esPairs !== undefined ? { esPairs: parseCount("--es-pairs", f.esPairs, LIMITS.esPairs) } : {}),
      seed: parseSeed("--seed", f.seed),
      ...(f.validationSeed !== undefined ? { validationSeed: parseSeed("--validation-seed", f.validationSeed) } : {}),
      maxSeconds: parseSeconds("--max-seconds", f.maxSeconds, false),
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

export function registerTrainCommand(program: Command): void {
  program
    .command("train")
    .description("meta-train a learned optimizer (an LSTM by default) on a task family and save it to one file")
    .requiredOption("--task <name>", "task family to train on (see `l2o tasks`), or a module of your own: ./my-task.ts (.ts, .mts, .js, .mjs) whose default export is a TaskFamily or a function from --task-config to one, with an optional `training` export of defaults; a checkpoint resumes only with the same module file")
    .option("--task-config <json>", "task configuration (JSON object) over the task's training defaults; quadratic's is {\"instances\":128}")
    .option("--data <dir>", DATA_HELP)
    .requiredOption("--out <file>", `where to save the trained optimizer (.safetensors); ${TRAINED_OUT_NOTE}`)
    .option("--optimizer <kind>", `the kind of learned optimizer: ${LEARNED_KIND_NAMES.filter((k) => k !== "hand").join(", ")} (default lstm, or the kind of --init's file)`)
    .option("--optimizer-config <json>", "the optimizer's configuration (JSON object) over its defaults and the task's, e.g. '{\"hidden\":16}' (see `l2o optimizers`)")
    .option("--preprocess <kind>", "LSTM: gradient preprocessing: none, logsign[:P], scale:C, or momentum[:P[:B1,B2,...]] (LogAndSign of the gradient and of its bias-corrected moving averages, default P 10 and B 0.9) (default per task)")
    .option("--output-scale <x>", "LSTM: update = scale * LSTM output (above 0; default per task: 0.1, art 0.03)")
    .option("--hidden <n>", `LSTM: units per layer (${rangeText(LIMITS.hidden)}; default 20)`)
    .option("--layers <n>", `LSTM: layers (${rangeText(LIMITS.layers)}; default 2)`)
    .option("--lstm-groups <list>", "LSTM: one separately weighted LSTM per part of the layout's groups, e.g. conv/fc (the paper's CNN setting, cnn's default) or conv+bn/fc; one: a single LSTM (default per task)")
    .option("--unroll <n>", `truncation length T (${rangeText(LIMITS.unroll)}; a divisor of --horizon)`, "20")
    .option("--horizon <n>", `optimizee steps per sampled task (${rangeText(LIMITS.horizon)})`, "100")
    .option("--meta-lr <x>", `Adam learning rate on the optimizer's weights (above 0, at most ${META_LR_MAX})`, String(0.003))
    .option("--clip <x>", "clip the meta-gradient's global norm (at least 0; 0: off)", "1")
    .option("--epochs <n>", `epochs (validation after each) (${rangeText(LIMITS.epochs)})`, "50")
    .option("--horizons-per-epoch <n>", `sampled tasks per epoch (${rangeText(LIMITS.horizonsPerEpoch)})`, "20")
    .option("--meta-batch <k>", `horizons whose meta-gradients are averaged for each update (run one after another; a divisor of --horizons-per-epoch) (${rangeText(LIMITS.metaBatch)})`, "1")
    .option("--validation-tasks <n>", `held-out tasks for validation (${rangeText(LIMITS.validationTasks)})`, "4")
    .option("--patience <n>", `stop after n epochs without improvement (0: never) (${rangeText(LIMITS.patience)})`, "0")
    .option("--second-order", "keep second-order terms (needs task Hessian-vector products)")
    .option("--second-order-scale <x>", "with --second-order, the weight of the second-order terms in (0, 1] (below 1 damps them)", "1")
    .option("--meta-loss <kind>", "each step's term in the meta-loss: sum (its loss, the paper's), log (the log of its loss) or logRatio (log of its loss over the horizon's first, Wichrowska et al.'s)", "sum")
    .option("--horizon-sampling <law>", "each group of horizons' length: fixed (--horizon steps) or logUniform (a heavy-tailed number of truncations, 1 to --horizon / --unroll, P(k) ~ 1/k)", "fixed")
    .option("--meta-loss-from <step>", "the first step of each horizon whose loss counts, in training and in validation (1 to --horizon; 1: every step, the paper's)", "1")
    .option("--estimator <kind>", "the meta-gradient's estimator: bptt (truncated backpropagation through time), es (antithetic evolution strategies over whole horizons, one update per horizon) or pes (persistent evolution strategies over truncations, unbiased for the whole horizon); es and pes need only losses, so they train any kind (each perturbed run builds its own engine: on small tasks --threads 1 is much faster)", "bptt")
    .option("--es-sigma <x>", `es, pes: the perturbation's standard deviation on the optimizer's weights (above 0, at most ${ES_LIMITS.sigmaMax}; default ${ES_LIMITS.sigmaDefault})`)
    .option("--es-pairs <k>", `es, pes: antithetic pairs of perturbations per task (${rangeText(LIMITS.esPairs)}; default ${ES_LIMITS.pairsDefault})`)
    .option("--seed <n>", "random seed (an integer)", "0")
    .option("--validation-seed <n>", "draw the validation tasks from this seed (an integer) instead of --seed, so that runs with different seeds are scored on the same tasks")
    .option("--max-seconds <x>", `stop training after this many seconds (0: no limit; at most ${grouped(MAX_SECONDS)}, 30 days)`, "0")
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .option("--threads <n>", TRAIN_THREADS_HELP, String(TRAIN_THREADS))
    .option("--reduction <kind>", REDUCTION_HELP, DEFAULT_REDUCTION)
    .option("--tape <precision>", TAPE_HELP, "f32")
    .option("--memory-budget <GiB>", MEMORY_BUDGET_HELP)
    .option("--checkpoint <file>", "save the full training state after every epoch; resume from it if it exists")
    .option("--log <file>", "JSONL log of meta-loss and validation scores")
    .option("--tensorboard <dir>", "also write TensorBoard event files to this folder (meta_loss per meta-iteration, validation per epoch; flushed after every epoch)")
    .option("--init <file>", "start from a trained optimizer file (fine-tuning); its kind, architecture and settings are kept, except that --preprocess momentum:P:... may extend an LSTM logsign:P file (the new inputs' weights start at zero)")
    .option("--quiet", QUIET_HELP)
    .option("--redis <url>", DIST_HELP.redis)
    .option("--queue <name>", DIST_HELP.queue, "l2o")
    .option("--async", DIST_HELP.async)
    .option("--staleness <n>", DIST_HELP.staleness, "1")
    .option("--in-flight <n>", DIST_HELP.inFlight)
    .option("--redis-wait <seconds>", DIST_HELP.redisWait, "30")
    .option("--workers-expected <n>", DIST_HELP.workersExpected, "0")
    .action(async (f: TrainFlags, cmd: Command) => {
      // Every file the training will write is checked before any work starts.
      checkOutputPaths([[f.out, "--out", { trained: true }], [f.checkpoint, "--checkpoint", { trained: true }], [f.log, "--log", { report: true }]]);
      if (f.tensorboard !== undefined) checkTensorboardDir(f.tensorboard, "--tensorboard");
      const spec = resolveTrainingTask(f.task);
      const family = resolveTaskFamily(f.task, { ...spec.training.taskConfig, ...taskConfigWithData(f.task, parseTaskConfig(f.taskConfig), f.data) });
      // Synchronous distributed runs promise the same bits on every machine: `wasm` is then wasm-simd.
      const dist = distributed(f, (name) => cmd.getOptionValueSource(name) === "cli");
      const engine = parseEngine(dist && f.async !== true && f.engine === "wasm" ? "wasm-simd" : f.engine);
      const threads = parseTrainThreads(f.threads);
      const reduction = parseReduction(f.reduction);
      const tape = parseTape(f.tape);
      const memoryBudget = parseMemoryBudget(f.memoryBudget);
      const kernel: KernelOptions = { engine, threads, reduction, tape, ...(memoryBudget === undefined ? {} : { memoryBudget }) };
      const meta = metaConfig(f);
      // Second-order terms need the task's Hessian-vector products: refused before any file is opened.
      if (meta.secondOrder && family.sample(foldIn(makeKey(meta.seed), "second-order")).hvp === undefined) throw new UsageError(`--second-order needs Hessian-vector products, which the ${family.name} task lacks; train first order (without --second-order)`);
      checkInstanceMemory(family, meta.validationTasks + meta.metaBatch, `--validation-tasks ${meta.validationTasks} and --meta-batch ${meta.metaBatch}`);
      const { opt, init } = optimizerToTrain(f, kernel);
      // SIGINT/SIGTERM: stop at the next horizon, checkpoint, show the cursor, exit 130/143. Caught
      // before the progress bar hides the cursor, so that no signal finds the bar up and no handler.
      const signals = stopOnSignals();
      const hooks = composeHooks(consoleTrainHooks(meta, { quiet: f.quiet === true }), f.tensorboard === undefined ? undefined : tensorboardTrainHooks(f.tensorboard));
      const details = {
        ...spec.details,
        ...(learnedKind(opt.kind).kernelRecord?.(kernel) ?? {}),
      };
      let run;
      try {
        const job = {
          optimizer: opt,
          task: spec.record,
          family,
          meta,
          out: f.out,
          ...(f.checkpoint !== undefined ? { checkpoint: f.checkpoint } : {}),
          ...(f.log !== undefined ? { log: f.log } : {}),
          ...(init !== undefined ? { init } : {}),
          details,
          hooks,
        };
        run = dist ? await runDistributed(f, job, kernel, signals.signal) : await runTrainJobAsync(job, { signal: signals.signal });
      } finally {
        hooks.stop();
        signals.dispose();
      }
      const s = run.result.state;
      if (run.result.stopped === "interrupted") {
        reportInterrupted(s, signals.received ?? "a signal", { out: f.out, checkpoint: f.checkpoint });
        process.exitCode = signals.exitCode;
        return;
      }
      process.stdout.write(
        `stopped (${run.result.stopped}) after ${s.epoch} epochs${s.epochHorizons > 0 ? ` and ${s.epochHorizons} horizons` : ""}, ${s.metaIteration} meta-iterations, ${run.seconds.toFixed(0)}s; ` +
          `best validation ${s.bestScore.toPrecision(5)} at epoch ${s.bestEpoch}\n`,
      );
      if (s.bestEpoch < 0) throw new UsageError("training never produced a finite validation score; nothing was saved (try a smaller --meta-lr or --output-scale)");
      process.stdout.write(`saved ${f.out}\n`);
    });
}

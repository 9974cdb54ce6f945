/**
 * `l2o fewshot train|eval`: meta-train a few-shot learner (MAML, Meta-SGD, MAML++'s LSLR,
 * Meta-Curvature or the meta-learner LSTM) on sinusoid regression or N-way K-shot
 * classification and save it as a file; evaluate a file on fresh test episodes (mean and 95%
 * interval of the query MSE or accuracy).
 */
import type { Command } from "commander";
import { checkOutputPath } from "../io/paths.ts";
import { evaluateLearner } from "../fewshot/evaluate.ts";
import { loadLearner, saveLearner, type TaskConfig } from "../fewshot/file.ts";
import { checkLearnerConfig, makeLearner, LEARNER_LIMITS } from "../fewshot/learner.ts";
import { METHODS } from "../fewshot/methods.ts";
import { NET_LIMITS, type NetConfig } from "../fewshot/net.ts";
import { episodeSource, FEWSHOT_TASKS, taskDefaults } from "../fewshot/setup.ts";
import { metaTrain, TRAIN_LIMITS, type TrainOptions } from "../fewshot/train.ts";
import { EVAL_LIMITS } from "../fewshot/evaluate.ts";
import { UsageError } from "./errors.ts";
import { fmt, writeJson } from "./format.ts";
import { grouped, rangeText, type CountRange } from "./limits.ts";
import { parseCount, parseList, parseNumber, parseSeed, TRAINED_OUT_NOTE } from "./options.ts";
import { progress } from "./progress.ts";

const R = {
  ways: { min: 2, max: 100 },
  shots: { min: 1, max: 1000 },
  query: { min: 1, max: 1000 },
  steps: { min: 1, max: LEARNER_LIMITS.steps },
  metaBatch: { min: 1, max: TRAIN_LIMITS.metaBatch },
  iterations: { min: 1, max: TRAIN_LIMITS.iterations },
  episodes: { min: 2, max: EVAL_LIMITS.episodes },
  filters: { min: 1, max: NET_LIMITS.filters },
  blocks: { min: 1, max: NET_LIMITS.blocks },
  imageSize: { min: 8, max: 128 },
  width: { min: 1, max: NET_LIMITS.width },
} satisfies Record<string, CountRange>;

interface TrainFlags {
  method: string; task: string; ways: string; shots: string; query?: string; steps?: string; innerLr?: string;
  metaBatch?: string; metaLr: string; iterations: string; firstOrder?: boolean; firstOrderIters: string;
  msl?: boolean; mslIters?: string; cosine?: boolean; perStepBn?: boolean; stabilisers: boolean;
  hidden?: string; filters?: string; blocks?: string; imageSize?: string; seed: string; out: string;
  init?: string; data?: string; quiet?: boolean; json?: boolean;
}

interface EvalFlags {
  episodes: string; seed: string; shots?: string; query?: string; steps?: string; data?: string;
  out?: string; json?: boolean; quiet?: boolean;
}

export function registerFewshotCommand(program: Command): void {
  const fs = program.command("fewshot").description("few-shot learning: MAML and its learned step sizes, curvature and LSTM (train a learner, evaluate it on test episodes)");
  fs.command("train")
    .description("meta-train a few-shot learner and save it as a file (exact second-order meta-gradients through the inner loop unless --first-order)")
    .requiredOption("--method <name>", `${METHODS.join(" | ")}`)
    .option("--task <name>", `${FEWSHOT_TASKS.join(" | ")} (glyphs: generated characters, no files; omniglot, mini-imagenet: your copy with --data)`, "sinusoid")
    .option("--ways <n>", `classes per episode (${rangeText(R.ways)}; classification)`, "5")
    .option("--shots <n>", `support examples (per class for classification; ${rangeText(R.shots)})`, "5")
    .option("--query <n>", `query examples at training (per class for classification; ${rangeText(R.query)}; default: the shots for sinusoid as in MAML, 15 for classification)`)
    .option("--steps <n>", `inner steps (${rangeText(R.steps)}; default 1 for sinusoid, 5 for classification)`)
    .option("--inner-lr <x>", `inner learning rate, MAML's fixed rate and the initial value of the learned ones (above 0, at most ${LEARNER_LIMITS.innerLr}; default 0.01 sinusoid, 0.4 glyphs/omniglot, 0.01 mini-imagenet)`)
    .option("--meta-batch <n>", `episodes per meta-iteration (${rangeText(R.metaBatch)}; default 25 sinusoid, 4 classification)`)
    .option("--meta-lr <x>", `Adam's meta learning rate (above 0, at most ${TRAIN_LIMITS.metaLr})`, "0.001")
    .option("--iterations <n>", `meta-iterations (${rangeText(R.iterations)})`, "1000")
    .option("--first-order", "first-order meta-gradient (the inner gradients treated as constants)")
    .option("--first-order-iters <n>", `MAML++ derivative-order annealing: first order for this many iterations, then second (0 to ${grouped(TRAIN_LIMITS.iterations)})`, "0")
    .option("--msl", "MAML++ multi-step loss (the query loss after every inner step, weights annealed to the last)")
    .option("--msl-iters <n>", `iterations over which the multi-step-loss weights anneal (0 to ${grouped(TRAIN_LIMITS.iterations)}; default a tenth of --iterations)`)
    .option("--cosine", "MAML++ cosine annealing of the meta learning rate (to --meta-lr / 100)")
    .option("--per-step-bn", "MAML++ per-step batch-norm weights and biases (classification)")
    .option("--no-stabilisers", "with --method lslr: do not switch on MAML++'s multi-step loss, cosine schedule and per-step batch norm")
    .option("--hidden <widths>", `sinusoid network's hidden widths, comma-separated (default 40,40; each ${rangeText(R.width)})`)
    .option("--filters <n>", `conv filters per block (${rangeText(R.filters)}; default 32)`)
    .option("--blocks <n>", `conv blocks (${rangeText(R.blocks)}; default 4)`)
    .option("--image-size <n>", `glyphs only: image side in pixels (${rangeText(R.imageSize)}; default 28)`)
    .option("--seed <n>", "seed of the initialisation and the training episodes (an integer)", "0")
    .requiredOption("--out <file>", `where to write the learner (.safetensors); ${TRAINED_OUT_NOTE}`)
    .option("--init <file>", "start from this learner file (same method and network) instead of a fresh initialisation")
    .option("--data <dir>", "folder of your Omniglot or mini-ImageNet copy")
    .option("--json", "print the training summary as JSON")
    .option("--quiet", "no progress")
    .action((f: TrainFlags, cmd: Command) => trainCommand(f, cmd));
  fs.command("eval")
    .description("evaluate a few-shot learner file on fresh test episodes: mean and 95% interval of the query MSE or accuracy")
    .argument("<file>", "a learner written by l2o fewshot train")
    .option("--episodes <n>", `test episodes (${rangeText(R.episodes)})`, "600")
    .option("--seed <n>", "seed of the test episodes, an integer (drawn from its eval/test keys, never a training key)", "0")
    .option("--shots <n>", `support examples (${rangeText(R.shots)}; default: the file's)`)
    .option("--query <n>", `query examples (${rangeText(R.query)}; default 100 points for sinusoid, the file's for classification)`)
    .option("--steps <n>", `inner steps at test time (${rangeText(R.steps)}; default: the file's)`)
    .option("--data <dir>", "folder of your Omniglot or mini-ImageNet copy")
    .option("--out <report.json>", "write the report as JSON")
    .option("--json", "print the report as JSON")
    .option("--quiet", "no progress")
    .action((file: string, f: EvalFlags) => evalCommand(file, f));
}

const count = (flag: string, raw: string | undefined, range: CountRange, dflt: number): number => (raw === undefined ? dflt : parseCount(flag, raw, range));

function netFlags(f: TrainFlags, task: string, dflt: NetConfig): NetConfig {
  if (task === "sinusoid") {
    if (f.filters !== undefined || f.blocks !== undefined) throw new UsageError("--filters and --blocks size the conv network of classification; the sinusoid network takes --hidden");
    if (f.hidden === undefined) return dflt;
    return { kind: "mlp", hidden: parseList("--hidden", f.hidden).map((w) => parseCount("--hidden", w, R.width)) };
  }
  if (f.hidden !== undefined) throw new UsageError("--hidden sizes the sinusoid network; classification's conv network takes --filters and --blocks");
  const d = dflt as { filters: number; blocks: number };
  return { kind: "conv", filters: count("--filters", f.filters, R.filters, d.filters), blocks: count("--blocks", f.blocks, R.blocks, d.blocks) };
}

function trainCommand(f: TrainFlags, cmd: Command): void {
  if (!(METHODS as readonly string[]).includes(f.method)) throw new UsageError(`--method must be one of ${METHODS.join(", ")}, got '${f.method}'`);
  if (!FEWSHOT_TASKS.includes(f.task)) throw new UsageError(`--task must be one of ${FEWSHOT_TASKS.join(", ")}, got '${f.task}'`);
  checkOutputPath(f.out, "--out", { trained: true });
  const sinusoid = f.task === "sinusoid";
  // Classification's flags, typed for the sinusoid, would be dropped (or recorded in the file) without a word.
  const stray = sinusoid ? (["ways", "imageSize", "perStepBn"] as const).filter((k) => cmd.getOptionValueSource(k) === "cli") : [];
  if (stray.length > 0) throw new UsageError(`${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")} ${stray.length === 1 ? "is" : "are"} for classification; the sinusoid regression takes none`);
  const shots = parseCount("--shots", f.shots, R.shots);
  const d = taskDefaults(f.task, shots);
  const task: TaskConfig = {
    task: f.task,
    ...(sinusoid ? {} : { ways: parseCount("--ways", f.ways, R.ways) }),
    shots,
    query: count("--query", f.query, R.query, d.query),
    ...(f.imageSize !== undefined ? { imageSize: parseCount("--image-size", f.imageSize, R.imageSize) } : {}),
  };
  const lslr = f.method === "lslr" && f.stabilisers;
  const iterations = parseCount("--iterations", f.iterations, R.iterations);
  const learnerConfig = checkLearnerConfig({
    method: f.method,
    net: netFlags(f, f.task, d.net),
    steps: count("--steps", f.steps, R.steps, d.steps),
    innerLr: f.innerLr === undefined ? d.innerLr : parseNumber("--inner-lr", f.innerLr, { positive: true, max: LEARNER_LIMITS.innerLr }),
    perStepBn: (f.perStepBn ?? lslr) && !sinusoid,
  });
  const metaLr = parseNumber("--meta-lr", f.metaLr, { positive: true, max: TRAIN_LIMITS.metaLr });
  const opts: TrainOptions = {
    iterations,
    metaBatch: count("--meta-batch", f.metaBatch, R.metaBatch, d.metaBatch),
    metaLr,
    firstOrder: f.firstOrder === true,
    firstOrderIters: parseCount("--first-order-iters", f.firstOrderIters, { min: 0, max: TRAIN_LIMITS.iterations }),
    msl: f.msl ?? lslr,
    mslIters: count("--msl-iters", f.mslIters, { min: 0, max: TRAIN_LIMITS.iterations }, Math.ceil(iterations / 10)),
    cosine: f.cosine ?? lslr,
    metaLrMin: metaLr / 100,
    seed: parseSeed("--seed", f.seed),
  };
  const source = episodeSource(task, f.data);
  const learner = makeLearner(learnerConfig, source);
  let init;
  if (f.init !== undefined) {
    const loaded = loadLearner(f.init, (t) => episodeSource(t, f.data));
    if (JSON.stringify(loaded.learner) !== JSON.stringify(learnerConfig)) throw new UsageError(`--init ${f.init} is a ${loaded.learner.method} learner of another configuration (${JSON.stringify(loaded.learner)}); train it with the same method, network, steps and rates`);
    init = loaded.meta;
  }
  const bar = progress({ phase: `${f.method} on ${source.name}`, total: iterations, unit: "meta-iterations", quiet: f.quiet === true || f.json === true });
  let recent = 0;
  const result = metaTrain(learner, source, opts, init, (i) => {
    recent = recent === 0 ? i.loss : 0.98 * recent + 0.02 * i.loss;
    bar.update(i.iteration, { detail: `meta-loss ${fmt(recent)}${i.secondOrder ? "" : " (first order)"}` });
  });
  bar.stop();
  const tail = result.losses.slice(-Math.min(100, result.losses.length));
  const summary = {
    out: f.out, method: f.method, task, learner: learnerConfig,
    options: { ...opts },
    seconds: result.seconds, secondsPerIteration: result.seconds / iterations,
    finalMetaLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
  };
  saveLearner(f.out, { learner: learnerConfig, task, meta: result.meta, training: { ...summary, ...(f.init !== undefined ? { init: f.init } : {}) } });
  if (f.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else process.stdout.write(`${f.method} on ${source.name}: ${iterations} meta-iterations in ${fmt(result.seconds)} s, meta-loss over the last ${tail.length} ${fmt(summary.finalMetaLoss)}; wrote ${f.out}\n`);
}

function evalCommand(file: string, f: EvalFlags): void {
  if (f.out !== undefined) checkOutputPath(f.out, "--out", { report: true });
  const loaded = loadLearner(file, (t) => episodeSource(t, f.data));
  const sinusoid = loaded.task.task === "sinusoid";
  const task: TaskConfig = {
    ...loaded.task,
    shots: count("--shots", f.shots, R.shots, loaded.task.shots),
    query: count("--query", f.query, R.query, sinusoid ? 100 : loaded.task.query),
  };
  const source = episodeSource(task, f.data);
  const learner = makeLearner(loaded.learner, source);
  const episodes = parseCount("--episodes", f.episodes, R.episodes);
  const steps = count("--steps", f.steps, R.steps, loaded.learner.steps);
  if (loaded.learner.method === "lslr" && steps > loaded.learner.steps) throw new UsageError(`--steps ${steps}: this lslr learner learned rates for ${loaded.learner.steps} inner steps only`);
  const bar = progress({ phase: `evaluating ${loaded.learner.method} on ${source.name}`, total: episodes, unit: "episodes", quiet: f.quiet === true || f.json === true });
  const r = evaluateLearner(learner, loaded.meta, source, { episodes, seed: parseSeed("--seed", f.seed), steps }, (done) => bar.update(done));
  bar.stop();
  const report = {
    file, method: loaded.learner.method, task, steps, episodes, seed: Number(f.seed), metric: r.metric,
    mean: r.score.mean, ci95: r.score.ci95, std: r.score.std, queryLoss: { mean: r.loss.mean, ci95: r.loss.ci95 },
    seconds: r.seconds, training: loaded.training,
  };
  if (f.out !== undefined) writeJson(f.out, report);
  if (f.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else {
    const pct = r.metric === "accuracy";
    const v = (x: number): string => (pct ? `${(100 * x).toFixed(2)}%` : x.toFixed(3));
    process.stdout.write(`${loaded.learner.method} on ${source.name}, ${steps} inner step(s), ${episodes} test episodes: ${r.metric} ${v(r.score.mean)} ± ${v(r.score.ci95)} (95% interval)\n`);
  }
}

/**
 * `l2o blackbox train|eval`: black-box optimisation after Chen et al. 2017. `train` meta-trains
 * the query-proposing LSTM for one dimension by backpropagation through GP samples (random
 * Fourier features) and saves it as an optimizer file; `eval` runs learned networks, GP-BO and
 * random search on test GP samples and benchmark functions from the same first queries, and
 * prints the minimum found (median and quartiles over runs) and the wall time per proposal.
 */
import type { Command } from "commander";
import { checkOutputPath } from "../io/paths.ts";
import { DEFAULT_BO, evaluate, EVAL_LIMITS, functionDim, quartilesAt, type FunctionResult, type Method } from "../blackbox/eval.ts";
import { loadBlackboxFile, saveBlackboxFile, type BlackboxFile } from "../blackbox/file.ts";
import { META_LOSSES, type MetaLoss } from "../blackbox/lstm.ts";
import { defaultTrainOptions, metaTrain, TRAIN_LIMITS, type TrainOptions } from "../blackbox/train.ts";
import { UsageError } from "./errors.ts";
import { fmt, writeJson } from "./format.ts";
import { rangeText, type CountRange } from "./limits.ts";
import { parseCount, parseList, parseNumber, parseSeed, TRAINED_OUT_NOTE } from "./options.ts";
import { progress } from "./progress.ts";

const R = {
  dim: { min: 1, max: EVAL_LIMITS.gpDim },
  hidden: { min: 1, max: 1024 },
  horizon: { min: 2, max: TRAIN_LIMITS.horizon },
  iterations: { min: 1, max: TRAIN_LIMITS.iterations },
  batch: { min: 1, max: TRAIN_LIMITS.batch },
  runs: { min: 1, max: EVAL_LIMITS.runs },
  evaluations: { min: 2, max: EVAL_LIMITS.evaluations },
} satisfies Record<string, CountRange>;

/** The most `--lr` (Adam's step size on the LSTM's weights) takes. */
const MAX_LR = 0.5;

export const DEFAULT_FUNCTIONS = "gp1,gp2,gp3,gp4,gp5,gp6,branin,goldstein-price,hartmann3,hartmann6";

interface TrainFlags { dim: string; loss: string; hidden: string; horizon: string; iterations: string; batch: string; lr: string; seed: string; out: string; quiet?: boolean; json?: boolean }
interface EvalFlags { functions: string; methods: string; runs: string; evaluations: string; seed: string; out?: string; quiet?: boolean; json?: boolean }

export function registerBlackboxCommand(program: Command): void {
  const bb = program.command("blackbox").description("black-box optimisation (Chen et al. 2017): an LSTM that proposes queries from values only, against GP Bayesian optimisation and random search");
  const d = defaultTrainOptions(1, "sum");
  bb.command("train")
    .description("meta-train the query-proposing LSTM for one dimension on GP samples (gradients of the samples used in training only) and save it")
    .requiredOption("--dim <n>", `dimension of the functions it will minimise (${rangeText(R.dim)})`)
    .option("--loss <name>", `meta-loss: ${META_LOSSES.join(" | ")} (summed values, observed improvement)`, "sum")
    .option("--hidden <n>", `LSTM units (${rangeText(R.hidden)})`, String(d.shape.hidden))
    .option("--horizon <n>", `queries per training rollout (${rangeText(R.horizon)})`, String(d.horizon))
    .option("--iterations <n>", `meta-iterations (${rangeText(R.iterations)})`, String(d.iterations))
    .option("--batch <n>", `functions per meta-iteration (${rangeText(R.batch)})`, String(d.batch))
    .option("--lr <x>", `Adam's step size (above 0, at most ${MAX_LR})`, String(d.lr))
    .option("--seed <n>", "seed of the initialisation and the training functions (an integer)", "0")
    .requiredOption("--out <file>", `where to write the network (.safetensors); ${TRAINED_OUT_NOTE}`)
    .option("--json", "print the training summary as JSON")
    .option("--quiet", "no progress")
    .action((f: TrainFlags) => trainCommand(f));
  bb.command("eval")
    .description("minimum found against evaluations (median and quartiles over runs) and wall time per proposal of each method")
    .option("--functions <list>", "test functions: gp1 .. gp20 (fresh GP samples of that dimension), branin, goldstein-price, hartmann3, hartmann6", DEFAULT_FUNCTIONS)
    .option("--methods <list>", "random, bo (GP-BO), or a file of l2o blackbox train; {dim} in a path becomes each function's dimension (runs/sum-{dim}d.safetensors)", "random,bo")
    .option("--runs <n>", `runs per function and method (${rangeText(R.runs)})`, "20")
    .option("--evaluations <n>", `function evaluations per run (${rangeText(R.evaluations)})`, "50")
    .option("--seed <n>", "seed of the test functions and first queries, an integer (drawn apart from every training key)", "0")
    .option("--out <report.json>", "write the report (every run's curve) as JSON")
    .option("--json", "print the summary as JSON")
    .option("--quiet", "no progress")
    .action((f: EvalFlags) => evalCommand(f));
}

function parseLoss(raw: string): MetaLoss {
  if (!(META_LOSSES as readonly string[]).includes(raw)) throw new UsageError(`--loss must be one of ${META_LOSSES.join(", ")}, got '${raw}'`);
  return raw as MetaLoss;
}

function trainCommand(f: TrainFlags): void {
  const dim = parseCount("--dim", f.dim, R.dim);
  const loss = parseLoss(f.loss);
  checkOutputPath(f.out, "--out", { trained: true });
  const base = defaultTrainOptions(dim, loss);
  const o: TrainOptions = {
    ...base,
    shape: { dim, hidden: parseCount("--hidden", f.hidden, R.hidden) },
    horizon: parseCount("--horizon", f.horizon, R.horizon),
    iterations: parseCount("--iterations", f.iterations, R.iterations),
    batch: parseCount("--batch", f.batch, R.batch),
    lr: parseNumber("--lr", f.lr, { positive: true, max: MAX_LR }),
    seed: parseSeed("--seed", f.seed),
  };
  const bar = progress({ phase: `blackbox LSTM, ${dim}-D, ${loss} loss`, total: o.iterations, unit: "meta-iterations", quiet: f.quiet === true || f.json === true });
  let recent = 0;
  const r = metaTrain(o, (i, l) => {
    recent = i === 1 ? l : 0.98 * recent + 0.02 * l;
    bar.update(i, { detail: `meta-loss ${fmt(recent)}` });
  });
  bar.stop();
  const tail = r.losses.slice(-Math.min(100, r.losses.length));
  const summary = { out: f.out, options: o, seconds: r.seconds, firstMetaLoss: r.losses[0], finalMetaLoss: tail.reduce((a, b) => a + b, 0) / tail.length };
  saveBlackboxFile(f.out, { shape: o.shape, loss, params: r.params, training: summary });
  if (f.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else process.stdout.write(`blackbox LSTM (${dim}-D, ${loss} loss): ${o.iterations} meta-iterations in ${fmt(r.seconds)} s, meta-loss over the last ${tail.length} ${fmt(summary.finalMetaLoss)}; wrote ${f.out}\n`);
}

/** The methods named by --methods; a learned file's path may hold {dim}, read once per dimension. */
function parseMethods(raw: string, dims: readonly number[]): Method[] {
  return parseList("--methods", raw).map((name): Method => {
    if (name === "random") return { kind: "random", label: "random" };
    if (name === "bo") return { kind: "bo", label: "gp-bo", options: DEFAULT_BO };
    if (!name.endsWith(".safetensors")) throw new UsageError(`--methods: unknown method '${name}'; give random, bo, or a .safetensors file of l2o blackbox train (with {dim} for the dimension)`);
    const files = new Map<number, BlackboxFile>();
    for (const d of new Set(dims)) {
      const file = loadBlackboxFile(name.replaceAll("{dim}", String(d)));
      if (file.shape.dim !== d) throw new UsageError(`--methods: ${name.replaceAll("{dim}", String(d))} proposes in ${file.shape.dim} dimension(s), but a test function has ${d} (put {dim} in the path for one file per dimension)`);
      files.set(d, file);
    }
    const losses = new Set([...files.values()].map((v) => v.loss));
    return { kind: "lstm", label: `lstm-${[...losses].join("+")}`, network: (d) => files.get(d)! };
  });
}

function evalCommand(f: EvalFlags): void {
  if (f.out !== undefined) checkOutputPath(f.out, "--out", { report: true });
  const functions = parseList("--functions", f.functions);
  if (functions.length === 0) throw new UsageError("--functions lists no function");
  const dims = functions.map(functionDim);
  const runs = parseCount("--runs", f.runs, R.runs);
  const evaluations = parseCount("--evaluations", f.evaluations, R.evaluations);
  const seed = parseSeed("--seed", f.seed);
  const methods = parseMethods(f.methods, dims);
  // Two learned files of the same loss get the file's pattern as their label too.
  const seen = new Map<string, number>();
  const labelled = methods.map((m) => {
    const k = (seen.get(m.label) ?? 0) + 1;
    seen.set(m.label, k);
    return k === 1 ? m : { ...m, label: `${m.label}#${k}` };
  });
  const total = functions.length * methods.length * runs;
  const bar = progress({ phase: "blackbox eval", total, unit: "runs", quiet: f.quiet === true || f.json === true });
  let done = 0;
  const cpuClock = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const results = evaluate({ functions, methods: labelled, runs, evaluations, seed, cpuClock }, (fn, m) => bar.update(++done, { phase: `${m} on ${fn}` }));
  bar.stop();
  const summary = summarise(results, evaluations);
  if (f.out !== undefined) writeJson(f.out, { runs, evaluations, seed, methods: f.methods, functions: results, summary });
  if (f.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else process.stdout.write(formatSummary(summary, runs));
}

/** The evaluations at which the summary reads the curves. */
function checkpoints(evaluations: number): number[] {
  return [...new Set([1, 5, 10, 20, 30, 50, 100, 200, 500, 1000].filter((t) => t < evaluations).concat(evaluations))];
}

export interface SummaryRow {
  function: string; dim: number; knownMin?: number; method: string; secondsPerProposal: number; cpuSecondsPerProposal?: number;
  at: { evaluations: number; q25: number; median: number; q75: number }[];
}

export function summarise(results: readonly FunctionResult[], evaluations: number): SummaryRow[] {
  return results.flatMap((r) => r.methods.map((m) => ({
    function: r.name, dim: r.dim, ...(r.knownMin !== undefined ? { knownMin: r.knownMin } : {}), method: m.method, secondsPerProposal: m.secondsPerProposal,
    ...(m.cpuSecondsPerProposal !== undefined ? { cpuSecondsPerProposal: m.cpuSecondsPerProposal } : {}),
    at: checkpoints(evaluations).map((t) => ({ evaluations: t, ...quartilesAt(m, t) })),
  })));
}

function formatSummary(rows: readonly SummaryRow[], runs: number): string {
  const lines = [`minimum found after N evaluations: median [25%, 75%] over ${runs} runs; ms per proposal (wall, CPU)`];
  let last = "";
  for (const r of rows) {
    if (r.function !== last) lines.push(`${r.function} (${r.dim}-D${r.knownMin !== undefined ? `, known minimum ${r.knownMin}` : ""})`);
    last = r.function;
    const cells = r.at.map((a) => `N=${a.evaluations}: ${fmt(a.median)} [${fmt(a.q25)}, ${fmt(a.q75)}]`);
    lines.push(`  ${r.method.padEnd(12)} ${cells.join("  ")}  ${fmt(1000 * r.secondsPerProposal)} ms, ${r.cpuSecondsPerProposal !== undefined ? fmt(1000 * r.cpuSecondsPerProposal) : "?"} ms CPU`);
  }
  return lines.join("\n") + "\n";
}

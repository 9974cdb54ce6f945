/**
 * `l2o rl train|eval`: Li & Malik's optimizer as a policy. `train` meta-trains the policy on a
 * task family (plain policy gradient, or guided policy search) and saves it in l2o's optimizer
 * file; `eval` runs it beside tuned gradient descent, momentum and Adam, conjugate gradient,
 * L-BFGS and any other optimizer named, on the same fresh instances, and reports the mean
 * objective against objective evaluations with its 95% interval.
 */
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { MissingFileError } from "../io/files.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { checkOutputPath, checkOutputPaths } from "../io/paths.ts";
import { compareByEvaluations, LINE_SEARCH_METHODS, type LineSearchMethod, type RlComparison } from "../rl/compare.ts";
import { trainGpsGrouped } from "../rl/gps_groups.ts";
import { parseGroupSpec } from "../rl/groups.ts";
import { L2oError } from "../core/errors.ts";
import { trainGps, GPS_DEFAULTS, GPS_MAX_PARAMS, GPS_DYNAMICS_PRIORS, GPS_KL_ESTIMATES, GPS_STEP_RULES, type GpsIterationInfo } from "../rl/gps.ts";
import { loadRlPolicy, saveRlPolicy } from "../rl/optimizer.ts";
import { trainPg } from "../rl/pg.ts";
import { initPolicyPhi, policyShape, POLICY_DEFAULTS, POLICY_LIMITS } from "../learned/rl/policy.ts";
import { key } from "../core/rng.ts";
import type { Candidate } from "../eval/evaluate.ts";
import { UsageError } from "./errors.ts";
import { fmt, writeJson } from "./format.ts";
import { grouped, LIMITS, MAX_STEPS_TIMES_INSTANCES, rangeText, type CountRange } from "./limits.ts";
import { DATA_HELP, parseCount, parseList, parseNumber, parseSeed, parseTaskConfig, QUIET_HELP, taskConfigWithData, TRAINED_OUT_NOTE } from "./options.ts";
import { progress } from "./progress.ts";
import { drawInstances, evalRoots } from "../eval/evaluate.ts";
import { candidatePath, lineSearchPath, objectiveGrid } from "../rl/paths.ts";
import { renderSvg } from "../viz/render.ts";
import { evalsFigureSpec, pathsFigureSpec } from "../viz/rl_figure.ts";
import { figureFormat, writeFigure } from "../viz/file.ts";
import { resolveCandidate, resolveTaskFamily } from "./resolve.ts";

const TRAINERS = ["pg", "gps"] as const;
/** What GPS's controllers act on: the iterate (`gps.ts`), or each coordinate's features, per group (`gps_groups.ts`). */
const CONTROLLER_STATES = ["x", "features"] as const;

/** The most memory one iteration's runs may keep (their features). */
const RUNS_MEMORY_BYTES = 2 * 2 ** 30;

const R = {
  steps: { min: 1, max: 10_000 },
  iterations: { min: 1, max: 100_000 },
  batch: { min: 1, max: 1000 },
  history: { min: 1, max: POLICY_LIMITS.history },
  hidden: { min: 1, max: POLICY_LIMITS.hidden },
  evals: { min: 2, max: 100_000 },
  samples: { min: 2, max: 1000 },
} satisfies Record<string, CountRange>;

interface TrainFlags {
  task: string; taskConfig?: string; trainer: string; steps: string; iterations: string; batch: string; lr: string;
  history: string; hidden: string; initLr: string; initStd: string; samples: string; seed: string; out: string; quiet?: boolean; json?: boolean;
  dynamicsPrior: string; klEstimate: string; stepRule: string; controllerState: string; groups?: string;
}

interface EvalFlags {
  task?: string; taskConfig?: string; data?: string; evals: string; instances: string; seed: string; tuneInstances: string;
  baselines: string; out?: string; json?: boolean; quiet?: boolean; plot?: string; paths?: string;
}

export function registerRlCommand(program: Command): void {
  const rl = program.command("rl").description("Li & Malik's learned optimizer as a policy: meta-train it by reinforcement learning, evaluate it against objective evaluations");
  rl.command("train")
    .description("meta-train the policy on a task family and save it (.safetensors)")
    .requiredOption("--task <name>", "task family (logistic-regression, robust-regression, clustered-mlp, ...)")
    .option("--task-config <json>", "task configuration as a JSON object")
    .option("--trainer <name>", `${TRAINERS.join(" | ")}: REINFORCE with a baseline, or guided policy search`, "pg")
    .option("--steps <n>", `steps per run, the horizon (${rangeText(R.steps)})`, "40")
    .option("--iterations <n>", `training iterations (${rangeText(R.iterations)})`, "100")
    .option("--batch <n>", `pg: runs per iteration; gps: training conditions (${rangeText(R.batch)})`, "16")
    .option("--samples <n>", `gps: samples per condition and iteration (${rangeText(R.samples)})`, String(GPS_DEFAULTS.samples))
    .option("--lr <x>", "pg: Adam's rate on the policy; gps: Adam's rate of the supervised fit (above 0, at most 10)", "0.01")
    .option("--dynamics-prior <name>", `gps: ${GPS_DYNAMICS_PRIORS.join(" | ")}: each step's dynamics fitted under a Gaussian-mixture prior of recent samples (Levine et al.), or toward one pooled linear fit (the earlier GPS)`, "gmm")
    .option("--kl-estimate <name>", `gps: ${GPS_KL_ESTIMATES.join(" | ")}: the KL to the previous controller through the fitted model, or at the sampled states (the earlier GPS)`, "model")
    .option("--step-rule <name>", `gps: ${GPS_STEP_RULES.join(" | ")}: the KL bound rescaled from predicted against actual improvement, or fixed at 0.5 (the earlier GPS)`, "adaptive")
    .option("--controller-state <name>", `gps: ${CONTROLLER_STATES.join(" | ")}: one dense controller per condition over the iterate (at most ${GPS_MAX_PARAMS} parameters), or one per group of coordinates over each coordinate's history features, the policy's own state (Li & Malik; any parameter count)`, "x")
    .option("--groups <spec>", "gps --controller-state features: all | tensors | an integer k: one group of every coordinate, one per tensor of the task, or k contiguous blocks (default tensors)")
    .option("--history <n>", `history length H, 3H features per coordinate (${rangeText(R.history)})`, String(POLICY_DEFAULTS.history))
    .option("--hidden <n>", `hidden units (${rangeText(R.hidden)})`, String(POLICY_DEFAULTS.hidden))
    .option("--init-lr <x>", "the gradient-descent rate the policy starts from (0 to 1,000,000)", String(POLICY_DEFAULTS.initLr))
    .option("--init-std <x>", "the steps' initial standard deviation (above 0, at most 1,000,000)", String(POLICY_DEFAULTS.initStd))
    .option("--seed <n>", "seed of the initialisation and the training problems, an integer", "0")
    .requiredOption("--out <file>", `where to write the policy (.safetensors); ${TRAINED_OUT_NOTE}`)
    .option("--json", "print the training summary as JSON")
    .option("--quiet", QUIET_HELP)
    .action((f: TrainFlags, cmd: Command) => trainCommand(f, cmd));
  rl.command("eval")
    .description("the policy beside tuned baselines and line-search methods on the same fresh instances: mean objective against objective evaluations")
    .argument("<file>", "a policy written by l2o rl train")
    .option("--task <name>", "task family (default: the one the policy was trained on)")
    .option("--task-config <json>", "task configuration as a JSON object (default: the training's, when the task is the training's; else the task's defaults)")
    .option("--data <dir>", DATA_HELP)
    .option("--evals <n>", `objective evaluations per run (${rangeText(R.evals)}; evals x instances at most ${grouped(MAX_STEPS_TIMES_INSTANCES)})`, "100")
    .option("--instances <n>", `fresh test instances (${rangeText(LIMITS.evalInstances)})`, "50")
    .option("--seed <n>", "seed of the test instances (never a training one), an integer", "0")
    .option("--tune-instances <n>", `instances for tuning the baselines' rates (${rangeText(LIMITS.tuneInstances)})`, "5")
    .option("--baselines <list>", "comma-separated: cg, lbfgs, rl:FILE (another policy), or any optimizer name (sgd, momentum, adam, lstm:FILE)", "sgd,momentum,cg,lbfgs,adam")
    .option("--out <report.json>", "write the report as JSON")
    .option("--plot <file>", "draw the mean objective against evaluations to FILE.svg or FILE.png")
    .option("--paths <file>", "tasks of two parameters: draw every optimizer's path on the first test instance to FILE.svg or FILE.png")
    .option("--json", "print the report as JSON")
    .option("--quiet", QUIET_HELP)
    .action((file: string, f: EvalFlags) => evalCommand(file, f));
  rl.command("plot")
    .description("draw an l2o rl eval report (--out's JSON): the mean objective against evaluations")
    .argument("<report>", "a report written by l2o rl eval --out")
    .argument("<figure>", "FILE.svg or FILE.png")
    .action(async (report: string, figure: string) => {
      checkOutputPath(figure, "<figure>", { report: true });
      figureFormat(figure, "<figure>");
      const r = readComparison(report);
      writeFigure(figure, await renderSvg(evalsFigureSpec(r)), { flag: "<figure>", onWarning: (m) => process.stderr.write(`l2o: warning: ${m}\n`) });
      process.stdout.write(`figure written to ${figure}\n`);
    });
}

/** An l2o rl eval report read back; anything else is a FileFormatError naming the file. */
function readComparison(path: string): RlComparison {
  if (!existsSync(path)) throw new MissingFileError(`report not found: ${path}`);
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new FileFormatError(`${path} is not JSON (${(e as Error).message})`);
  }
  const o = r as Partial<RlComparison>;
  const ok =
    typeof o === "object" && o !== null && typeof o.task === "string" && Number.isInteger(o.evals) && Array.isArray(o.curves) &&
    o.curves.every((c) => typeof c?.optimizer === "string" && Array.isArray(c.mean) && Array.isArray(c.ci95) && c.mean.length === o.evals && c.ci95.length === o.evals);
  if (!ok) throw new FileFormatError(`${path} is not an l2o rl eval report (task, evals, curves with mean and ci95 of evals values each)`);
  return o as RlComparison;
}

/** `value` when it is one of `names`; a UsageError naming the flag otherwise. */
function oneOf<T extends string>(flag: string, value: string, names: readonly T[]): T {
  if (!(names as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${names.join(", ")}, got '${value}'`);
  return value as T;
}

/** The grouped mode's settings from the flags; its refusals of flags it has no use for. */
function groupedSettings(f: TrainFlags, cmd: Command): { controllerState: (typeof CONTROLLER_STATES)[number]; groups: ReturnType<typeof parseGroupSpec> | null } {
  const controllerState = oneOf("--controller-state", f.controllerState, CONTROLLER_STATES);
  if (controllerState === "x") {
    if (f.groups !== undefined) throw new UsageError("--groups needs --controller-state features (the controllers on x are one per condition)");
    return { controllerState, groups: null };
  }
  if (f.trainer !== "gps") throw new UsageError(`--controller-state features is for --trainer gps, not ${f.trainer}`);
  // The grouped controllers fit their dynamics toward the pooled fit, with the KL at the samples and a fixed bound.
  for (const [flag, name, value] of [["--dynamics-prior", "dynamicsPrior", "pooled"], ["--kl-estimate", "klEstimate", "samples"], ["--step-rule", "stepRule", "fixed"]] as const) {
    if (cmd.getOptionValueSource(name) === "cli" && f[name] !== value) throw new UsageError(`${flag} ${f[name]} is for --controller-state x; the controllers on the feature state use ${value}`);
  }
  try {
    return { controllerState, groups: parseGroupSpec(f.groups ?? "tensors") };
  } catch (e) {
    if (e instanceof L2oError) throw new UsageError(`--${e.message}`);
    throw e;
  }
}

function trainCommand(f: TrainFlags, cmd: Command): void {
  if (!(TRAINERS as readonly string[]).includes(f.trainer)) throw new UsageError(`--trainer must be one of ${TRAINERS.join(", ")}, got '${f.trainer}'`);
  checkOutputPath(f.out, "--out", { trained: true });
  const taskConfig = parseTaskConfig(f.taskConfig);
  const family = resolveTaskFamily(f.task, taskConfig);
  const shape = policyShape({
    history: parseCount("--history", f.history, R.history),
    hidden: parseCount("--hidden", f.hidden, R.hidden),
    initLr: parseNumber("--init-lr", f.initLr, { min: 0, max: 1e6 }),
    initStd: parseNumber("--init-std", f.initStd, { positive: true, max: 1e6 }),
  });
  const steps = parseCount("--steps", f.steps, R.steps);
  const iterations = parseCount("--iterations", f.iterations, R.iterations);
  const batch = parseCount("--batch", f.batch, R.batch);
  const samples = parseCount("--samples", f.samples, R.samples);
  const lr = parseNumber("--lr", f.lr, { positive: true, max: 10 });
  const seed = parseSeed("--seed", f.seed);
  const gpsVariant = {
    dynamicsPrior: oneOf("--dynamics-prior", f.dynamicsPrior, GPS_DYNAMICS_PRIORS),
    klEstimate: oneOf("--kl-estimate", f.klEstimate, GPS_KL_ESTIMATES),
    stepRule: oneOf("--step-rule", f.stepRule, GPS_STEP_RULES),
  };
  const grouped = groupedSettings(f, cmd);
  // GPS's settings, typed for the policy-gradient trainer, would be ignored without a word.
  const gpsOnly = f.trainer === "pg" ? (["samples", "dynamicsPrior", "klEstimate", "stepRule"] as const).filter((k) => cmd.getOptionValueSource(k) === "cli") : [];
  if (gpsOnly.length > 0) throw new UsageError(`${gpsOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")} ${gpsOnly.length === 1 ? "is" : "are"} for --trainer gps; pg takes none`);
  if (grouped.groups !== null) Object.assign(gpsVariant, { dynamicsPrior: "pooled", klEstimate: "samples", stepRule: "fixed" });
  // A run keeps its features, 3H per coordinate and step: refuse what would not fit in memory.
  const n = family.sample(key(seed)).layout.size;
  const runsHeld = f.trainer === "pg" ? batch : batch * samples;
  const bytes = runsHeld * steps * n * shape.F * 8;
  if (bytes > RUNS_MEMORY_BYTES) {
    throw new UsageError(`${runsHeld} runs of ${steps} steps over ${n} parameters keep ${(bytes / 2 ** 30).toFixed(1)} GiB of features (at most ${RUNS_MEMORY_BYTES / 2 ** 30}); lower --batch, --samples, --steps or --history`);
  }
  const phi0 = initPolicyPhi(shape, key(seed));
  const bar = progress({ phase: `${f.trainer} on ${family.name}`, total: iterations, unit: "iterations", quiet: f.quiet === true || f.json === true });
  const started = performance.now();
  const onIteration = (it: number, cost: number): void => bar.update(it + 1, { detail: `cost ${fmt(cost)}` });
  const gpsInfo: GpsIterationInfo[] = [];
  const { phi, costs } =
    f.trainer === "pg"
      ? trainPg(shape, phi0, { family, steps, iterations, batch, lr, seed, onIteration })
      : grouped.groups !== null
        ? trainGpsGrouped(shape, phi0, { family, steps, iterations, conditions: batch, samples, lr, seed, groups: grouped.groups, onIteration: (it, cost, _phi, info) => (gpsInfo.push(info), onIteration(it, cost)) })
        : trainGps(shape, phi0, { family, steps, iterations, conditions: batch, samples, lr, seed, ...gpsVariant, onIteration: (it, cost, _phi, info) => (gpsInfo.push(info), onIteration(it, cost)) });
  bar.stop();
  const seconds = (performance.now() - started) / 1000;
  const tail = costs.slice(-Math.min(10, costs.length));
  const summary = {
    out: f.out, trainer: f.trainer, task: f.task, taskConfig, policy: shape.cfg, steps, iterations, batch,
    ...(f.trainer === "gps" ? { samples, ...gpsVariant } : {}),
    ...(grouped.groups !== null ? { controllerState: grouped.controllerState, groups: grouped.groups } : {}), lr, seed, seconds,
    firstCost: costs[0]!, finalCost: tail.reduce((a, b) => a + b, 0) / tail.length,
    // GPS: per iteration, the controllers' sampled cost, the policy's KL to them, nu and eta.
    ...(f.trainer === "gps" ? { gps: { policyCost: costs, controllerCost: gpsInfo.map((i) => i.controllerCost), policyKl: gpsInfo.map((i) => i.policyKl), nu: gpsInfo.map((i) => i.nu), eta: gpsInfo.map((i) => i.eta), stepMult: gpsInfo.map((i) => i.stepMult) } } : {}),
  };
  saveRlPolicy(f.out, shape.cfg, phi, summary);
  if (f.json) process.stdout.write(JSON.stringify({ ...summary, costs }, null, 2) + "\n");
  else process.stdout.write(`${f.trainer} on ${family.name}: ${iterations} iterations in ${fmt(seconds)} s, mean relative cost ${fmt(summary.firstCost)} at first, ${fmt(summary.finalCost)} over the last ${tail.length}; wrote ${f.out}\n`);
}

async function evalCommand(file: string, f: EvalFlags): Promise<void> {
  // Reports and figures: an optimizer file at their path is refused, never overwritten.
  checkOutputPaths([[f.out, "--out", { report: true }], [f.plot, "--plot", { report: true }], [f.paths, "--paths", { report: true }]]);
  for (const [path, flag] of [[f.plot, "--plot"], [f.paths, "--paths"]] as const) {
    if (path !== undefined) figureFormat(path, flag);
  }
  const evals = parseCount("--evals", f.evals, R.evals);
  const instances = parseCount("--instances", f.instances, LIMITS.evalInstances);
  if (evals * instances > MAX_STEPS_TIMES_INSTANCES) {
    throw new UsageError(`--evals ${evals} with --instances ${instances} keeps ${grouped(evals * instances)} objective values; evals x instances may be at most ${grouped(MAX_STEPS_TIMES_INSTANCES)}`);
  }
  const tuneInstances = parseCount("--tune-instances", f.tuneInstances, LIMITS.tuneInstances);
  const seed = parseSeed("--seed", f.seed);
  const loaded = loadRlPolicy(file);
  const trainedOn = typeof loaded.training.task === "string" ? loaded.training.task : undefined;
  const taskName = f.task ?? trainedOn;
  if (taskName === undefined) throw new UsageError(`${file} does not record its task: name one with --task`);
  // The training's config for the training's task (named or not); another task starts from its own defaults.
  const trainedConfig = taskName === trainedOn && typeof loaded.training.taskConfig === "object" && loaded.training.taskConfig !== null ? (loaded.training.taskConfig as Record<string, unknown>) : {};
  const taskConfig = taskConfigWithData(taskName, f.taskConfig === undefined ? trainedConfig : parseTaskConfig(f.taskConfig), f.data);
  const family = resolveTaskFamily(taskName, taskConfig);
  const firstTest = drawInstances(family, evalRoots(seed).test, 1)[0]!;
  if (f.paths !== undefined && firstTest.task.layout.size !== 2) {
    throw new UsageError(`--paths draws tasks of 2 parameters; ${family.name} here has ${firstTest.task.layout.size} (logistic-regression with --task-config '{"dim":2,"bias":false}' has 2)`);
  }
  const names = parseList("--baselines", f.baselines);
  const lineSearch = names.filter((n): n is LineSearchMethod => (LINE_SEARCH_METHODS as readonly string[]).includes(n));
  const policyCandidate = (label: string, p: typeof loaded): Candidate => ({ label, tune: false, make: (_lr, layout) => p.opt.optFn(p.phi, layout) });
  const trainerOf = (p: typeof loaded): string => (typeof p.training.trainer === "string" ? p.training.trainer : "?");
  const policy = policyCandidate(`rl-policy (${trainerOf(loaded)})`, loaded);
  const others = names
    .filter((n) => !(LINE_SEARCH_METHODS as readonly string[]).includes(n))
    .map((n) => {
      if (!n.startsWith("rl:")) return resolveCandidate(n);
      const other = loadRlPolicy(n.slice(3));
      return policyCandidate(`rl-policy (${trainerOf(other)}: ${basename(n.slice(3))})`, other);
    });
  const bar = progress({ phase: `evaluating on ${family.name}`, total: 1, unit: "runs", quiet: f.quiet === true || f.json === true });
  const report = compareByEvaluations(family, [policy, ...others], {
    evals, instances, seed, tuneInstances, lineSearch,
    onRun: (p) => bar.update(p.runsDone, { phase: `${p.phase === "tune" ? "tuning" : "testing"} ${p.label}` }),
  });
  bar.stop();
  const full = { file, ...report, taskConfig, training: loaded.training };
  const warn = (m: string): boolean => process.stderr.write(`l2o: warning: ${m}\n`);
  if (f.plot !== undefined) writeFigure(f.plot, await renderSvg(evalsFigureSpec(report)), { flag: "--plot", onWarning: warn });
  if (f.paths !== undefined) {
    const inst = firstTest;
    const rate = new Map(report.curves.map((c) => [c.optimizer, c.lr ?? undefined]));
    const paths = [...[policy, ...others].map((c) => candidatePath(c, rate.get(c.label), inst, evals)), ...lineSearch.map((m) => lineSearchPath(m, inst, evals))];
    const title = `${family.name}: paths on one fresh instance, ${evals} objective evaluations`;
    writeFigure(f.paths, await renderSvg(pathsFigureSpec(paths, objectiveGrid(inst, paths), title)), { flag: "--paths", onWarning: warn });
  }
  if (f.out !== undefined) writeJson(f.out, full);
  if (f.json) process.stdout.write(JSON.stringify(full, null, 2) + "\n");
  else process.stdout.write(formatComparison(report));
}

/** The table: each optimizer's rate and mean objective (95% interval) at a few evaluation counts. */
export function formatComparison(r: RlComparison): string {
  const marks = [...new Set([Math.min(10, r.evals), Math.ceil(r.evals / 4), Math.ceil(r.evals / 2), r.evals])].sort((a, b) => a - b);
  const lines = [`${r.task}: mean objective (± 95% interval) over ${r.instances} fresh instances, after k objective evaluations`];
  lines.push(["optimizer", "lr", ...marks.map((k) => `k=${k}`)].join("\t"));
  for (const c of r.curves) {
    lines.push([c.optimizer, c.lr === null ? "-" : fmt(c.lr), ...marks.map((k) => `${fmt(c.mean[k - 1]!)} ± ${fmt(c.ci95[k - 1]!)}`)].join("\t") + (c.diverged > 0 ? `\t(${c.diverged} diverged)` : ""));
  }
  return lines.join("\n") + "\n";
}

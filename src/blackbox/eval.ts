/**
 * The comparison of Chen et al. 2017: each method minimises each test function for a number of
 * evaluations, over many runs; a run fixes the function (a fresh GP sample, or the benchmark)
 * and the first query x0, the same for every method. What is kept per run is the minimum found
 * after each evaluation (on the function's own scale), and per method the wall time spent
 * choosing queries (the function's own evaluation time excluded).
 *
 * Test GP samples come from `foldIn(key(seed), "test")`; training (train.ts) draws from
 * "train", so no test function is seen in training.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, key, type Key } from "../core/rng.ts";
import { runBo, runRandom, DEFAULT_BO, type BoOptions } from "./bo.ts";
import { benchmark, BENCHMARK_NAMES } from "./functions.ts";
import { rollout, type LstmShape } from "./lstm.ts";
import type { Objective } from "./objective.ts";
import { Rand } from "./random.ts";
import { DEFAULT_GP_SAMPLE, gpSample } from "./rff.ts";

/** A method to compare: random search, GP-BO, or a learned LSTM (one network per dimension). */
export type Method =
  | { readonly kind: "random"; readonly label: string }
  | { readonly kind: "bo"; readonly label: string; readonly options: BoOptions }
  | { readonly kind: "lstm"; readonly label: string; readonly network: (dim: number) => { shape: LstmShape; params: Float64Array } };

export const EVAL_LIMITS = { runs: 100_000, evaluations: 1000, gpDim: 20 } as const;

/** Function names: `gp1` .. `gp20` (GP samples of that dimension) and the benchmarks. */
export function functionDim(name: string): number {
  const m = /^gp([1-9][0-9]?)$/.exec(name);
  if (m !== null && Number(m[1]) <= EVAL_LIMITS.gpDim) return Number(m[1]);
  if (BENCHMARK_NAMES.includes(name)) return benchmark(name).dim;
  throw new ConfigError(`unknown test function '${name}'; known: gp1 .. gp${EVAL_LIMITS.gpDim} (GP samples of that dimension), ${BENCHMARK_NAMES.join(", ")}`);
}

function testFunction(name: string, runKey: Key): Objective {
  const m = /^gp([0-9]+)$/.exec(name);
  return m !== null ? gpSample({ ...DEFAULT_GP_SAMPLE, dim: Number(m[1]) }, foldIn(runKey, "function")) : benchmark(name);
}

export interface MethodResult {
  readonly method: string;
  /** best[run][t]: the minimum found within the first t + 1 evaluations, on the function's own scale. */
  readonly best: number[][];
  /**
   * Wall seconds to choose one query (the first, x0, is given and not counted): the median over
   * runs of each run's mean, so that the first run's compilation by the JavaScript engine does
   * not count.
   */
  readonly secondsPerProposal: number;
  /** The same in CPU seconds of the process, where a CPU clock was given. */
  readonly cpuSecondsPerProposal?: number;
}

export interface FunctionResult {
  readonly name: string;
  readonly dim: number;
  readonly knownMin?: number;
  readonly methods: MethodResult[];
}

export interface EvalOptions {
  readonly functions: readonly string[];
  readonly methods: readonly Method[];
  readonly runs: number;
  readonly evaluations: number;
  readonly seed: number;
  /** The process's CPU seconds (Node: process.cpuUsage), to time proposals apart from the machine's load. */
  readonly cpuClock?: Clock;
}

export function evaluate(o: EvalOptions, onRun?: (fn: string, method: string, run: number) => void): FunctionResult[] {
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > EVAL_LIMITS.runs) throw new ConfigError(`runs must be an integer in 1..${EVAL_LIMITS.runs}, got ${o.runs}`);
  if (!Number.isInteger(o.evaluations) || o.evaluations < 2 || o.evaluations > EVAL_LIMITS.evaluations) throw new ConfigError(`evaluations must be an integer in 2..${EVAL_LIMITS.evaluations}, got ${o.evaluations}`);
  const dims = o.functions.map(functionDim);
  const root = foldIn(key(o.seed), "test");
  const clocks: Clock[] = o.cpuClock !== undefined ? [WALL_CLOCK, o.cpuClock] : [WALL_CLOCK];
  return o.functions.map((name, fi) => {
    const dim = dims[fi]!;
    const methods = o.methods.map((method): MethodResult => {
      const best: number[][] = [];
      const proposing: number[][] = clocks.map(() => []);
      if (method.kind === "lstm") {
        // One untimed rollout first, so that the engine has compiled the network's loops (a few
        // runs at interpreter speed would otherwise dominate its tiny times).
        const warm = testFunction(name, foldIn(root, "warm-up"));
        for (let i = 0; i < 200; i++) rollout(method.network(dim).shape, method.network(dim).params, warm, o.evaluations, new Float64Array(dim).fill(0.5));
      }
      for (let r = 0; r < o.runs; r++) {
        const runKey = foldIn(foldIn(root, name), r);
        const f = testFunction(name, runKey);
        const x0 = new Rand(foldIn(runKey, "x0")).uniforms(dim);
        const curve: number[] = [];
        let low = Infinity;
        const record = (x: ArrayLike<number>): void => {
          low = Math.min(low, f.raw(x));
          curve.push(low);
        };
        const spent = runMethod(method, f, o.evaluations, x0, new Rand(foldIn(runKey, method.kind)), record, clocks);
        spent.forEach((v, i) => proposing[i]!.push(v / (o.evaluations - 1)));
        best.push(curve);
        onRun?.(name, method.label, r + 1);
      }
      const cpu = o.cpuClock !== undefined ? { cpuSecondsPerProposal: quantile(proposing[1]!, 0.5) } : {};
      return { method: method.label, best, secondsPerProposal: quantile(proposing[0]!, 0.5), ...cpu };
    });
    const knownMin = (testFunction(name, root) as Objective).knownMin;
    return { name, dim, ...(knownMin !== undefined ? { knownMin } : {}), methods };
  });
}

/** A clock in seconds; the CLI adds the process's CPU time to the wall clock. */
export type Clock = () => number;
export const WALL_CLOCK: Clock = () => performance.now() / 1000;

/**
 * Runs one method; returns the seconds spent choosing queries by each clock: the whole run's
 * less the time inside the function's evaluations and the recording (timed by the same clocks).
 */
function runMethod(m: Method, f: Objective, evaluations: number, x0: Float64Array, rand: Rand, record: (x: ArrayLike<number>) => void, clocks: readonly Clock[]): number[] {
  const outside = clocks.map(() => 0);
  const timedOutside = <T>(work: () => T): T => {
    const t = clocks.map((c) => c());
    const v = work();
    clocks.forEach((c, i) => (outside[i] = outside[i]! + c() - t[i]!));
    return v;
  };
  const timed: Objective = { ...f, value: (u) => timedOutside(() => f.value(u)) };
  const on = (x: ArrayLike<number>): void => timedOutside(() => record(x));
  const start = clocks.map((c) => c());
  if (m.kind === "random") runRandom(timed, evaluations, rand, on, x0);
  else if (m.kind === "bo") runBo(timed, evaluations, rand, on, m.options, x0);
  else {
    const net = m.network(f.dim);
    if (net.shape.dim !== f.dim) throw new ConfigError(`${m.label}: a network for dimension ${net.shape.dim} cannot propose in ${f.dim} dimensions`);
    rollout(net.shape, net.params, timed, evaluations, x0, undefined, on);
  }
  return clocks.map((c, i) => Math.max(c() - start[i]! - outside[i]!, 0));
}

export { DEFAULT_BO };

/** The q-quantile of `v` (linear interpolation between order statistics). */
export function quantile(v: readonly number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo]! + (at - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

/** Median and quartiles of the minimum found after `t` evaluations (1-based), over runs. */
export function quartilesAt(m: MethodResult, t: number): { q25: number; median: number; q75: number } {
  const col = m.best.map((c) => c[t - 1]!);
  return { q25: quantile(col, 0.25), median: quantile(col, 0.5), q75: quantile(col, 0.75) };
}

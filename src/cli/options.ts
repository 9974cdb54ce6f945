/**
 * The options several commands share, each read by one parser with one default and one help
 * text, and the number and JSON parsers the commands read their other options with. A bad
 * value throws a UsageError that names the flag and what it expects.
 */
import { existsSync, statSync } from "node:fs";
import { TASKS } from "../tasks/registry.ts";
import { DEFAULT_LR_GRID } from "../eval/evaluate.ts";
import { ENGINE_KINDS, type EngineKind, type ThreadCount } from "../kernels/select.ts";
import { GRADIENT_REDUCTIONS, TAPE_PRECISIONS, type GradientReduction, type TapePrecision } from "../kernels/wasm.ts";
import { parsePreprocessConfig, type PreprocessConfig } from "../learned/lstm/preprocess.ts";
import { UsageError } from "./errors.ts";
import { grouped, LIMITS, MAX_SECONDS, rangeText, type CountRange } from "./limits.ts";

/**
 * How numbers are written on the command line: decimal only. Counts (integer options) take
 * plain decimal digits with an optional minus sign, no leading zeros, no exponent (`1000`, not
 * `1e3`), no spaces; other numbers take decimal notation with an optional exponent (`0.003`,
 * `3e-3`). Hexadecimal, binary and octal forms (`0x10`, `0b11`, `0o7`), which `Number()` would
 * read, are refused.
 */
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]*)$/;
const DECIMAL_NUMBER = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** Why `raw` is not a plain decimal integer, when a reason helps more than the bare refusal. */
function integerHint(raw: string): string {
  if (raw !== raw.trim()) return " (no spaces around it)";
  if (/^[+-]?0[xXbBoO]/.test(raw)) return " (hexadecimal, binary and octal forms are not accepted: write it in decimal)";
  if (/^-?0[0-9]+$/.test(raw)) return " (no leading zeros: they are not read as octal either)";
  if (DECIMAL_NUMBER.test(raw) && /[eE]/.test(raw)) {
    const v = Number(raw);
    return Number.isSafeInteger(v) ? ` (counts take plain digits, not an exponent: write ${v})` : " (counts take plain digits, not an exponent)";
  }
  return "";
}

/** Parses a number option, or throws a UsageError saying what was expected. */
export function parseNumber(flag: string, raw: string, opts: { integer?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
  const what = opts.integer ? "an integer" : "a number";
  if (opts.integer ? !DECIMAL_INTEGER.test(raw) : !DECIMAL_NUMBER.test(raw)) {
    const hint = opts.integer ? integerHint(raw) : /^[+-]?0[xXbBoO]/.test(raw) ? " (hexadecimal, binary and octal forms are not accepted: write it in decimal)" : "";
    throw new UsageError(`${flag} expects ${what}, got '${raw}'${hint}`);
  }
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`${flag} expects a finite number, got '${raw}'`);
  if (opts.positive && !(v > 0)) throw new UsageError(`${flag} must be greater than 0, got '${raw}'`);
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`${flag} must be at least ${opts.min}, got '${raw}'`);
  if (opts.max !== undefined && v > opts.max) throw new UsageError(`${flag} must be at most ${grouped(opts.max)}, got '${raw}'`);
  return v;
}

/** Parses a count option: a plain decimal integer within `range`. */
export function parseCount(flag: string, raw: string, range: CountRange): number {
  const v = parseNumber(flag, raw, { integer: true });
  if (v < range.min || v > range.max) throw new UsageError(`${flag} must be from ${rangeText(range)}, got '${raw}'`);
  return v;
}

/** Parses a seed option: a plain decimal integer that a double holds exactly (at most 2^53 - 1 in size). */
export function parseSeed(flag: string, raw: string): number {
  const v = parseNumber(flag, raw, { integer: true });
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag} must be an integer from -9007199254740991 to 9007199254740991, got '${raw}'`);
  return v;
}

/** Parses a seconds option: a decimal number from 0 (or above 0 with `positive`) to `MAX_SECONDS`. */
export function parseSeconds(flag: string, raw: string, positive: boolean): number {
  return parseNumber(flag, raw, { ...(positive ? { positive: true } : { min: 0 }), max: MAX_SECONDS });
}

/** Splits a comma-separated option into its trimmed, non-empty entries, at most `LIMITS.listEntries`. */
export function parseList(flag: string, raw: string): string[] {
  const entries = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const { max } = LIMITS.listEntries;
  if (entries.length > max) throw new UsageError(`${flag} lists ${grouped(entries.length)} entries; at most ${max}`);
  return entries;
}

/** Parses `--lr-grid`: comma-separated learning rates, each above 0, at least one; absent, a copy of `DEFAULT_LR_GRID`. */
export function parseLrGrid(raw: string | undefined): number[] {
  const grid = raw === undefined ? [...DEFAULT_LR_GRID] : parseList("--lr-grid", raw).map((x) => parseNumber("--lr-grid", x, { positive: true }));
  if (grid.length === 0) throw new UsageError("--lr-grid is empty: give at least one learning rate");
  return grid;
}

/** JSON options nest at most this deep (a task or optimizer config needs three levels). */
export const MAX_JSON_DEPTH = 32;

/** The nesting depth of a parsed JSON value, counted without recursion (stopping past `limit`). */
function jsonDepth(v: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== "object" || x === null) continue;
    deepest = Math.max(deepest, d);
    if (deepest > limit) return deepest;
    for (const child of Object.values(x)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** Parses a JSON object option (task or optimizer configuration), nested at most `MAX_JSON_DEPTH` deep. */
export function parseJsonObject(flag: string, raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new UsageError(`${flag} expects a JSON object such as '{"hidden":[20]}', got '${raw}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError(`${flag} expects a JSON object such as '{"hidden":[20]}', got '${raw}'`);
  }
  if (jsonDepth(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new UsageError(`${flag} nests deeper than ${MAX_JSON_DEPTH} levels; a configuration needs a few`);
  return v as Record<string, unknown>;
}

/** Reads `--task-config`: a JSON object, or nothing (`{}`) when the flag is not given. */
export function parseTaskConfig(raw: string | undefined): Record<string, unknown> {
  return raw === undefined ? {} : parseJsonObject("--task-config", raw);
}

/** The `--quiet` option's help, shared by the commands that show progress. */
/** What a trained file's --out (train, rl train, fewshot train, blackbox train, demo) may replace: `checkOutputPath`'s `trained`. */
export const TRAINED_OUT_NOTE = "an existing safetensors file there (an earlier training's) is replaced; any other existing file (a report, a log, a figure) is refused";

export const QUIET_HELP = "no progress on standard error (else a bar on a terminal, or a line every 5 s; L2O_PROGRESS_INTERVAL=SECONDS sets that interval)";

/** The `--data` option's help, shared by train, eval and run. */
export const DATA_HELP = "a folder of your own data for tasks that read one (cnn: CIFAR-10's binary batches, data_batch_1.bin .. test_batch.bin); sets the task config's dataset and dataDir";

/**
 * `--task-config` with `--data DIR` applied: the task's own rule for a data folder
 * (`TaskSpec.dataConfig`) sets its keys, which `--task-config` must not also set; a task that
 * reads no folder, or a folder that is not there, is a usage error.
 */
export function taskConfigWithData(task: string, config: Record<string, unknown>, data: string | undefined): Record<string, unknown> {
  if (data === undefined) return config;
  const spec = TASKS.find((t) => t.name === task);
  if (spec?.dataConfig === undefined) throw new UsageError(`--data: the task '${task}' reads no data folder${spec === undefined ? " (give a task module its data in its own code)" : ""}`);
  if (!existsSync(data) || !statSync(data).isDirectory()) throw new UsageError(`--data: no folder '${data}'`);
  const extra = spec.dataConfig(data);
  const clash = Object.keys(extra).filter((k) => Object.hasOwn(config, k));
  if (clash.length > 0) throw new UsageError(`--data sets ${clash.join(", ")}: give them in --data or in --task-config, not both`);
  return { ...config, ...extra };
}

/** The `--engine` option's help, shared by the commands that run the LSTM (default `wasm`). */
export const ENGINE_HELP =
  "LSTM kernel: wasm (the fastest WebAssembly build here: wasm-fma, else wasm-simd), wasm-simd (multiply then add; replays files trained before wasm-fma existed bit for bit), wasm-fma (fused multiply-add) or ref (plain TypeScript)";
export const DEFAULT_ENGINE: EngineKind = "wasm";

/** Reads `--engine`: one of `ENGINE_KINDS`. */
export function parseEngine(raw: string): EngineKind {
  const kind = ENGINE_KINDS.find((k) => k === raw);
  if (kind !== undefined) return kind;
  throw new UsageError(`--engine expects one of ${ENGINE_KINDS.join(", ")}, got '${raw}'`);
}

/*
 * `--threads` means two things, with two defaults:
 * - Training (train, and demo's training) takes a fixed count, 2: the count is recorded in
 *   the trained file, and with `--reduction threads` the weight gradient's bits depend on it,
 *   so a training is replayed by giving the same number again.
 * - Running a trained optimizer (eval, run) takes a count or `auto`, the default: a forward
 *   pass gives the same bits on any count, so the count can follow each task's size.
 */

/** The `--threads` of training: worker threads of the wasm kernel that meta-trains. */
export const TRAIN_THREADS = 2;
export const TRAIN_THREADS_HELP = `worker threads for the wasm kernel (${rangeText(LIMITS.threads)})`;

/** Reads the `--threads` of training: an integer in `LIMITS.threads`. */
export function parseTrainThreads(raw: string): number {
  return parseCount("--threads", raw, LIMITS.threads);
}

/** The `--threads` of the commands that use a trained optimizer (eval, run). */
export const EVAL_THREADS: ThreadCount = "auto";
export const EVAL_THREADS_HELP =
  `worker threads for a learned optimizer's WebAssembly kernel (${rangeText(LIMITS.threads)}), or auto: one per 4,096 coordinates, at most the machine's cores and 8 (results are the same bits on any count)`;

/** Reads the `--threads` of eval and run: an integer in `LIMITS.threads` or `auto`. */
export function parseEvalThreads(v: string): ThreadCount {
  if (v === "auto") return "auto";
  if (!DECIMAL_INTEGER.test(v) || Number(v) < 1) throw new UsageError(`--threads expects a positive integer or 'auto', got '${v}'${integerHint(v)}`);
  return parseCount("--threads", v, LIMITS.threads);
}

/** The `--reduction` option of training. */
export const REDUCTION_HELP =
  "how the wasm kernel's backward pass sums the weight gradient: chunks (the same bits on any --threads) or threads (per thread: replays trainings made before chunks existed, with their --threads)";
export const DEFAULT_REDUCTION: GradientReduction = "chunks";

/** Reads `--reduction`. */
export function parseReduction(v: string): GradientReduction {
  if (!(GRADIENT_REDUCTIONS as readonly string[]).includes(v)) {
    throw new UsageError(`--reduction expects ${GRADIENT_REDUCTIONS.join(" or ")}, got '${v}'`);
  }
  return v as GradientReduction;
}

/** The `--tape` option of training. */
export const TAPE_HELP =
  "how the wasm kernel's tape keeps the LSTM's gates: f32 (the same bits as ever) or bf16 (half the tape's memory, for millions of coordinates; a gradient within bfloat16 rounding)";

/** Reads `--tape`. */
export function parseTape(v: string): TapePrecision {
  if (!(TAPE_PRECISIONS as readonly string[]).includes(v)) throw new UsageError(`--tape expects ${TAPE_PRECISIONS.join(" or ")}, got '${v}'`);
  return v as TapePrecision;
}

/** The most `--memory-budget` takes, in GiB (a WebAssembly engine's memories are bounded by the machine's anyway). */
export const MAX_MEMORY_BUDGET_GIB = 1024;

/** The `--memory-budget` option of training. */
export const MEMORY_BUDGET_HELP =
  "GiB the wasm kernel's memory may take before its tape is cut into segments whose gates the backward pass recomputes (the same bits, one more forward step per recomputed step; default: a quarter of this machine's memory). Raise it to recompute fewer steps at millions of coordinates";

/** Reads `--memory-budget` (GiB) as bytes, or undefined when not given. */
export function parseMemoryBudget(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const gib = parseNumber("--memory-budget", raw, { positive: true, max: MAX_MEMORY_BUDGET_GIB });
  return Math.floor(gib * 2 ** 30);
}

/** Reads `--preprocess`: `none`, `logsign`, `logsign:P`, `scale:C`, or `momentum[:P[:B1,B2,...]]`. */
export function parsePreprocessFlag(raw: string): PreprocessConfig {
  const [kind, arg, more, ...rest] = raw.split(":") as [string, string | undefined, string | undefined, ...string[]];
  /** A number in the flag, written in decimal (the config's own checks give its range). */
  const num = (what: string, x: string): number => {
    if (!DECIMAL_NUMBER.test(x) || !Number.isFinite(Number(x))) throw new UsageError(`--preprocess ${raw}: ${what} expects a finite decimal number, got '${x}'`);
    return Number(x);
  };
  try {
    if (rest.length === 0) {
      if (kind === "none" && arg === undefined) return parsePreprocessConfig({ kind: "none" });
      if (kind === "logsign" && more === undefined) return parsePreprocessConfig({ kind: "logSign", p: arg === undefined ? 10 : num("P", arg) });
      if (kind === "scale" && arg !== undefined && more === undefined) return parsePreprocessConfig({ kind: "scale", scale: num("C", arg) });
      if (kind === "momentum") {
        const betas = more === undefined ? [0.9] : more.split(",").map((b) => num("each B", b));
        return parsePreprocessConfig({ kind: "logSignMomentum", p: arg === undefined || arg === "" ? 10 : num("P", arg), betas });
      }
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--preprocess ${raw}: ${(e as Error).message}`);
  }
  throw new UsageError(`--preprocess expects none, logsign, logsign:P, scale:C or momentum[:P[:B1,B2,...]], got '${raw}'`);
}

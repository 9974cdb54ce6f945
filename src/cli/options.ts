/**
 * The options several commands share, each read by one parser with one default and one help
 * text, and the number and JSON parsers the commands read their other options with. A bad
 * value throws a UsageError that names the flag and what it expects.
 */
import { ENGINE_KINDS, type EngineKind, type ThreadCount } from "../kernels/select.ts";
import { GRADIENT_REDUCTIONS, type GradientReduction } from "../kernels/wasm.ts";
import { parsePreprocessConfig, type PreprocessConfig } from "../learned/lstm/preprocess.ts";
import { UsageError } from "./errors.ts";

/** Parses a number option, or throws a UsageError saying what was expected. */
export function parseNumber(flag: string, raw: string, opts: { integer?: boolean; min?: number; positive?: boolean } = {}): number {
  const v = Number(raw);
  const what = opts.integer ? "an integer" : "a number";
  if (raw.trim() === "" || !Number.isFinite(v)) throw new UsageError(`${flag} expects ${what}, got '${raw}'`);
  if (opts.integer && !Number.isInteger(v)) throw new UsageError(`${flag} expects ${what}, got '${raw}'`);
  if (opts.positive && !(v > 0)) throw new UsageError(`${flag} must be greater than 0, got '${raw}'`);
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`${flag} must be at least ${opts.min}, got '${raw}'`);
  return v;
}

/** Parses a JSON object option (task or optimizer configuration). */
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
  return v as Record<string, unknown>;
}

/** Reads `--task-config`: a JSON object, or nothing (`{}`) when the flag is not given. */
export function parseTaskConfig(raw: string | undefined): Record<string, unknown> {
  return raw === undefined ? {} : parseJsonObject("--task-config", raw);
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
export const TRAIN_THREADS_HELP = "worker threads for the wasm kernel";

/** Reads the `--threads` of training: a positive integer. */
export function parseTrainThreads(raw: string): number {
  return parseNumber("--threads", raw, { integer: true, positive: true });
}

/** The `--threads` of the commands that use a trained optimizer (eval, run). */
export const EVAL_THREADS: ThreadCount = "auto";
export const EVAL_THREADS_HELP =
  "worker threads for a learned optimizer's WebAssembly kernel, or auto: one per 4,096 coordinates, at most the machine's cores (results are the same bits on any count)";

/** Reads the `--threads` of eval and run: a positive integer or `auto`. */
export function parseEvalThreads(v: string): ThreadCount {
  if (v.trim() === "auto") return "auto";
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < 1) throw new UsageError(`--threads expects a positive integer or 'auto', got '${v}'`);
  return n;
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

/** Reads `--preprocess`: `none`, `logsign`, `logsign:P`, `scale:C`, or `momentum[:P[:B1,B2,...]]`. */
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

/**
 * Picks the LSTM kernel: the WebAssembly engine (split over worker threads) in one of its two
 * builds, or the plain-TypeScript reference that it is checked against.
 */
import type { LstmEngine, LstmEngineOptions } from "./types.ts";
import { createReferenceEngine } from "./lstm_ref.ts";
import { createWasmEngine, defaultWasmVariant, wasmEngineAvailable, type GradientReduction, type TapePrecision, type WasmVariant } from "./wasm.ts";
import { L2oError } from "../core/errors.ts";

/**
 * - `wasm`: the fastest WebAssembly build this runtime accepts (`wasm-fma`, else `wasm-simd`).
 * - `wasm-simd`: WebAssembly SIMD, products as a multiply then an add. Bit for bit the kernel
 *   that trained the files in pretrained/ (use it to replay their training exactly).
 * - `wasm-fma`: WebAssembly SIMD with relaxed SIMD's fused multiply-add (see `WasmVariant`).
 * - `ref`: plain TypeScript (float64 inside a step), the reference the others are tested on.
 */
export type EngineKind = "ref" | "wasm" | "wasm-simd" | "wasm-fma";
export const ENGINE_KINDS: readonly EngineKind[] = ["wasm", "wasm-simd", "wasm-fma", "ref"];

/** The WebAssembly kernel was asked for but is not built (the CLI reports it with exit code 2). */
export class KernelUnavailableError extends L2oError {
  override readonly name = "KernelUnavailableError";
}
export type EngineFactory = (opts: LstmEngineOptions) => LstmEngine;

/** The concrete kernel `kind` stands for here (`wasm` becomes the build it picks). */
export function resolveEngineKind(kind: EngineKind): Exclude<EngineKind, "wasm"> {
  if (kind === "wasm") return defaultWasmVariant() === "fma" ? "wasm-fma" : "wasm-simd";
  return kind;
}

/**
 * Worker threads for the WebAssembly kernel: a count, or `auto`: one per 4,096 coordinates,
 * at most the machine's cores and 8, chosen for each engine by its coordinate count. A
 * forward pass gives the same bits on any count, and so does a backward pass with the
 * `chunks` gradient reduction (the default); with `threads` it does not.
 */
export type ThreadCount = number | "auto";

/**
 * The factory for `kind` on `threads` threads; `reduction` is how the WebAssembly engine's
 * backward pass sums the weight gradient (see `GradientReduction`), `tape` how its tape keeps
 * the gates (`f32`, the default, or the opt-in `bf16`: see `TapePrecision`; the reference
 * engine keeps float64), `memoryBudget` the bytes its memory may take before the tape is cut into
 * segments (default: a quarter of the machine's memory). The WebAssembly kinds
 * need the kernels built by `npm install` (or `npm run build:wasm`); if they are missing this
 * throws with that advice rather than silently running the slower reference.
 */
export function engineFactory(
  kind: EngineKind = "wasm",
  threads: ThreadCount = 1,
  reduction: GradientReduction = "chunks",
  tape: TapePrecision = "f32",
  memoryBudget?: number,
): EngineFactory {
  if (kind === "ref") return createReferenceEngine;
  if (!ENGINE_KINDS.includes(kind)) throw new Error(`unknown LSTM engine '${String(kind)}' (expected ${ENGINE_KINDS.join(", ")})`);
  if (!wasmEngineAvailable("simd")) {
    throw new KernelUnavailableError("the WebAssembly LSTM kernel is not built (build/lstm.wasm is missing): run `npm run build:wasm`, or use --engine ref");
  }
  const variant: WasmVariant = resolveEngineKind(kind) === "wasm-fma" ? "fma" : "simd";
  if (variant === "fma" && !wasmEngineAvailable("fma")) {
    throw new KernelUnavailableError(
      "the fused multiply-add WebAssembly kernel is not available (build/lstm_fma.wasm is missing, or this runtime refuses relaxed SIMD): run `npm run build:wasm`, or use --engine wasm-simd",
    );
  }
  if (threads !== "auto" && !(Number.isInteger(threads) && threads >= 1)) {
    throw new Error(`LSTM engine threads must be a positive integer or 'auto', got ${String(threads)}`);
  }
  const budget = memoryBudget === undefined ? {} : { memoryBudget };
  return threads === "auto"
    ? (opts) => createWasmEngine({ ...opts, variant, reduction, tape, ...budget })
    : (opts) => createWasmEngine({ ...opts, threads, variant, reduction, tape, ...budget });
}

/**
 * The engine for using a trained optimizer: `kind` (default: wasm when built, else the
 * reference) on `threads` threads (default 1).
 */
export function defaultEngineFactory(
  kind?: EngineKind,
  threads: ThreadCount = 1,
  reduction: GradientReduction = "chunks",
  tape: TapePrecision = "f32",
  memoryBudget?: number,
): EngineFactory {
  if (kind !== undefined) return engineFactory(kind, threads, reduction, tape, memoryBudget);
  return wasmEngineAvailable("simd") ? engineFactory("wasm", threads, reduction, tape, memoryBudget) : createReferenceEngine;
}

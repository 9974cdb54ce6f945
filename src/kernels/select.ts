/**
 * Picks the LSTM kernel: the WebAssembly SIMD engine (split over worker threads), or the
 * plain-TypeScript reference that it is checked against.
 */
import type { LstmEngine, LstmEngineOptions } from "./types.ts";
import { createReferenceEngine } from "./lstm_ref.ts";
import { createWasmEngine, wasmEngineAvailable } from "./wasm.ts";

export type EngineKind = "ref" | "wasm";

/** The WebAssembly kernel was asked for but is not built (the CLI reports it with exit code 2). */
export class KernelUnavailableError extends Error {
  override readonly name = "KernelUnavailableError";
}
export type EngineFactory = (opts: LstmEngineOptions) => LstmEngine;

/**
 * The factory for `kind`. `wasm` needs the kernel built by `npm install` (or
 * `npm run build:wasm`); if it is missing this throws with that advice rather than silently
 * running the slower reference.
 */
export function engineFactory(kind: EngineKind = "wasm", threads = 1): EngineFactory {
  if (kind === "ref") return createReferenceEngine;
  if (!wasmEngineAvailable()) {
    throw new KernelUnavailableError("the WebAssembly LSTM kernel is not built (build/lstm.wasm is missing): run `npm run build:wasm`, or use --engine ref");
  }
  return (opts) => createWasmEngine({ ...opts, threads });
}

/** The engine for using a trained optimizer: wasm on one thread when built, else the reference. */
export function defaultEngineFactory(kind?: EngineKind, threads = 1): EngineFactory {
  if (kind !== undefined) return engineFactory(kind, threads);
  return wasmEngineAvailable() ? engineFactory("wasm", 1) : createReferenceEngine;
}

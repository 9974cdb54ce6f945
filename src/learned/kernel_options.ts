/** Which kernel a learned optimizer runs on: shared by every kind that has one. */
import { ConfigError, shownNumber, shownValue } from "../core/errors.ts";
import { ENGINE_KINDS, type EngineKind, type ThreadCount } from "../kernels/select.ts";
import { GRADIENT_REDUCTIONS, TAPE_PRECISIONS, type GradientReduction, type TapePrecision } from "../kernels/wasm.ts";

export interface KernelOptions {
  /** `ref` (plain TypeScript), `wasm` (the fastest WebAssembly build here), `wasm-simd` or `wasm-fma`; default `wasm` where built. */
  readonly engine?: EngineKind;
  /** Worker threads for the WebAssembly kernel, or `auto` (default 1). */
  readonly threads?: ThreadCount;
  /** How the backward pass sums the weight gradient (default `chunks`: the same bits on any thread count). */
  readonly reduction?: GradientReduction;
  /** How the WebAssembly kernel's tape keeps the gates: `f32` (default) or `bf16` (half the memory, a gradient within bfloat16 rounding). */
  readonly tape?: TapePrecision;
  /**
   * Bytes the WebAssembly kernel's memory may take before its tape is cut into segments (the
   * earlier steps' gates recomputed in the backward pass: the same bits, slower). Default: a
   * quarter of the machine's memory.
   */
  readonly memoryBudget?: number;
}

const KERNEL_OPTION_NAMES: readonly string[] = ["engine", "threads", "reduction", "tape", "memoryBudget"];

/**
 * Throws a ConfigError, naming the option and what it accepts, unless `k` holds only the
 * options above, each of its kind: checked where an optimizer is loaded, so that a misspelt
 * option or a bad value is refused there rather than ignored (or reported by a kernel later).
 */
export function checkKernelOptions(k: unknown): KernelOptions {
  if (typeof k !== "object" || k === null || Array.isArray(k)) throw new ConfigError(`kernel options must be an object, got ${shownValue(k)}`);
  const o = k as Record<string, unknown>;
  const oneOf = (name: string, known: readonly string[]): void => {
    const v = o[name];
    if (v !== undefined && !(typeof v === "string" && known.includes(v))) {
      throw new ConfigError(`kernel option '${name}' must be one of ${known.join(", ")}, got ${shownValue(v)}`);
    }
  };
  for (const name of Object.keys(o)) {
    if (!KERNEL_OPTION_NAMES.includes(name)) throw new ConfigError(`unknown kernel option '${name}' (known options: ${KERNEL_OPTION_NAMES.join(", ")})`);
  }
  oneOf("engine", ENGINE_KINDS);
  oneOf("reduction", GRADIENT_REDUCTIONS);
  oneOf("tape", TAPE_PRECISIONS);
  const t = o.threads;
  if (t !== undefined && t !== "auto" && !(typeof t === "number" && Number.isInteger(t) && t >= 1)) {
    throw new ConfigError(`kernel option 'threads' must be a positive integer or 'auto', got ${shownNumber(t)}`);
  }
  const m = o.memoryBudget;
  if (m !== undefined && !(typeof m === "number" && Number.isFinite(m) && m > 0)) {
    throw new ConfigError(`kernel option 'memoryBudget' must be a finite number of bytes > 0, got ${shownNumber(m)}`);
  }
  return o as KernelOptions;
}

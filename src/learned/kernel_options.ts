/** Which kernel a learned optimizer runs on: shared by every kind that has one. */
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
import type { GradientReduction, TapePrecision } from "../kernels/wasm.ts";

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

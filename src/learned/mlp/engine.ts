/**
 * Where the per-coordinate optimizer's MLP runs: an engine evaluates it over every
 * coordinate's feature row and backpropagates through it. Two engines, chosen by the kernel
 * options as the LSTM's are (src/learned/kernel_options.ts):
 * - `ref`: `MlpNet` (network.ts), plain TypeScript in float64: the reference;
 * - `wasm`: the WebAssembly SIMD kernel (assembly/mlp_opt.ts through src/kernels/mlp_opt.ts),
 *   float32 lanes, four coordinates at a time; it agrees with the reference to float32
 *   rounding (test/mlp_opt_kernel.test.ts states the tolerance).
 * Their common contract is engine_contract.ts.
 */
import { mlpOptKernelAvailable } from "../../kernels/mlp_opt.ts";
import { KernelUnavailableError, type EngineKind } from "../../kernels/select.ts";
import type { MlpEngine } from "./engine_contract.ts";
import { MlpNet } from "./network.ts";
import { wasmMlpEngine } from "./engine_wasm.ts";

export type { MlpEngine } from "./engine_contract.ts";

/** The float64 reference engine for the MLP of widths `dims` with weights `phi`. */
export function referenceMlpEngine(dims: readonly number[], phi: Float32Array): MlpEngine {
  const net = new MlpNet(dims, phi);
  const tape: Float64Array[][] = [];
  const L = net.hiddenLayers;
  const hidden = dims[1]!;
  const W = dims[0]!;
  // MlpNet reads rows (coordinate i's inputs at i * W); the engine's features are columns.
  let rows = new Float64Array(0);
  let drows = new Float64Array(0);
  const toRows = (x: Float64Array, n: number): Float64Array => {
    if (rows.length !== n * W) rows = new Float64Array(n * W);
    for (let k = 0; k < W; k++) for (let i = 0; i < n; i++) rows[i * W + k] = x[k * n + i]!;
    return rows;
  };
  return {
    engine: "ref",
    phiSize: net.phiSize,
    setPhi: (p) => net.setPhi(p),
    forward(x, n, out, slot) {
      const xr = toRows(x, n);
      if (slot < 0) return net.forward(xr, n, out, null);
      let acts = tape[slot];
      if (acts === undefined || acts[0]!.length !== n * hidden) acts = tape[slot] = Array.from({ length: L }, () => new Float64Array(n * hidden));
      net.forward(xr, n, out, acts);
    },
    backward(slot, x, n, dout, dphi, dx) {
      if (drows.length !== n * W) drows = new Float64Array(n * W);
      net.backward(toRows(x, n), n, tape[slot]!, dout, dphi, drows);
      for (let k = 0; k < W; k++) for (let i = 0; i < n; i++) dx[k * n + i] = drows[i * W + k]!;
    },
    dispose() {
      tape.length = 0;
    },
  };
}

/** Which engine `kind` means for this kind: `ref`, or the WebAssembly kernel for any `wasm*`. */
export type MlpEngineKind = "ref" | "wasm";

/**
 * The engine for `kind` (`wasm`, `wasm-simd` and `wasm-fma` all mean the one WebAssembly
 * kernel; without a kind: `wasm` where it is built, else `ref`). Asking for the kernel where
 * it is not built throws `KernelUnavailableError` rather than running the reference.
 */
export function mlpEngineKind(kind?: EngineKind): MlpEngineKind {
  if (kind === "ref") return "ref";
  if (kind === undefined) return mlpOptKernelAvailable() ? "wasm" : "ref";
  if (!mlpOptKernelAvailable()) {
    throw new KernelUnavailableError("the WebAssembly MLP-optimizer kernel is not built (build/mlp_opt.wasm is missing): run `npm run build:wasm`, or use --engine ref");
  }
  return "wasm";
}

/** An engine of `kind` for the MLP of widths `dims`, with `T` time columns last among its inputs. */
export function makeMlpEngine(kind: MlpEngineKind, dims: readonly number[], T: number, phi: Float32Array): MlpEngine {
  return kind === "ref" ? referenceMlpEngine(dims, phi) : wasmMlpEngine(dims, T, phi);
}

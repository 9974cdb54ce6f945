/**
 * The per-coordinate MLP optimizer's SIMD kernel (`assembly/mlp_opt.ts`, compiled by
 * `scripts/build-wasm.mjs` into `build/mlp_opt.wasm`): its module, and one instance with a
 * memory of its own that grows as its owner asks (`alloc`). src/learned/mlp/engine_wasm.ts
 * lays its arrays out there and calls the exports; nothing here knows about layouts or phi.
 *
 * The bytes come from `source.ts` (in Node, `build/mlp_opt.wasm`; in a browser page, those
 * the page handed over), so nothing here imports a Node module.
 */
import { kernelBytes, kernelLocation, kernelSourceGeneration } from "./source.ts";
import { KernelUnavailableError } from "./select.ts";
import { wasmApi, type WasmModule } from "./wasm_api.ts";

/** The compiled kernel's file under build/. */
export const MLP_OPT_FILE = "mlp_opt.wasm";

export interface MlpOptExports {
  forward(np: number, F: number, H: number, L: number, w: number, x: number, acts: number, out: number, scr: number): void;
  backward(np: number, F: number, H: number, L: number, w: number, x: number, acts: number, dout: number, acc: number, g64: number, dx: number, scr: number): void;
  adafacFeatures(n: number, np: number, D: number, nt: number, tab: number, dec: number, rho: number, f: number, theta: number, grad: number, st: number, scr: number, maxC: number, x: number): void;
}

/** One instance: its exports, and a bump allocator over its memory (16-byte aligned, zeroed). */
export interface MlpOptInstance {
  readonly ex: MlpOptExports;
  /** The byte address of `bytes` fresh zero bytes (the memory grows; views made before are stale). */
  alloc(bytes: number): number;
  /** The memory's current buffer (take views after the last `alloc`). */
  buffer(): ArrayBuffer;
}

const PAGE = 65536;
let cached: { module: WasmModule; generation: number } | undefined;
let missing = -1;

function mlpOptModule(): WasmModule {
  const gen = kernelSourceGeneration();
  if (cached !== undefined && cached.generation === gen) return cached.module;
  const bytes = kernelBytes(MLP_OPT_FILE);
  if (bytes === undefined) {
    missing = gen;
    throw new KernelUnavailableError(`mlp optimizer: ${kernelLocation(MLP_OPT_FILE)} not found; run \`npm run build:wasm\`, or use --engine ref`);
  }
  cached = { module: new wasmApi.Module(bytes), generation: gen };
  return cached.module;
}

/** Whether the kernel is built (and this runtime compiles it). */
export function mlpOptKernelAvailable(): boolean {
  if (missing === kernelSourceGeneration()) return false;
  try {
    mlpOptModule();
    return true;
  } catch {
    missing = kernelSourceGeneration();
    return false;
  }
}

/** A fresh instance (throws KernelUnavailableError where the kernel is not built). */
export function mlpOptInstance(): MlpOptInstance {
  const memory = new wasmApi.Memory({ initial: 1, maximum: 65536 });
  const ex = new wasmApi.Instance(mlpOptModule(), { env: { memory } }).exports as unknown as MlpOptExports;
  // The module has no data of its own; the arrays start past address 0 (which means "none").
  let top = 1024;
  return {
    ex,
    alloc(bytes) {
      const at = top;
      top += Math.ceil(bytes / 16) * 16;
      const have = memory.buffer.byteLength;
      if (top > have) {
        if (top > 65536 * PAGE) throw new Error(`mlp optimizer: the kernel needs ${top} bytes, past WebAssembly's 4 GiB`);
        memory.grow(Math.ceil((top - have) / PAGE));
      }
      return at;
    },
    buffer: () => memory.buffer as ArrayBuffer,
  };
}

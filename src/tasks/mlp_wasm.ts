/**
 * The MLP task's loss, gradient and logits as WebAssembly SIMD kernels (`assembly/mlp.ts`,
 * compiled by `scripts/build-wasm.mjs` into `build/mlp.wasm`): the `wasm` backend of
 * `mnist-mlp`, the default. It runs on the calling thread. For 784-20-10 with batch 128 on the
 * 2-core development machine a loss and gradient take about 0.2 ms against about 1.2 ms through
 * jax-js (`npm run bench`), which matters because meta-training and evaluation call it once per
 * optimizee step.
 *
 * One `MlpWasm` owns one fixed-size memory, laid out for at most `maxRows` examples per call:
 * dims (i32), theta, grad, inputs x, input bytes, labels (i32), every
 * layer's activations, two delta buffers, per row the indices of its nonzero inputs (i32) and
 * their count, one hidden row's nonzero indices. The rows are set through the `x` or `bytes`
 * views, then `rowsFromFloats` or `rowsFromBytes` lists each row's nonzero inputs (MNIST
 * images are about 80% zero pixels, which the first layer skips, forward and backward). The
 * memory never grows, so the views stay valid. Results agree with jax-js to float32
 * rounding (test/mlp_wasm.test.ts) and are the same bits on every CPU (no fused multiply-add,
 * software exp, log and tanh).
 */
import { readFileSync } from "node:fs";
import { L2oError } from "../core/errors.ts";
import { ACT_RELU, ACT_SIGMOID, ACT_TANH } from "../../assembly/layout.ts";
import { wasmApi, type WasmModule } from "../kernels/wasm_api.ts";

/** Where the compiled kernels are expected. */
export const MLP_WASM_URL = new URL("../../build/mlp.wasm", import.meta.url);

/** Activation codes shared with assembly/mlp.ts (both read them from assembly/layout.ts). */
const ACT_CODE = { sigmoid: ACT_SIGMOID, relu: ACT_RELU, tanh: ACT_TANH } as const;
export type MlpWasmActivation = keyof typeof ACT_CODE;

const PAGE = 65536;
/**
 * The first bytes stay free: the module's own data (tables of the software math functions) sits
 * there. test/wasm_layout.test.ts checks that build/mlp.wasm's data ends below it.
 */
export const BASE = 65536;

let cachedModule: WasmModule | undefined;

/** `build/mlp.wasm` is not there (the CLI reports it in one line, exit code 2). */
export class MlpKernelUnavailableError extends L2oError {
  override readonly name = "MlpKernelUnavailableError";
}

function mlpModule(): WasmModule {
  if (cachedModule !== undefined) return cachedModule;
  let bytes: Buffer;
  try {
    bytes = readFileSync(MLP_WASM_URL);
  } catch {
    throw new MlpKernelUnavailableError(
      `mnist-mlp: ${MLP_WASM_URL.pathname} not found; run \`npm run build:wasm\`, or use the jax-js backend (--task-config '{"backend":"jax"}')`,
    );
  }
  cachedModule = new wasmApi.Module(bytes);
  return cachedModule;
}

export interface MlpWasm {
  /** Layer widths, input first. */
  readonly dims: readonly number[];
  /** The most examples one call takes. */
  readonly maxRows: number;
  /** Input rows, `maxRows * dims[0]` floats; call `rowsFromFloats` after writing them. */
  readonly x: Float32Array;
  /** Input rows as bytes (pixels), scaled into `x` as v / 255 by `rowsFromBytes`. */
  readonly bytes: Uint8Array;
  /** Lists the nonzero inputs of the first `n` rows of `x`, for the next calls. */
  rowsFromFloats(n: number): void;
  /** Sets the first `n` rows of `x` to `bytes / 255` (as `gatherImages` scales pixels), and lists them. */
  rowsFromBytes(n: number): void;
  /**
   * Mean softmax cross-entropy of the first `n` rows of `x` with `labels` and its gradient with
   * respect to `theta` (a fresh array). The rows must have been set by a `rowsFrom*` call.
   */
  lossGrad(theta: Float32Array, labels: ArrayLike<number>, n: number): { loss: number; grad: Float32Array };
  /** Logits of the first `n` rows of `x`, `n * classes` floats (a view, valid until the next call). */
  logits(theta: Float32Array, n: number): Float32Array;
}

/** Kernels for an MLP with layer widths `dims` (input first, classes last). */
export function mlpWasm(dims: readonly number[], activation: MlpWasmActivation, maxRows: number): MlpWasm {
  const L = dims.length - 1;
  if (L < 1) throw new Error("mlpWasm: need at least one layer");
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`mlpWasm: maxRows must be a positive integer, got ${maxRows}`);
  let P = 0;
  for (let k = 1; k <= L; k++) P += dims[k - 1]! * dims[k]! + dims[k]!;
  const widest = Math.max(...dims.slice(1));
  const actsLen = dims.slice(1).reduce((a, d) => a + maxRows * d, 0);
  let off = BASE;
  /** A region of `words` 4-byte values (f32 or i32), 16-byte aligned; returns its address. */
  const take = (words: number): number => {
    const at = off;
    off = Math.ceil((off + words * 4) / 16) * 16;
    return at;
  };
  const pDims = take(dims.length);
  const pTheta = take(P);
  const pGrad = take(P);
  const pX = take(maxRows * dims[0]!);
  const pLabels = take(maxRows);
  const pActs = take(actsLen);
  const pD1 = take(maxRows * widest);
  const pD2 = take(maxRows * widest);
  const pBytes = take(Math.ceil((maxRows * dims[0]!) / 4)); // bytes, four to a word
  const pLists = take(maxRows * dims[0]!);
  const pCounts = take(maxRows);
  const pNz = take(Math.max(1, ...dims.slice(1, L)));
  const pages = Math.ceil(off / PAGE);
  if (pages > 65536) throw new Error(`mlpWasm: ${maxRows} rows of a ${dims.join("-")} network need more than 4 GiB`);
  const memory = new wasmApi.Memory({ initial: pages, maximum: pages });
  const inst = new wasmApi.Instance(mlpModule(), { env: { memory } });
  const ex = inst.exports as {
    prepareFloats: (B: number, din: number, x: number, lists: number, counts: number) => void;
    prepareBytes: (B: number, din: number, bytes: number, x: number, lists: number, counts: number) => void;
    forward: (L: number, dims: number, act: number, B: number, theta: number, x: number, acts: number, lists: number, counts: number, nz: number) => void;
    lossGrad: (
      L: number, dims: number, act: number, B: number, theta: number, x: number, labels: number, acts: number, d1: number, d2: number, grad: number,
      lists: number, counts: number, nz: number,
    ) => number;
  };
  const buf = memory.buffer;
  new Int32Array(buf, pDims, dims.length).set(dims);
  const theta = new Float32Array(buf, pTheta, P);
  const grad = new Float32Array(buf, pGrad, P);
  const x = new Float32Array(buf, pX, maxRows * dims[0]!);
  const bytes = new Uint8Array(buf, pBytes, maxRows * dims[0]!);
  /** Rows listed by the last rowsFrom* call. */
  let ready = 0;
  const labels = new Int32Array(buf, pLabels, maxRows);
  const classes = dims[L]!;
  const act = ACT_CODE[activation];
  const rows = (n: number): void => {
    if (!Number.isInteger(n) || n < 1 || n > maxRows) throw new RangeError(`mlpWasm: ${n} rows, expected 1 to ${maxRows}`);
  };
  const listed = (n: number): void => {
    rows(n);
    if (n > ready) throw new Error(`mlpWasm: ${n} rows asked for, ${ready} set by rowsFromFloats or rowsFromBytes`);
  };
  const putTheta = (t: Float32Array): void => {
    if (t.length !== P) throw new RangeError(`mlpWasm: theta has ${t.length} values, the ${dims.join("-")} network ${P}`);
    theta.set(t);
  };
  return {
    dims: [...dims],
    maxRows,
    x,
    bytes,
    rowsFromFloats(n) {
      rows(n);
      ex.prepareFloats(n, dims[0]!, pX, pLists, pCounts);
      ready = n;
    },
    rowsFromBytes(n) {
      rows(n);
      ex.prepareBytes(n, dims[0]!, pBytes, pX, pLists, pCounts);
      ready = n;
    },
    lossGrad(t, y, n) {
      listed(n);
      putTheta(t);
      for (let i = 0; i < n; i++) {
        const c = y[i]!;
        if (!Number.isInteger(c) || c < 0 || c >= classes) throw new RangeError(`mlpWasm: label ${c} at row ${i} is not in [0, ${classes})`);
        labels[i] = c;
      }
      const loss = ex.lossGrad(L, pDims, act, n, pTheta, pX, pLabels, pActs, pD1, pD2, pGrad, pLists, pCounts, pNz);
      return { loss, grad: grad.slice() };
    },
    logits(t, n) {
      listed(n);
      putTheta(t);
      ex.forward(L, pDims, act, n, pTheta, pX, pActs, pLists, pCounts, pNz);
      // Layer k's outputs start after the earlier layers' n-row blocks (assembly/mlp.ts).
      const at = pActs + dims.slice(1, L).reduce((a, d) => a + n * d, 0) * 4;
      return new Float32Array(buf, at, n * classes);
    },
  };
}

/**
 * The hierarchical RNN optimizer's per-parameter GRU forward on WebAssembly SIMD
 * (`assembly/hrnn.ts`, built into `build/hrnn.wasm`): the part of its step whose cost grows
 * with the coordinates. The host keeps the weights (float32, each gate padded to a multiple of
 * 4 lanes) in a memory of its own, copies each call's inputs in (float64 to float32) and the
 * gates and new states out (float32 to float64). It agrees with the float64 reference
 * (src/learned/hrnn/gru.ts) to float32 precision, not bit for bit; `test/hrnn.test.ts`
 * checks both. The backward (`hrnnParamGruBackwardKernel`) sums the weights' gradients over
 * the rows in float32 and adds them into the caller's float64 accumulator once per call.
 */
import { L2oError } from "../core/errors.ts";
import { kernelBytes, kernelLocation } from "./source.ts";
import { wasmApi, type WasmModule, type WasmMemory } from "./wasm_api.ts";

/** Where one GRU's weights lie in phi (as src/learned/hrnn/gru.ts's `GruWeights`). */
export interface GruOffsets {
  readonly inputs: number;
  readonly units: number;
  readonly w: number;
  readonly u: number;
  readonly b: number;
}

/** The gates and new state a forward writes, rows * units each (float64). */
export interface GruOutputs {
  readonly z: Float64Array;
  readonly r: Float64Array;
  readonly c: Float64Array;
  readonly h: Float64Array;
}

/** The forward's signature (src/learned/hrnn/step.ts's `ParamGru`). */
export type GruKernel = (
  rows: number, x: Float64Array, hPrev: Float64Array, bias: Float64Array, groupOf: (i: number) => number, out: GruOutputs, pre: Float64Array,
) => void;

/** The backward's signature (src/learned/hrnn/gru.ts's `gruBackward` for the per-parameter GRU, with phi's accumulator `acc`). */
export type GruBackwardKernel = (
  rows: number, x: Float64Array, hPrev: Float64Array, tape: GruOutputs, dh: Float64Array, acc: Float64Array,
  dBias: Float64Array, groupOf: (i: number) => number, dx: Float64Array, dhPrev: Float64Array,
) => void;

interface HrnnExports {
  gruForward(rows: number, I: number, H: number, Hp: number, w: number, u: number, b: number, bias: number, group: number,
    x: number, h: number, z: number, r: number, c: number, hn: number, pre: number): void;
  gruBackward(rows: number, I: number, H: number, Hp: number, w: number, u: number, group: number,
    x: number, h: number, z: number, r: number, c: number, dh: number,
    dW: number, dU: number, db: number, dBias: number, dx: number, dhPrev: number, d: number): void;
}

const FILE = "hrnn.wasm";
const PAGE = 65536;
let compiled: WasmModule | null | undefined;

/** Whether `build/hrnn.wasm` is there (in Node; in a browser, whether the page handed it over). */
export function hrnnKernelAvailable(): boolean {
  if (compiled === undefined) {
    const bytes = kernelBytes(FILE);
    compiled = bytes === undefined ? null : new wasmApi.Module(bytes);
  }
  return compiled !== null;
}

/**
 * A fresh kernel instance for the GRU shape `g` with its lane-padded sizes (gates of Hp = H
 * rounded up to 4 lanes, G = 3 Hp), or null where the kernel is not built and not `required`;
 * `required` and missing is an L2oError saying how to build it.
 */
function instantiate(g: GruOffsets, required: boolean): { I: number; H: number; Hp: number; G: number; memory: WasmMemory; ex: HrnnExports } | null {
  if (!hrnnKernelAvailable()) {
    if (required) throw new L2oError(`hrnn optimizer: ${kernelLocation(FILE)} not found; run \`npm run build:wasm\`, or use the reference engine ('ref')`);
    return null;
  }
  const { inputs: I, units: H } = g;
  const Hp = Math.ceil(H / 4) * 4;
  const memory = new wasmApi.Memory({ initial: 1, maximum: 65536 });
  const ex = new wasmApi.Instance(compiled!, { env: { memory } }).exports as unknown as HrnnExports;
  return { I, H, Hp, G: 3 * Hp, memory, ex };
}

/**
 * The kernel for the GRU at `g` in `phi` (weights copied now), or null where it is not built
 * and not `required` (the caller then runs its TypeScript forward); `required` and missing is
 * an L2oError saying how to build it.
 */
export function hrnnParamGruKernel(phi: Float32Array, g: GruOffsets, required: boolean): GruKernel | null {
  const inst = instantiate(g, required);
  if (inst === null) return null;
  const { I, H, Hp, G, memory, ex } = inst;
  // Weights: W [I][G], U [H][G], b [G], each gate's H units at the start of its Hp lanes.
  const wAt = 0;
  const uAt = wAt + I * G * 4;
  const bAt = uAt + H * G * 4;
  const preAt = bAt + G * 4;
  const varAt = preAt + G * 4;
  const weights = new Float32Array(varAt / 4);
  const pad = (src: number, dst: number, rows: number): void => {
    for (let j = 0; j < rows; j++) for (let gate = 0; gate < 3; gate++) for (let k = 0; k < H; k++) weights[dst / 4 + j * G + gate * Hp + k] = phi[src + j * 3 * H + gate * H + k]!;
  };
  pad(g.w, wAt, I);
  pad(g.u, uAt, H);
  pad(g.b, bAt, 1);
  let groups: Int32Array | null = null;
  return (rows, x, hPrev, bias, groupOf, out, _pre) => {
    const E = bias.length / (3 * H);
    const biasAt = varAt;
    const groupAt = biasAt + E * G * 4;
    const xAt = groupAt + Math.ceil(rows / 4) * 16;
    const hAt = xAt + Math.ceil((rows * I) / 4) * 16;
    const outAt = [0, 1, 2, 3].map((k) => hAt + (k + 1) * rows * Hp * 4);
    const need = outAt[3]! + rows * Hp * 4;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const f32 = new Float32Array(memory.buffer);
    f32.set(weights, 0);
    const bf = f32.subarray(biasAt / 4, biasAt / 4 + E * G).fill(0);
    for (let e = 0; e < E; e++) for (let gate = 0; gate < 3; gate++) for (let k = 0; k < H; k++) bf[e * G + gate * Hp + k] = bias[e * 3 * H + gate * H + k]!;
    if (groups === null || groups.length !== rows) {
      groups = new Int32Array(rows);
      for (let i = 0; i < rows; i++) groups[i] = groupOf(i);
    }
    new Int32Array(memory.buffer, groupAt, rows).set(groups);
    f32.set(x.subarray(0, rows * I), xAt / 4);
    const hf = f32.subarray(hAt / 4, hAt / 4 + rows * Hp);
    for (let i = 0; i < rows; i++) for (let k = 0; k < Hp; k++) hf[i * Hp + k] = k < H ? hPrev[i * H + k]! : 0;
    ex.gruForward(rows, I, H, Hp, wAt, uAt, bAt, biasAt, groupAt, xAt, hAt, outAt[0]!, outAt[1]!, outAt[2]!, outAt[3]!, preAt);
    const dst = [out.z, out.r, out.c, out.h];
    for (let q = 0; q < 4; q++) {
      const src = f32.subarray(outAt[q]! / 4, outAt[q]! / 4 + rows * Hp);
      const d = dst[q]!;
      for (let i = 0; i < rows; i++) for (let k = 0; k < H; k++) d[i * H + k] = src[i * Hp + k]!;
    }
  };
}

/** Copies rows of H floats (float64) into rows of Hp lanes (float32, zero padding). */
function padRows(dst: Float32Array, at: number, src: ArrayLike<number>, rows: number, H: number, Hp: number): void {
  for (let i = 0; i < rows; i++) for (let k = 0; k < Hp; k++) dst[at + i * Hp + k] = k < H ? src[i * H + k]! : 0;
}

/**
 * The backward kernel for the GRU at `g` in `phi` (weights copied now), or null where it is
 * not built and not `required` (as `hrnnParamGruKernel`).
 */
export function hrnnParamGruBackwardKernel(phi: Float32Array, g: GruOffsets, required: boolean): GruBackwardKernel | null {
  const inst = instantiate(g, required);
  if (inst === null) return null;
  const { I, H, Hp, G, memory, ex } = inst;
  const wAt = 0;
  const uAt = wAt + I * G * 4;
  const varAt = uAt + H * G * 4;
  const weights = new Float32Array(varAt / 4);
  for (const [src, dst, rows] of [[g.w, wAt, I], [g.u, uAt, H]] as const) {
    for (let j = 0; j < rows; j++) for (let gate = 0; gate < 3; gate++) for (let k = 0; k < H; k++) weights[dst / 4 + j * G + gate * Hp + k] = phi[src + j * 3 * H + gate * H + k]!;
  }
  return (rows, x, hPrev, tape, dh, acc, dBias, groupOf, dx, dhPrev) => {
    const E = dBias.length / (3 * H);
    const rowsH = rows * Hp;
    // Float offsets: groups, x, h, z, r, c, dh, dW, dU, db, dBias, dx, dhPrev, d.
    const sizes = [rows, Math.ceil((rows * I) / 4) * 4, rowsH, rowsH, rowsH, rowsH, rowsH, I * G, H * G, G, E * G, Math.ceil((rows * I) / 4) * 4, rowsH, G];
    const at: number[] = [];
    let o = varAt / 4;
    for (const n of sizes) {
      at.push(o);
      o += Math.ceil(n / 4) * 4;
    }
    const need = o * 4;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const f32 = new Float32Array(memory.buffer);
    f32.set(weights, 0);
    const groups = new Int32Array(memory.buffer, at[0]! * 4, rows);
    for (let i = 0; i < rows; i++) groups[i] = groupOf(i);
    f32.set(x.subarray(0, rows * I), at[1]!);
    padRows(f32, at[2]!, hPrev, rows, H, Hp);
    padRows(f32, at[3]!, tape.z, rows, H, Hp);
    padRows(f32, at[4]!, tape.r, rows, H, Hp);
    padRows(f32, at[5]!, tape.c, rows, H, Hp);
    padRows(f32, at[6]!, dh, rows, H, Hp);
    f32.fill(0, at[7]!, at[11]!);
    ex.gruBackward(rows, I, H, Hp, wAt, uAt, at[0]! * 4, at[1]! * 4, at[2]! * 4, at[3]! * 4, at[4]! * 4, at[5]! * 4, at[6]! * 4,
      at[7]! * 4, at[8]! * 4, at[9]! * 4, at[10]! * 4, at[11]! * 4, at[12]! * 4, at[13]! * 4);
    // Back to the unpadded layouts.
    for (const [src, dst, n] of [[at[7]!, g.w, I], [at[8]!, g.u, H], [at[9]!, g.b, 1]] as const) {
      for (let j = 0; j < n; j++) for (let gate = 0; gate < 3; gate++) for (let k = 0; k < H; k++) acc[dst + j * 3 * H + gate * H + k] = acc[dst + j * 3 * H + gate * H + k]! + f32[src + j * G + gate * Hp + k]!;
    }
    for (let e = 0; e < E; e++) for (let gate = 0; gate < 3; gate++) for (let k = 0; k < H; k++) dBias[e * 3 * H + gate * H + k] = dBias[e * 3 * H + gate * H + k]! + f32[at[10]! + e * G + gate * Hp + k]!;
    for (let i = 0; i < rows * I; i++) dx[i] = f32[at[11]! + i]!;
    for (let i = 0; i < rows; i++) for (let k = 0; k < H; k++) dhPrev[i * H + k] = f32[at[12]! + i * Hp + k]!;
  };
}

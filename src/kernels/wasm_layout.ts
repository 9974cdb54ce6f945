/**
 * Memory layout of the WebAssembly engine (`wasm.ts`): the context fields shared with the
 * kernels (`assembly/lstm.ts`), the permuted gate lanes, and the byte offsets of weights, state,
 * tape, scratch and gradient sums inside the shared memory. The numbers both sides use (field
 * indices, the constant table's place, HEAP) come from `assembly/layout.ts`, which the kernels
 * import as well.
 */
import * as shared from "../../assembly/layout.ts";
import { stateSize, type LstmShape } from "./types.ts";

export const { HEAP, CONST_TABLE, CONST_TABLE_VECTORS, LAYER_FIELDS } = shared;

// Fixed addresses below HEAP: the worker pool's control block (wasm_worker.ts, at 1024), the
// kernels' constant table (CONST_TABLE) and this context block.
export const CTX = 4096;
export const PAGE = 65536;
export const MAX_PAGES = 65536;

/** The exports of `assembly/layout.ts` named `${P}...`, keyed by the rest of the name. */
type Fields<P extends string> = { readonly [K in keyof typeof shared as K extends `${P}${infer R}` ? R : never]: (typeof shared)[K] };
function fields<P extends string>(prefix: P): Fields<P> {
  return Object.fromEntries(
    Object.entries(shared).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])),
  ) as Fields<P>;
}

/** Context fields (i32 index from CTX): `F.N` is `F_N` of assembly/layout.ts. */
export const F = fields("F_");
/** Per-layer fields: layer l's field `LF.K` at `F.LAYER + LAYER_FIELDS * l + LF.K`. */
export const LF = fields("L_");
export const MAX_THREADS = (F.LAYER - F.RANGE) / 2;
/** The per-layer context fields must end below HEAP; this leaves ample room. */
export const MAX_LAYERS = 256;

export const round4 = (k: number): number => Math.ceil(k / 4) * 4;
const align = (b: number): number => Math.ceil(b / 64) * 64;

/** Gate lane of unit u of gate q (i, f, g, o): groups of four units, the four gates side by side. */
export function lane(q: number, u: number): number {
  return (u >> 2) * 16 + q * 4 + (u & 3);
}

/** Where each float of the contract's phi goes inside the engine (see assembly/lstm.ts). */
export interface LayerLayout {
  /** Rows of the layer's input run: Kin (inputs, I or Hp) + Hp (recurrent). */
  readonly K: number;
  readonly Kin: number;
  readonly KinP: number;
  /** Weights W [K][G], bias [G], transposed weights WT [G][KinP + Hp] (byte offsets). */
  readonly w: number;
  readonly bias: number;
  readonly wt: number;
  /** Float offsets times 4 of dW [K][G] and db [G] inside a gradient block (float64 sums). */
  readonly gw: number;
  readonly gb: number;
}

/**
 * How the tape keeps each step's gates and c': `f32` as computed (the gates of every step, c'
 * of every `C_EVERY`-th: the backward pass recomputes the others bit for bit), or `bf16`
 * (opt-in) all five rounded to bfloat16, a gradient within bfloat16 rounding (not the same
 * bits; the forward pass's outputs and states are).
 */
export type TapePrecision = "f32" | "bf16";
export const TAPE_PRECISIONS: readonly TapePrecision[] = ["f32", "bf16"];

/**
 * A float32 tape keeps c' of every second step of a segment: 720 bytes per coordinate-step of
 * the paper's LSTM instead of 800, and each step back recomputes at most one c' (one
 * multiply-add per unit, from gates it reads anyway).
 */
export const C_EVERY = 2;

/** Byte offsets of everything the engine keeps in its memory. */
export class Layout {
  readonly Hp: number;
  readonly G: number;
  readonly XP: number;
  /** Floats per coordinate in the state rows: [pad | x], h_l..., c_l... */
  readonly S: number;
  /** Byte offset of c_0 .. c_{L-1} within a state row. */
  readonly cRow: number;
  readonly layers: LayerLayout[] = [];
  readonly head: number;
  /** Values in a gradient block, and the head's offset in it (as for LayerLayout.gw). */
  readonly pint: number;
  readonly gHead: number;
  /** The state rows, `n x S` floats; copied as they are by `snapshot` and `restore`. */
  readonly state: number;
  /** Steps per tape segment, segments (checkpoints of the state rows), bytes per checkpoint. */
  readonly segment: number;
  readonly segments: number;
  readonly tapePrecision: TapePrecision;
  readonly ckptStride: number;
  /** The checkpoints: segment j's starting state rows at `state0 + j * ckptStride`. */
  readonly state0: number;
  readonly dstate: number;
  readonly th: number;
  readonly tape: number;
  /** A float32 tape's kept c' rows (every `cEvery`-th step of a segment; none for bf16). */
  readonly tapeC: number;
  readonly cEvery: number;
  readonly tapeX: number;
  readonly x: number;
  readonly out: number;
  readonly dout: number;
  readonly dx: number;
  readonly scr: number;
  readonly scrStride: number;
  /** Scratch offsets inside a thread's scratch (bytes), row lengths (floats). */
  readonly sc: Record<"zB" | "pi" | "gA" | "gB" | "dummy" | "dz" | "dzi" | "inr" | "ths" | "dio" | "ghs" | "unp" | "cs", number>;
  readonly KR: number;
  readonly OMAX: number;
  readonly g64: number;
  readonly g64Stride: number;
  readonly bytes: number;

  /**
   * `P` threads (each with its scratch) and `sums` blocks of float64 gradient sums (one per
   * thread, or one per chunk of the backward pass: see `backward` in assembly/lstm.ts). The
   * tape holds the gates of `segment` steps (default: all `capacity`), and a checkpoint of the
   * state rows is kept for each of the ceil(capacity / segment) segments; a `bf16` tape takes
   * half the bytes of an `f32` one.
   */
  constructor(s: LstmShape, n: number, capacity: number, P: number, B: number, sums: number, segment = capacity, tape: TapePrecision = "f32", cEvery = C_EVERY) {
    const { inputs: I, layers: L } = s;
    const Hp = (this.Hp = round4(s.hidden));
    const G = (this.G = 4 * Hp);
    this.XP = round4(I);
    this.S = this.XP + 2 * L * Hp;
    this.cRow = (this.XP + L * Hp) * 4;
    let p = HEAP;
    const take = (bytes: number): number => {
      const at = p;
      p += align(bytes);
      return at;
    };
    let g = 0;
    for (let l = 0; l < L; l++) {
      const Kin = l === 0 ? I : Hp;
      const KinP = round4(Kin);
      const K = Kin + Hp;
      const O = KinP + Hp;
      const w = take(G * K * 4);
      const bias = take(G * 4);
      const wt = take(G * O * 4);
      this.layers.push({ K, Kin, KinP, w, bias, wt, gw: g, gb: g + K * G * 4 });
      g += (K + 1) * G * 4;
    }
    this.gHead = g;
    g += (Hp + 4) * 4;
    this.pint = g / 4;
    this.head = take((Hp + 4) * 4);
    this.state = take(n * this.S * 4);
    this.segment = Math.max(1, Math.min(segment, capacity));
    this.segments = Math.ceil(capacity / this.segment);
    this.ckptStride = align(n * this.S * 4);
    this.state0 = take(this.segments * this.ckptStride);
    this.dstate = take(n * 2 * L * Hp * 4);
    this.th = take(n * L * Hp * 4);
    this.tapePrecision = tape;
    const kept = Math.min(capacity, this.segment);
    this.tape = take(kept * L * n * (tape === "bf16" ? 5 * Hp * 2 : 4 * Hp * 4));
    this.cEvery = cEvery;
    this.tapeC = take(tape === "bf16" ? 0 : Math.floor(kept / cEvery) * L * n * Hp * 4);
    this.tapeX = take(capacity * n * I * 4);
    this.x = take(n * I * 4);
    this.out = take(n * 4);
    this.dout = take(n * 4);
    this.dx = take(n * I * 4);
    // One spare column: an odd last weight-gradient row is paired with a zero column.
    this.KR = round4(Math.max(...this.layers.map((y) => y.K)) + 1);
    this.OMAX = Math.max(...this.layers.map((y) => y.KinP + Hp));
    let q = 0;
    const sub = (floats: number): number => {
      const at = q;
      q += align(floats * 4);
      return at;
    };
    sub(G); // zA at 0
    this.sc = {
      zB: sub(G),
      pi: sub(2 * this.KR + 8),
      gA: sub(5 * Hp),
      gB: sub(5 * Hp),
      dummy: sub(2 * Math.max(G, this.OMAX) + 32),
      dz: sub(B * G),
      dzi: sub(4 * G), // two pairs, interleaved
      inr: sub(B * this.KR),
      ths: sub(B * Hp),
      dio: sub(B * this.OMAX),
      ghs: sub(Hp + 4),
      // three tape rows unpacked from bfloat16 (none for an f32 tape)
      unp: tape === "bf16" ? sub(15 * Hp) : 0,
      // a float32 tape's c' recomputed in the backward pass
      cs: sub(Hp),
    };
    this.scrStride = q;
    this.scr = take(P * this.scrStride);
    this.g64Stride = align(this.pint * 8);
    this.g64 = take(sums * this.g64Stride);
    this.bytes = p;
  }

  /** Internal input row of the contract's row r of W_l (inputs, then recurrent). */
  row(l: number, r: number, H: number): number {
    const y = this.layers[l]!;
    const kinC = l === 0 ? y.Kin : H;
    return r < kinC ? r : y.Kin + (r - kinC);
  }

  /** Output lane of WT_l for input row k (the input part, then the recurrent part). */
  outLane(l: number, k: number): number {
    const y = this.layers[l]!;
    return k < y.Kin ? k : y.KinP + (k - y.Kin);
  }

  /** Copies the contract's phi into the weights, permuted and transposed. */
  writePhi(s: LstmShape, phi: Float32Array, f32: Float32Array): void {
    const { hidden: H, layers: L } = s;
    const { Hp, G } = this;
    const G0 = 4 * H;
    let o = 0;
    for (let l = 0; l < L; l++) {
      const y = this.layers[l]!;
      const w = y.w / 4;
      const wt = y.wt / 4;
      const bias = y.bias / 4;
      const O = y.KinP + Hp;
      f32.fill(0, w, w + G * y.K);
      f32.fill(0, wt, wt + G * O);
      f32.fill(0, bias, bias + G);
      const rows = (l === 0 ? s.inputs : H) + H;
      for (let r = 0; r < rows; r++) {
        const k = this.row(l, r, H);
        const ol = this.outLane(l, k);
        for (let q = 0; q < 4; q++) {
          for (let u = 0; u < H; u++) {
            const v = phi[o + r * G0 + q * H + u]!;
            const j = lane(q, u);
            f32[w + k * G + j] = v;
            f32[wt + j * O + ol] = v;
          }
        }
      }
      o += rows * G0;
      for (let q = 0; q < 4; q++) for (let u = 0; u < H; u++) f32[bias + lane(q, u)] = phi[o + q * H + u]!;
      o += G0;
    }
    const head = this.head / 4;
    f32.fill(0, head, head + Hp + 4);
    for (let u = 0; u < H; u++) f32[head + u] = phi[o + u]!;
    f32[head + Hp] = phi[o + H]!;
  }

  /** The recurrent state in the contract's layout (a copy). */
  readState(s: LstmShape, n: number, f32: Float32Array): Float32Array {
    const { hidden: H, layers: L } = s;
    const { Hp, S, XP } = this;
    const per = stateSize(s);
    const out = new Float32Array(n * per);
    const st = this.state / 4;
    for (let c = 0; c < n; c++) {
      const row = st + c * S + XP;
      for (let l = 0; l < L; l++) {
        const o = c * per + 2 * l * H;
        out.set(f32.subarray(row + l * Hp, row + l * Hp + H), o);
        out.set(f32.subarray(row + (L + l) * Hp, row + (L + l) * Hp + H), o + H);
      }
    }
    return out;
  }

  /** Replaces the recurrent state from the contract's layout. */
  writeState(s: LstmShape, n: number, state: Float32Array, f32: Float32Array): void {
    const { hidden: H, layers: L } = s;
    const { Hp, S, XP } = this;
    const per = stateSize(s);
    const st = this.state / 4;
    f32.fill(0, st, st + n * S);
    for (let c = 0; c < n; c++) {
      const row = st + c * S + XP;
      for (let l = 0; l < L; l++) {
        const o = c * per + 2 * l * H;
        f32.set(state.subarray(o, o + H), row + l * Hp);
        f32.set(state.subarray(o + H, o + 2 * H), row + (L + l) * Hp);
      }
    }
  }

  /** Adds this memory's `blocks` float64 gradient sums, in order, into `sum` (`pint` values). */
  sumBlocks(f64: Float64Array, blocks: number, sum: Float64Array): void {
    for (let t = 0; t < blocks; t++) {
      const b = (this.g64 + t * this.g64Stride) / 8;
      for (let k = 0; k < this.pint; k++) sum[k]! += f64[b + k]!;
    }
  }

  /** Adds the summed gradient (see `sumBlocks`) into dphi (the contract's layout). */
  addGradient(s: LstmShape, sum: Float64Array, dphi: Float32Array): void {
    const { hidden: H, layers: L } = s;
    const { Hp, G } = this;
    const G0 = 4 * H;
    let o = 0;
    for (let l = 0; l < L; l++) {
      const y = this.layers[l]!;
      const gw = y.gw / 4;
      const gb = y.gb / 4;
      const rows = (l === 0 ? s.inputs : H) + H;
      for (let r = 0; r < rows; r++) {
        const row = gw + this.row(l, r, H) * G;
        for (let q = 0; q < 4; q++) {
          for (let u = 0; u < H; u++) {
            const k = o + r * G0 + q * H + u;
            dphi[k] = dphi[k]! + sum[row + lane(q, u)]!;
          }
        }
      }
      o += rows * G0;
      for (let q = 0; q < 4; q++) for (let u = 0; u < H; u++) dphi[o + q * H + u] = dphi[o + q * H + u]! + sum[gb + lane(q, u)]!;
      o += G0;
    }
    const head = this.gHead / 4;
    for (let u = 0; u < H; u++) dphi[o + u] = dphi[o + u]! + sum[head + u]!;
    dphi[o + H] = dphi[o + H]! + sum[head + Hp]!;
  }
}

/**
 * How the WebAssembly engine (`wasm.ts`) lays a problem out in memory: how many steps of its
 * tape keep their gates (the rest is recomputed from checkpoints, bit for bit), and how its
 * coordinates are split between WebAssembly instances ("shards"), each with its own memory of
 * at most 4 GiB.
 *
 * - Segments: the tape keeps the gates of `segment` steps and, for every segment, the state
 *   rows it starts from. The backward pass recomputes an earlier segment's gates by running the
 *   forward kernel again from its checkpoint (the same code on the same inputs: the same bits),
 *   which costs one more forward step per recomputed step. The segments end at the capacity
 *   (the first one is short), so a whole truncation keeps its last k steps and recomputes
 *   T - k: the longest segment that fits is the fastest. Memory per coordinate falls from
 *   about 728 T bytes (the paper's LSTM, T steps; a float32 tape keeps the gates of every
 *   step, 640 bytes, and c' of every second, 80 a step on average) to about
 *   336 ceil(T / k) + 720 k + 8 T.
 * - A `bf16` tape (opt-in) keeps the gates and c' in bfloat16 (400 bytes per step), so
 *   nearly twice as many steps fit the budget and fewer are recomputed; its gradient is within
 *   bfloat16 rounding of the `f32` tape's, not the same bits.
 * - Shards: the coordinates go to instances in whole chunks of the `chunks` backward pass, so
 *   each chunk's float64 gradient sums are those of one instance, and the host adds them in the
 *   same order: the same bits as one instance wherever one instance fits.
 */
import { L2oError } from "../core/errors.ts";
import type { LstmShape } from "./types.ts";
import { C_EVERY, Layout, MAX_PAGES, PAGE, type TapePrecision } from "./wasm_layout.ts";
import { nodeBuiltin } from "./source.ts";

/** The engine's memory would not fit (the CLI reports it with exit code 2). */
export class EngineMemoryError extends L2oError {
  override readonly name = "EngineMemoryError";
}

/** The most bytes one WebAssembly instance's memory can hold (65,536 pages of 64 KiB: 4 GiB). */
export const MAX_INSTANCE_BYTES = MAX_PAGES * PAGE;

/** One instance's share of the coordinates: [c0, c0 + n), its layout and gradient blocks. */
export interface Shard {
  readonly c0: number;
  readonly n: number;
  /** Blocks of float64 gradient sums: one per chunk (`chunks`) or per thread (`threads`). */
  readonly sums: number;
  readonly lay: Layout;
}

export interface MemoryPlan {
  /** Steps per tape segment (the capacity when the whole tape fits the budget). */
  readonly segment: number;
  readonly shards: Shard[];
  /** Bytes of all the instances' memories together. */
  readonly bytes: number;
}

export interface PlanRequest {
  readonly shape: LstmShape;
  readonly n: number;
  readonly capacity: number;
  /** Threads (scratch per thread in every instance) and the GEMM block size. */
  readonly P: number;
  readonly B: number;
  /** Coordinates per chunk of the backward pass, or 0 for the `threads` reduction (one instance). */
  readonly chunk: number;
  /** Steps per segment; undefined: the whole tape if it fits `budget`, else as below. */
  readonly segment?: number;
  /** Bytes the memories may take before the tape is cut into segments. */
  readonly budget: number;
  /** Bytes per instance at most (tests set less, to split small problems). */
  readonly shardBytes: number;
  /** How the tape keeps the gates (default `f32`; `bf16` takes half the bytes). */
  readonly tape?: TapePrecision;
  /** A float32 tape keeps c' of every `cellEvery`-th step (default `C_EVERY`). */
  readonly cellEvery?: number;
}

/** This machine's memory in bytes (Infinity where it cannot be asked). */
export function machineBytes(): number {
  return nodeBuiltin<typeof import("node:os")>("node:os")?.totalmem() ?? Infinity;
}

/**
 * The default `memoryBudget`: a quarter of the machine's memory in Node, 1 GiB elsewhere. Past
 * it, the engine keeps the tape in segments: slower (one forward step more per recomputed
 * step), the same bits.
 */
export function defaultMemoryBudget(): number {
  const m = machineBytes();
  return Number.isFinite(m) ? Math.floor(m / 4) : 2 ** 30;
}

/**
 * Segment lengths worth trying, longest first: all of them up to 4,096 steps; beyond, those
 * that end a run of lengths with the same number of segments (the shortest of each run: the
 * least memory for that count) and every length up to the square root.
 */
function segmentCandidates(capacity: number): number[] {
  if (capacity <= 4096) return Array.from({ length: capacity }, (_, i) => capacity - i);
  const r = Math.ceil(Math.sqrt(capacity));
  const ks = new Set<number>();
  for (let m = 1; m <= r; m++) ks.add(Math.ceil(capacity / m));
  for (let k = 1; k <= r; k++) ks.add(k);
  return [...ks].sort((a, b) => b - a);
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);

/** The plan for `r`, or an EngineMemoryError saying what to shorten. */
export function planMemory(r: PlanRequest): MemoryPlan {
  const { shape, n, capacity, P, B, chunk } = r;
  const tape = r.tape ?? "f32";
  const k = r.cellEvery ?? C_EVERY;
  const blocks = (m: number): number => (chunk > 0 ? Math.max(1, Math.ceil(m / chunk)) : P);
  const bytesAt = (seg: number): number => new Layout(shape, n, capacity, P, B, blocks(n), seg, tape, k).bytes;
  let segment = r.segment ?? capacity;
  if (r.segment === undefined && capacity > 1 && bytesAt(capacity) > r.budget) {
    // The longest segment that fits the budget (fewest recomputed steps), else the least memory.
    let best = capacity;
    let bestBytes = Infinity;
    for (const s of segmentCandidates(capacity)) {
      const b = bytesAt(s);
      if (b <= r.budget) {
        best = s;
        break;
      }
      if (b < bestBytes) [best, bestBytes] = [s, b];
    }
    segment = best;
  }
  segment = Math.max(1, Math.min(segment, Math.max(capacity, 1)));
  const what = `${n} coordinates and a tape of ${capacity} steps`;
  const total = bytesAt(segment);
  const machine = machineBytes();
  if (total > machine) {
    throw new EngineMemoryError(
      `the WebAssembly LSTM engine would need ${gib(total)} GiB for ${what}, more than this machine's ${gib(machine)} GiB: ` +
        "use a shorter unroll (--unroll) or fewer coordinates",
    );
  }
  if (chunk === 0) {
    const lay = new Layout(shape, n, capacity, P, B, P, segment, tape, k);
    if (lay.bytes > r.shardBytes) {
      throw new EngineMemoryError(
        `the WebAssembly LSTM engine would need ${gib(lay.bytes)} GiB for ${what}, more than one WebAssembly instance's ` +
          `${gib(r.shardBytes)} GiB, and the 'threads' reduction runs on one instance: use --reduction chunks, ` +
          "a shorter unroll (--unroll), or fewer coordinates",
      );
    }
    return { segment, shards: [{ c0: 0, n, sums: P, lay }], bytes: lay.bytes };
  }
  // Whole chunks per instance: the most that fit, then spread evenly over the instances needed.
  const chunks = Math.max(1, Math.ceil(n / chunk));
  const fits = (c: number): boolean => new Layout(shape, Math.min(n, c * chunk), capacity, P, B, c, segment, tape, k).bytes <= r.shardBytes;
  if (!fits(1)) {
    throw new EngineMemoryError(
      `the WebAssembly LSTM engine would need more than one WebAssembly instance's ${gib(r.shardBytes)} GiB for one chunk of ` +
        `${chunk} coordinates (${what}): use a shorter unroll (--unroll) or fewer coordinates`,
    );
  }
  let lo = 1;
  let hi = chunks;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  const count = Math.ceil(chunks / lo);
  const shards: Shard[] = [];
  let c = 0;
  for (let s = 0; s < count; s++) {
    const take = Math.floor(chunks / count) + (s < chunks % count ? 1 : 0);
    const c0 = Math.min(n, c * chunk);
    const m = Math.min(n, (c + take) * chunk) - c0;
    shards.push({ c0, n: m, sums: blocks(m), lay: new Layout(shape, m, capacity, P, B, blocks(m), segment, tape, k) });
    c += take;
  }
  return { segment, shards, bytes: shards.reduce((a, s) => a + s.lay.bytes, 0) };
}

/**
 * The WebAssembly SIMD engine for the coordinatewise LSTM (Andrychowicz et al. 2016, section
 * 2.1; the contract and the layout of `phi` are in `types.ts`).
 *
 * The kernels (AssemblyScript, `assembly/lstm.ts`, compiled by `scripts/build-wasm.mjs` into
 * `build/lstm.wasm` and, with fused multiply-adds, `build/lstm_fma.wasm`; see `WasmVariant`) run SIMD across the gate lanes of a coordinate, two coordinates at a time,
 * and compute the weight gradient as a blocked GEMM over blocks of coordinates. With
 * `threads > 1` the forward pass hands out chunks of coordinates to whichever thread asks
 * next (a shared counter), while the backward pass splits them into fixed contiguous ranges,
 * one per thread, so that the weight gradient's float64 sums are added in an order that does
 * not depend on timing. The calling thread works alongside the workers, all on one shared
 * `WebAssembly.Memory`. Every call is synchronous: the caller wakes the workers through
 * `Atomics` on a control block in that memory and waits for them with `Atomics.wait`.
 *
 * Outside Node (a browser page without cross-origin isolation has no shared memory, and no
 * worker threads of Node's kind) the engine runs on the calling thread alone, on an unshared
 * memory, with `build/web/lstm.wasm`: the same source built without `--sharedMemory`, whose
 * results are the same bits as `build/lstm.wasm`'s. The kernels' bytes come from
 * `source.ts` (in Node, `build/`; in a page, what the page fetched).
 *
 * What the tape keeps matches the reference engine (activated gates and the new cell state per
 * layer, the input features, a snapshot of the state when recording starts). The gradient of
 * phi is summed in float32 over at most 32 coordinates at a time and in float64 beyond, since
 * its terms cancel heavily. sigmoid and tanh use a rational approximation of tanh accurate to
 * a few float32 ulps (max 3.4e-7 relative).
 *
 * Past a memory budget the tape keeps the gates of only its last segment of steps, with the
 * state at each segment's start, and recomputes an earlier segment's gates before going back
 * through it; past one instance's 4 GiB the coordinates are split between several instances,
 * each with its own memory, whole chunks of the backward pass each (`wasm_plan.ts`). Both give
 * the same bits as one instance with the whole tape.
 */
import type { Worker } from "node:worker_threads";
import { kernelBytes, kernelLocation, kernelSourceGeneration, nodeBuiltin } from "./source.ts";
import { checkSnapshot, phiSize, stateSize, type LstmEngineOptions, type LstmShape, type SnapshotLstmEngine } from "./types.ts";
import { CMD, CTRL, CTRL_BYTES, WORKER_SOURCE } from "./wasm_worker.ts";
import { CTX, F, HEAP, LAYER_FIELDS, LF, MAX_LAYERS, MAX_THREADS, PAGE, round4, TAPE_PRECISIONS, type Layout, type TapePrecision } from "./wasm_layout.ts";
import { defaultMemoryBudget, EngineMemoryError, MAX_INSTANCE_BYTES, planMemory, type Shard } from "./wasm_plan.ts";
import { wasmApi, type WasmModule, type WasmMemory } from "./wasm_api.ts";

export { EngineMemoryError } from "./wasm_plan.ts";
export { TAPE_PRECISIONS, type TapePrecision } from "./wasm_layout.ts";

/** Options of the WebAssembly engine. */
export interface WasmEngineOptions extends LstmEngineOptions {
  /**
   * Threads, the calling one included (1: no workers). Defaults to the available cores (at
   * most 8), fewer for small `n` (one per 4,096 coordinates).
   */
  readonly threads?: number;
  /** Coordinates per block of the weight-gradient GEMM (default 64). */
  readonly blockSize?: number;
  /** Which build of the kernels to run (default: `defaultWasmVariant()`). */
  readonly variant?: WasmVariant;
  /** How the backward pass splits its work and sums the weight gradient (default `chunks`). */
  readonly reduction?: GradientReduction;
  /**
   * Whether the engine's memory is shared, for worker threads (default: true where Node's
   * worker threads exist). Unshared, it runs `build/web/lstm.wasm` on one thread: the same
   * bits, and what a browser page without cross-origin isolation can run.
   */
  readonly sharedMemory?: boolean;
  /**
   * Steps per tape segment: the gates of only the last segment's steps are kept, with the
   * state at every segment's start, and the backward pass recomputes an earlier segment's gates
   * (the same bits; one more forward step per recomputed step). The segments end at the
   * capacity (the first one is the short one), so a whole truncation recomputes capacity -
   * segment steps. Default: the whole capacity
   * while the engine fits `memoryBudget`, else the longest segment that fits it (or, if none
   * does, the one that needs the least memory).
   */
  readonly segment?: number;
  /**
   * How the tape keeps each step's gates and c' (default `f32`: the same bits as ever). `bf16`
   * (opt-in) rounds them to bfloat16: half the tape's bytes, so twice the steps per segment
   * within the budget; the outputs and states are the same bits, the gradient is within bfloat16
   * rounding of the `f32` tape's (checked against finite differences in test/wasm_tape16.test.ts).
   */
  readonly tape?: TapePrecision;
  /**
   * A float32 tape keeps the cell state c' of every `cellEvery`-th step (default 2); the
   * backward pass recomputes the others from the one kept before (at most `cellEvery` - 1
   * multiply-adds per unit and step back, reading earlier steps' gates), the same bits whatever
   * the value. 1 keeps every step's (800 bytes per coordinate-step of the paper's LSTM, against
   * 720 at 2 and 680 at 4); a value past the capacity keeps none (640, but each step back then
   * recomputes from the segment's start). No effect on a bfloat16 tape.
   */
  readonly cellEvery?: number;
  /** Bytes the engine's memories may take before its tape is cut into segments (default: `defaultMemoryBudget()`, a quarter of the machine's memory). */
  readonly memoryBudget?: number;
  /**
   * The most bytes of one WebAssembly instance's memory (default and at most 4 GiB); past it the
   * coordinates are split between instances (the `chunks` reduction only).
   */
  readonly shardBytes?: number;
}

/**
 * How the backward pass splits the coordinates between threads and sums the weight gradient:
 * - `chunks`: threads claim chunks of coordinates on demand (about 16 chunks, a fixed size
 *   for a given n), and each chunk's float64 sums are added in chunk order, so the gradient
 *   is the same bits on any thread count, and a thread that the machine slows down does less.
 * - `threads`: each thread a fixed range with its own sums, as every engine did before
 *   `chunks` existed: the last bits of the gradient depend on the thread count. Replays of
 *   trainings made that way need it.
 */
export type GradientReduction = "chunks" | "threads";
export const GRADIENT_REDUCTIONS: readonly GradientReduction[] = ["chunks", "threads"];

/** Coordinates per chunk of the `chunks` backward pass: blocks of B, about 16 chunks. */
export function backwardChunk(n: number, B: number): number {
  return B * Math.max(1, Math.ceil(n / (16 * B)));
}

/** The WebAssembly engine: the LSTM engine contract (snapshots included) plus its thread count. */
export interface WasmLstmEngine extends SnapshotLstmEngine {
  /** Threads working on each call, the calling one included. */
  readonly threads: number;
  /** The build of the kernels it runs. */
  readonly variant: WasmVariant;
  /** How its backward pass sums the weight gradient. */
  readonly reduction: GradientReduction;
  /** Whether its memory is shared (the threaded builds) or not (`build/web/lstm.wasm`, one thread). */
  readonly sharedMemory: boolean;
  /** Steps per tape segment (`capacity` when the whole tape is kept). */
  readonly segment: number;
  /** Forward steps run again so far to put an earlier segment's gates back on the tape. */
  readonly recomputedSteps: number;
  /** How its tape keeps the gates: `f32` or (opt-in) `bf16`. */
  readonly tape: TapePrecision;
  /** WebAssembly instances (each with its own memory) the coordinates are split between. */
  readonly instances: number;
  /** Bytes of the instances' memories together. */
  readonly memoryBytes: number;
  /** Resolves once every worker thread has exited (after `dispose`). */
  stopped(): Promise<void>;
}

/**
 * The WebAssembly engine's `stateLayout`: the state rows of `wasm_layout.ts`. Change it
 * whenever that layout changes, so that old snapshots are refused rather than misread.
 */
export const WASM_STATE_LAYOUT = "wasm-v1";

/**
 * The two builds of the kernels (scripts/build-wasm.mjs), from the same source:
 * - `simd`: WebAssembly SIMD; every product is a multiply then an add (two roundings).
 * - `fma`: also relaxed SIMD; the products of the matrix tiles, the activations, the cell and
 *   the head are fused multiply-adds (one rounding), which V8 compiles to FMA instructions where the
 *   CPU has them (about 1.7x the multiply-add throughput of `simd` on this project's
 *   machine, BENCHMARKS.md). Its results are within float32 rounding of `simd`'s, not equal to
 *   them, and a CPU without FMA may round differently (V8 then multiplies and adds).
 */
export type WasmVariant = "simd" | "fma";

/** Where the compiled kernels are expected in Node (the shared-memory builds). */
export const WASM_KERNEL_URLS: Readonly<Record<WasmVariant, URL>> = {
  simd: new URL("../../build/lstm.wasm", import.meta.url),
  fma: new URL("../../build/lstm_fma.wasm", import.meta.url),
};
/** The `simd` build's path (kept for callers of earlier releases). */
export const WASM_KERNEL_URL = WASM_KERNEL_URLS.simd;

/**
 * The kernel file of a build: the shared-memory builds for worker threads, and the unshared
 * single-thread build under `web/` (only `simd` is built so: fused multiply-adds would give
 * bits that depend on the visitor's CPU).
 */
function kernelFile(variant: WasmVariant, shared: boolean): string {
  if (shared) return variant === "fma" ? "lstm_fma.wasm" : "lstm.wasm";
  return variant === "fma" ? "web/lstm_fma.wasm" : "web/lstm.wasm";
}

/** Compiled modules and availability answers, by build; dropped when the kernel source changes. */
let cachedModules = new Map<string, WasmModule>();
let availability = new Map<string, boolean>();
let cachedGeneration = -1;

function freshCaches(): void {
  if (cachedGeneration === kernelSourceGeneration()) return;
  cachedModules = new Map();
  availability = new Map();
  cachedGeneration = kernelSourceGeneration();
}

/** Whether Node's worker threads (and so a shared memory for them) are here. */
function workerThreads(): typeof import("node:worker_threads") | undefined {
  return nodeBuiltin<typeof import("node:worker_threads")>("node:worker_threads");
}

/** The default of `WasmEngineOptions.sharedMemory`: true where Node's worker threads exist. */
export function defaultSharedMemory(): boolean {
  return workerThreads() !== undefined;
}

/**
 * Node before 22 accepts relaxed SIMD only behind a V8 flag. It is a process-wide flag that
 * enables nothing but the proposal's instructions, so it is switched on when the `fma` build
 * is first needed and the runtime refuses it without the flag.
 */
function acceptRelaxedSimd(bytes: Uint8Array<ArrayBuffer>): boolean {
  if (wasmApi.validate(bytes)) return true;
  const v8 = nodeBuiltin<typeof import("node:v8")>("node:v8");
  if (v8 === undefined) return false;
  v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
  return wasmApi.validate(bytes);
}

/** The compiled kernel module of a build (compiled once per kernel source, synchronously). */
function kernelModule(variant: WasmVariant = "simd", shared = defaultSharedMemory()): WasmModule {
  freshCaches();
  const file = kernelFile(variant, shared);
  const cached = cachedModules.get(file);
  if (cached !== undefined) return cached;
  const bytes = kernelBytes(file);
  if (bytes === undefined) throw new Error(`WebAssembly engine: ${kernelLocation(file)} not found; run \`npm run build:wasm\``);
  if (variant === "fma" && !acceptRelaxedSimd(bytes)) {
    throw new Error("WebAssembly engine: this runtime does not accept relaxed SIMD (the fma kernels); use the simd kernels");
  }
  const module = new wasmApi.Module(bytes);
  cachedModules.set(file, module);
  return module;
}

/**
 * Whether the compiled kernels of `variant` are present and this runtime accepts them (SIMD,
 * threads, and relaxed SIMD for `fma`; a shared memory for the `shared` builds).
 */
export function wasmEngineAvailable(variant: WasmVariant = "simd", shared = defaultSharedMemory()): boolean {
  // Asked on every engine creation (the default variant): the answer is kept, so a missing
  // build is not read for again each time.
  freshCaches();
  const file = kernelFile(variant, shared);
  const known = availability.get(file);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    kernelModule(variant, shared);
    if (shared) new wasmApi.Memory({ initial: 1, maximum: 1, shared: true });
    ok = true;
  } catch {
    ok = false;
  }
  availability.set(file, ok);
  return ok;
}

/** The variant an engine gets when none is asked for: `fma` where available, else `simd`. */
export function defaultWasmVariant(): WasmVariant {
  return wasmEngineAvailable("fma") ? "fma" : "simd";
}

interface KernelExports {
  init(): void;
  forward(ctx: number, tid: number): void;
  backward(ctx: number, tid: number): void;
  tanhArray(src: number, dst: number, n: number): void;
  sigmoidArray(src: number, dst: number, n: number): void;
}

/**
 * Creates the WebAssembly SIMD engine (synchronously, workers included). The paper's
 * coordinatewise LSTM (Andrychowicz et al. 2016, section 2.1), agreeing with the reference
 * engine to float32 rounding. Call `dispose()` to stop its workers; a forgotten engine does
 * not keep the process alive.
 */
export function createWasmEngine(opts: WasmEngineOptions): WasmLstmEngine {
  const s = opts.shape;
  for (const [k, v] of [["inputs", s.inputs], ["hidden", s.hidden], ["layers", s.layers]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`LSTM engine: shape.${k} must be a positive integer, got ${v}`);
  }
  if (s.layers > MAX_LAYERS) throw new Error(`WebAssembly engine: at most ${MAX_LAYERS} layers, got ${s.layers}`);
  if (!Number.isInteger(opts.n) || opts.n < 0) throw new Error(`LSTM engine: n must be a non-negative integer, got ${opts.n}`);
  if (!Number.isInteger(opts.capacity) || opts.capacity < 0) {
    throw new Error(`LSTM engine: capacity must be a non-negative integer, got ${opts.capacity}`);
  }
  const B = opts.blockSize ?? 64;
  if (!Number.isInteger(B) || B < 2 || B % 2 !== 0) throw new Error(`WebAssembly engine: blockSize must be an even integer >= 2, got ${B}`);
  const shared = opts.sharedMemory ?? defaultSharedMemory();
  const cores = nodeBuiltin<typeof import("node:os")>("node:os")?.availableParallelism() ?? 1;
  let P = opts.threads ?? (shared ? Math.max(1, Math.min(cores, 8, Math.floor(opts.n / 4096))) : 1);
  if (!Number.isInteger(P) || P < 1) throw new Error(`WebAssembly engine: threads must be a positive integer, got ${P}`);
  P = Math.min(P, MAX_THREADS, Math.max(1, Math.ceil(opts.n / 2)));
  if (P > 1 && (!shared || workerThreads() === undefined)) {
    throw new Error(`WebAssembly engine: ${P} threads need a shared memory and Node's worker threads; use threads: 1 here`);
  }
  const variant = opts.variant ?? defaultWasmVariant();
  if (variant !== "simd" && variant !== "fma") throw new Error(`WebAssembly engine: variant must be 'simd' or 'fma', got '${String(variant)}'`);
  const reduction = opts.reduction ?? "chunks";
  if (!GRADIENT_REDUCTIONS.includes(reduction)) {
    throw new Error(`WebAssembly engine: reduction must be ${GRADIENT_REDUCTIONS.map((r) => `'${r}'`).join(" or ")}, got '${String(reduction)}'`);
  }
  if (opts.segment !== undefined && !(Number.isInteger(opts.segment) && opts.segment >= 1)) {
    throw new Error(`WebAssembly engine: segment must be a positive integer, got ${opts.segment}`);
  }
  if (opts.cellEvery !== undefined && !(Number.isInteger(opts.cellEvery) && opts.cellEvery >= 1)) {
    throw new Error(`WebAssembly engine: cellEvery must be a positive integer, got ${opts.cellEvery}`);
  }
  if (opts.tape !== undefined && !TAPE_PRECISIONS.includes(opts.tape)) {
    throw new Error(`WebAssembly engine: tape must be ${TAPE_PRECISIONS.map((t) => `'${t}'`).join(" or ")}, got '${String(opts.tape)}'`);
  }
  for (const [k, v] of [["memoryBudget", opts.memoryBudget], ["shardBytes", opts.shardBytes]] as const) {
    if (v !== undefined && !(typeof v === "number" && v > 0)) throw new Error(`WebAssembly engine: ${k} must be a positive number of bytes, got ${v}`);
  }
  return new WasmEngine(opts, P, B, variant, reduction, shared);
}

/**
 * Thread-side resources, kept apart from the engine (nothing here refers to it) so that an
 * engine dropped without `dispose` can be collected and its finalizer can stop the workers.
 */
interface Pool {
  workers: Worker[];
  ctrl: Int32Array;
  exited: Promise<void>;
  /** The first error a worker reported. */
  error: Error | null;
}

function stopPool(pool: Pool): void {
  if (pool.workers.length === 0) return;
  Atomics.store(pool.ctrl, CTRL.cmd, CMD.exit);
  Atomics.add(pool.ctrl, CTRL.gen, 1);
  Atomics.notify(pool.ctrl, CTRL.gen);
  for (const w of pool.workers) void w.terminate();
  pool.workers = [];
}

const finalizer = new FinalizationRegistry<Pool>(stopPool);

/** One WebAssembly instance of an engine: its coordinates [c0, c0 + n), layout and memory views. */
interface Part {
  readonly c0: number;
  readonly n: number;
  /** Blocks of float64 gradient sums: one per thread (`threads`) or per chunk (`chunks`). */
  readonly sums: number;
  readonly lay: Layout;
  readonly ex: KernelExports;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);

class WasmEngine implements WasmLstmEngine {
  readonly shape: LstmShape;
  readonly n: number;
  readonly capacity: number;
  readonly threads: number;
  readonly variant: WasmVariant;
  readonly reduction: GradientReduction;
  /** Whether its memory is shared (the threaded builds) or not (`build/web/`). */
  readonly sharedMemory: boolean;
  readonly segment: number;
  readonly tape: TapePrecision;
  readonly instances: number;
  readonly memoryBytes: number;
  private readonly bChunk: number;
  /**
   * Snapshots are the engine's state rows as they lie in memory (see `Layout.S`): per
   * coordinate `[pad | x]`, h of every layer, c of every layer, each padded to `Hp` units.
   */
  readonly stateLayout = WASM_STATE_LAYOUT;
  readonly snapshotLength: number;
  private parts: Part[];
  private readonly pool: Pool;
  private steps = 0;
  private cursor = 0;
  /** The segment whose gates the tape holds (-1: none). */
  private tapeSegment = -1;
  /**
   * Steps the first segment is short of `segment` (0 to segment - 1): the segments end at the
   * capacity, so that a whole truncation keeps its last `segment` steps on the tape and
   * recomputes capacity - segment steps, not segment * (segments - 1).
   */
  private segShort = 0;
  recomputedSteps = 0;
  private stale = false;
  /** Whether keepTopCells has put the top recorded step's c' in the dL/dstate rows. */
  private topKept = false;
  private disposed = false;

  constructor(opts: WasmEngineOptions, P: number, B: number, variant: WasmVariant, reduction: GradientReduction, shared: boolean) {
    this.shape = { inputs: opts.shape.inputs, hidden: opts.shape.hidden, layers: opts.shape.layers };
    this.n = opts.n;
    this.capacity = opts.capacity;
    this.threads = P;
    this.variant = variant;
    this.reduction = reduction;
    this.sharedMemory = shared;
    this.bChunk = backwardChunk(this.n, B);
    this.tape = opts.tape ?? "f32";
    const plan = planMemory({
      tape: this.tape,
      shape: this.shape,
      n: this.n,
      capacity: this.capacity,
      P,
      B,
      chunk: reduction === "chunks" ? this.bChunk : 0,
      ...(opts.segment !== undefined ? { segment: opts.segment } : {}),
      ...(opts.cellEvery !== undefined ? { cellEvery: opts.cellEvery } : {}),
      budget: opts.memoryBudget ?? defaultMemoryBudget(),
      shardBytes: Math.min(opts.shardBytes ?? MAX_INSTANCE_BYTES, MAX_INSTANCE_BYTES),
    });
    this.segment = plan.segment;
    this.segShort = plan.segment > 0 ? (plan.segment - (this.capacity % plan.segment)) % plan.segment : 0;
    this.instances = plan.shards.length;
    this.memoryBytes = plan.bytes;
    this.snapshotLength = this.n * plan.shards[0]!.lay.S;
    const module = kernelModule(variant, shared);
    const memories: WasmMemory[] = [];
    this.parts = plan.shards.map((sh: Shard) => {
      const pages = Math.ceil(sh.lay.bytes / PAGE);
      let memory: WasmMemory;
      try {
        memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared });
      } catch (e) {
        throw new EngineMemoryError(
          `the WebAssembly LSTM engine could not allocate ${gib(sh.lay.bytes)} GiB for one of its ${plan.shards.length} instances ` +
            `(${gib(plan.bytes)} GiB in all, ${this.n} coordinates, a tape of ${this.capacity} steps): ${(e as Error).message}`,
        );
      }
      memories.push(memory);
      const ex = new wasmApi.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
      const part: Part = {
        c0: sh.c0,
        n: sh.n,
        sums: sh.sums,
        lay: sh.lay,
        ex,
        i32: new Int32Array(memory.buffer),
        f32: new Float32Array(memory.buffer),
        f64: new Float64Array(memory.buffer),
      };
      ex.init();
      this.writeContext(part, P, B);
      return part;
    });

    const ctrl = new Int32Array(memories[0]!.buffer, CTRL_BYTES, 16);
    const workers: Worker[] = [];
    const exits: Promise<void>[] = [];
    const pool: Pool = { workers, ctrl, exited: Promise.resolve(), error: null };
    const WorkerThread = P > 1 ? workerThreads()!.Worker : undefined;
    for (let tid = 1; tid < P; tid++) {
      // No inherited execArgv: the worker is plain CommonJS and needs no loader (--import tsx,
      // --input-type=module and the like would break or slow it).
      const w = new WorkerThread!(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module, memories, ctx: CTX, tid } });
      w.on("error", (e: Error) => {
        pool.error ??= e;
      });
      exits.push(new Promise<void>((resolve) => w.once("exit", () => resolve())));
      w.unref();
      workers.push(w);
    }
    pool.exited = Promise.all(exits).then(() => undefined);
    this.pool = pool;
    if (workers.length > 0) {
      finalizer.register(this, this.pool, this);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = Atomics.load(ctrl, CTRL.ready);
        if (Atomics.load(ctrl, CTRL.failed) !== 0) {
          stopPool(this.pool);
          throw new Error("WebAssembly engine: a worker thread could not instantiate the kernels");
        }
        if (r >= workers.length) break;
        if (Date.now() > deadline) {
          stopPool(this.pool);
          throw new Error("WebAssembly engine: worker threads did not start within 30 s");
        }
        Atomics.wait(ctrl, CTRL.ready, r, 50);
      }
    }
  }

  private writeContext(part: Part, P: number, B: number): void {
    const { lay, i32, n } = part;
    const { inputs: I, hidden: H, layers: L } = this.shape;
    const { Hp } = lay;
    const c = CTX / 4;
    const set = (f: number, v: number): void => {
      i32[c + f] = v;
    };
    set(F.I, I);
    set(F.H, H);
    set(F.HP, Hp);
    set(F.L, L);
    set(F.N, n);
    set(F.P, P);
    set(F.B, B);
    set(F.OUT, lay.out);
    set(F.DOUT, lay.dout);
    set(F.STATE, lay.state);
    set(F.STATE0, lay.state0);
    set(F.DSTATE, lay.dstate);
    set(F.TH, lay.th);
    set(F.TAPE, lay.tape);
    set(F.TAPEX, lay.tapeX);
    set(F.HEAD, lay.head);
    set(F.SCR, lay.scr);
    set(F.SCRSTRIDE, lay.scrStride);
    set(F.G64, lay.g64);
    set(F.G64STRIDE, lay.g64Stride);
    set(F.GHEAD, lay.gHead);
    set(F.XP, lay.XP);
    set(F.S, lay.S);
    set(F.ZB, lay.sc.zB);
    set(F.PI, lay.sc.pi);
    set(F.GA, lay.sc.gA);
    set(F.GBS, lay.sc.gB);
    set(F.DUMMY, lay.sc.dummy);
    set(F.DZ, lay.sc.dz);
    set(F.DZI, lay.sc.dzi);
    set(F.INR, lay.sc.inr);
    set(F.THS, lay.sc.ths);
    set(F.DIO, lay.sc.dio);
    set(F.GHS, lay.sc.ghs);
    set(F.TAPE16, lay.tapePrecision === "bf16" ? 1 : 0);
    set(F.UNP, lay.sc.unp);
    set(F.TAPEC, lay.tapeC);
    set(F.CK, lay.cEvery);
    set(F.CS, lay.sc.cs);
    set(F.CTOP, lay.state + lay.cRow);
    set(F.CTOPS, lay.S * 4);
    set(F.KR, lay.KR);
    set(F.OMAX, lay.OMAX);
    // The forward pass's claims: even, at least 8 per thread, at most 128 coordinates.
    set(F.FCHUNK, Math.max(2, Math.min(128, 2 * Math.ceil(n / (16 * P)))));
    set(F.BMODE, this.reduction === "chunks" ? 1 : 0);
    // Chunks of the whole engine's n: an instance holds whole chunks, so its sums are theirs.
    set(F.BCHUNK, this.bChunk);
    for (let t = 0; t < P; t++) {
      const cut = (k: number): number => Math.min(n, 2 * Math.round((n * k) / P / 2));
      set(F.RANGE + 2 * t, cut(t));
      set(F.RANGE + 2 * t + 1, t === P - 1 ? n : cut(t + 1));
    }
    for (let l = 0; l < L; l++) {
      const y = lay.layers[l]!;
      const b = F.LAYER + LAYER_FIELDS * l;
      set(b + LF.W, y.w);
      set(b + LF.B, y.bias);
      set(b + LF.WT, y.wt);
      set(b + LF.K, y.K);
      set(b + LF.KIN, y.Kin);
      set(b + LF.KINP, y.KinP);
      set(b + LF.GW, y.gw);
      set(b + LF.GB, y.gb);
    }
  }

  get recorded(): number {
    return this.cursor;
  }

  private alive(what: string): void {
    if (this.disposed) throw new Error(`LSTM engine: ${what} after dispose()`);
  }

  /** Runs a kernel on every thread, over every instance in turn, and waits for all of them. */
  private run(cmd: number): void {
    const ctrl = this.pool.ctrl;
    const nw = this.pool.workers.length;
    if (nw > 0) {
      if (this.pool.error !== null) throw new Error(`WebAssembly engine: a worker failed: ${this.pool.error.message}`);
      Atomics.store(ctrl, CTRL.done, 0);
      Atomics.store(ctrl, CTRL.cmd, cmd);
      Atomics.add(ctrl, CTRL.gen, 1);
      Atomics.notify(ctrl, CTRL.gen);
    }
    let own: unknown = null;
    try {
      for (const p of this.parts) (cmd === CMD.forward ? p.ex.forward : p.ex.backward)(CTX, 0);
    } catch (e) {
      own = e;
    }
    if (nw > 0) {
      let spins = 0;
      for (;;) {
        const d = Atomics.load(ctrl, CTRL.done);
        if (d >= nw) break;
        if (spins < 2000) {
          spins++;
          continue;
        }
        if (this.pool.error !== null) throw new Error(`WebAssembly engine: a worker failed: ${this.pool.error.message}`);
        Atomics.wait(ctrl, CTRL.done, d, 1000);
      }
      if (Atomics.load(ctrl, CTRL.err) !== 0) {
        Atomics.store(ctrl, CTRL.err, 0);
        throw new Error("WebAssembly engine: a kernel failed on a worker thread");
      }
    }
    if (own !== null) throw own;
  }

  /** Writes context field `f` of every instance (`v` per instance). */
  private setAll(f: number, v: (p: Part) => number): void {
    for (const p of this.parts) p.i32[CTX / 4 + f] = v(p);
  }

  setPhi(phi: Float32Array): void {
    this.alive("setPhi");
    const want = phiSize(this.shape);
    if (phi.length !== want) throw new Error(`LSTM engine: phi has ${phi.length} floats, expected ${want}`);
    if (this.steps > 0) throw new Error("LSTM engine: setPhi while the tape holds steps; call finishBackward first");
    for (const p of this.parts) p.lay.writePhi(this.shape, phi, p.f32);
  }

  /**
   * Before the first unrecorded step after recorded ones: the backward pass will need c' of
   * the last recorded step, which a float32 tape does not keep (see `cellEvery`) and the live
   * state is about to lose. It goes into the rows of dL/dstate, unused until that backward
   * step, which reads it before zeroing them.
   */
  private keepTopCells(): void {
    const L = this.shape.layers;
    for (const { lay, f32, n } of this.parts) {
      const cells = L * lay.Hp;
      for (let c = 0; c < n; c++) {
        const from = (lay.state + lay.cRow) / 4 + c * lay.S;
        f32.copyWithin(lay.dstate / 4 + c * 2 * cells, from, from + cells);
      }
    }
    this.topKept = true;
  }

  private clearTape(): void {
    this.steps = 0;
    this.cursor = 0;
    this.tapeSegment = -1;
    this.stale = false;
    this.topKept = false;
    for (const { lay, f64, sums } of this.parts) f64.fill(0, lay.g64 / 8, (lay.g64 + sums * lay.g64Stride) / 8);
  }

  resetState(): void {
    this.alive("resetState");
    for (const { lay, f32, n } of this.parts) f32.fill(0, lay.state / 4, lay.state / 4 + n * lay.S);
    this.clearTape();
  }

  getState(): Float32Array {
    this.alive("getState");
    const per = stateSize(this.shape);
    const out = new Float32Array(this.n * per);
    for (const p of this.parts) out.set(p.lay.readState(this.shape, p.n, p.f32), p.c0 * per);
    return out;
  }

  setState(state: Float32Array): void {
    this.alive("setState");
    const per = stateSize(this.shape);
    if (state.length !== this.n * per) {
      throw new Error(`LSTM engine: state has ${state.length} floats, expected ${this.n * per} (n * ${per})`);
    }
    for (const p of this.parts) p.lay.writeState(this.shape, p.n, state.subarray(p.c0 * per, (p.c0 + p.n) * per), p.f32);
    this.clearTape();
  }

  snapshot(into?: Float32Array, offset = 0): Float32Array {
    this.alive("snapshot");
    if (into !== undefined && (!Number.isInteger(offset) || offset < 0 || offset + this.snapshotLength > into.length)) {
      throw new Error(`LSTM engine: snapshot of ${this.snapshotLength} floats does not fit at offset ${offset} of ${into.length}`);
    }
    // A new array is unshared, whatever the engine's memory is.
    const dst = into ?? new Float32Array(this.snapshotLength);
    const at = into === undefined ? 0 : offset;
    for (const { lay, f32, n, c0 } of this.parts) dst.set(f32.subarray(lay.state / 4, lay.state / 4 + n * lay.S), at + c0 * lay.S);
    return dst;
  }

  restore(snapshot: Float32Array, layout?: string): void {
    this.alive("restore");
    checkSnapshot("the WebAssembly engine", this.stateLayout, this.snapshotLength, snapshot, layout);
    for (const { lay, f32, n, c0 } of this.parts) f32.set(snapshot.subarray(c0 * lay.S, (c0 + n) * lay.S), lay.state / 4);
    this.clearTape();
  }

  forward(x: Float32Array, out: Float32Array, record: boolean): void {
    this.alive("forward");
    const { n } = this;
    const I = this.shape.inputs;
    if (x.length !== n * I) throw new Error(`LSTM engine: forward x has ${x.length} floats, expected ${n * I} (n * inputs)`);
    if (out.length !== n) throw new Error(`LSTM engine: forward out has ${out.length} floats, expected ${n}`);
    if (record) {
      if (this.cursor !== this.steps) throw new Error("LSTM engine: forward during a backward pass; call finishBackward first");
      if (this.stale) throw new Error("LSTM engine: recording after unrecorded steps; call finishBackward first");
      if (this.steps >= this.capacity) throw new Error(`LSTM engine: tape is full (capacity ${this.capacity} steps)`);
    } else if (this.steps > 0) {
      if (!this.stale && this.cursor === this.steps) this.keepTopCells();
      this.stale = true;
    }
    // Step s of the tape is step s - start(j) of segment j, which starts from checkpoint j.
    const s = this.steps;
    const j = this.segmentOf(s);
    const c = CTX / 4;
    for (const p of this.parts) {
      const { lay, i32 } = p;
      const xAt = record ? lay.tapeX + s * p.n * I * 4 : lay.x;
      p.f32.set(this.parts.length === 1 ? x : x.subarray(p.c0 * I, (p.c0 + p.n) * I), xAt / 4);
      i32[c + F.X] = xAt;
      i32[c + F.T] = record ? s - this.segmentStart(j) : 0;
      i32[c + F.REC] = record ? 1 : 0;
      i32[c + F.STATE0] = lay.state0 + j * lay.ckptStride;
      i32[c + F.NEXT] = 0; // the chunk counter (published to the workers by run's Atomics)
    }
    this.run(CMD.forward);
    for (const p of this.parts) out.set(p.f32.subarray(p.lay.out / 4, p.lay.out / 4 + p.n), p.c0);
    if (record) {
      this.steps++;
      this.cursor++;
      this.tapeSegment = j;
    }
  }

  /** The segment of recorded step s: segment 0 holds the first segment - segShort steps, the others segment each. */
  private segmentOf(s: number): number {
    return Math.floor((s + this.segShort) / this.segment);
  }

  /** The first step of segment j. */
  private segmentStart(j: number): number {
    return Math.max(0, j * this.segment - this.segShort);
  }

  /**
   * Puts segment j's gates on the tape: the forward kernel again over its steps, from its
   * checkpoint, on a copy of that state (in checkpoint j + 1's place, no longer needed: its
   * segment's backward steps are done), with the inputs it recorded.
   */
  private recompute(j: number): void {
    const from0 = this.segmentStart(j);
    const len = this.segmentStart(j + 1) - from0;
    const I = this.shape.inputs;
    const c = CTX / 4;
    for (const { lay, f32, i32, n } of this.parts) {
      const from = lay.state0 + j * lay.ckptStride;
      f32.copyWithin((from + lay.ckptStride) / 4, from / 4, from / 4 + n * lay.S);
      i32[c + F.STATE] = from + lay.ckptStride;
      i32[c + F.STATE0] = from;
      i32[c + F.REC] = 1;
    }
    this.recomputedSteps += len;
    for (let r = 0; r < len; r++) {
      this.setAll(F.X, (p) => p.lay.tapeX + (from0 + r) * p.n * I * 4);
      this.setAll(F.T, () => r);
      this.setAll(F.NEXT, () => 0);
      this.run(CMD.forward);
    }
    this.setAll(F.STATE, (p) => p.lay.state);
    this.tapeSegment = j;
  }

  backwardStep(dOut: Float32Array, dx?: Float32Array): void {
    this.alive("backwardStep");
    const { n } = this;
    const I = this.shape.inputs;
    if (this.cursor === 0) throw new Error("LSTM engine: backwardStep with no recorded step left");
    if (dOut.length !== n) throw new Error(`LSTM engine: backwardStep dOut has ${dOut.length} floats, expected ${n}`);
    if (dx !== undefined && dx.length !== n * I) {
      throw new Error(`LSTM engine: backwardStep dx has ${dx.length} floats, expected ${n * I} (n * inputs)`);
    }
    const s = this.cursor - 1;
    const j = this.segmentOf(s);
    const start = this.segmentStart(j);
    // 1: zero dL/dstate; 2: tanh(c') from the tape (see assembly/lstm.ts); 3: both.
    let first = this.cursor === this.steps ? 3 : 0;
    const recomputed = j !== this.tapeSegment;
    if (recomputed) {
      this.recompute(j);
      first = 2;
    }
    const c = CTX / 4;
    for (const p of this.parts) {
      const { lay, i32 } = p;
      p.f32.set(this.parts.length === 1 ? dOut : dOut.subarray(p.c0, p.c0 + p.n), lay.dout / 4);
      i32[c + F.T] = s - start;
      i32[c + F.FIRST] = first;
      i32[c + F.DX] = dx !== undefined ? lay.dx : 0;
      i32[c + F.STATE0] = lay.state0 + j * lay.ckptStride;
      // c' of the top step: the live state, the state a recomputation ended in, or keepTopCells' copy
      const top = recomputed ? lay.state0 + (j + 1) * lay.ckptStride : this.topKept ? -1 : lay.state;
      i32[c + F.CTOP] = top < 0 ? lay.dstate : top + lay.cRow;
      i32[c + F.CTOPS] = top < 0 ? 2 * this.shape.layers * lay.Hp * 4 : lay.S * 4;
      i32[c + F.TAPEX] = lay.tapeX + start * p.n * I * 4;
      i32[c + F.NEXTB] = 0; // the chunk counter (published to the workers by run's Atomics)
    }
    this.run(CMD.backward);
    if (dx !== undefined) for (const p of this.parts) dx.set(p.f32.subarray(p.lay.dx / 4, p.lay.dx / 4 + p.n * I), p.c0 * I);
    this.cursor--;
  }

  finishBackward(dphi: Float32Array): void {
    this.alive("finishBackward");
    const want = phiSize(this.shape);
    if (dphi.length !== want) throw new Error(`LSTM engine: dphi has ${dphi.length} floats, expected ${want}`);
    // Every block of sums in the order of its coordinates: instance by instance, chunk by chunk.
    const sum = new Float64Array(this.parts[0]!.lay.pint);
    for (const p of this.parts) p.lay.sumBlocks(p.f64, p.sums, sum);
    this.parts[0]!.lay.addGradient(this.shape, sum, dphi);
    this.clearTape();
  }

  stopped(): Promise<void> {
    return this.pool.exited;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    stopPool(this.pool);
    this.parts = [];
  }
}

/**
 * The kernels' float32 tanh and sigmoid applied to `x` (for tests and benchmarks of the
 * approximations the engine uses).
 */
export function wasmActivations(
  x: Float32Array,
  variant: WasmVariant = "simd",
  shared = defaultSharedMemory(),
): { tanh: Float32Array; sigmoid: Float32Array } {
  const n4 = round4(x.length);
  const bytes = HEAP + 3 * n4 * 4;
  const pages = Math.ceil(bytes / PAGE);
  const memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared });
  const ex = new wasmApi.Instance(kernelModule(variant, shared), { env: { memory } }).exports as unknown as KernelExports;
  ex.init();
  const f32 = new Float32Array(memory.buffer);
  const src = HEAP;
  const dT = HEAP + n4 * 4;
  const dS = HEAP + 2 * n4 * 4;
  f32.set(x, src / 4);
  ex.tanhArray(src, dT, n4);
  ex.sigmoidArray(src, dS, n4);
  return {
    tanh: f32.slice(dT / 4, dT / 4 + x.length),
    sigmoid: f32.slice(dS / 4, dS / 4 + x.length),
  };
}

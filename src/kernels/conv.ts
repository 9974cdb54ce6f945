/**
 * Convolutional-network layers on NCHW float32 batches, as WebAssembly SIMD kernels
 * (`assembly/conv.ts`, built into `build/conv.wasm`): a 3x3 convolution with same padding,
 * 2x2 max pooling, batch normalisation with the batch's own statistics, ReLU, a dense layer
 * and softmax cross-entropy, each forward and backward. Any task with images can chain them
 * (the CNN task does, in `src/tasks/cnn_wasm.ts`).
 *
 * A `ConvArena` owns one WebAssembly memory of a size fixed when it is made (it never grows, so
 * the views stay valid): `alloc` hands out buffers in it, and every layer reads and writes
 * such buffers, checking their sizes against the shapes it is given before the kernel runs.
 * Runs on the calling thread. Results are the same bits on every CPU (no fused multiply-add,
 * sums in a fixed order, software exp and log). The bytes come from the kernel source
 * (`source.ts`): `build/` in Node, the bytes handed over in a page.
 */
import { L2oError } from "../core/errors.ts";
import { kernelBytes, kernelLocation, kernelSourceGeneration } from "./source.ts";
import { wasmApi, type WasmModule, type WasmMemory } from "./wasm_api.ts";

/** The kernel file under `build/`. */
export const CONV_FILE = "conv.wasm";

/** `build/conv.wasm` is not there (the CLI reports it in one line, exit code 2). */
export class ConvKernelUnavailableError extends L2oError {
  override readonly name = "ConvKernelUnavailableError";
}

/** The first bytes hold the module's own data (the tables of its software exp and log). */
const BASE = 65536;
const PAGE = 65536;
/** The most floats one arena holds: 4 GiB of memory less the module's first page. */
export const CONV_ARENA_MAX_FLOATS = (65536 * PAGE - BASE) / 4;

let cachedModule: WasmModule | undefined;
let cachedGeneration = -1;

function convModule(): WasmModule {
  if (cachedModule !== undefined && cachedGeneration === kernelSourceGeneration()) return cachedModule;
  const bytes = kernelBytes(CONV_FILE);
  if (bytes === undefined) throw new ConvKernelUnavailableError(`convolution kernels: ${kernelLocation(CONV_FILE)} not found; run \`npm run build:wasm\``);
  cachedModule = new wasmApi.Module(bytes);
  cachedGeneration = kernelSourceGeneration();
  return cachedModule;
}

/** A buffer of float32 values inside an arena: its byte address there and a view of it. */
export interface F32Buf {
  readonly ptr: number;
  readonly f32: Float32Array;
}

/** A buffer of int32 values inside an arena (pooling's argmax indices, labels). */
export interface I32Buf {
  readonly ptr: number;
  readonly i32: Int32Array;
}

/** The sizes of one convolution: N images of C channels of H x W pixels in, K channels out. */
export interface ConvShape {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
}

/** Scratch one arena's convolutions need for `shape` (pass a buffer at least this long). */
export function convScratchFloats(s: Omit<ConvShape, "n">): number {
  return 2 * s.c * 9 * s.h * s.w + s.k * s.c * 9;
}

interface Exports {
  convForward(x: number, N: number, C: number, H: number, W: number, K: number, w: number, y: number, col: number): void;
  convBackward(x: number, N: number, C: number, H: number, W: number, K: number, w: number, dy: number, dw: number, dx: number, col: number, dcol: number, wt: number): void;
  bnForward(x: number, N: number, C: number, P: number, scale: number, shift: number, eps: number, y: number, mean: number, invstd: number): void;
  bnBackward(x: number, N: number, C: number, P: number, scale: number, mean: number, invstd: number, dy: number, dscale: number, dshift: number, dx: number): void;
  reluForward(x: number, n: number): void;
  reluBackward(y: number, d: number, n: number): void;
  poolForward(x: number, planes: number, H: number, W: number, y: number, arg: number): void;
  poolBackward(dy: number, arg: number, planes: number, H: number, W: number, dx: number): void;
  denseForward(x: number, B: number, din: number, dout: number, w: number, bias: number, out: number): void;
  denseBackward(x: number, d: number, B: number, din: number, dout: number, w: number, gw: number, gb: number, dx: number): void;
  softmaxXent(z: number, labels: number, B: number, C: number, dz: number): number;
  scaleBytes(bytes: number, x: number, n: number): void;
}

/** Batch norm's epsilon (PyTorch's default). */
export const BN_EPS = 1e-5;

/**
 * Layers over buffers of one memory. Shapes are checked against the buffers' lengths (a
 * RangeError names the layer); a buffer given as output may not be an input unless said so.
 */
export class ConvArena {
  /** Floats this arena holds in all. */
  readonly capacity: number;
  private readonly memory: WasmMemory;
  private readonly ex: Exports;
  private next = BASE;

  /** An arena of `floats` float32 values (4-byte words), allocated now. */
  constructor(floats: number) {
    if (!Number.isInteger(floats) || floats < 1 || floats > CONV_ARENA_MAX_FLOATS) {
      throw new RangeError(`ConvArena: ${floats} floats; expected 1 to ${CONV_ARENA_MAX_FLOATS} (4 GiB)`);
    }
    // Each buffer is rounded up to 16 bytes; leave room for that in the pages.
    this.capacity = floats;
    const pages = Math.min(65536, Math.ceil((BASE + floats * 4 + 4096) / PAGE));
    this.memory = new wasmApi.Memory({ initial: pages, maximum: pages });
    this.ex = new wasmApi.Instance(convModule(), { env: { memory: this.memory } }).exports as unknown as Exports;
  }

  private take(words: number, what: string): number {
    if (!Number.isInteger(words) || words < 1) throw new RangeError(`ConvArena: ${what} of ${words} values`);
    const at = this.next;
    const end = Math.ceil((at + words * 4) / 16) * 16;
    if (end > this.memory.buffer.byteLength) throw new RangeError(`ConvArena: out of room for ${what} of ${words} values (arena of ${this.capacity} floats)`);
    this.next = end;
    return at;
  }

  /** A float32 buffer of `n` values (zeros). */
  alloc(n: number): F32Buf {
    const ptr = this.take(n, "a buffer");
    return { ptr, f32: new Float32Array(this.memory.buffer, ptr, n) };
  }

  /** An int32 buffer of `n` values (zeros). */
  allocI32(n: number): I32Buf {
    const ptr = this.take(n, "an index buffer");
    return { ptr, i32: new Int32Array(this.memory.buffer, ptr, n) };
  }

  /** A byte buffer of `n` values, as a Uint8Array view (for `scaleBytes`). */
  allocBytes(n: number): { readonly ptr: number; readonly u8: Uint8Array } {
    const ptr = this.take(Math.ceil(n / 4), "a byte buffer");
    return { ptr, u8: new Uint8Array(this.memory.buffer, ptr, n) };
  }

  /** y [n][k][h][w] = conv3x3(x [n][c][h][w], w [k][c][3][3]), same padding, no bias. */
  conv(x: F32Buf, w: F32Buf, y: F32Buf, s: ConvShape, scratch: F32Buf): void {
    checkShape(s);
    need("conv x", x, s.n * s.c * s.h * s.w);
    need("conv w", w, s.k * s.c * 9);
    need("conv y", y, s.n * s.k * s.h * s.w);
    need("conv scratch", scratch, convScratchFloats(s));
    this.ex.convForward(x.ptr, s.n, s.c, s.h, s.w, s.k, w.ptr, y.ptr, scratch.ptr);
  }

  /** dw (overwritten) and, when given, dx (overwritten) from dy, for `conv` with the same x and w. */
  convBackward(x: F32Buf, w: F32Buf, dy: F32Buf, dw: F32Buf, dx: F32Buf | undefined, s: ConvShape, scratch: F32Buf): void {
    checkShape(s);
    const inSize = s.n * s.c * s.h * s.w;
    need("convBackward x", x, inSize);
    need("convBackward w", w, s.k * s.c * 9);
    need("convBackward dy", dy, s.n * s.k * s.h * s.w);
    need("convBackward dw", dw, s.k * s.c * 9);
    if (dx !== undefined) need("convBackward dx", dx, inSize);
    need("convBackward scratch", scratch, convScratchFloats(s));
    const col = scratch.ptr;
    const dcol = col + 4 * s.c * 9 * s.h * s.w;
    const wt = dcol + 4 * s.c * 9 * s.h * s.w;
    this.ex.convBackward(x.ptr, s.n, s.c, s.h, s.w, s.k, w.ptr, dy.ptr, dw.ptr, dx?.ptr ?? 0, col, dcol, wt);
  }

  /**
   * Batch norm of x [n][c][p] with the batch's statistics per channel into y (not x):
   * y = scale (x - mean) / sqrt(var + 1e-5) + shift, var biased. Fills mean [c] and invstd [c].
   */
  batchNorm(x: F32Buf, n: number, c: number, p: number, scale: F32Buf, shift: F32Buf, y: F32Buf, mean: F32Buf, invstd: F32Buf): void {
    dims("batchNorm", n, c, p);
    for (const [name, b] of [["x", x], ["y", y]] as const) need(`batchNorm ${name}`, b, n * c * p);
    for (const [name, b] of [["scale", scale], ["shift", shift], ["mean", mean], ["invstd", invstd]] as const) need(`batchNorm ${name}`, b, c);
    this.ex.bnForward(x.ptr, n, c, p, scale.ptr, shift.ptr, BN_EPS, y.ptr, mean.ptr, invstd.ptr);
  }

  /** dscale, dshift and dx (which may be dy) for `batchNorm` with the same x, mean and invstd. */
  batchNormBackward(x: F32Buf, n: number, c: number, p: number, scale: F32Buf, mean: F32Buf, invstd: F32Buf, dy: F32Buf, dscale: F32Buf, dshift: F32Buf, dx: F32Buf): void {
    dims("batchNormBackward", n, c, p);
    for (const [name, b] of [["x", x], ["dy", dy], ["dx", dx]] as const) need(`batchNormBackward ${name}`, b, n * c * p);
    for (const [name, b] of [["scale", scale], ["mean", mean], ["invstd", invstd], ["dscale", dscale], ["dshift", dshift]] as const) need(`batchNormBackward ${name}`, b, c);
    this.ex.bnBackward(x.ptr, n, c, p, scale.ptr, mean.ptr, invstd.ptr, dy.ptr, dscale.ptr, dshift.ptr, dx.ptr);
  }

  /** x = max(x, 0) on the first `count` values, in place. */
  relu(x: F32Buf, count: number): void {
    need("relu x", x, count);
    this.ex.reluForward(x.ptr, count);
  }

  /** d = d where y > 0 else 0 on the first `count` values, in place (y: relu's output). */
  reluBackward(y: F32Buf, d: F32Buf, count: number): void {
    need("reluBackward y", y, count);
    need("reluBackward d", d, count);
    this.ex.reluBackward(y.ptr, d.ptr, count);
  }

  /**
   * 2x2 max pooling, stride 2, of `planes` (= n * c) planes of h x w into y [planes][h/2][w/2]
   * (an odd last row or column dropped); arg keeps each maximum's index in its plane.
   */
  maxPool(x: F32Buf, planes: number, h: number, w: number, y: F32Buf, arg: I32Buf): void {
    dims("maxPool", planes, h, w);
    if (h < 2 || w < 2) throw new RangeError(`maxPool: planes of ${h} x ${w} are too small for a 2x2 window`);
    const out = planes * (h >> 1) * (w >> 1);
    need("maxPool x", x, planes * h * w);
    need("maxPool y", y, out);
    if (arg.i32.length < out) throw new RangeError(`maxPool arg: holds ${arg.i32.length} indices, need ${out}`);
    this.ex.poolForward(x.ptr, planes, h, w, y.ptr, arg.ptr);
  }

  /** dx [planes][h][w] (overwritten): dy routed to each window's maximum as `maxPool` found it. */
  maxPoolBackward(dy: F32Buf, arg: I32Buf, planes: number, h: number, w: number, dx: F32Buf): void {
    dims("maxPoolBackward", planes, h, w);
    const out = planes * (h >> 1) * (w >> 1);
    need("maxPoolBackward dy", dy, out);
    need("maxPoolBackward dx", dx, planes * h * w);
    if (arg.i32.length < out) throw new RangeError(`maxPoolBackward arg: holds ${arg.i32.length} indices, need ${out}`);
    this.ex.poolBackward(dy.ptr, arg.ptr, planes, h, w, dx.ptr);
  }

  /** out [b][dout] = x [b][din] w [din][dout] + bias [dout]. */
  dense(x: F32Buf, b: number, din: number, dout: number, w: F32Buf, bias: F32Buf, out: F32Buf): void {
    dims("dense", b, din, dout);
    need("dense x", x, b * din);
    need("dense w", w, din * dout);
    need("dense bias", bias, dout);
    need("dense out", out, b * dout);
    this.ex.denseForward(x.ptr, b, din, dout, w.ptr, bias.ptr, out.ptr);
  }

  /** gw = x^T d, gb = column sums of d (overwritten), and dx = d w^T when given. */
  denseBackward(x: F32Buf, d: F32Buf, b: number, din: number, dout: number, w: F32Buf, gw: F32Buf, gb: F32Buf, dx?: F32Buf): void {
    dims("denseBackward", b, din, dout);
    need("denseBackward x", x, b * din);
    need("denseBackward d", d, b * dout);
    need("denseBackward w", w, din * dout);
    need("denseBackward gw", gw, din * dout);
    need("denseBackward gb", gb, dout);
    if (dx !== undefined) need("denseBackward dx", dx, b * din);
    this.ex.denseBackward(x.ptr, d.ptr, b, din, dout, w.ptr, gw.ptr, gb.ptr, dx?.ptr ?? 0);
  }

  /**
   * Mean softmax cross-entropy of logits z [b][classes] with `labels` (checked to be in
   * [0, classes)), and dz = its gradient; returns the loss.
   */
  softmaxCrossEntropy(z: F32Buf, labels: I32Buf, b: number, classes: number, dz: F32Buf): number {
    dims("softmaxCrossEntropy", b, classes, 1);
    need("softmaxCrossEntropy z", z, b * classes);
    need("softmaxCrossEntropy dz", dz, b * classes);
    if (labels.i32.length < b) throw new RangeError(`softmaxCrossEntropy labels: holds ${labels.i32.length}, need ${b}`);
    for (let i = 0; i < b; i++) {
      const y = labels.i32[i]!;
      if (y < 0 || y >= classes) throw new RangeError(`softmaxCrossEntropy: label ${y} at row ${i} is not in [0, ${classes})`);
    }
    return this.ex.softmaxXent(z.ptr, labels.ptr, b, classes, dz.ptr);
  }

  /** x = bytes / 255 on the first `count` values (pixels to [0, 1], as MNIST's loaders scale them). */
  scaleBytes(bytes: { readonly ptr: number; readonly u8: Uint8Array }, x: F32Buf, count: number): void {
    if (bytes.u8.length < count) throw new RangeError(`scaleBytes bytes: holds ${bytes.u8.length}, need ${count}`);
    need("scaleBytes x", x, count);
    this.ex.scaleBytes(bytes.ptr, x.ptr, count);
  }
}

function need(what: string, b: F32Buf, n: number): void {
  if (b.f32.length < n) throw new RangeError(`${what}: holds ${b.f32.length} values, need ${n}`);
}

function dims(what: string, ...ds: number[]): void {
  if (!ds.every((d) => Number.isInteger(d) && d >= 1)) throw new RangeError(`${what}: sizes must be positive integers, got ${ds.join(", ")}`);
}

function checkShape(s: ConvShape): void {
  dims("conv", s.n, s.c, s.h, s.w, s.k);
}

// Micro-benchmark of the LSTM engines (not a test): one truncation of the MNIST experiment's
// shape (n = 15,910 coordinates, T = 20 steps, 2-layer LSTM with 20 units, 2 inputs):
// T recorded forward steps, T backward steps (no dx, as in first-order meta-training) and
// finishBackward. Prints seconds per iteration (median and best of the repetitions, and the
// medians of its forward and backward halves) and GFLOP/s at the median, and the process's
// peak RSS after each engine.
//
//   npx tsx bench/kernels.ts [--n 15910] [--T 20] [--reps 7] [--engines ref,simd1,simd2,fma1,fma2] [--block 64] [--segment K] [--tape f32|bf16]
//
// `--segment K` keeps the WebAssembly engines' tape in segments of K steps (the earlier
// segments recomputed in the backward pass: see src/kernels/wasm_plan.ts); by default an
// engine keeps the whole tape while it fits a quarter of the machine's memory. Each engine's
// line names its segment length, instances and memory. `--tape bf16` keeps the tape in bfloat16
// (the engine's opt-in `tape` option).
//
// First it measures the roofline of each build of the kernels: the arithmetic ceiling of the
// tiles' f32x4 multiply-add mix with every operand in registers (`peakMulAdd` in
// assembly/lstm.ts: a multiply and an add in the `simd` build, a fused multiply-add in the
// `fma` build), on 1 thread and on every core at once, so that the engines' GFLOP/s read as
// a fraction of what WebAssembly can reach on this machine.
//
// `simdK` and `fmaK` are the WebAssembly engine's two builds on K threads, `wasmK` the build
// an engine gets by default. Run one engine per process (`--engines fma2`) to read its own
// peak RSS.
//
// FLOPs counted: the matrix products only, 2 per multiply-add. Per coordinate and step, with
// K_l the inputs of layer l (I, then H): forward 2*4H*sum_l(K_l + H) + 2H (head); backward the
// same for the weight gradient, 2*4H*(sum_l(K_l + H) - I) for the gradients of the inputs and
// the previous hidden states (dx skipped), and 2H for the head: 29,520 for the paper's LSTM,
// 9.39 GFLOP per iteration at n = 15,910, T = 20.
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { createWasmEngine, defaultWasmVariant, wasmEngineAvailable, WASM_KERNEL_URLS, type TapePrecision, type WasmVariant } from "../src/kernels/wasm.ts";
import type { LstmEngine, LstmShape } from "../src/kernels/types.ts";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { arg } from "./args.ts";
import { timeTruncation, truncationInputs } from "./lstm_truncation.ts";

const n = Number(arg("n", "15910"));
const T = Number(arg("T", "20"));
const reps = Number(arg("reps", "7"));
const fmaOk = wasmEngineAvailable("fma");
const engines = arg("engines", fmaOk ? "ref,simd1,simd2,fma1,fma2" : "ref,simd1,simd2").split(",");
const block = Number(arg("block", "64"));
const segment = arg("segment", "") === "" ? undefined : Number(arg("segment", ""));
const tape = arg("tape", "f32") as TapePrecision;
const shape: LstmShape = { inputs: 2, hidden: 20, layers: 2 };

function flopsPerCoordStep(s: LstmShape): number {
  const { inputs: I, hidden: H, layers: L } = s;
  let rows = 0;
  for (let l = 0; l < L; l++) rows += (l === 0 ? I : H) + H;
  const fwd = 2 * 4 * H * rows + 2 * H;
  const bwd = 2 * 4 * H * rows + 2 * 4 * H * (rows - I) + 2 * H;
  return fwd + bwd;
}

const inputs = truncationInputs(shape, n, T);
const phi = inputs.phi;
const out = new Float32Array(n);
const dphi = new Float32Array(phi.length);

/** One truncation: seconds in the T forward steps and in the T backward steps (with finishBackward). */
function iteration(e: LstmEngine): [number, number] {
  const [f, b] = timeTruncation(e, inputs, n, T, out, dphi);
  return [f / 1000, b / 1000];
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(label: string, e: LstmEngine, r: number): void {
  e.setPhi(phi);
  e.resetState();
  iteration(e); // warm-up: first touch of the memory, tier-up of the WebAssembly code
  const ts: number[] = [];
  const fw: number[] = [];
  const bw: number[] = [];
  for (let k = 0; k < r; k++) {
    const [f, b] = iteration(e);
    fw.push(f);
    bw.push(b);
    ts.push(f + b);
  }
  const med = median(ts);
  const gflops = (flopsPerCoordStep(shape) * n * T) / med / 1e9;
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `${label.padEnd(16)} median ${med.toFixed(4)} s/iter  best ${Math.min(...ts).toFixed(4)}  ${gflops.toFixed(1).padStart(5)} GFLOP/s  ` +
      `(forward ${median(fw).toFixed(4)}, backward ${median(bw).toFixed(4)}; ${r} reps; peak RSS so far ${rss.toFixed(0)} MB)`,
  );
}

/** GFLOP/s of `peakMulAdd` (64 FLOP per iteration) on `threads` threads at once, summed. */
async function roofline(variant: WasmVariant, threads: number): Promise<number> {
  const iters = 50_000_000;
  const src = `
    const { parentPort, workerData } = require("node:worker_threads");
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes), { env: { memory } }).exports;
    ex.peakMulAdd(1000000, 1);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      ex.peakMulAdd(workerData.iters, 1e-3);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    parentPort.postMessage(best);`;
  const bytes = readFileSync(WASM_KERNEL_URLS[variant]);
  const secs = await Promise.all(
    Array.from({ length: threads }, () => new Promise<number>((res, rej) => {
      const w = new Worker(src, { eval: true, workerData: { bytes, iters } });
      w.once("message", (m: number) => { res(m); void w.terminate(); });
      w.once("error", rej);
    })),
  );
  return secs.reduce((a, t) => a + (64 * iters) / t / 1e9, 0);
}

const cores = availableParallelism();
for (const variant of fmaOk ? (["simd", "fma"] as const) : (["simd"] as const)) {
  const peak1 = await roofline(variant, 1);
  const peakAll = cores > 1 ? await roofline(variant, cores) : peak1;
  const what = variant === "simd" ? "f32x4 multiply + add" : "f32x4 fused multiply-add";
  console.log(`roofline, ${variant} build (${what}, operands in registers): ${peak1.toFixed(1)} GFLOP/s on 1 thread, ${peakAll.toFixed(1)} on ${cores} threads`);
}

const gf = (flopsPerCoordStep(shape) * n * T) / 1e9;
console.log(`n ${n}, T ${T}: ${flopsPerCoordStep(shape)} FLOP per coordinate-step, ${gf.toFixed(2)} GFLOP per iteration`);
for (const name of engines) {
  if (name === "ref") {
    const e = createReferenceEngine({ shape, n, capacity: T });
    time("reference (TS)", e, Math.max(1, Math.min(3, reps)));
    e.dispose();
  } else if (/^(wasm|simd|fma)\d+$/.test(name)) {
    const m = /^(wasm|simd|fma)(\d+)$/.exec(name)!;
    const variant: WasmVariant = m[1] === "wasm" ? defaultWasmVariant() : (m[1] as WasmVariant);
    const threads = Number(m[2]);
    const e = createWasmEngine({ shape, n, capacity: T, threads, blockSize: block, variant, tape, ...(segment !== undefined ? { segment } : {}) });
    console.log(`${variant}, ${threads} thread(s), ${tape} tape: segments of ${e.segment} steps, ${e.instances} instance(s), ${(e.memoryBytes / 1e6).toFixed(0)} MB (${(e.memoryBytes / n / T).toFixed(0)} bytes per coordinate-step)`);
    time(`${variant}, ${threads} thread${threads > 1 ? "s" : ""}`, e, reps);
    e.dispose();
  } else {
    throw new Error(`unknown engine '${name}' (ref, simd1, simd2, fma1, fma2, wasm1, ...)`);
  }
}

// The LSTM engine's two tapes timed in one process (not a test): one truncation (T recorded
// forward steps, T backward steps without dx, finishBackward; the paper's LSTM, 2 threads)
// with the default float32 tape and with the opt-in bfloat16 tape, alternating which goes
// first every round, so that both see the same load on a shared machine. Prints each
// engine's plan (segment length, instances, memory and bytes per coordinate-step), the
// median forward, backward and total milliseconds, and the median of the per-round ratios
// f32 / bf16 (above 1: the bfloat16 tape is faster).
//
//   npx tsx bench/tape_paired.ts [--n 15910] [--T 20] [--reps 9] [--seg32 K] [--seg16 K]
//
// `--seg32` and `--seg16` force each tape's segment length (default: the engine's own plan).
import { createWasmEngine, type WasmLstmEngine } from "../src/kernels/wasm.ts";
import type { TapePrecision } from "../src/kernels/wasm_layout.ts";
import { phiSize, type LstmShape } from "../src/kernels/types.ts";
import { key, split, uniform } from "../src/core/rng.ts";
import { arg } from "./args.ts";

const n = Number(arg("n", "15910"));
const T = Number(arg("T", "20"));
const reps = Number(arg("reps", "9"));
const shape: LstmShape = { inputs: 2, hidden: 20, layers: 2 };
const ks = split(key(1), 3);
const phi = uniform(ks[0]!, phiSize(shape), -0.1, 0.1);
// Inputs like LogAndSign features: log|g|/p in [-1, 0], sign in {-1, 1}.
const xs = uniform(ks[1]!, T * n * 2, -1, 1).map((v, i) => (i % 2 === 1 ? Math.sign(v) || 1 : -Math.abs(v)));
const dOuts = uniform(ks[2]!, T * n, -1, 1);
const out = new Float32Array(n);
const dphi = new Float32Array(phi.length);

function engine(tape: TapePrecision, seg: string): WasmLstmEngine {
  const e = createWasmEngine({ shape, n, capacity: T, threads: 2, tape, ...(seg !== "" ? { segment: Number(seg) } : {}) });
  e.setPhi(phi);
  console.log(`${tape} tape: segments of ${e.segment}, ${e.instances} instance(s), ${(e.memoryBytes / 1e6).toFixed(0)} MB, ${(e.memoryBytes / n / T).toFixed(0)} bytes per coordinate-step`);
  return e;
}

/** One truncation: [forward ms, backward ms]. */
function iteration(e: WasmLstmEngine): [number, number] {
  e.resetState();
  const t0 = performance.now();
  for (let t = 0; t < T; t++) e.forward(xs.subarray(t * n * 2, (t + 1) * n * 2), out, true);
  const t1 = performance.now();
  for (let t = T - 1; t >= 0; t--) e.backwardStep(dOuts.subarray(t * n, (t + 1) * n));
  e.finishBackward(dphi);
  return [t1 - t0, performance.now() - t1];
}

const engines: Record<TapePrecision, WasmLstmEngine> = { f32: engine("f32", arg("seg32", "")), bf16: engine("bf16", arg("seg16", "")) };
const times: Record<TapePrecision, [number, number][]> = { f32: [], bf16: [] };
const ratios: number[] = [];
iteration(engines.f32); // warm-up: first touch of the memories, tier-up
iteration(engines.bf16);
for (let k = 0; k < reps; k++) {
  const order: TapePrecision[] = k % 2 === 0 ? ["f32", "bf16"] : ["bf16", "f32"];
  const total: Record<string, number> = {};
  for (const tape of order) {
    const [f, b] = iteration(engines[tape]);
    times[tape].push([f, b]);
    total[tape] = f + b;
  }
  ratios.push(total.f32! / total.bf16!);
}
const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const tape of ["f32", "bf16"] as const) {
  const r = times[tape];
  console.log(`${tape}: median ${median(r.map(([f, b]) => f + b)).toFixed(1)} ms (forward ${median(r.map(([f]) => f)).toFixed(1)}, backward ${median(r.map(([, b]) => b)).toFixed(1)})`);
  engines[tape].dispose();
}
console.log(`paired f32 / bf16 time, median of ${reps} rounds: ${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(3)).join(" ")})`);

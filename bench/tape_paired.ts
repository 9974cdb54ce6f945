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
import type { LstmShape } from "../src/kernels/types.ts";
import { arg } from "./args.ts";
import { timeTruncation, truncationInputs } from "./lstm_truncation.ts";

const n = Number(arg("n", "15910"));
const T = Number(arg("T", "20"));
const reps = Number(arg("reps", "9"));
const shape: LstmShape = { inputs: 2, hidden: 20, layers: 2 };
const inputs = truncationInputs(shape, n, T);
const out = new Float32Array(n);
const dphi = new Float32Array(inputs.phi.length);

function engine(tape: TapePrecision, seg: string): WasmLstmEngine {
  const e = createWasmEngine({ shape, n, capacity: T, threads: 2, tape, ...(seg !== "" ? { segment: Number(seg) } : {}) });
  e.setPhi(inputs.phi);
  console.log(`${tape} tape: segments of ${e.segment}, ${e.instances} instance(s), ${(e.memoryBytes / 1e6).toFixed(0)} MB, ${(e.memoryBytes / n / T).toFixed(0)} bytes per coordinate-step`);
  return e;
}

/** One truncation: [forward ms, backward ms]. */
function iteration(e: WasmLstmEngine): [number, number] {
  e.resetState();
  return timeTruncation(e, inputs, n, T, out, dphi);
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

// Meta-training at scale (not a test): one whole meta-iteration of the paper's LSTM optimizer
// (2 layers of 20 units, LogAndSign inputs, output scale 0.1) at n coordinates: T optimizee
// steps with the task's gradients, the meta-gradient by BPTT, one Adam step on phi; the task is
// a family of n / 10 independent 10-d quadratics (Q's task, more instances). Each n runs in a
// process of its own, so that its peak RSS is its own.
//
//   npx tsx bench/scale.ts [--n 15910,64000,200000,1000000] [--T 20] [--iters 3] [--threads 2]
//                          [--engine wasm|wasm-simd|wasm-fma] [--segment K] [--budget GiB] [--tape f32|bf16] [--json]
//
// Prints per n: the engine's plan (steps per tape segment, WebAssembly instances, engine
// memory and bytes per coordinate-step, against the whole tape's), the median seconds of the
// timed meta-iterations (after one warm-up), microseconds per coordinate, the process's CPU
// seconds (all threads; steadier than wall time on a busy machine) and its peak RSS (MiB). `--segment` forces the segment length (default: the engine's own choice, the
// whole tape while it fits a quarter of the machine's memory); `--budget` sets that memory
// budget instead (the engine's `memoryBudget`, `l2o train --memory-budget`). `--tape bf16` keeps the tape in
// bfloat16 (the engine's opt-in `tape` option: half its bytes, a gradient within bfloat16 rounding).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { foldIn, key, split, type Key } from "../src/core/rng.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { unrollMetaGrad } from "../src/meta/unroll.ts";
import { adam } from "../src/optimizers/alias.ts";
import { applyUpdates } from "../src/optimizers/transform.ts";
import { engineFactory, type EngineKind } from "../src/kernels/select.ts";
import { backwardChunk, createWasmEngine } from "../src/kernels/wasm.ts";
import { defaultMemoryBudget, planMemory } from "../src/kernels/wasm_plan.ts";
import type { TapePrecision } from "../src/kernels/wasm_layout.ts";
import type { LstmShape } from "../src/kernels/types.ts";
import { arg } from "./args.ts";

const T = Number(arg("T", "20"));
const iters = Number(arg("iters", "3"));
const threads = Number(arg("threads", "2"));
const engine = arg("engine", "wasm") as EngineKind;
const segmentArg = arg("segment", "");
const tape = arg("tape", "f32") as TapePrecision;
const budgetArg = arg("budget", "");
/** The engine's memory budget in bytes (`--budget` GiB), or its default. */
const budget = budgetArg === "" ? defaultMemoryBudget() : Math.floor(Number(budgetArg) * 2 ** 30);
if (!(budget > 0)) throw new Error(`--budget expects a positive number of GiB, got '${budgetArg}'`);
const DIM = 10;
const shape: LstmShape = { inputs: 2, hidden: 20, layers: 2 };

interface Row {
  n: number;
  tape: TapePrecision;
  T: number;
  threads: number;
  segment: number;
  instances: number;
  engine_bytes: number;
  bytes_per_coord_step: number;
  whole_tape_bytes_per_coord_step: number;
  seconds: number[];
  median_s: number;
  /** Process CPU seconds (all threads) per iteration, median: steadier than wall time on a busy machine. */
  median_cpu_s: number;
  us_per_coord: number;
  peak_rss_mb: number;
}

/** One n, in this process. */
function one(n: number): Row {
  const instances = Math.max(1, Math.round(n / DIM));
  const coords = instances * DIM;
  const family = quadraticFamily({ dim: DIM, instances });
  const segment = segmentArg === "" ? undefined : Number(segmentArg);
  const base = engineFactory(engine, threads);
  const custom = segment !== undefined || tape !== "f32" || budgetArg !== "";
  const factory = !custom
    ? base
    : (o: Parameters<typeof base>[0]) => createWasmEngine({ ...o, threads, tape, memoryBudget: budget, ...(segment !== undefined ? { segment } : {}) });
  const opt = lstmOptimizer({ hidden: 20, layers: 2, preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 }, factory);
  const root = key(1);
  let phi = opt.init(foldIn(root, "phi")).flat;
  const outer = adam(1e-3);
  let state = outer.init(phi);
  const [tk, ik, bk] = split(foldIn(root, "task"), 3) as [Key, Key, Key];
  const task = family.sample(tk);
  const step = opt.differentiable!(phi, task.layout, T);
  let theta = task.init(ik);
  let first: Parameters<typeof unrollMetaGrad>[0]["first"];
  const seconds: number[] = [];
  const cpu: number[] = [];
  for (let it = 0; it <= iters; it++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = unrollMetaGrad({ task, step, theta, T, weights: "after", keys: (t: number) => foldIn(bk, it * T + t), ...(first ? { first } : {}) });
    const [u, s] = outer.update(r.dphi, state, phi);
    state = s;
    phi = applyUpdates(phi, u);
    step.setPhi(phi);
    theta = r.theta;
    first = r.last;
    if (it > 0) {
      seconds.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e6);
    }
  }
  step.dispose?.();
  const plan = (k?: number) =>
    planMemory({
      shape,
      n: coords,
      capacity: T,
      P: threads,
      B: 64,
      chunk: backwardChunk(coords, 64),
      ...(k !== undefined ? { segment: k } : {}),
      tape,
      budget,
      shardBytes: 2 ** 32,
    });
  const p = plan(segment);
  const whole = plan(T);
  const med = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const median = med(seconds);
  return {
    n: coords,
    tape,
    T,
    threads,
    segment: p.segment,
    instances: p.shards.length,
    engine_bytes: p.bytes,
    bytes_per_coord_step: p.bytes / coords / T,
    whole_tape_bytes_per_coord_step: whole.bytes / coords / T,
    seconds,
    median_s: median,
    median_cpu_s: med(cpu),
    us_per_coord: (median / coords) * 1e6,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

const single = arg("one", "");
if (single !== "") {
  process.stdout.write(`${JSON.stringify(one(Number(single)))}\n`);
  process.exit(0);
}
const ns = arg("n", "15910,64000,200000,1000000").split(",").map(Number);
const json = process.argv.includes("--json");
const self = fileURLToPath(import.meta.url);
const passOn = process.argv.slice(2).filter((a, i, all) => a !== "--n" && all[i - 1] !== "--n" && a !== "--json");
if (!json) {
  console.log(`l2o bench:scale: one meta-iteration (T ${T}, ${threads} threads, ${engine}, ${tape} tape), quadratics of dim ${DIM}; median of ${iters} after 1 warm-up; Node ${process.version}`);
  console.log("coordinates   segment  instances  engine MB  B/coord-step (whole tape)  s/iteration  us/coord  CPU s  CPU us/coord  peak RSS MB");
}
for (const n of ns) {
  const r = spawnSync(process.execPath, ["--import", "tsx", self, ...passOn, "--one", String(n)], { encoding: "utf8", maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) {
    const why = (r.stderr.trim().split("\n").find((l) => /Error/.test(l)) ?? r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`).slice(0, 300);
    console.log(json ? JSON.stringify({ n, error: why }) : `${String(n).padStart(11)}   failed: ${why}`);
    continue;
  }
  const row = JSON.parse(line) as Row;
  if (json) {
    console.log(line);
    continue;
  }
  console.log(
    `${String(row.n).padStart(11)}   ${String(row.segment).padStart(7)}  ${String(row.instances).padStart(9)}  ${(row.engine_bytes / 1e6).toFixed(0).padStart(9)}  ` +
      `${row.bytes_per_coord_step.toFixed(0).padStart(12)} (${row.whole_tape_bytes_per_coord_step.toFixed(0)})      ${row.median_s.toFixed(3).padStart(11)}  ` +
      `${row.us_per_coord.toFixed(3).padStart(8)}  ${row.median_cpu_s.toFixed(2).padStart(5)}  ${((row.median_cpu_s / row.n) * 1e6).toFixed(3).padStart(12)}  ` +
      `${row.peak_rss_mb.toFixed(0).padStart(11)}`,
  );
}

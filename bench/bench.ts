/**
 * `npm run bench`: meta-training speed, end to end, in one process.
 *
 * - W: MNIST MLP 784-20-10, batch 128 (15,910 coordinates), real minibatches, unroll 20,
 *   LogAndSign, one Adam step on phi per meta-iteration (the task's gradients included).
 * - Q: 128 independent 10-d quadratics (1,280 coordinates), same protocol.
 * Each as the median seconds per meta-iteration after warm-up, for the reference kernel
 * (W only on request: it is slow), and the WebAssembly kernel on 1 and all threads; effective
 * GFLOP/s of the LSTM work (30 kFLOP per coordinate per step: see FLOP_PER_COORD_STEP), the
 * median time per meta-iteration spent in the task's loss and gradient, and the process's
 * peak RSS after each workload.
 * - Step: one full MNIST MLP training step (minibatch forward and backward through the task's
 *   backend, then the update) with the LSTM optimizer, as a ratio to the same step with Adam;
 *   also with the LSTM's state passed as a handle instead of copied (`copyState: false`), and
 *   Adam on the TypeScript update rules.
 *
 * Flags: --json (one JSON object on stdout), --iters N (default 7), --warmup N (default 2),
 * --q-iters N and --q-warmup N (the same for Q, default 35 and 10: its meta-iterations are
 * short), --threads N (the "all threads" count, default the available cores), --ref (also time the
 * reference kernel on W), --engine K (the WebAssembly kernel: wasm, the default, or wasm-simd
 * or wasm-fma; the JSON records which build ran), --mlp-backend B (the MNIST MLP's loss and
 * gradient: wasm, the task's default, or jax; the JSON records it), --tape bf16 (W's and Q's
 * meta-iterations with the engine's opt-in bfloat16 tape: half the tape's bytes, a gradient
 * within bfloat16 rounding; the JSON records it).
 */
import { availableParallelism } from "node:os";
import { foldIn, key, split, type Key } from "../src/core/rng.ts";
import type { TaskFamily } from "../src/tasks/base.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { MLP_BACKENDS, mnistMlpFamily, type MlpBackend } from "../src/tasks/mnist_mlp.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import type { LstmOptimizerConfig } from "../src/learned/lstm/config.ts";
import { unrollMetaGrad } from "../src/meta/unroll.ts";
import { adam } from "../src/optimizers/alias.ts";
import { engineFactory, ENGINE_KINDS, resolveEngineKind, type EngineFactory, type EngineKind } from "../src/kernels/select.ts";
import type { TapePrecision } from "../src/kernels/wasm_layout.ts";
import { applyUpdates, type GradientTransformation } from "../src/optimizers/transform.ts";
import { trainingStepTimes } from "./step_timing.ts";

/**
 * LSTM FLOP per coordinate per optimizee step, forward + backward: the three mat-vecs of a
 * layer's gates (forward z = [x, h] W, backward dW += [x, h]^T dz and d[x, h] = dz W^T), each
 * 2 * rows * 80: layer 1 rows 22, layer 2 rows 40, so 3 * 2 * (22 + 40) * 80 = 29,760, plus
 * the head and elementwise gate work, rounded to 30,000.
 */
const FLOP_PER_COORD_STEP = 30_000;

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const json = flag("--json");
const iters = value("--iters", 7);
const warmup = value("--warmup", 2);
// Q's meta-iteration is about 20 ms: 7 of them after 2 warm-ups left the median to whichever
// iterations the JIT or the machine's noise hit, so Q gets more of both by default.
const qIters = value("--q-iters", 35);
const qWarmup = value("--q-warmup", 10);
const allThreads = value("--threads", Math.min(availableParallelism(), 8));
const engineArg = args.includes("--engine") ? args[args.indexOf("--engine") + 1] : "wasm";
const kernel = ENGINE_KINDS.find((k) => k === engineArg && k !== "ref");
if (kernel === undefined) throw new Error(`--engine expects wasm, wasm-simd or wasm-fma, got '${engineArg}'`);
const kernelUsed = resolveEngineKind(kernel);
const tapeArg = args.includes("--tape") ? args[args.indexOf("--tape") + 1] : "f32";
if (tapeArg !== "f32" && tapeArg !== "bf16") throw new Error(`--tape expects f32 or bf16, got '${tapeArg}'`);
const tape: TapePrecision = tapeArg;
/** The engines of the meta-iterations: with the tape asked for (the WebAssembly engine reads `tape`). */
const metaFactory = (kind: EngineKind, threads: number): EngineFactory => {
  const f = engineFactory(kind, threads);
  return tape === "f32" || kind === "ref" ? f : (o) => f({ ...o, tape } as typeof o);
};
const mlpBackend = args.includes("--mlp-backend") ? args[args.indexOf("--mlp-backend") + 1] : "wasm";
if (!MLP_BACKENDS.includes(mlpBackend as MlpBackend)) throw new Error(`--mlp-backend expects ${MLP_BACKENDS.join(" or ")}, got '${mlpBackend}'`);

function log(s: string): void {
  if (!json) process.stdout.write(s + "\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function peakRssMB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

interface MetaResult {
  workload: string;
  engine: EngineKind;
  threads: number;
  n: number;
  median_s: number;
  times: number[];
  /** Median seconds per meta-iteration spent in the task's loss and gradient (on the calling thread). */
  task_median_s: number;
  gflops: number;
  peak_rss_MB: number;
}

/** Median seconds per meta-iteration: unroll of T steps + meta-gradient + one Adam step on phi. */
function benchMeta(
  workload: string,
  family: TaskFamily,
  lstmCfg: LstmOptimizerConfig,
  kind: EngineKind,
  threads: number,
  [warmup, iters]: [number, number],
): MetaResult {
  const T = 20;
  const opt = lstmOptimizer(lstmCfg, metaFactory(kind, threads));
  const root = key(1);
  let phi = opt.init(foldIn(root, "phi")).flat;
  const outer = adam(1e-3);
  let adamState = outer.init(phi);
  const [tk, ik, bk] = split(foldIn(root, "task"), 3) as [Key, Key, Key];
  const sampled = family.sample(tk);
  // The task's share of each meta-iteration: its loss-and-gradient calls, timed (the task's
  // own object, with every other member, stays underneath).
  let taskMs = 0;
  const task: typeof sampled = Object.create(sampled, {
    lossAndGrad: {
      value: (th: Float32Array, k: Key) => {
        const t0 = performance.now();
        const r = sampled.lossAndGrad(th, k);
        taskMs += performance.now() - t0;
        return r;
      },
    },
  });
  const inst = opt.differentiable(phi, task.layout, T);
  let theta = task.init(ik);
  let first: ReturnType<typeof task.lossAndGrad> | undefined;
  const times: number[] = [];
  const taskTimes: number[] = [];
  try {
    for (let it = 0; it < warmup + iters; it++) {
      const t0 = performance.now();
      taskMs = 0;
      if (it % 5 === 0) {
        // A new horizon every 5 unrolls (100 steps), as in training.
        theta = task.init(foldIn(ik, it));
        inst.resetState();
        first = undefined;
      }
      const r = unrollMetaGrad({
        task,
        step: inst,
        theta,
        T,
        weights: "after",
        keys: (t) => foldIn(bk, it * T + t),
        ...(first ? { first } : {}),
      });
      const [u, s] = outer.update(r.dphi, adamState, phi);
      adamState = s;
      phi = applyUpdates(phi, u);
      inst.setPhi(phi);
      theta = r.theta;
      first = r.last;
      const dt = (performance.now() - t0) / 1000;
      if (it >= warmup) {
        times.push(dt);
        taskTimes.push(taskMs / 1000);
      }
    }
  } finally {
    inst.dispose();
  }
  const med = median(times);
  const n = task.layout.size;
  const res: MetaResult = {
    workload,
    engine: kind,
    threads,
    n,
    median_s: med,
    times: times.map((t) => Math.round(t * 10000) / 10000),
    task_median_s: median(taskTimes),
    gflops: (n * T * FLOP_PER_COORD_STEP) / med / 1e9,
    peak_rss_MB: peakRssMB(),
  };
  log(
    `${workload}  ${kind.padEnd(4)} ${threads}T  n=${n}  ${med.toFixed(4)} s/meta-iteration  ` +
      `${res.gflops.toFixed(1)} GFLOP/s  task ${(res.task_median_s * 1000).toFixed(1)} ms  process peak RSS so far ${res.peak_rss_MB} MB`,
  );
  return res;
}

/** Median milliseconds of one full MNIST MLP training step (lossAndGrad + update + apply). */
function benchStep(label: string, family: TaskFamily, makeTx: (n: number) => GradientTransformation & { dispose?: () => void }): number {
  const [tk, ik, bk] = split(key(3), 3) as [Key, Key, Key];
  const task = family.sample(tk);
  const tx = makeTx(task.layout.size);
  const times = trainingStepTimes(task, tx, ik, bk);
  tx.dispose?.();
  const med = median(times);
  log(`step  ${label.padEnd(12)} ${med.toFixed(2)} ms per MNIST MLP training step`);
  return med;
}

const mnist = mnistMlpFamily({ backend: mlpBackend as MlpBackend });
const quad = quadraticFamily({ instances: 128 });
const W_CFG: LstmOptimizerConfig = { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 };
const results: MetaResult[] = [];
log(
  `l2o bench: ${iters} timed meta-iterations after ${warmup} warm-up (Q ${qIters} after ${qWarmup}); Node ${process.version}; ` +
    `${availableParallelism()} cores; kernel ${kernelUsed}; MNIST MLP backend ${mlpBackend}`,
);
// W on all threads first: peak RSS is the process's high-water mark, so the first workload's
// figure is its own; later figures include whatever earlier ones left allocated.
const wRuns: [number, number] = [warmup, iters];
const qRuns: [number, number] = [qWarmup, qIters];
results.push(benchMeta("W", mnist, W_CFG, kernelUsed, allThreads, wRuns));
if (allThreads > 1) results.push(benchMeta("W", mnist, W_CFG, kernelUsed, 1, wRuns));
if (flag("--ref")) results.push(benchMeta("W", mnist, W_CFG, "ref", 1, wRuns));
results.push(benchMeta("Q", quad, W_CFG, kernelUsed, allThreads, qRuns));
if (allThreads > 1) results.push(benchMeta("Q", quad, W_CFG, kernelUsed, 1, qRuns));
results.push(benchMeta("Q", quad, W_CFG, "ref", 1, [warmup, iters]));

const lstm = lstmOptimizer(W_CFG, engineFactory(kernelUsed, 1));
const phi = lstm.init(key(5)).flat;
const stepAdam = benchStep("adam", mnist, () => adam(1e-3));
// The same with the plain-TypeScript update rules (the same bits), for the rules' share.
const stepAdamTs = benchStep("adam (ts)", mnist, () => adam(1e-3, { engine: "ts" }));
const stepLstm1 = benchStep("lstm 1T", mnist, () => lstm.optFn(phi, mnist.sample(key(0)).layout));
const lstmAll = lstmOptimizer(W_CFG, engineFactory(kernelUsed, allThreads));
const stepLstmAll = allThreads > 1 ? benchStep(`lstm ${allThreads}T`, mnist, () => lstmAll.optFn(phi, mnist.sample(key(0)).layout)) : stepLstm1;
// The same without a copy of the recurrent state per step (optFn's copyState: false).
const stepLstmHandle = benchStep(`lstm ${allThreads}T h`, mnist, () => lstmAll.optFn(phi, mnist.sample(key(0)).layout, { copyState: false }));
log(`step  ratio lstm/adam: ${(stepLstm1 / stepAdam).toFixed(2)} (1 thread), ${(stepLstmAll / stepAdam).toFixed(2)} (${allThreads} threads), ${(stepLstmHandle / stepAdam).toFixed(2)} (${allThreads} threads, no state copy)`);

if (json) {
  process.stdout.write(
    JSON.stringify({
      node: process.version,
      cores: availableParallelism(),
      kernel: kernelUsed,
      tape,
      mlpBackend,
      flopPerCoordStep: FLOP_PER_COORD_STEP,
      meta: results,
      step: { adam_ms: stepAdam, adam_ts_rules_ms: stepAdamTs, lstm_1T_ms: stepLstm1, lstm_allT_ms: stepLstmAll, threads: allThreads, ratio_1T: stepLstm1 / stepAdam, ratio_allT: stepLstmAll / stepAdam, lstm_allT_nocopy_ms: stepLstmHandle, ratio_allT_nocopy: stepLstmHandle / stepAdam },
    }) + "\n",
  );
}

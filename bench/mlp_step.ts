// Benchmark (not a test): one full MNIST MLP training step (the default mnist-mlp task:
// 784-20-10 sigmoid, batch 128, 15,910 weights; minibatch gradient, the optimizer's update,
// applyUpdates) with the per-coordinate MLP optimizer, as a ratio to the same step with Adam
// (its update rule in WebAssembly). The MLP variants: the adafac features at hidden widths 4
// (the default, as VeLO's per-parameter MLP), 8 and 32 on the WebAssembly kernel and on the
// float64 reference, and the basic features (small_fc_lopt: 2 x 32) on both.
//
//   npm run bench:mlp-step -- [--rounds 5] [--steps 40] [--json FILE]
//
// Rounds interleave the variants (Adam, then each MLP), so that a noisy machine weighs on all
// of them alike; each round's time is the median of `steps` steps after 5 warm-up steps, and
// the figure is the median over rounds, with the ratio to Adam taken round by round. Two
// clocks: wall time, and this process's CPU time per step (the mean over the round's steps;
// everything runs on the calling thread, so on a machine shared with other work the CPU time
// is the steadier measure of the step's own cost).
import { writeFileSync } from "node:fs";
import { foldIn, key, split, type Key } from "../src/core/rng.ts";
import { mnistMlpFamily } from "../src/tasks/mnist_mlp.ts";
import { adam } from "../src/optimizers/alias.ts";
import { applyUpdates, type GradientTransformation } from "../src/optimizers/transform.ts";
import { mlpOptimizer } from "../src/learned/mlp/optimizer.ts";
import type { MlpEngineKind } from "../src/learned/mlp/engine.ts";
import { arg } from "./args.ts";

const rounds = Number(arg("rounds", "5"));
const steps = Number(arg("steps", "40"));
const jsonOut = arg("json", "");

const median = (a: readonly number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const family = mnistMlpFamily();
const [tk, ik, bk] = split(key(3), 3) as [Key, Key, Key];
const task = family.sample(tk);
const layout = task.layout;

type Tx = GradientTransformation & { dispose?: () => void };
interface Variant {
  readonly label: string;
  readonly make: () => Tx;
}
function mlp(label: string, config: object, engine: MlpEngineKind): Variant {
  return {
    label,
    make: () => {
      const opt = mlpOptimizer(config, engine);
      return opt.optFn(opt.init(key(1)).flat, layout);
    },
  };
}
const variants: Variant[] = [
  { label: "adam", make: () => adam(1e-3) },
  ...[4, 8, 32].flatMap((h) => [mlp(`adafac h${h} wasm`, { features: "adafac", hidden: h }, "wasm"), mlp(`adafac h${h} ref`, { features: "adafac", hidden: h }, "ref")]),
  mlp("basic 2x32 wasm", {}, "wasm"),
  mlp("basic 2x32 ref", {}, "ref"),
];

/** Wall milliseconds (median of `steps` training steps with a fresh `tx`, after 5 warm-up steps) and CPU milliseconds (mean). */
function time(v: Variant, round: number): { wall: number; cpu: number } {
  let theta = task.init(ik);
  const tx = v.make();
  let state = tx.init(theta);
  const times: number[] = [];
  let c0 = process.cpuUsage();
  for (let it = 0; it < steps + 5; it++) {
    if (it === 5) c0 = process.cpuUsage();
    const t0 = performance.now();
    const { grad } = task.lossAndGrad(theta, foldIn(bk, round * 1000 + it));
    const [u, s] = tx.update(grad, state, theta, { step: it });
    state = s;
    theta = applyUpdates(theta, u);
    if (it >= 5) times.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  tx.dispose?.();
  return { wall: median(times), cpu: (c.user + c.system) / 1000 / steps };
}

const wall: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
const cpu: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const t = time(v, r);
    wall[v.label]!.push(t.wall);
    cpu[v.label]!.push(t.cpu);
  }
  console.error(`round ${r + 1}/${rounds} (cpu ms): ${variants.map((v) => `${v.label} ${cpu[v.label]!.at(-1)!.toFixed(2)}`).join(", ")}`);
}
const summary = (ms: Record<string, number[]>, label: string) => {
  const ratios = ms[label]!.map((x, r) => x / ms.adam![r]!);
  return { ms: median(ms[label]!), min_ms: Math.min(...ms[label]!), max_ms: Math.max(...ms[label]!), ratio: median(ratios), ratios };
};
const rows = variants.map((v) => ({ label: v.label, cpu: summary(cpu, v.label), wall: summary(wall, v.label) }));
console.log(`MNIST MLP training step (${layout.size} weights, batch 128, 1 thread), median of ${rounds} rounds of ${steps} steps; ratio to Adam round by round:`);
for (const r of rows) {
  const f = (x: ReturnType<typeof summary>) => `${x.ms.toFixed(2)} ms (${x.min_ms.toFixed(2)}-${x.max_ms.toFixed(2)}) ${x.ratio.toFixed(2)}x`;
  console.log(`  ${r.label.padEnd(18)} cpu ${f(r.cpu)}   wall ${f(r.wall)}`);
}
if (jsonOut !== "") writeFileSync(jsonOut, `${JSON.stringify({ weights: layout.size, rounds, steps, rows }, null, 1)}\n`);

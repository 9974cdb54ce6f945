/**
 * One MNIST MLP training step (minibatch gradient, update, applyUpdates; 784-20-10, 15,910
 * coordinates) with tuned-rate Adam and with the hierarchical RNN optimizer (per-parameter GRU
 * on its WebAssembly kernel, and on the TypeScript reference; the paper's widths 10/30/20 and
 * a narrower 4/8/4): medians of 50 steps after 10, in 3 interleaved rounds, and their ratios.
 *   npx tsx bench/hrnn_step.ts
 */
import { key, split, type Key } from "../src/core/rng.ts";
import { mnistMlpFamily } from "../src/tasks/mnist_mlp.ts";
import { adam } from "../src/optimizers/alias.ts";
import type { GradientTransformation } from "../src/optimizers/transform.ts";
import { trainingStepTimes } from "./step_timing.ts";
import { hrnnOptimizer } from "../src/learned/hrnn/optimizer.ts";

const family = mnistMlpFamily({});
const [tk, ik, bk] = split(key(3), 3) as [Key, Key, Key];
const task = family.sample(tk);

function stepMs(tx: GradientTransformation): number {
  const times = trainingStepTimes(task, tx, ik, bk);
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

const makers: [string, () => GradientTransformation][] = [
  ["adam", () => adam(1e-3)],
  ["hrnn 10/30/20 wasm", () => { const o = hrnnOptimizer({}, "wasm"); return o.optFn(o.init(key(1)).flat, task.layout); }],
  ["hrnn 10/30/20 ref", () => { const o = hrnnOptimizer({}, "ref"); return o.optFn(o.init(key(1)).flat, task.layout); }],
  ["hrnn 4/8/4 wasm", () => { const o = hrnnOptimizer({ paramHidden: 4, tensorHidden: 8, globalHidden: 4 }, "wasm"); return o.optFn(o.init(key(1)).flat, task.layout); }],
];
const rounds: number[][] = [];
for (let r = 0; r < 3; r++) rounds.push(makers.map(([, make]) => stepMs(make())));
for (let j = 0; j < makers.length; j++) {
  const ms = rounds.map((x) => x[j]!);
  const ratios = rounds.map((x) => x[j]! / x[0]!);
  console.log(`${makers[j]![0].padEnd(20)} ${ms.map((v) => v.toFixed(2)).join(", ")} ms   / adam: ${ratios.map((v) => v.toFixed(1)).join(", ")}x`);
}

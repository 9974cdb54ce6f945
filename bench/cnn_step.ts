// Benchmark (not a test): one training step of the default `cnn` task (MNIST, conv 8 -> conv 8,
// each 3x3 + batch norm + ReLU + 2x2 max pool, fc 32, 10 classes, batch 128, 13,586
// weights): the minibatch drawn and the loss and gradient computed (forward and backward), as
// meta-training and evaluation call it once per optimizee step. Its PyTorch twin is
// bench/torch_cnn.py; run both in one sitting and compare medians.
//
//   npx tsx bench/cnn_step.ts [--steps 100] [--rounds 5] [--backend wasm|jax] [--json]
//
// Prints the median step in ms over `rounds` rounds of `steps` steps (each round's median,
// then the median of those), after 10 warm-up steps. One thread (the kernels run on the
// calling thread).
import { key } from "../src/core/rng.ts";
import { cnnFamily } from "../src/tasks/cnn.ts";
import { arg } from "./args.ts";

const steps = Number(arg("steps", "100"));
const rounds = Number(arg("rounds", "5"));
const backend = arg("backend", "wasm") as "wasm" | "jax";

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const task = cnnFamily({ backend }).sample(key(0));
const theta = task.init(key(1));
for (let i = 0; i < 10; i++) task.lossAndGrad(theta, key(1000 + i));
const perRound: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    task.lossAndGrad(theta, key(r * steps + s));
    t.push(performance.now() - t0);
  }
  perRound.push(median(t));
}
const ms = median(perRound);
if (process.argv.includes("--json")) console.log(JSON.stringify({ backend, params: task.layout.size, ms, perRound }));
else console.log(`cnn step (${backend}, ${task.layout.size} weights, batch 128): median ${ms.toFixed(2)} ms (rounds: ${perRound.map((x) => x.toFixed(2)).join(", ")})`);

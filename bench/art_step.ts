// Benchmark (not a test): one loss and gradient of the `art` task (the image's pixels through
// three random 3x3 conv layers 3 -> 8 -> 16 -> 16 with ReLU and 2x2 average pooling, content
// loss on layer 2, Gram-matrix style loss on the pixels and the three layers, total variation),
// as meta-training and evaluation call it once per optimizee step, at 64 x 64 and 128 x 128.
// Its PyTorch twin is bench/torch_art.py; run both in one sitting and compare medians.
//
//   npx tsx bench/art_step.ts [--steps 50] [--rounds 5] [--sizes 64,128] [--json]
//
// Prints the median step in ms per size over `rounds` rounds of `steps` steps (each round's
// median, then the median of those), after 10 warm-up steps. Plain TypeScript, one thread.
import { key } from "../src/core/rng.ts";
import { artTaskFrom, resolveArtConfig } from "../src/tasks/art.ts";
import { pattern } from "../src/data/patterns.ts";
import { arg } from "./args.ts";

const steps = Number(arg("steps", "50"));
const rounds = Number(arg("rounds", "5"));
const sizes = arg("sizes", "64,128").split(",").map(Number);
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const out: Record<string, number> = {};
for (const size of sizes) {
  // A generated content image: the cost does not depend on which picture it is.
  const task = artTaskFrom(pattern("mosaic", size)!, resolveArtConfig({ size }));
  const theta = task.init(key(1));
  let sink = 0;
  for (let i = 0; i < 10; i++) sink += task.lossAndGrad(theta, key(0)).loss;
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      sink += task.lossAndGrad(theta, key(0)).grad[0]!;
      times.push(performance.now() - t0);
    }
    per.push(median(times));
  }
  out[`art${size}_ms`] = median(per);
  if (!Number.isFinite(sink)) throw new Error("non-finite loss");
}
if (process.argv.includes("--json")) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k}: ${v.toFixed(2)} ms (median of ${rounds} rounds of ${steps} steps)`);

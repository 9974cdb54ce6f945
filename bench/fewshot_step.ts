// Benchmark (not a test): one meta-iteration of a few-shot learner, the meta-batch's episodes
// adapted and the exact second-order meta-gradient computed (jax-js, `jit(valueAndGrad(vmap))`),
// then Adam. Its PyTorch twin is bench/torch_fewshot.py; run both in one sitting.
//
//   npx tsx bench/fewshot_step.ts [--setting sinusoid|glyphs] [--method maml] [--conv im2col|lax] [--filters 16] [--iters 20] [--rounds 3] [--json]
//
// sinusoid: 5-shot, 5 query points, MLP 1-40-40-1, one inner step, 25 tasks per meta-batch
// (MAML's settings). glyphs: 5-way 1-shot, 5 queries per class, 14 x 14 glyphs, 3 conv blocks of
// 16 filters (--filters), 2 inner steps, 4 episodes per meta-batch (a setting this CPU can
// afford); --conv picks the convolution (src/fewshot/conv.ts: im2col, or jax-js's lax.conv). Prints
// the median meta-iteration in ms (median of each round's median), after 3 warm-up iterations
// (the first compiles).
import { makeLearner } from "../src/fewshot/learner.ts";
import { useConv, type ConvImpl } from "../src/fewshot/conv.ts";
import { episodeSource } from "../src/fewshot/setup.ts";
import { metaGradFn, stackEpisodes, toDevice, adamStep, trainEpisodeKey, mslWeights } from "../src/fewshot/train.ts";
import type { Method } from "../src/fewshot/methods.ts";
import { jax } from "../src/tasks/mlp_jax.ts";
import { arg } from "./args.ts";

const setting = arg("setting", "sinusoid");
const method = arg("method", "maml") as Method;
const iters = Number(arg("iters", "20"));
const rounds = Number(arg("rounds", "3"));
const conv = arg("conv", "im2col") as ConvImpl;
const filters = Number(arg("filters", "16"));
const sinusoid = setting === "sinusoid";
useConv(conv);
const source = sinusoid ? episodeSource({ task: "sinusoid", shots: 5, query: 5 }) : episodeSource({ task: "glyphs", ways: 5, shots: 1, query: 5, imageSize: 14 });
const learner = makeLearner(
  { method, net: sinusoid ? { kind: "mlp", hidden: [40, 40] } : { kind: "conv", filters, blocks: 3 }, steps: sinusoid ? 1 : 2, innerLr: sinusoid ? 0.01 : 0.4, perStepBn: false },
  source,
);
const metaBatch = sinusoid ? 25 : 4;
const f = metaGradFn(learner, false, false);
const meta = learner.initMeta([0, 1]);
const adam = { step: 0, m: {}, v: {} };
const { numpy: jnp } = jax();
let it = 0;
const iteration = (): void => {
  const eps = Array.from({ length: metaBatch }, (_, b) => source.sample(trainEpisodeKey(0, it, b), "train"));
  it++;
  const [l, g] = f(toDevice(meta), stackEpisodes(eps, source), jnp.array(mslWeights(learner.config.steps, 1)));
  l.dataSync();
  const grad = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.dataSync() as Float32Array]));
  adamStep(meta, grad, adam, 0.001);
};
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
for (let i = 0; i < 3; i++) iteration();
const meds: number[] = [];
for (let r = 0; r < rounds; r++) {
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    iteration();
    times.push(performance.now() - t0);
  }
  meds.push(median(times));
}
const out = { engine: "l2o jax-js (wasm)", setting, method, ...(sinusoid ? {} : { conv, filters }), metaBatch, ms: median(meds), rounds: meds };
if (process.argv.includes("--json")) console.log(JSON.stringify(out));
else console.log(`l2o fewshot ${setting} ${method}${sinusoid ? "" : ` (${conv}, ${filters} filters)`}: ${out.ms.toFixed(1)} ms per meta-iteration (median of ${rounds} rounds of ${iters})`);

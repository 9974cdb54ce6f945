/**
 * A jax-js training loop with an l2o optimizer: a small MLP (2-32-2, tanh) learns to tell two
 * interleaved half-moons apart, once with the shipped `mnist` LSTM (`learned("mnist")`;
 * `learned()` gives the default, `general`) and once with Adam through the same adapter (`learned("adam@0.01")`),
 * printing both losses side by side.
 *
 *   npx tsx examples/jax_training_loop.ts [steps]     (default 300)
 *
 * The loop is jax-js's own (`valueAndGrad`, `@jax-js/optax`'s contract): `init(params.ref)`,
 * `update(grads, state, params.ref)`, `applyUpdates(params, updates)`. Every call consumes the
 * arrays it is given, so `.ref` keeps the parameters alive for the next step.
 */
import { jit, nn, numpy as np, random, tree, valueAndGrad } from "@jax-js/jax";
import { applyUpdates, learned, type OptState } from "l2o/jax";

type Layer = { w: np.Array; b: np.Array };
type Params = { layers: Layer[] };

const steps = Number(process.argv[2] ?? 300);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${process.argv[2]}`);

/** 256 points on two interleaved half-moons with a little noise; labels one-hot. */
function moons(n: number): { x: np.Array; y: np.Array } {
  const xs = new Float32Array(2 * n);
  const ys = new Float32Array(2 * n);
  const noise = random.normal(random.key(1), [n, 2]).mul(0.1).dataSync() as Float32Array;
  for (let i = 0; i < n; i++) {
    const upper = i % 2 === 0;
    const t = (Math.PI * Math.floor(i / 2)) / (n / 2);
    xs[2 * i] = (upper ? Math.cos(t) : 1 - Math.cos(t)) + noise[2 * i]!;
    xs[2 * i + 1] = (upper ? Math.sin(t) : 0.5 - Math.sin(t)) + noise[2 * i + 1]!;
    ys[2 * i + (upper ? 0 : 1)] = 1;
  }
  return { x: np.array(xs, { shape: [n, 2] }), y: np.array(ys, { shape: [n, 2] }) };
}

/** Initial weights, the same for both runs (normal with std 1/sqrt(fan-in), biases zero). */
function initParams(dims: number[]): Params {
  const keys = random.split(random.key(0), dims.length - 1);
  const layers = dims.slice(1).map((dout, k) => ({
    w: random.normal(keys.ref.slice(k), [dims[k]!, dout]).mul(1 / Math.sqrt(dims[k]!)),
    b: np.zeros([dout]),
  }));
  keys.dispose();
  return { layers };
}

const { x, y } = moons(256);
/** Mean softmax cross-entropy of the MLP on the whole set. */
const loss = (p: Params): np.Array => {
  let h = x.ref;
  p.layers.forEach((l, k) => {
    h = np.matmul(h, l.w).add(l.b);
    if (k < p.layers.length - 1) h = np.tanh(h);
  });
  return nn.logsumexp(h.ref, -1).sub(h.mul(y.ref).sum(-1)).mean();
};
const lossAndGrad = jit(valueAndGrad(loss));

/** Trains from the same start with the optimizer `name`; returns the loss before each step and after the last. */
function train(name: string): number[] {
  const opt = learned(name);
  let params = initParams([2, 32, 2]);
  let state: OptState = opt.init(tree.ref(params));
  const losses: number[] = [];
  try {
    for (let t = 0; t < steps; t++) {
      const [l, grads] = lossAndGrad(tree.ref(params));
      losses.push(l.dataSync()[0]!);
      let updates: Params;
      [updates, state] = opt.update(grads, state, tree.ref(params));
      params = applyUpdates(params, updates);
    }
    losses.push(loss(params).dataSync()[0]!);
  } finally {
    opt.dispose();
  }
  return losses;
}

const names = ["mnist", "adam@0.01"];
const runs = names.map(train);
console.log(`two moons, MLP 2-32-2, ${steps} steps: mean cross-entropy`);
console.log(`${"step".padStart(6)}${names.map((n) => n.padStart(12)).join("")}`);
const every = Math.max(1, Math.round(steps / 10));
for (let t = 0; t <= steps; t++) {
  if (t % every === 0 || t === steps) console.log(`${String(t).padStart(6)}${runs.map((r) => r[t]!.toFixed(4).padStart(12)).join("")}`);
}
x.dispose();
y.dispose();
lossAndGrad.dispose();

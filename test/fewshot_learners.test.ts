/**
 * The few-shot learners' meta-gradients against central finite differences, in float64 on tiny
 * networks (an MLP for every method, a one-block conv net with batch norm for the methods that
 * treat convolutions or batch norm specially), second order through two inner steps; the
 * first-order option against the query gradient at the adapted parameters; the multi-step loss
 * against its definition.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { foldIn, key, normal, uniform } from "../src/core/rng.ts";
import { makeLearner, type EpisodeArrays, type Learner } from "../src/fewshot/learner.ts";
import { METHODS, type Method } from "../src/fewshot/methods.ts";
import type { NetConfig } from "../src/fewshot/net.ts";
import { sinusoidSource } from "../src/fewshot/sinusoid.ts";
import { mslWeights } from "../src/fewshot/train.ts";
import type { Arr, Episode, EpisodeShape, HostTree, Tree } from "../src/fewshot/types.ts";
import { jax } from "../src/tasks/mlp_jax.ts";

const { numpy: jnp, valueAndGrad } = jax();

/** A float64 device array holding `x` to about 1e-14 (jax-js 0.1.25 takes no Float64Array on Node 20): a float32 head plus its float32 remainder. */
function f64(x: Float64Array, shape: readonly number[]): Arr {
  const hi = Float32Array.from(x);
  const lo = Float32Array.from(x, (v, i) => v - hi[i]!);
  return jnp.array(hi, { shape: [...shape] }).astype(jnp.float64).add(jnp.array(lo, { shape: [...shape] }).astype(jnp.float64));
}

type Host64 = Record<string, { shape: readonly number[]; data: Float64Array }>;
const widen = (t: HostTree): Host64 => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data) }]));
const device = (t: Host64): Tree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, f64(v.data, v.shape)]));
const arrays = (e: Episode, s: EpisodeShape): EpisodeArrays => ({
  xs: f64(Float64Array.from(e.xs), [s.support, ...s.inputShape]),
  ys: f64(Float64Array.from(e.ys), [s.support, s.outputs]),
  xq: f64(Float64Array.from(e.xq), [s.query, ...s.inputShape]),
  yq: f64(Float64Array.from(e.yq), [s.query, s.outputs]),
});

/** Tiny 2-way classification episodes of 4x4 single-channel noise images. */
const imageShape: EpisodeShape = { inputShape: [1, 4, 4], outputs: 2, support: 2, query: 4, loss: "xent" };
function imageEpisode(seed: number): Episode {
  const onehot = (n: number): Float32Array => Float32Array.from({ length: n * 2 }, (_, i) => ((i >> 1) % 2 === i % 2 ? 1 : 0));
  return { xs: normal(key(seed), 32), ys: onehot(2), xq: normal(key(seed + 100), 64), yq: onehot(4), support: 2, query: 4 };
}

/** The mean meta-loss over `eps` and its gradient, in float64; `msl` gives weights to every step's query loss. */
function metaLossFn(learner: Learner, firstOrder: boolean, msl?: Float64Array) {
  const f = (meta: Tree, eps: EpisodeArrays[]): Arr => {
    let total: Arr | undefined;
    for (const e of eps) {
      const l = learner.episodeLoss(meta, e, firstOrder, msl === undefined ? undefined : f64(msl, [msl.length]));
      total = total === undefined ? l : total.add(l);
    }
    for (const v of Object.values(meta)) v.dispose();
    return total!.mul(1 / eps.length);
  };
  // Eager: jax-js 0.1.25's jit gives wrong float64 results here (its float32 path is what training uses).
  return valueAndGrad(f) as unknown as (meta: Tree, eps: EpisodeArrays[]) => [Arr, Tree];
}

interface Case {
  readonly method: Method;
  readonly net: NetConfig;
  readonly shape: EpisodeShape;
  readonly episodes: () => Episode[];
  readonly perStepBn?: boolean;
}

const sin = sinusoidSource({ shots: 4, query: 5 });
const mlpCase = (method: Method): Case => ({ method, net: { kind: "mlp", hidden: [4, 3] }, shape: sin, episodes: () => [sin.sample(foldIn(key(9), 0), "train")] });
const convCase = (method: Method, perStepBn = false): Case => ({ method, net: { kind: "conv", filters: 2, blocks: 1 }, shape: imageShape, episodes: () => [imageEpisode(1)], perStepBn });

/** Checks every meta-tensor's gradient at a few coordinates against central differences. */
async function checkMetaGradient(c: Case, msl?: Float64Array): Promise<void> {
  const learner = makeLearner({ method: c.method, net: c.net, steps: 2, innerLr: c.shape.loss === "mse" ? 0.05 : 0.3, perStepBn: c.perStepBn ?? false }, c.shape);
  const host = widen(learner.initMeta(key(3)));
  // Move the learned rates and factors off their symmetric starting values, so every term counts.
  for (const [name, t] of Object.entries(host)) {
    if (/^(alpha|lr|mc|lstm)\./.test(name)) {
      const u = uniform(foldIn(key(4), name), t.data.length, -0.2, 0.2);
      t.data.forEach((v, i) => (t.data[i] = v * (1 + u[i]!) + (name.startsWith("mc.") ? 0.1 * u[i]! : 0)));
    }
  }
  const eps = c.episodes();
  const f = metaLossFn(learner, false, msl);
  const [, grad] = f(device(host), eps.map((e) => arrays(e, c.shape)));
  const g: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(grad)) g[k] = (await v.data()) as Float64Array;
  const loss = async (): Promise<number> => {
    const [v, gg] = f(device(host), eps.map((e) => arrays(e, c.shape)));
    for (const a of Object.values(gg)) a.dispose();
    return ((await v.data()) as Float64Array)[0]!;
  };
  let checked = 0;
  for (const [name, t] of Object.entries(host)) {
    const n = t.data.length;
    let scale = 0;
    for (const x of g[name]!) scale = Math.max(scale, Math.abs(x));
    for (const i of new Set([0, n - 1])) {
      const orig = t.data[i]!;
      // Central differences at a few step sizes, the first that agrees wins: jax-js computes exp,
      // log and tanh to about 1e-8 even in float64 (noise at small steps), and ReLU and max-pool
      // kinks can fall inside a large one; a wrong gradient disagrees at every step.
      const tries: string[] = [];
      let ok = false;
      for (const h of [1e-4, 1e-3, 1e-5]) {
        t.data[i] = orig + h;
        const up = await loss();
        t.data[i] = orig - h;
        const down = await loss();
        t.data[i] = orig;
        const fd = (up - down) / (2 * h);
        tries.push(`${fd} (h ${h})`);
        if (Math.abs(fd - g[name]![i]!) <= 5e-8 / h + 2e-3 * Math.max(Math.abs(fd), Math.abs(g[name]![i]!)) + 1e-5 * scale) {
          ok = true;
          break;
        }
      }
      assert.ok(ok, `${c.method} ${c.net.kind} ${name}[${i}]: analytic ${g[name]![i]} vs finite differences ${tries.join(", ")}`);
      checked++;
    }
  }
  assert.ok(checked >= 6, `only ${checked} coordinates checked`);
  // The method's own tensors get a gradient at all (a disconnected one would pass the check as 0 = 0).
  const own = Object.keys(host).filter((k) => /^(alpha|lr|mc|lstm)\./.test(k));
  for (const k of own) assert.ok(g[k]!.some((x) => Math.abs(x) > 1e-9), `${c.method}: ${k} has a zero meta-gradient`);
}

describe("few-shot meta-gradients (second order, two inner steps, float64) match finite differences", () => {
  for (const method of METHODS) test(`${method}, sinusoid MLP`, () => checkMetaGradient(mlpCase(method)));
  test("maml, conv net with batch norm", () => checkMetaGradient(convCase("maml")));
  test("metacurvature, conv net (output, input and window factors)", () => checkMetaGradient(convCase("metacurvature")));
  test("lslr with per-step batch norm and the multi-step loss, conv net", () => checkMetaGradient(convCase("lslr", true), Float64Array.from([0.3, 0.7])));
});

describe("first order and the multi-step loss", () => {
  test("first-order MAML's gradient of the initialisation is the query gradient at the adapted parameters", async () => {
    const learner = makeLearner({ method: "maml", net: { kind: "mlp", hidden: [4, 3] }, steps: 2, innerLr: 0.05, perStepBn: false }, sin);
    const host = widen(learner.initMeta(key(3)));
    const ep = sin.sample(key(5), "train");
    const [, g] = metaLossFn(learner, true)(device(host), [arrays(ep, sin)]);
    // Adapt by hand (plain gradient steps), then differentiate the query loss there.
    const loss = (p: Tree, x: Arr, y: Arr): Arr => learner.net.lossOf(learner.net.forward(p, {}, x), y);
    let p = device(host);
    const a = arrays(ep, sin);
    for (let s = 0; s < 2; s++) {
      const [, gs] = valueAndGrad(loss)(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.ref])), a.xs.ref, a.ys.ref) as unknown as [Arr, Tree];
      p = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.sub(gs[k]!.mul(0.05))]));
    }
    const [, gq] = valueAndGrad(loss)(p, a.xq, a.yq) as unknown as [Arr, Tree];
    let second = 0;
    const [, g2] = metaLossFn(learner, false)(device(host), [arrays(ep, sin)]);
    for (const k of Object.keys(gq)) {
      const x = (await g[k]!.data()) as Float64Array;
      const y = (await gq[k]!.data()) as Float64Array;
      const z = (await g2[k]!.data()) as Float64Array;
      x.forEach((v, i) => assert.ok(Math.abs(v - y[i]!) < 1e-10, `${k}[${i}]: first order ${v} vs query gradient ${y[i]}`));
      z.forEach((v, i) => (second = Math.max(second, Math.abs(v - y[i]!))));
    }
    assert.ok(second > 1e-6, "the second-order gradient should differ from the first-order one");
  });

  test("MAML++'s multi-step-loss weights: uniform at the start, on the last step at the end, always summing to 1", () => {
    const close = (a: ArrayLike<number>, b: number[]): void => b.forEach((v, i) => assert.ok(Math.abs(a[i]! - v) < 1e-6, `${Array.from(a)} vs ${b}`));
    close(mslWeights(4, 0), [0.25, 0.25, 0.25, 0.25]);
    close(mslWeights(4, 1), [0.0075, 0.0075, 0.0075, 0.9775]);
    for (const p of [0, 0.3, 0.9, 1]) assert.ok(Math.abs(mslWeights(5, p).reduce((s, x) => s + x, 0) - 1) < 1e-6);
    close(mslWeights(1, 0.5), [1]);
  });

  test("the multi-step loss with all weight on the last step is the plain query loss", async () => {
    const learner = makeLearner({ method: "lslr", net: { kind: "mlp", hidden: [4, 3] }, steps: 2, innerLr: 0.05, perStepBn: false }, sin);
    const host = widen(learner.initMeta(key(3)));
    const ep = sin.sample(key(6), "train");
    const [a] = metaLossFn(learner, false, Float64Array.from([0, 1]))(device(host), [arrays(ep, sin)]);
    const [b] = metaLossFn(learner, false)(device(host), [arrays(ep, sin)]);
    const [c] = metaLossFn(learner, false, Float64Array.from([1, 0]))(device(host), [arrays(ep, sin)]);
    const [x, y, z] = [(await a.data())[0]!, (await b.data())[0]!, (await c.data())[0]!];
    assert.ok(Math.abs(x - y) < 1e-12 * Math.max(1, Math.abs(y)), `${x} vs ${y}`);
    assert.ok(Math.abs(z - y) > 1e-9, "the first step's query loss should differ from the last's");
  });
});

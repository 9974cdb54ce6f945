/**
 * Meta-training of a few-shot learner: each iteration draws a meta-batch of episodes from the
 * `train` key namespace, computes the mean query loss after adaptation and its exact gradient
 * with respect to every meta-parameter (jax-js: `jit(valueAndGrad(vmap(episodeLoss)))`, the
 * episodes of a meta-batch vectorised), and takes an Adam step. MAML++'s stabilisers are
 * options: the multi-step loss with its annealed weights, derivative-order annealing (first
 * order for the first iterations), and a cosine-annealed meta learning rate.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, key as makeKey, type Key } from "../core/rng.ts";
import { jax } from "../tasks/mlp_jax.ts";
import type { Learner } from "./learner.ts";
import type { Arr, Episode, EpisodeShape, EpisodeSource, HostTree, Tree } from "./types.ts";

export interface TrainOptions {
  readonly iterations: number;
  readonly metaBatch: number;
  readonly metaLr: number;
  readonly firstOrder: boolean;
  /** Derivative-order annealing: first order for this many iterations, then second (unless `firstOrder`). */
  readonly firstOrderIters: number;
  /** The multi-step loss, its weights annealed to the last step over `mslIters` iterations. */
  readonly msl: boolean;
  readonly mslIters: number;
  /** Cosine annealing of the meta learning rate from `metaLr` down to `metaLrMin`. */
  readonly cosine: boolean;
  readonly metaLrMin: number;
  readonly seed: number;
}

export const TRAIN_LIMITS = Object.freeze({ iterations: 1_000_000, metaBatch: 1024, metaLr: 1 });

export function checkTrainOptions(o: TrainOptions): void {
  const int = (v: number, name: string, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`few-shot training: ${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int(o.iterations, "iterations", 1, TRAIN_LIMITS.iterations);
  int(o.metaBatch, "meta-batch", 1, TRAIN_LIMITS.metaBatch);
  int(o.firstOrderIters, "first-order iterations", 0, TRAIN_LIMITS.iterations);
  int(o.mslIters, "multi-step-loss iterations", 0, TRAIN_LIMITS.iterations);
  if (!(o.metaLr > 0 && o.metaLr <= TRAIN_LIMITS.metaLr)) throw new ConfigError(`few-shot training: meta-lr must be in (0, ${TRAIN_LIMITS.metaLr}], got ${o.metaLr}`);
  if (!(o.metaLrMin >= 0 && o.metaLrMin <= o.metaLr)) throw new ConfigError(`few-shot training: the cosine schedule's floor must be in [0, meta-lr], got ${o.metaLrMin}`);
}

/** MAML++'s multi-step-loss weights at training progress p in [0, 1]: uniform at first, then all on the last step. */
export function mslWeights(steps: number, p: number): Float32Array {
  const w = new Float32Array(steps);
  const floor = 0.03 / steps;
  for (let s = 0; s < steps - 1; s++) w[s] = Math.max((1 / steps) * (1 - p), floor);
  w[steps - 1] = 1 - w.reduce((a, b) => a + b, 0);
  return w;
}

/** The meta learning rate at iteration `it` of `total`. */
export function metaLrAt(o: TrainOptions, it: number): number {
  if (!o.cosine) return o.metaLr;
  return o.metaLrMin + 0.5 * (o.metaLr - o.metaLrMin) * (1 + Math.cos((Math.PI * it) / o.iterations));
}

/** Named host tensors as device arrays. */
export function toDevice(t: HostTree): Tree {
  const { numpy: jnp } = jax();
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, jnp.array(v.data, { shape: [...v.shape] })]));
}

/** Episodes stacked along a leading axis: [B, n, ...inputShape] inputs, [B, n, outputs] targets. */
export function stackEpisodes(eps: readonly Episode[], shape: EpisodeShape): { xs: Arr; ys: Arr; xq: Arr; yq: Arr } {
  const { numpy: jnp } = jax();
  const B = eps.length;
  const stack = (pick: (e: Episode) => Float32Array, n: number, inner: readonly number[]): Arr => {
    const per = n * inner.reduce((a, b) => a * b, 1);
    const out = new Float32Array(B * per);
    eps.forEach((e, i) => out.set(pick(e), i * per));
    return jnp.array(out, { shape: [B, n, ...inner] });
  };
  return {
    xs: stack((e) => e.xs, shape.support, shape.inputShape),
    ys: stack((e) => e.ys, shape.support, [shape.outputs]),
    xq: stack((e) => e.xq, shape.query, shape.inputShape),
    yq: stack((e) => e.yq, shape.query, [shape.outputs]),
  };
}

type MetaGradFn = (meta: Tree, eps: { xs: Arr; ys: Arr; xq: Arr; yq: Arr }, w: Arr) => [Arr, Tree];

/** The jitted mean meta-loss and its gradient over a stacked meta-batch, for one setting. */
export function metaGradFn(learner: Learner, firstOrder: boolean, msl: boolean): MetaGradFn {
  const { jit, valueAndGrad, vmap } = jax();
  const batchLoss = (meta: Tree, eps: { xs: Arr; ys: Arr; xq: Arr; yq: Arr }, w: Arr): Arr => {
    const one = (m: Tree, e: { xs: Arr; ys: Arr; xq: Arr; yq: Arr }, ww: Arr): Arr => {
      if (msl) return learner.episodeLoss(m, e, firstOrder, ww);
      ww.dispose();
      return learner.episodeLoss(m, e, firstOrder);
    };
    const r = (vmap(one, [null, 0, null]) as unknown as (m: Tree, e: unknown, ww: Arr) => Arr)(meta, eps, w).mean();
    for (const v of Object.values(meta)) v.dispose();
    return r;
  };
  return jit(valueAndGrad(batchLoss)) as unknown as MetaGradFn;
}

/** Adam's state over named tensors. */
export interface AdamState {
  step: number;
  readonly m: Record<string, Float32Array>;
  readonly v: Record<string, Float32Array>;
}

export function adamStep(meta: HostTree, grad: Record<string, Float32Array>, st: AdamState, lr: number): void {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  st.step++;
  const c1 = 1 - b1 ** st.step, c2 = 1 - b2 ** st.step;
  for (const [name, t] of Object.entries(meta)) {
    const g = grad[name]!;
    const m = (st.m[name] ??= new Float32Array(g.length));
    const v = (st.v[name] ??= new Float32Array(g.length));
    const d = t.data;
    for (let i = 0; i < g.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      d[i] = d[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}

export interface IterationInfo {
  readonly iteration: number;
  readonly iterations: number;
  readonly loss: number;
  readonly metaLr: number;
  readonly secondOrder: boolean;
}

export interface TrainResult {
  readonly meta: HostTree;
  /** Mean meta-loss of each iteration's meta-batch. */
  readonly losses: number[];
  readonly seconds: number;
}

/** The keys of iteration `it`'s episodes: `train` namespace of the seed, never the evaluation's. */
export function trainEpisodeKey(seed: number, it: number, b: number): Key {
  return foldIn(foldIn(foldIn(makeKey(seed), "fewshot/train"), it), b);
}

/**
 * Meta-trains `learner` from `init` (or its own initialisation from the seed). A non-finite
 * meta-loss stops training with an error that names the iteration (lower the meta or inner rate).
 */
export function metaTrain(learner: Learner, source: EpisodeSource, o: TrainOptions, init?: HostTree, onIteration?: (i: IterationInfo) => void): TrainResult {
  checkTrainOptions(o);
  const { numpy: jnp } = jax();
  const t0 = performance.now();
  const meta: HostTree = init ?? learner.initMeta(foldIn(makeKey(o.seed), "fewshot/meta"));
  const fns = new Map<boolean, MetaGradFn>();
  const adam: AdamState = { step: 0, m: {}, v: {} };
  const losses: number[] = [];
  const steps = learner.config.steps;
  for (let it = 0; it < o.iterations; it++) {
    const secondOrder = !o.firstOrder && it >= o.firstOrderIters;
    let f = fns.get(secondOrder);
    if (f === undefined) fns.set(secondOrder, (f = metaGradFn(learner, !secondOrder, o.msl)));
    const eps = Array.from({ length: o.metaBatch }, (_, b) => source.sample(trainEpisodeKey(o.seed, it, b), "train"));
    const w = mslWeights(steps, o.mslIters === 0 ? 1 : Math.min(1, it / o.mslIters));
    const [lossArr, g] = f(toDevice(meta), stackEpisodes(eps, source), jnp.array(w));
    // dataSync() consumes the array (jax-js's move semantics).
    const loss = (lossArr.dataSync() as Float32Array)[0]!;
    const grad: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(g)) grad[k] = v.dataSync() as Float32Array;
    if (!Number.isFinite(loss) || Object.values(grad).some((a) => a.some((x) => !Number.isFinite(x)))) {
      throw new ConfigError(`few-shot training diverged at iteration ${it} (meta-loss ${loss}): lower --meta-lr or --inner-lr`);
    }
    const lr = metaLrAt(o, it);
    adamStep(meta, grad, adam, lr);
    losses.push(loss);
    onIteration?.({ iteration: it + 1, iterations: o.iterations, loss, metaLr: lr, secondOrder });
  }
  return { meta, losses, seconds: (performance.now() - t0) / 1000 };
}

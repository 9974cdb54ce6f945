/**
 * The common learner: meta-parameters (the learned initialisation, batch-norm weights, and the
 * method's own tensors: rates, Kronecker factors or gate weights), `adapt` (the inner loop on a
 * support set, differentiated exactly: the meta-gradient flows through every inner gradient,
 * second order, unless `firstOrder` stops it there) and `episodeLoss` (the query loss after
 * adaptation, or MAML++'s multi-step loss: a weighted sum of the query losses after every step).
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { foldIn, type Key } from "../core/rng.ts";
import { jax } from "../tasks/mlp_jax.ts";
import { METHOD_RULES, METHODS, type Method, type MethodContext, type MethodRule } from "./methods.ts";
import { checkNetConfig, makeNet, type Net, type NetConfig } from "./net.ts";
import type { Arr, EpisodeShape, HostTree, Tree } from "./types.ts";

export interface LearnerConfig {
  readonly method: Method;
  readonly net: NetConfig;
  /** Inner steps on the support set. */
  readonly steps: number;
  /** The inner learning rate: MAML's fixed rate, the initial value of the learned ones. */
  readonly innerLr: number;
  /** MAML++'s per-step batch-norm weights and biases: one row of scale and shift per inner step. */
  readonly perStepBn: boolean;
}

export const LEARNER_LIMITS = Object.freeze({ steps: 50, innerLr: 10 });

export function checkLearnerConfig(c: unknown): LearnerConfig {
  const r = (c ?? {}) as Record<string, unknown>;
  if (typeof r.method !== "string" || !(METHODS as readonly string[]).includes(r.method)) throw new ConfigError(`few-shot learner: method must be one of ${METHODS.join(", ")}, got ${shownValue(r.method)}`);
  const steps = r.steps;
  if (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1 || steps > LEARNER_LIMITS.steps) throw new ConfigError(`few-shot learner: steps must be an integer in [1, ${LEARNER_LIMITS.steps}], got ${shownValue(steps)}`);
  const lr = r.innerLr;
  if (typeof lr !== "number" || !(lr > 0 && lr <= LEARNER_LIMITS.innerLr)) throw new ConfigError(`few-shot learner: innerLr must be in (0, ${LEARNER_LIMITS.innerLr}], got ${shownValue(lr)}`);
  if (r.method === "metalstm" && lr >= 1) throw new ConfigError(`few-shot learner: metalstm's input gate starts at innerLr, which must be below 1 (got ${lr})`);
  return { method: r.method as Method, net: checkNetConfig(r.net), steps, innerLr: lr, perStepBn: r.perStepBn === true };
}

/** One episode's arrays on the device: support inputs and targets, query inputs and targets. */
export interface EpisodeArrays {
  readonly xs: Arr;
  readonly ys: Arr;
  readonly xq: Arr;
  readonly yq: Arr;
}

export interface Learner {
  readonly config: LearnerConfig;
  readonly net: Net;
  /** Every meta-parameter's name and shape, in the order files store them. */
  readonly metaSpecs: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>;
  initMeta(key: Key): HostTree;
  /**
   * The query loss after `steps` inner steps; with `mslWeights` ([steps]) the weighted sum of
   * the query losses after each step. Consumes `ep` and `mslWeights`, only reads `meta`.
   */
  episodeLoss(meta: Tree, ep: EpisodeArrays, firstOrder: boolean, mslWeights?: Arr): Arr;
  /** The adapted network's outputs on the query inputs (for evaluation); consumes `ep`. */
  predict(meta: Tree, ep: EpisodeArrays, steps?: number): Arr;
}

export function makeLearner(config: LearnerConfig, shape: EpisodeShape): Learner {
  const net = makeNet(config.net, shape);
  const rule: MethodRule = METHOD_RULES[config.method];
  const ctx: MethodContext = { params: net.params, steps: config.steps, innerLr: config.innerLr };
  const { numpy: jnp, lax, valueAndGrad } = jax();
  const bnRows = config.perStepBn ? config.steps + 1 : 0;

  const initMeta = (key: Key): HostTree => {
    const base = net.init(foldIn(key, "init"));
    const out: HostTree = {};
    for (const p of net.params) out[p.name] = base[p.name]!;
    for (const b of net.bn) {
      const t = base[b.name]!;
      if (bnRows === 0) out[b.name] = t;
      else {
        const data = new Float32Array(bnRows * t.data.length);
        for (let r = 0; r < bnRows; r++) data.set(t.data, r * t.data.length);
        out[b.name] = { shape: [bnRows, ...t.shape], data };
      }
    }
    return { ...out, ...rule.init(ctx, foldIn(key, "method")) };
  };
  const metaSpecs = Object.entries(initMeta([0, 0])).map(([name, t]) => ({ name, shape: [...t.shape] }));

  /** The batch-norm weights for inner step s (s = steps: the query after adaptation). */
  const bnAt = (meta: Tree, s: number): Tree => {
    const out: Tree = {};
    for (const b of net.bn) {
      const t = meta[b.name]!.ref;
      out[b.name] = bnRows === 0 ? t : t.slice([s, s + 1]).reshape([b.shape[0]!]);
    }
    return out;
  };
  const supportLoss = (p: Tree, bn: Tree, x: Arr, y: Arr): Arr => net.lossOf(net.forward(p, bn, x), y);
  const refTree = (t: Tree): Tree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.ref]));
  const disposeTree = (t: Tree): void => {
    for (const v of Object.values(t)) v.dispose();
  };

  /** The inner loop; `atStep(s, p)` sees the parameters after step s + 1 (not consumed). */
  const adapt = (meta: Tree, xs: Arr, ys: Arr, steps: number, firstOrder: boolean, atStep?: (s: number, p: Tree) => void): Tree => {
    let p: Tree = {};
    for (const s of net.params) p[s.name] = meta[s.name]!.ref;
    let state = rule.initialState(ctx, p);
    for (let s = 0; s < steps; s++) {
      // The batch-norm weights are differentiated too (their gradient is dropped): jax-js stops the
      // gradient of arguments outside argnums, which would cut the meta-gradient's path through them.
      let [loss, [g, gBn]] = valueAndGrad(supportLoss, { argnums: [0, 1] })(refTree(p), bnAt(meta, Math.min(s, config.steps)), xs.ref, ys.ref) as unknown as [Arr, [Tree, Tree]];
      disposeTree(gBn);
      if (firstOrder) {
        loss = lax.stopGradient(loss);
        g = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, lax.stopGradient(v)]));
      }
      ({ p, state } = rule.update(ctx, p, g, loss, Math.min(s, config.steps - 1), meta, state));
      atStep?.(s, p);
    }
    disposeTree(state);
    xs.dispose();
    ys.dispose();
    return p;
  };

  return {
    config, net, metaSpecs, initMeta,
    episodeLoss(meta, ep, firstOrder, mslWeights) {
      const query = (p: Tree, s: number): Arr => net.lossOf(net.forward(refTree(p), bnAt(meta, s), ep.xq.ref), ep.yq.ref);
      if (mslWeights === undefined) {
        const p = adapt(meta, ep.xs, ep.ys, config.steps, firstOrder);
        const l = net.lossOf(net.forward(p, bnAt(meta, config.steps), ep.xq), ep.yq);
        return l;
      }
      const losses: Arr[] = [];
      const p = adapt(meta, ep.xs, ep.ys, config.steps, firstOrder, (s, ps) => losses.push(query(ps, s + 1)));
      disposeTree(p);
      ep.xq.dispose();
      ep.yq.dispose();
      return jnp.stack(losses).mul(mslWeights).sum();
    },
    predict(meta, ep, steps = config.steps) {
      if (steps > config.steps && config.method === "lslr") throw new ConfigError(`lslr learned rates for ${config.steps} inner steps; cannot adapt for ${steps}`);
      const p = adapt(meta, ep.xs, ep.ys, steps, true);
      ep.yq.dispose();
      return net.forward(p, bnAt(meta, Math.min(steps, config.steps)), ep.xq);
    },
  };
}

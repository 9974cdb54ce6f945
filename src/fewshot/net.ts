/**
 * The learners' networks, written as pure functions of named parameters (jax-js), so that the
 * inner loop can be differentiated through:
 * - `mlp`: the regression network of MAML and Meta-SGD, 1-40-40-1 with ReLU by default;
 * - `conv`: the few-shot classification network of MAML, blocks of 3x3 convolution (same
 *   padding) -> batch norm -> ReLU -> 2x2 max pool, then a dense layer to the ways.
 * Batch norm uses the batch's own statistics (transductive, as MAML's code does), so nothing
 * runs between episodes. Its scale and shift are learned in the outer loop only (as in MAML++'s
 * code) and kept apart from the adapted parameters, one row per inner step when the learner asks
 * for per-step batch-norm weights (MAML++).
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { foldIn, uniform, type Key } from "../core/rng.ts";
import { jax } from "../tasks/mlp_jax.ts";
import { conv3x3 } from "./conv.ts";
import type { Arr, EpisodeShape, HostTree, Tree } from "./types.ts";

export type NetConfig =
  | { readonly kind: "mlp"; readonly hidden: readonly number[] }
  | { readonly kind: "conv"; readonly filters: number; readonly blocks: number };

/** An adapted tensor: its name, shape and which layer it belongs to (for per-layer learners). */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** `dense` [in, out], `conv` [out, in, 3, 3] or `bias` [out]: how Meta-Curvature factors it. */
  readonly mode: "dense" | "conv" | "bias";
}

export interface Net {
  readonly config: NetConfig;
  /** The parameters adapted in the inner loop, in a fixed order. */
  readonly params: readonly ParamSpec[];
  /** Batch-norm scale and shift per conv block (`bn0.scale`, `bn0.shift`, ...), shape [filters]. */
  readonly bn: readonly ParamSpec[];
  readonly loss: "mse" | "xent";
  /** Initial parameters and batch-norm weights (see `initTree`). */
  init(key: Key): HostTree;
  /** Outputs `[n, outputs]` for inputs `[n, ...inputShape]`; consumes its arguments. */
  forward(p: Tree, bn: Tree, x: Arr): Arr;
  /** The mean loss of outputs against targets, a scalar; consumes its arguments. */
  lossOf(out: Arr, y: Arr): Arr;
}

export const NET_LIMITS = Object.freeze({ width: 1024, layers: 8, filters: 128, blocks: 6 });

export function checkNetConfig(c: unknown): NetConfig {
  const r = (c ?? {}) as Record<string, unknown>;
  const int = (v: unknown, name: string, max: number): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(`few-shot network: ${name} must be an integer in [1, ${max}], got ${shownValue(v)}`);
    return v;
  };
  if (r.kind === "mlp") {
    if (!Array.isArray(r.hidden) || r.hidden.length > NET_LIMITS.layers) throw new ConfigError(`few-shot network: hidden must be a list of at most ${NET_LIMITS.layers} widths`);
    return { kind: "mlp", hidden: r.hidden.map((w, i) => int(w, `hidden[${i}]`, NET_LIMITS.width)) };
  }
  if (r.kind === "conv") return { kind: "conv", filters: int(r.filters, "filters", NET_LIMITS.filters), blocks: int(r.blocks, "blocks", NET_LIMITS.blocks) };
  throw new ConfigError(`few-shot network: kind must be mlp or conv, got ${shownValue(r.kind)}`);
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Weights uniform on +-1/sqrt(fan-in) (PyTorch's default for linear and convolution layers, so
 * the PyTorch reference starts alike; a net near zero output keeps the meta-gradient well
 * conditioned in float32), zero biases and shifts, unit scales.
 */
function initTree(specs: readonly ParamSpec[], key: Key): HostTree {
  const out: HostTree = {};
  specs.forEach((s, i) => {
    const n = size(s.shape);
    let data: Float32Array;
    if (s.name.endsWith(".scale")) data = new Float32Array(n).fill(1);
    else if (s.mode === "bias") data = new Float32Array(n);
    else {
      const bound = 1 / Math.sqrt(s.mode === "dense" ? s.shape[0]! : s.shape[1]! * 9);
      data = uniform(foldIn(key, i), n, -bound, bound);
    }
    out[s.name] = { shape: s.shape, data };
  });
  return out;
}

function lossFn(kind: "mse" | "xent"): (out: Arr, y: Arr) => Arr {
  const { nn, numpy: jnp } = jax();
  if (kind === "mse") return (out, y) => jnp.square(out.sub(y)).mean();
  return (z, y) => nn.logsumexp(z.ref, -1).sub(z.mul(y).sum(-1)).mean();
}

/** The network for `config` on episodes of `shape`; a ConfigError when they do not fit. */
export function makeNet(config: NetConfig, shape: EpisodeShape): Net {
  const { numpy: jnp, nn } = jax();
  const loss = shape.loss;
  if (config.kind === "mlp") {
    if (shape.inputShape.length !== 1) throw new ConfigError(`few-shot network: mlp needs flat inputs, these are [${shape.inputShape.join(", ")}]`);
    const dims = [shape.inputShape[0]!, ...config.hidden, shape.outputs];
    const params: ParamSpec[] = [];
    for (let l = 0; l + 1 < dims.length; l++) {
      params.push({ name: `l${l}.w`, shape: [dims[l]!, dims[l + 1]!], mode: "dense" }, { name: `l${l}.b`, shape: [dims[l + 1]!], mode: "bias" });
    }
    return {
      config, params, bn: [], loss,
      init: (key) => initTree(params, key),
      forward(p, bn, x) {
        let h = x;
        for (let l = 0; l + 1 < dims.length; l++) {
          h = jnp.matmul(h, p[`l${l}.w`]!).add(p[`l${l}.b`]!);
          if (l + 2 < dims.length) h = nn.relu(h);
        }
        void bn;
        return h;
      },
      lossOf: lossFn(loss),
    };
  }
  if (shape.inputShape.length !== 3) throw new ConfigError(`few-shot network: conv needs [channels, height, width] inputs, these are [${shape.inputShape.join(", ")}]`);
  const [c0, h0, w0] = shape.inputShape as [number, number, number];
  const k = config.filters;
  let h = h0;
  let w = w0;
  for (let b = 0; b < config.blocks; b++) {
    if (h < 2 || w < 2) throw new ConfigError(`few-shot network: ${config.blocks} pooling blocks need larger images than ${h0}x${w0}`);
    h >>= 1;
    w >>= 1;
  }
  const flat = k * h * w;
  const params: ParamSpec[] = [];
  const bnSpecs: ParamSpec[] = [];
  for (let b = 0; b < config.blocks; b++) {
    params.push({ name: `conv${b}.w`, shape: [k, b === 0 ? c0 : k, 3, 3], mode: "conv" });
    bnSpecs.push({ name: `bn${b}.scale`, shape: [k], mode: "bias" }, { name: `bn${b}.shift`, shape: [k], mode: "bias" });
  }
  params.push({ name: "head.w", shape: [flat, shape.outputs], mode: "dense" }, { name: "head.b", shape: [shape.outputs], mode: "bias" });
  const EPS = 1e-5;
  return {
    config, params, bn: bnSpecs, loss,
    init: (key) => ({ ...initTree(params, key), ...initTree(bnSpecs, foldIn(key, "bn")) }),
    forward(p, bn, x) {
      let a = x;
      const n = x.shape[0]!;
      let hh = h0;
      let ww = w0;
      for (let b = 0; b < config.blocks; b++) {
        const y = conv3x3(a, p[`conv${b}.w`]!);
        const mean = y.ref.mean([0, 2, 3], { keepdims: true });
        const centred = y.sub(mean);
        const variance = jnp.square(centred.ref).mean([0, 2, 3], { keepdims: true });
        const normed = centred.mul(jnp.reciprocal(jnp.sqrt(variance.add(EPS))));
        const act = nn.relu(normed.mul(bn[`bn${b}.scale`]!.reshape([1, k, 1, 1])).add(bn[`bn${b}.shift`]!.reshape([1, k, 1, 1])));
        const h2 = hh >> 1;
        const w2 = ww >> 1;
        const even = hh % 2 === 0 && ww % 2 === 0 ? act : act.slice([], [], [0, 2 * h2], [0, 2 * w2]);
        a = even.reshape([n, k, h2, 2, w2, 2]).max([3, 5]);
        hh = h2;
        ww = w2;
      }
      return jnp.matmul(a.reshape([n, flat]), p["head.w"]!).add(p["head.b"]!);
    },
    lossOf: lossFn(loss),
  };
}

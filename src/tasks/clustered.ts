/**
 * A small two-layer classifier on synthetic clustered data, the neural-net task of Li & Malik
 * ("Learning to Optimize", 2016, section 4; "Learning to Optimize Neural Nets", 2017): each
 * sampled task draws `points` points from `clusters` Gaussians with random means and
 * covariances, gives each cluster a random class (every class gets at least one cluster when
 * clusters >= classes), and trains
 *
 *   logits = W2^T relu(W1^T x + b1) + b2
 *
 * by mean softmax cross-entropy plus (l2 / 2)(||W1||^2 + ||W2||^2), the paper's l2 = 0.0005.
 * ReLU makes the loss non-convex and only piecewise smooth. Written by hand in float64.
 */
import { ConfigError } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, permutation, split, type Key } from "../core/rng.ts";
import type { LossAndGrad, Metrics, Task, TaskFamily } from "./base.ts";
import { checkFloats, CLUSTERED_LIMITS, gaussianClusters, intIn, numberAtLeast } from "./clustered_data.ts";

export interface ClusteredMlpConfig {
  /** Input dimension. Default 2. */
  readonly dim?: number;
  /** Hidden ReLU units. Default 2. */
  readonly hidden?: number;
  /** Classes. Default 2. */
  readonly classes?: number;
  /** Gaussian clusters, each labelled with one class. Default 4. */
  readonly clusters?: number;
  /** Data points per task. Default 100. */
  readonly points?: number;
  /** L2 weight on W1 and W2. Default 0.0005. */
  readonly l2?: number;
  /** Standard deviation of the initial weights and biases. Default 1. */
  readonly initStd?: number;
}

export type ResolvedClusteredMlpConfig = Required<ClusteredMlpConfig>;

export const CLUSTERED_MLP_DEFAULTS: ResolvedClusteredMlpConfig = Object.freeze({
  dim: 2,
  hidden: 2,
  classes: 2,
  clusters: 4,
  points: 100,
  l2: 0.0005,
  initStd: 1,
});

const NAME = "clustered-mlp";

export function resolveClusteredMlpConfig(c: ClusteredMlpConfig = {}): ResolvedClusteredMlpConfig {
  const d = CLUSTERED_MLP_DEFAULTS;
  const dim = intIn(NAME, "dim", c.dim ?? d.dim, 1, CLUSTERED_LIMITS.dim);
  const hidden = intIn(NAME, "hidden", c.hidden ?? d.hidden, 1, 4096);
  const classes = intIn(NAME, "classes", c.classes ?? d.classes, 2, 1024);
  const clusters = intIn(NAME, "clusters", c.clusters ?? d.clusters, 1, CLUSTERED_LIMITS.clusters);
  const points = intIn(NAME, "points", c.points ?? d.points, 1, CLUSTERED_LIMITS.points);
  if (dim * hidden + hidden * classes > CLUSTERED_LIMITS.floats) throw new ConfigError(`${NAME}: the network is too large`);
  checkFloats(NAME, points, dim, clusters * dim * dim);
  return {
    dim,
    hidden,
    classes,
    clusters,
    points,
    l2: numberAtLeast(NAME, "l2", c.l2 ?? d.l2, 0),
    initStd: numberAtLeast(NAME, "initStd", c.initStd ?? d.initStd, 0),
  };
}

export interface ClusteredMlpTask extends Task {
  readonly x: Float64Array;
  readonly labels: Int32Array;
}

/** A task over given data: `x` is `points * dim`, `labels` in [0, classes). */
export function clusteredMlpTaskFrom(x: Float64Array, labels: Int32Array, cfg: ResolvedClusteredMlpConfig): ClusteredMlpTask {
  const { dim: D, hidden: H, classes: C, l2, initStd } = cfg;
  const n = labels.length;
  if (x.length !== n * D) throw new Error(`${NAME}: x needs ${n} x ${D} values, got ${x.length}`);
  const layout = new ParamLayout([
    { name: "w1", shape: [D, H], group: "fc" },
    { name: "b1", shape: [H], group: "fc" },
    { name: "w2", shape: [H, C], group: "fc" },
    { name: "b2", shape: [C], group: "fc" },
  ]);
  const [oB1, oW2, oB2] = [D * H, D * H + H, D * H + H + H * C];
  const h = new Float64Array(H);
  const p = new Float64Array(C);
  const dh = new Float64Array(H);

  /** Forward pass on point i: fills h (post-ReLU) and p (softmax); returns -log p[label]. */
  function forward(t: Float32Array, i: number): number {
    for (let k = 0; k < H; k++) {
      let a = t[oB1 + k]!;
      for (let j = 0; j < D; j++) a += x[i * D + j]! * t[j * H + k]!;
      h[k] = a > 0 ? a : 0;
    }
    let mx = -Infinity;
    for (let c = 0; c < C; c++) {
      let a = t[oB2 + c]!;
      for (let k = 0; k < H; k++) a += h[k]! * t[oW2 + k * C + c]!;
      p[c] = a;
      if (a > mx) mx = a;
    }
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(p[c]! - mx);
    const nll = mx + Math.log(z) - p[labels[i]!]!;
    for (let c = 0; c < C; c++) p[c] = Math.exp(p[c]! - mx) / z;
    return nll;
  }

  return {
    name: NAME,
    layout,
    instances: 1,
    x,
    labels,
    init: (key: Key) => normal(key, layout.size, initStd),
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const g = new Float64Array(layout.size);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        loss += forward(theta, i);
        p[labels[i]!] = p[labels[i]!]! - 1; // d nll / d logits = p - onehot
        dh.fill(0);
        for (let c = 0; c < C; c++) {
          const dl = p[c]! / n;
          g[oB2 + c] = g[oB2 + c]! + dl;
          for (let k = 0; k < H; k++) {
            g[oW2 + k * C + c] = g[oW2 + k * C + c]! + h[k]! * dl;
            dh[k] = dh[k]! + theta[oW2 + k * C + c]! * dl;
          }
        }
        for (let k = 0; k < H; k++) {
          if (h[k]! <= 0) continue;
          g[oB1 + k] = g[oB1 + k]! + dh[k]!;
          for (let j = 0; j < D; j++) g[j * H + k] = g[j * H + k]! + x[i * D + j]! * dh[k]!;
        }
      }
      let reg = 0;
      for (let j = 0; j < layout.size; j++) {
        const isWeight = j < oB1 || (j >= oW2 && j < oB2);
        if (!isWeight) continue;
        reg += theta[j]! * theta[j]!;
        g[j] = g[j]! + l2 * theta[j]!;
      }
      return { loss: loss / n + 0.5 * l2 * reg, grad: Float32Array.from(g) };
    },
    evaluate(theta: Float32Array): Metrics {
      let right = 0;
      for (let i = 0; i < n; i++) {
        forward(theta, i);
        let best = 0;
        for (let c = 1; c < C; c++) if (p[c]! > p[best]!) best = c;
        if (best === labels[i]) right++;
      }
      return { accuracy: right / n };
    },
  };
}

/** Random clustered classification problems for a small ReLU network. */
export function clusteredMlpFamily(config: ClusteredMlpConfig = {}): TaskFamily<ResolvedClusteredMlpConfig> {
  const cfg = resolveClusteredMlpConfig(config);
  const params = cfg.dim * cfg.hidden + cfg.hidden + cfg.hidden * cfg.classes + cfg.classes;
  return {
    name: NAME,
    config: cfg,
    instanceBytes: 8 * cfg.points * (cfg.dim + 1) + 4 * params,
    sample(key: Key): ClusteredMlpTask {
      const [kData, kClass] = split(key, 2) as [Key, Key];
      const { x, cluster } = gaussianClusters(kData, cfg.points, cfg.clusters, cfg.dim);
      const perm = permutation(kClass, cfg.clusters);
      const labels = Int32Array.from(cluster, (k) => perm[k]! % cfg.classes);
      return clusteredMlpTaskFrom(x, labels, cfg);
    },
  };
}

/**
 * Robust linear regression with the Geman-McClure loss, the non-convex task of Li & Malik
 * ("Learning to Optimize", 2016, section 4): each sampled task draws `points` points from
 * `clusters` Gaussians with random means and covariances; the points of cluster k get targets
 * y = w_k . x + b_k + noise from that cluster's own random linear model (w_k, b_k standard
 * normal), so no single line fits them all and the robust loss has several basins. The
 * objective is
 *
 *   f(w, b) = (1/n) sum_i r_i^2 / (c^2 + r_i^2),   r_i = y_i - w . x_i - b,
 *
 * with c = 1. Loss and gradient are written by hand in float64.
 */
import { ParamLayout } from "../core/layout.ts";
import { normal, split, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";
import { checkFloats, CLUSTERED_LIMITS, gaussianClusters, intIn, numberAtLeast } from "./clustered_data.ts";

export interface RobustRegressionConfig {
  /** Feature dimension. Default 3. */
  readonly dim?: number;
  /** Data points per task. Default 100. */
  readonly points?: number;
  /** Gaussian clusters, each with its own linear model. Default 4. */
  readonly clusters?: number;
  /** The Geman-McClure scale c. Default 1. */
  readonly c?: number;
  /** Standard deviation of the targets' noise. Default 0.1. */
  readonly noise?: number;
  /** Standard deviation of the initial point. Default 1. */
  readonly initStd?: number;
}

export type ResolvedRobustRegressionConfig = Required<RobustRegressionConfig>;

export const ROBUST_REGRESSION_DEFAULTS: ResolvedRobustRegressionConfig = Object.freeze({
  dim: 3,
  points: 100,
  clusters: 4,
  c: 1,
  noise: 0.1,
  initStd: 1,
});

const NAME = "robust-regression";

export function resolveRobustRegressionConfig(c: RobustRegressionConfig = {}): ResolvedRobustRegressionConfig {
  const d = ROBUST_REGRESSION_DEFAULTS;
  const dim = intIn(NAME, "dim", c.dim ?? d.dim, 1, CLUSTERED_LIMITS.dim);
  const points = intIn(NAME, "points", c.points ?? d.points, 1, CLUSTERED_LIMITS.points);
  const clusters = intIn(NAME, "clusters", c.clusters ?? d.clusters, 1, CLUSTERED_LIMITS.clusters);
  checkFloats(NAME, points, dim, clusters * dim * dim);
  return {
    dim,
    points,
    clusters,
    c: numberAtLeast(NAME, "c", c.c ?? d.c, 0, true),
    noise: numberAtLeast(NAME, "noise", c.noise ?? d.noise, 0),
    initStd: numberAtLeast(NAME, "initStd", c.initStd ?? d.initStd, 0),
  };
}

/** A robust-regression task with its data exposed. */
export interface RobustRegressionTask extends Task {
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/** A task over given data: `x` is `points * dim`, `y` has `points` targets. */
export function robustRegressionTaskFrom(x: Float64Array, y: Float64Array, cfg: ResolvedRobustRegressionConfig): RobustRegressionTask {
  const { dim, initStd } = cfg;
  const c2 = cfg.c * cfg.c;
  const n = y.length;
  if (x.length !== n * dim) throw new Error(`${NAME}: x needs ${n} x ${dim} values, got ${x.length}`);
  const layout = new ParamLayout([
    { name: "w", shape: [dim], group: "fc" },
    { name: "b", shape: [1], group: "fc" },
  ]);
  const size = dim + 1;
  return {
    name: NAME,
    layout,
    instances: 1,
    x,
    y,
    init: (key: Key) => normal(key, size, initStd),
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const g = new Float64Array(size);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        let r = y[i]! - theta[dim]!;
        for (let j = 0; j < dim; j++) r -= theta[j]! * x[i * dim + j]!;
        const q = c2 + r * r;
        loss += (r * r) / q;
        // d/dr r^2 / (c^2 + r^2) = 2 r c^2 / (c^2 + r^2)^2, and dr/dw = -x, dr/db = -1.
        const dr = (2 * r * c2) / (q * q);
        for (let j = 0; j < dim; j++) g[j] = g[j]! - dr * x[i * dim + j]!;
        g[dim] = g[dim]! - dr;
      }
      return { loss: loss / n, grad: Float32Array.from(g, (v) => v / n) };
    },
  };
}

/** Random robust-regression problems: clusters of points, each with its own random line. */
export function robustRegressionFamily(config: RobustRegressionConfig = {}): TaskFamily<ResolvedRobustRegressionConfig> {
  const cfg = resolveRobustRegressionConfig(config);
  return {
    name: NAME,
    config: cfg,
    instanceBytes: 8 * cfg.points * (cfg.dim + 1) + 4 * (cfg.dim + 1),
    sample(key: Key): RobustRegressionTask {
      const [kData, kModel, kNoise] = split(key, 3) as [Key, Key, Key];
      const { dim, points, clusters, noise } = cfg;
      const { x, cluster } = gaussianClusters(kData, points, clusters, dim);
      const models = normal(kModel, clusters * (dim + 1));
      const eps = normal(kNoise, points, noise);
      const y = new Float64Array(points);
      for (let i = 0; i < points; i++) {
        const m = cluster[i]! * (dim + 1);
        let t = models[m + dim]! + eps[i]!;
        for (let j = 0; j < dim; j++) t += models[m + j]! * x[i * dim + j]!;
        y[i] = t;
      }
      return robustRegressionTaskFrom(x, y, cfg);
    },
  };
}

/**
 * L2-regularised logistic regression on synthetic two-class data, the convex task of Li &
 * Malik ("Learning to Optimize", 2016, section 4): each sampled task draws `points` points from
 * two Gaussians with random means and covariances (one per class, half the points each), and
 * the objective is
 *
 *   f(w, b) = (1/n) sum_i log(1 + exp(-s_i (w . x_i + b))) + (l2 / 2) ||w||^2,   s_i = +-1,
 *
 * with the paper's l2 = 0.0005. Loss and gradient are written by hand in float64; the
 * Hessian-vector product is exact (X^T diag(p(1-p)) X / n + l2 on w).
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, split, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";
import { checkFloats, CLUSTERED_LIMITS, gaussianClusters, intIn, numberAtLeast, sigmoid, softplus } from "./clustered_data.ts";

export interface LogisticRegressionConfig {
  /** Feature dimension (w has `dim` entries). Default 3. */
  readonly dim?: number;
  /** Whether the model has a bias b. Default true. (`dim: 2, bias: false` gives a 2-D problem to draw.) */
  readonly bias?: boolean;
  /** Data points per task. Default 100. */
  readonly points?: number;
  /** L2 weight on w. Default 0.0005. */
  readonly l2?: number;
  /** Standard deviation of the initial point. Default 1. */
  readonly initStd?: number;
}

export type ResolvedLogisticRegressionConfig = Required<LogisticRegressionConfig>;

export const LOGISTIC_REGRESSION_DEFAULTS: ResolvedLogisticRegressionConfig = Object.freeze({
  dim: 3,
  bias: true,
  points: 100,
  l2: 0.0005,
  initStd: 1,
});

const NAME = "logistic-regression";

export function resolveLogisticRegressionConfig(c: LogisticRegressionConfig = {}): ResolvedLogisticRegressionConfig {
  const d = LOGISTIC_REGRESSION_DEFAULTS;
  const dim = intIn(NAME, "dim", c.dim ?? d.dim, 1, CLUSTERED_LIMITS.dim);
  const points = intIn(NAME, "points", c.points ?? d.points, 2, CLUSTERED_LIMITS.points);
  checkFloats(NAME, points, dim);
  const bias = c.bias ?? d.bias;
  if (typeof bias !== "boolean") throw new ConfigError(`${NAME}: 'bias' must be true or false, got ${shownValue(bias)}`);
  return {
    dim,
    bias,
    points,
    l2: numberAtLeast(NAME, "l2", c.l2 ?? d.l2, 0),
    initStd: numberAtLeast(NAME, "initStd", c.initStd ?? d.initStd, 0),
  };
}

/** A logistic-regression task with its data exposed (for checks and pictures). */
export interface LogisticRegressionTask extends Task {
  readonly x: Float64Array;
  /** +1 or -1 per point. */
  readonly labels: Int8Array;
  hvp(theta: Float32Array, v: Float32Array, key?: Key): Float32Array;
}

/** A task over given data: `x` is `points * dim`, `labels` are +-1. */
export function logisticRegressionTaskFrom(
  x: Float64Array,
  labels: Int8Array,
  cfg: ResolvedLogisticRegressionConfig,
): LogisticRegressionTask {
  const { dim, bias, l2, initStd } = cfg;
  const n = labels.length;
  if (x.length !== n * dim) throw new Error(`${NAME}: x needs ${n} x ${dim} values, got ${x.length}`);
  const specs = [{ name: "w", shape: [dim], group: "fc" }];
  if (bias) specs.push({ name: "b", shape: [1], group: "fc" });
  const layout = new ParamLayout(specs);
  const size = layout.size;

  /** The margin w . x_i + b. */
  const margin = (t: Float32Array, i: number): number => {
    let a = bias ? t[dim]! : 0;
    for (let j = 0; j < dim; j++) a += t[j]! * x[i * dim + j]!;
    return a;
  };

  return {
    name: NAME,
    layout,
    instances: 1,
    x,
    labels,
    init: (key: Key) => normal(key, size, initStd),
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const g = new Float64Array(size);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const s = labels[i]!;
        const a = margin(theta, i);
        loss += softplus(-s * a);
        // d/da log(1 + exp(-s a)) = -s sigmoid(-s a)
        const da = -s * sigmoid(-s * a);
        for (let j = 0; j < dim; j++) g[j] = g[j]! + da * x[i * dim + j]!;
        if (bias) g[dim] = g[dim]! + da;
      }
      loss /= n;
      let reg = 0;
      for (let j = 0; j < dim; j++) reg += theta[j]! * theta[j]!;
      const grad = new Float32Array(size);
      for (let j = 0; j < size; j++) grad[j] = g[j]! / n + (j < dim ? l2 * theta[j]! : 0);
      return { loss: loss + 0.5 * l2 * reg, grad };
    },
    hvp(theta: Float32Array, v: Float32Array): Float32Array {
      layout.check(theta);
      layout.check(v);
      const h = new Float64Array(size);
      for (let i = 0; i < n; i++) {
        const p = sigmoid(margin(theta, i));
        let xv = bias ? v[dim]! : 0;
        for (let j = 0; j < dim; j++) xv += v[j]! * x[i * dim + j]!;
        const c = (p * (1 - p) * xv) / n;
        for (let j = 0; j < dim; j++) h[j] = h[j]! + c * x[i * dim + j]!;
        if (bias) h[dim] = h[dim]! + c;
      }
      const out = new Float32Array(size);
      for (let j = 0; j < size; j++) out[j] = h[j]! + (j < dim ? l2 * v[j]! : 0);
      return out;
    },
  };
}

/** Random logistic-regression problems: two Gaussian classes of random mean and covariance. */
export function logisticRegressionFamily(config: LogisticRegressionConfig = {}): TaskFamily<ResolvedLogisticRegressionConfig> {
  const cfg = resolveLogisticRegressionConfig(config);
  return {
    name: NAME,
    config: cfg,
    instanceBytes: 8 * cfg.points * (cfg.dim + 1) + 4 * (cfg.dim + 1),
    sample(key: Key): LogisticRegressionTask {
      const [kData] = split(key, 1) as [Key];
      const { x, cluster } = gaussianClusters(kData, cfg.points, 2, cfg.dim);
      const labels = Int8Array.from(cluster, (k) => (k === 0 ? 1 : -1));
      return logisticRegressionTaskFrom(x, labels, cfg);
    },
  };
}

/**
 * Synthetic clustered data for the small tasks of Li & Malik ("Learning to Optimize", 2016;
 * "Learning to Optimize Neural Nets", 2017): points drawn from a few Gaussians, each with a
 * random mean and a random covariance, and the config checks those tasks share.
 *
 * A cluster's mean is drawn N(0, MEAN_STD^2 I) and its points are mean + A z with z standard
 * normal and A a random dim x dim matrix with entries N(0, 1/dim) (covariance A A^T, of unit
 * scale on average). Points are assigned to clusters in turn (point i to cluster i mod k), so
 * every cluster has about the same number of points.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { normal, split, type Key } from "../core/rng.ts";

/** Standard deviation of the cluster means: clusters sit a few of their own widths apart. */
export const MEAN_STD = 2;

/** The largest sizes these tasks accept (checked before anything is allocated). */
export const CLUSTERED_LIMITS = Object.freeze({ dim: 1024, points: 100_000, clusters: 64, floats: 16_777_216 });

export interface Clusters {
  /** `points * dim` values, row-major (point i is x[i * dim .. i * dim + dim)). */
  readonly x: Float64Array;
  /** The cluster each point came from. */
  readonly cluster: Int32Array;
}

/** `points` points from `clusters` random Gaussians in `dim` dimensions, all drawn from `key`. */
export function gaussianClusters(key: Key, points: number, clusters: number, dim: number): Clusters {
  const [kMean, kCov, kZ] = split(key, 3) as [Key, Key, Key];
  const means = normal(kMean, clusters * dim, MEAN_STD);
  const covs = normal(kCov, clusters * dim * dim, 1 / Math.sqrt(dim));
  const z = normal(kZ, points * dim);
  const x = new Float64Array(points * dim);
  const cluster = new Int32Array(points);
  for (let i = 0; i < points; i++) {
    const k = i % clusters;
    cluster[i] = k;
    for (let r = 0; r < dim; r++) {
      let s = means[k * dim + r]!;
      const row = (k * dim + r) * dim;
      for (let c = 0; c < dim; c++) s += covs[row + c]! * z[i * dim + c]!;
      x[i * dim + r] = s;
    }
  }
  return { x, cluster };
}

/** A positive integer in [min, max], else a ConfigError naming the task and the key. */
export function intIn(task: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${task}: '${name}' must be an integer in [${min}, ${max}], got ${shownValue(v)}`);
  }
  return v;
}

/** A finite number >= min (or > min when `strict`), else a ConfigError. */
export function numberAtLeast(task: string, name: string, v: unknown, min: number, strict = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (strict && v === min)) {
    throw new ConfigError(`${task}: '${name}' must be a finite number ${strict ? ">" : ">="} ${min}, got ${shownValue(v)}`);
  }
  return v;
}

/** Refuses a config whose data (`points * dim` floats, plus `extra`) would be too large. */
export function checkFloats(task: string, points: number, dim: number, extra = 0): void {
  const n = points * dim + extra;
  if (n > CLUSTERED_LIMITS.floats) {
    throw new ConfigError(`${task}: the data (points * dim = ${points} * ${dim}) must be at most ${CLUSTERED_LIMITS.floats} floats`);
  }
}

/** log(1 + exp(a)), stable for large |a|. */
export function softplus(a: number): number {
  return a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a));
}

/** 1 / (1 + exp(-a)), stable for large |a|. */
export function sigmoid(a: number): number {
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

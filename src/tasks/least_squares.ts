/**
 * Ill-conditioned least squares: f(theta) = (scale / rows) ||A theta - b||^2 with A = G D,
 * G a rows x dim matrix of IID N(0, 1) entries and D a diagonal whose entries run
 * log-evenly from 1 down to 1 / sqrt(condition), in a random order over the coordinates. The
 * Hessian (2 scale / rows) D G^T G D then has a condition number near `condition` (G^T G /
 * rows is close to the identity when rows >> dim), and `scale` sets the loss's size, so a
 * family spans the conditioning and scales that a learned optimizer meets. b = A x* + noise,
 * x* ~ N(0, 1): the minimum is the noise's share, above 0, so log losses stay finite.
 *
 * Plain TypeScript with the hand-written gradient (2 scale / rows) A^T (A theta - b), like
 * `quadratic.ts`; sums in double precision.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, permutation, split, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";

export interface LeastSquaresConfig {
  /** Unknowns (theta's size). Default 20. */
  readonly dim?: number;
  /** Rows of A; 0 (the default) takes 2 * dim. */
  readonly rows?: number;
  /** The Hessian's condition number, about (>= 1; default 100). */
  readonly condition?: number;
  /** The loss's scale (> 0; default 1). */
  readonly scale?: number;
  /** Standard deviation of the noise on b (>= 0; default 0.1). */
  readonly noise?: number;
  /** Standard deviation of theta_0 ~ N(0, initStd^2) (default 1). */
  readonly initStd?: number;
}

export type ResolvedLeastSquaresConfig = Required<LeastSquaresConfig>;

export const LEAST_SQUARES_DEFAULTS: ResolvedLeastSquaresConfig = Object.freeze({ dim: 20, rows: 0, condition: 100, scale: 1, noise: 0.1, initStd: 1 });

/** The largest problem a config may ask for: A at most 4,194,304 floats (16 MiB), condition and scale within 1e12. */
export const LEAST_SQUARES_LIMITS = Object.freeze({ aFloats: 4_194_304, condition: 1e12, scale: 1e12 });

function fail(what: string, v: unknown): never {
  throw new ConfigError(`least-squares: ${what}, got ${shownValue(v)}`);
}

/** Fills in defaults and validates; a bad value is a ConfigError naming it. */
export function resolveLeastSquaresConfig(c: LeastSquaresConfig = {}): ResolvedLeastSquaresConfig {
  const r = { ...LEAST_SQUARES_DEFAULTS, ...c };
  const { aFloats, condition, scale } = LEAST_SQUARES_LIMITS;
  if (!Number.isInteger(r.dim) || r.dim < 1) fail("'dim' must be a positive integer", r.dim);
  if (!Number.isInteger(r.rows) || r.rows < 0) fail("'rows' must be an integer >= 0 (0: twice dim)", r.rows);
  const rows = r.rows === 0 ? 2 * r.dim : r.rows;
  if (rows * r.dim > aFloats) fail(`rows * dim (the floats of A) must be at most ${aFloats}`, rows * r.dim);
  if (!(r.condition >= 1 && r.condition <= condition)) fail(`'condition' must be a number from 1 to ${condition}`, r.condition);
  if (!(r.scale > 0 && r.scale <= scale)) fail(`'scale' must be a number in (0, ${scale}]`, r.scale);
  if (!(r.noise >= 0 && Number.isFinite(r.noise))) fail("'noise' must be a finite number >= 0", r.noise);
  if (!(r.initStd >= 0 && Number.isFinite(r.initStd))) fail("'initStd' must be a finite number >= 0", r.initStd);
  return { ...r, rows };
}

/** A least-squares task, its matrix and target exposed for checks. */
export interface LeastSquaresTask extends Task {
  /** rows x dim, row-major. */
  readonly A: Float32Array;
  readonly b: Float32Array;
  hvp(theta: Float32Array, v: Float32Array, key?: Key): Float32Array;
}

/** The family, its samples typed as LeastSquaresTask. */
export interface LeastSquaresFamily extends TaskFamily<ResolvedLeastSquaresConfig> {
  sample(key: Key): LeastSquaresTask;
}

/** The family: each sample draws G, the column order of D, x* and the noise from its key. */
export function leastSquaresFamily(config: LeastSquaresConfig = {}): LeastSquaresFamily {
  const cfg = resolveLeastSquaresConfig(config);
  const { dim: d, rows: m } = cfg;
  const layout = new ParamLayout([{ name: "theta", shape: [d], group: "least-squares" }]);
  return {
    name: "least-squares",
    config: cfg,
    instanceBytes: 4 * (m * d + m + d),
    sample(key: Key): LeastSquaresTask {
      const [kG, kP, kX, kN] = split(key, 4) as [Key, Key, Key, Key];
      const A = normal(kG, m * d);
      const order = permutation(kP, d);
      for (let j = 0; j < d; j++) {
        // Column j's factor: condition^(-rank / (2 (d - 1))), rank its place in the order.
        const s = d === 1 ? 1 : Math.pow(cfg.condition, -order[j]! / (2 * (d - 1)));
        for (let i = 0; i < m; i++) A[i * d + j] = A[i * d + j]! * s;
      }
      const xStar = normal(kX, d);
      const b = normal(kN, m, cfg.noise);
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += A[i * d + j]! * xStar[j]!;
        b[i] = b[i]! + s;
      }
      const c = cfg.scale / m;
      const r = new Float64Array(m);
      /** out = 2c A^T (A x - t) (t = b, or none for the Hessian); returns c ||A x - t||^2. */
      const residualGrad = (x: Float32Array, t: Float32Array | null, out: Float32Array): number => {
        let loss = 0;
        for (let i = 0; i < m; i++) {
          let s = t === null ? 0 : -t[i]!;
          for (let j = 0; j < d; j++) s += A[i * d + j]! * x[j]!;
          r[i] = s;
          loss += s * s;
        }
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += A[i * d + j]! * r[i]!;
          out[j] = 2 * c * s;
        }
        return c * loss;
      };
      return {
        name: "least-squares",
        layout,
        instances: 1,
        A,
        b,
        init: (k: Key) => normal(k, d, cfg.initStd),
        lossAndGrad(theta: Float32Array): LossAndGrad {
          layout.check(theta);
          const grad = new Float32Array(d);
          return { loss: residualGrad(theta, b, grad), grad };
        },
        hvp(theta: Float32Array, v: Float32Array): Float32Array {
          layout.check(theta);
          layout.check(v);
          const out = new Float32Array(d);
          residualGrad(v, null, out);
          return out;
        },
      };
    },
  };
}

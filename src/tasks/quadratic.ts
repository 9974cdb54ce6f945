/**
 * Random quadratics f(theta) = ||W theta - y||^2, the synthetic problem of Andrychowicz et al.
 * 2016 (section 3.1): W and y are drawn IID standard normal for each function.
 *
 * Engine: plain TypeScript with the hand-written gradient 2 W^T (W theta - y) (DESIGN.md allows
 * a hand-written gradient wherever it honours the Task boundary). Measured on the 2-core
 * development machine, dim 10, loss and gradient per call:
 *
 * | instances | jax-js `jit(valueAndGrad)`, batched matmul | plain TS loop |
 * |---|---|---|
 * | 128 | 160 us | 40 us |
 * | 1 | 65 us | 1.3 us |
 *
 * jax-js's fixed cost per call (array transfer, dispatch, read-back) dominates problems this
 * small, so the loop is used. (`np.einsum` in jax-js 0.1.25 also needs Node 22's iterator
 * helpers.) The loop accumulates in double precision.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, split, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";

export interface QuadraticConfig {
  /** Dimension d of each function (W is d x d). Default 10. */
  readonly dim?: number;
  /** Number of independent functions sharing one flat vector. Default 1. */
  readonly instances?: number;
  /** Standard deviation of theta_0 ~ N(0, initStd^2). Default 1. */
  readonly initStd?: number;
}

/** A quadratic config with every field filled in. */
export type ResolvedQuadraticConfig = Required<QuadraticConfig>;

export const QUADRATIC_DEFAULTS: ResolvedQuadraticConfig = Object.freeze({ dim: 10, instances: 1, initStd: 1 });

/**
 * The largest quadratic a config may ask for, checked before anything is allocated: `dim` at
 * most 4,096, `instances` at most 1,000,000, and W (`instances * dim * dim` floats) at most
 * 16,777,216 floats (64 MiB) per sampled task.
 */
export const QUADRATIC_LIMITS = Object.freeze({ dim: 4096, instances: 1_000_000, wFloats: 16_777_216 });

/** About how many bytes one sampled task and its theta_0 hold: W, y and theta_0 in floats. */
export function quadraticInstanceBytes(c: ResolvedQuadraticConfig): number {
  return 4 * (c.instances * c.dim * c.dim + 2 * c.instances * c.dim);
}

/** A quadratic task, with its data exposed for checks and fixtures. */
export interface QuadraticTask extends Task {
  readonly dim: number;
  /** `instances * dim * dim` values, row-major per instance. */
  readonly W: Float32Array;
  /** `instances * dim` values. */
  readonly y: Float32Array;
  hvp(theta: Float32Array, v: Float32Array, key?: Key): Float32Array;
}

function positiveInt(name: string, v: unknown, max = Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new ConfigError(`quadratic: '${name}' must be a positive integer, got ${shownValue(v)}`);
  }
  if (v > max) throw new ConfigError(`quadratic: '${name}' must be at most ${max}, got ${v}`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(`quadratic: '${name}' must be a finite number >= 0, got ${shownValue(v)}`);
  }
  return v;
}

/** Fills in defaults and validates within `QUADRATIC_LIMITS`; throws a ConfigError on a bad value. */
export function resolveQuadraticConfig(config: QuadraticConfig = {}): ResolvedQuadraticConfig {
  const dim = positiveInt("dim", config.dim ?? QUADRATIC_DEFAULTS.dim, QUADRATIC_LIMITS.dim);
  const instances = positiveInt("instances", config.instances ?? QUADRATIC_DEFAULTS.instances, QUADRATIC_LIMITS.instances);
  if (instances * dim * dim > QUADRATIC_LIMITS.wFloats) {
    throw new ConfigError(
      `quadratic: instances * dim * dim (the floats of W) must be at most ${QUADRATIC_LIMITS.wFloats}, got ${instances} * ${dim} * ${dim} = ${instances * dim * dim}`,
    );
  }
  return { dim, instances, initStd: nonNegative("initStd", config.initStd ?? QUADRATIC_DEFAULTS.initStd) };
}

/** Data for `quadraticTaskFrom`. */
export interface QuadraticData {
  /** `instances * dim * dim` values, row-major per instance. */
  readonly W: Float32Array;
  /** `instances * dim` values. */
  readonly y: Float32Array;
  readonly dim: number;
  readonly instances: number;
  /** Standard deviation of theta_0. Default 1. */
  readonly initStd?: number;
}

/**
 * A quadratic task from given W and y (to reproduce fixtures such as
 * `ref/fixtures/check_Q.json`). The loss is the sum over instances of ||W_k theta_k - y_k||^2,
 * theta packed as one entry `theta` of shape `[instances, dim]` in the `quadratic` group.
 */
export function quadraticTaskFrom(data: QuadraticData): QuadraticTask {
  const d = positiveInt("dim", data.dim);
  const B = positiveInt("instances", data.instances);
  const initStd = nonNegative("initStd", data.initStd ?? QUADRATIC_DEFAULTS.initStd);
  if (data.W.length !== B * d * d) {
    throw new Error(`quadratic: W needs instances * dim * dim = ${B * d * d} values, got ${data.W.length}`);
  }
  if (data.y.length !== B * d) {
    throw new Error(`quadratic: y needs instances * dim = ${B * d} values, got ${data.y.length}`);
  }
  const W = Float32Array.from(data.W);
  const y = Float32Array.from(data.y);
  const layout = new ParamLayout([{ name: "theta", shape: [B, d], group: "quadratic" }]);
  const r = new Float64Array(d);

  /** out_k = 2 W_k^T (W_k x_k - c_k) for each instance (c = y, or 0 for the Hessian). Returns sum ||W x - c||^2. */
  function residualGrad(x: Float32Array, c: Float32Array | null, out: Float32Array): number {
    let loss = 0;
    for (let b = 0; b < B; b++) {
      const wo = b * d * d;
      const o = b * d;
      for (let i = 0; i < d; i++) {
        let s = c === null ? 0 : -c[o + i]!;
        const row = wo + i * d;
        for (let j = 0; j < d; j++) s += W[row + j]! * x[o + j]!;
        r[i] = s;
        loss += s * s;
      }
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += W[wo + i * d + j]! * r[i]!;
        out[o + j] = 2 * s;
      }
    }
    return loss;
  }

  return {
    name: "quadratic",
    layout,
    instances: B,
    dim: d,
    W,
    y,
    init(key: Key): Float32Array {
      return normal(key, B * d, initStd);
    },
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const grad = new Float32Array(B * d);
      const loss = residualGrad(theta, y, grad);
      return { loss, grad };
    },
    hvp(theta: Float32Array, v: Float32Array): Float32Array {
      layout.check(theta);
      layout.check(v);
      const out = new Float32Array(B * d);
      residualGrad(v, null, out);
      return out;
    },
  };
}

/**
 * The family of random quadratics of Andrychowicz et al. 2016, section 3.1: each sampled task
 * holds `instances` functions ||W_k theta_k - y_k||^2 with W_k (dim x dim) and y_k drawn IID
 * standard normal from the sample key; theta_0 ~ N(0, initStd^2). The loss is the sum over the
 * instances; the gradient and Hessian-vector product (2 W^T W v) are exact.
 */
export function quadraticFamily(config: QuadraticConfig = {}): TaskFamily<ResolvedQuadraticConfig> {
  const cfg = resolveQuadraticConfig(config);
  return {
    name: "quadratic",
    config: cfg,
    instanceBytes: quadraticInstanceBytes(cfg),
    sample(key: Key): QuadraticTask {
      const [kW, ky] = split(key, 2) as [Key, Key];
      const { dim, instances, initStd } = cfg;
      return quadraticTaskFrom({
        W: normal(kW, instances * dim * dim),
        y: normal(ky, instances * dim),
        dim,
        instances,
        initStd,
      });
    },
  };
}

/**
 * Rosenbrock-like valleys: theta holds `pairs` pairs (x_i, y_i), and
 *
 *   f(theta) = scale * ( (1 / pairs) sum_i [ c (y_i - x_i^2)^2 + (x_i - m_i)^2 ] + floor )
 *
 * a curved, narrow valley per pair (Rosenbrock's function for c = 100, m_i = 1), whose floor
 * is reached slowly along the parabola y = x^2: the kind of landscape where momentum and
 * step-size adaptation matter. Each sample draws the minimisers m_i ~ N(1, 0.5^2); `floor`
 * keeps the minimum above 0 (scale * floor), so log losses stay finite. Exact hand-written
 * gradient and Hessian-vector product.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";

export interface ValleyConfig {
  /** Pairs (x, y); theta has 2 * pairs coordinates. Default 5. */
  readonly pairs?: number;
  /** The valley's steepness c (> 0; default 100, Rosenbrock's). */
  readonly curvature?: number;
  /** The loss's scale (> 0; default 1). */
  readonly scale?: number;
  /** Added to the mean before scaling, so the minimum is scale * floor (>= 0; default 0.01). */
  readonly floor?: number;
  /** Standard deviation of theta_0 ~ N(0, initStd^2) (default 1). */
  readonly initStd?: number;
}

export type ResolvedValleyConfig = Required<ValleyConfig>;

export const VALLEY_DEFAULTS: ResolvedValleyConfig = Object.freeze({ pairs: 5, curvature: 100, scale: 1, floor: 0.01, initStd: 1 });

/** At most 1,000,000 pairs; curvature and scale within 1e12. */
export const VALLEY_LIMITS = Object.freeze({ pairs: 1_000_000, curvature: 1e12, scale: 1e12 });

function fail(what: string, v: unknown): never {
  throw new ConfigError(`valley: ${what}, got ${shownValue(v)}`);
}

/** Fills in defaults and validates; a bad value is a ConfigError naming it. */
export function resolveValleyConfig(c: ValleyConfig = {}): ResolvedValleyConfig {
  const r = { ...VALLEY_DEFAULTS, ...c };
  const L = VALLEY_LIMITS;
  if (!Number.isInteger(r.pairs) || r.pairs < 1 || r.pairs > L.pairs) fail(`'pairs' must be an integer from 1 to ${L.pairs}`, r.pairs);
  if (!(r.curvature > 0 && r.curvature <= L.curvature)) fail(`'curvature' must be a number in (0, ${L.curvature}]`, r.curvature);
  if (!(r.scale > 0 && r.scale <= L.scale)) fail(`'scale' must be a number in (0, ${L.scale}]`, r.scale);
  if (!(r.floor >= 0 && Number.isFinite(r.floor))) fail("'floor' must be a finite number >= 0", r.floor);
  if (!(r.initStd >= 0 && Number.isFinite(r.initStd))) fail("'initStd' must be a finite number >= 0", r.initStd);
  return r;
}

/** A valley task, its minimisers exposed for checks. */
export interface ValleyTask extends Task {
  /** m_i, one per pair. */
  readonly minimisers: Float32Array;
  hvp(theta: Float32Array, v: Float32Array, key?: Key): Float32Array;
}

/** The family, its samples typed as ValleyTask. */
export interface ValleyFamily extends TaskFamily<ResolvedValleyConfig> {
  sample(key: Key): ValleyTask;
}

/** The family: each sample draws its minimisers from its key; theta = [x_0, y_0, x_1, y_1, ...]. */
export function valleyFamily(config: ValleyConfig = {}): ValleyFamily {
  const cfg = resolveValleyConfig(config);
  const P = cfg.pairs;
  const c = cfg.curvature;
  const layout = new ParamLayout([{ name: "theta", shape: [P, 2], group: "valley" }]);
  const w = cfg.scale / P;
  return {
    name: "valley",
    config: cfg,
    instanceBytes: 4 * 3 * P,
    sample(key: Key): ValleyTask {
      const m = normal(key, P, 0.5, 1);
      return {
        name: "valley",
        layout,
        instances: 1,
        minimisers: m,
        init: (k: Key) => normal(k, 2 * P, cfg.initStd),
        lossAndGrad(theta: Float32Array): LossAndGrad {
          layout.check(theta);
          const grad = new Float32Array(2 * P);
          let sum = 0;
          for (let i = 0; i < P; i++) {
            const x = theta[2 * i]!;
            const y = theta[2 * i + 1]!;
            const r = y - x * x;
            const e = x - m[i]!;
            sum += c * r * r + e * e;
            grad[2 * i] = w * (-4 * c * r * x + 2 * e);
            grad[2 * i + 1] = w * 2 * c * r;
          }
          return { loss: w * sum + cfg.scale * cfg.floor, grad };
        },
        hvp(theta: Float32Array, v: Float32Array): Float32Array {
          layout.check(theta);
          layout.check(v);
          const out = new Float32Array(2 * P);
          for (let i = 0; i < P; i++) {
            const x = theta[2 * i]!;
            const y = theta[2 * i + 1]!;
            // Hessian of c (y - x^2)^2 + (x - m)^2: [[12 c x^2 - 4 c y + 2, -4 c x], [-4 c x, 2 c]].
            const hxx = 12 * c * x * x - 4 * c * y + 2;
            const hxy = -4 * c * x;
            const vx = v[2 * i]!;
            const vy = v[2 * i + 1]!;
            out[2 * i] = w * (hxx * vx + hxy * vy);
            out[2 * i + 1] = w * (hxy * vx + 2 * c * vy);
          }
          return out;
        },
      };
    },
  };
}

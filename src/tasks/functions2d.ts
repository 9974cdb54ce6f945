/**
 * Classic two-dimensional test functions, as tasks: small enough to draw, each with a
 * landscape that tells optimizers apart (the in-browser demo, `demo/`, races optimizers on
 * them). Every function is at least 0, equal to 0 at its minimum, so losses plot on a log
 * scale. Loss, gradient and Hessian are written by hand and computed in float64.
 *
 * - `quadratic`: an ill-conditioned rotated bowl, 0.5 (x, y) A (x, y)^T with A's eigenvalues
 *   10 and 0.5 (condition number 20).
 * - `rosenbrock`: (1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock 1960), a curved narrow valley; from
 *   the classic start (-1.2, 1).
 * - `saddle`: x^2 / 2 + (y^2 - 1)^2 / 4, a saddle at the origin between two minima at
 *   (0, +-1); from a start almost on the ridge, where the gradient hardly points to either.
 * - `beale`: (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2 (Beale 1958),
 *   flat plateaus and steep walls, minimum at (3, 0.5).
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";

/** A function of two variables with its derivatives and where to look at it. */
export interface Function2d {
  readonly name: string;
  /** One line for a legend or help text. */
  readonly description: string;
  f(x: number, y: number): number;
  /** The gradient [df/dx, df/dy]. */
  grad(x: number, y: number): [number, number];
  /** The Hessian [fxx, fxy, fyy]. */
  hessian(x: number, y: number): [number, number, number];
  /** The usual start point. */
  readonly start: readonly [number, number];
  /** A global minimum (f = 0 there). */
  readonly minimum: readonly [number, number];
  /** The region worth drawing: [xmin, xmax, ymin, ymax]. */
  readonly box: readonly [number, number, number, number];
}

/** The quadratic's matrix: eigenvalues 10 and 0.5, eigenvectors at 30 degrees. */
const Q = (() => {
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const [l1, l2] = [10, 0.5];
  return { a: l1 * c * c + l2 * s * s, b: (l1 - l2) * c * s, d: l1 * s * s + l2 * c * c };
})();

const BEALE_C = [1.5, 2.25, 2.625] as const;

const FUNCTIONS: Record<string, Function2d> = {
  quadratic: {
    name: "quadratic",
    description: "an ill-conditioned rotated bowl (condition number 20)",
    f: (x, y) => 0.5 * (Q.a * x * x + 2 * Q.b * x * y + Q.d * y * y),
    grad: (x, y) => [Q.a * x + Q.b * y, Q.b * x + Q.d * y],
    hessian: () => [Q.a, Q.b, Q.d],
    start: [-2.5, 2],
    minimum: [0, 0],
    box: [-3, 3, -3, 3],
  },
  rosenbrock: {
    name: "rosenbrock",
    description: "Rosenbrock's curved valley, minimum at (1, 1)",
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    hessian: (x, y) => [2 - 400 * (y - x * x) + 800 * x * x, -400 * x, 200],
    start: [-1.2, 1],
    minimum: [1, 1],
    box: [-2, 2, -1, 3],
  },
  saddle: {
    name: "saddle",
    description: "a saddle at the origin between minima at (0, \u00b11)",
    f: (x, y) => 0.5 * x * x + 0.25 * (y * y - 1) ** 2,
    grad: (x, y) => [x, y * (y * y - 1)],
    hessian: (_x, y) => [1, 0, 3 * y * y - 1],
    start: [-2, 0.01],
    minimum: [0, 1],
    box: [-2.5, 2.5, -2, 2],
  },
  beale: {
    name: "beale",
    description: "Beale's function: flat plateaus and steep walls, minimum at (3, 0.5)",
    f: (x, y) => BEALE_C.reduce((s, c, i) => s + (c - x + x * y ** (i + 1)) ** 2, 0),
    grad: (x, y) => {
      let gx = 0;
      let gy = 0;
      BEALE_C.forEach((c, i) => {
        const k = i + 1;
        const r = c - x + x * y ** k;
        gx += 2 * r * (y ** k - 1);
        gy += 2 * r * k * x * y ** (k - 1);
      });
      return [gx, gy];
    },
    hessian: (x, y) => {
      let xx = 0;
      let xy = 0;
      let yy = 0;
      BEALE_C.forEach((c, i) => {
        const k = i + 1;
        const r = c - x + x * y ** k;
        const rx = y ** k - 1;
        const ry = k * x * y ** (k - 1);
        xx += 2 * rx * rx;
        xy += 2 * (ry * rx + r * k * y ** (k - 1));
        yy += 2 * (ry * ry + r * k * (k - 1) * x * (k > 1 ? y ** (k - 2) : 0));
      });
      return [xx, xy, yy];
    },
    start: [1, 1.4],
    minimum: [3, 0.5],
    box: [-1, 4.5, -1.5, 2],
  },
};

/** The four functions by name. */
export const FUNCTIONS_2D: Readonly<Record<string, Function2d>> = Object.freeze(FUNCTIONS);

/** The names of the 2-D functions, in a fixed order. */
export const FUNCTION_2D_NAMES: readonly string[] = Object.keys(FUNCTIONS_2D);

export interface Function2dConfig {
  /** Which function (`quadratic`, `rosenbrock`, `saddle`, `beale`). */
  readonly name: string;
  /** Standard deviation of the noise added to the start point by `init` (default 0: the start itself). */
  readonly jitter?: number;
}

/** The function called `name`; a ConfigError lists the known ones. */
export function function2d(name: string): Function2d {
  const fn = Object.hasOwn(FUNCTIONS_2D, name) ? FUNCTIONS_2D[name] : undefined;
  if (fn === undefined) throw new ConfigError(`unknown 2-D function '${name}'; known: ${FUNCTION_2D_NAMES.join(", ")}`);
  return fn;
}

/**
 * A 2-D function as a deterministic task (one instance, parameters `xy` of shape [2]):
 * `init(key)` is the function's start plus `jitter` times standard normal noise.
 */
export function function2dTask(config: Function2dConfig): Task {
  const fn = function2d(config.name);
  const jitter = config.jitter ?? 0;
  if (typeof jitter !== "number" || !Number.isFinite(jitter) || jitter < 0) {
    throw new ConfigError(`${fn.name}: 'jitter' must be a finite number >= 0, got ${shownValue(jitter)}`);
  }
  const layout = new ParamLayout([{ name: "xy", shape: [2], group: fn.name }]);
  return {
    name: fn.name,
    layout,
    instances: 1,
    init(key: Key): Float32Array {
      const noise = normal(key, 2);
      return new Float32Array([fn.start[0] + jitter * noise[0]!, fn.start[1] + jitter * noise[1]!]);
    },
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const [x, y] = [theta[0]!, theta[1]!];
      return { loss: fn.f(x, y), grad: new Float32Array(fn.grad(x, y)) };
    },
    hvp(theta: Float32Array, v: Float32Array): Float32Array {
      layout.check(theta);
      layout.check(v);
      const [xx, xy, yy] = fn.hessian(theta[0]!, theta[1]!);
      return new Float32Array([xx * v[0]! + xy * v[1]!, xy * v[0]! + yy * v[1]!]);
    },
  };
}

/** The family of one 2-D function: every sample is the same function; starts differ by `jitter`. */
export function function2dFamily(config: Function2dConfig): TaskFamily<Required<Function2dConfig>> {
  const task = function2dTask(config);
  return { name: task.name, config: { name: task.name, jitter: config.jitter ?? 0 }, instanceBytes: 16, sample: () => task };
}

/**
 * Task families that only the held-out suite uses (`src/eval/suite.ts`). They are kept out of
 * the task registry on purpose: `l2o train --task` cannot name them, so no learned optimizer
 * meets them before it is judged on them.
 *
 * - `rosenbrock-chain`: the chained Rosenbrock function in `dim` dimensions,
 *   sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 (minimum 0 at x = 1), from the classic start
 *   (-1.2, 1, -1.2, 1, ...) plus `jitter` times standard normal noise. Computed in float64.
 * - `function2d`: one of the 2-D functions of `src/tasks/functions2d.ts` (rosenbrock, beale,
 *   saddle, quadratic) from its start plus `jitter` times noise.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { ParamLayout } from "../core/layout.ts";
import { normal, type Key } from "../core/rng.ts";
import type { LossAndGrad, Task, TaskFamily } from "../tasks/base.ts";
import { function2dFamily } from "../tasks/functions2d.ts";

export interface RosenbrockChainConfig {
  /** Dimensions, at least 2. */
  readonly dim: number;
  /** Standard deviation of the noise added to the classic start. */
  readonly jitter: number;
}

/** The largest chain the suite may ask for. */
const MAX_DIM = 100_000;

/** The chained Rosenbrock function as a deterministic task (one instance). */
export function rosenbrockChainTask(config: RosenbrockChainConfig): Task {
  const { dim, jitter } = config;
  if (!Number.isInteger(dim) || dim < 2 || dim > MAX_DIM) throw new ConfigError(`rosenbrock-chain: 'dim' must be an integer from 2 to ${MAX_DIM}, got ${shownValue(dim)}`);
  if (typeof jitter !== "number" || !Number.isFinite(jitter) || jitter < 0) {
    throw new ConfigError(`rosenbrock-chain: 'jitter' must be a finite number >= 0, got ${shownValue(jitter)}`);
  }
  const layout = new ParamLayout([{ name: "x", shape: [dim] }]);
  return {
    name: "rosenbrock-chain",
    layout,
    instances: 1,
    init(key: Key): Float32Array {
      const noise = normal(key, dim);
      const x = new Float32Array(dim);
      for (let i = 0; i < dim; i++) x[i] = (i % 2 === 0 ? -1.2 : 1) + jitter * noise[i]!;
      return x;
    },
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const g = new Float64Array(dim);
      let loss = 0;
      for (let i = 0; i + 1 < dim; i++) {
        const x = theta[i]!;
        const valley = theta[i + 1]! - x * x;
        loss += 100 * valley * valley + (1 - x) * (1 - x);
        g[i]! += -400 * x * valley - 2 * (1 - x);
        g[i + 1]! += 200 * valley;
      }
      return { loss, grad: Float32Array.from(g) };
    },
  };
}

/** The suite's own families by name: each turns a plain JSON config into a family. */
export const SUITE_TASKS: Readonly<Record<string, (config: Readonly<Record<string, unknown>>) => TaskFamily>> = Object.freeze({
  "rosenbrock-chain": (config) => {
    const c = { dim: 10, jitter: 0, ...config } as RosenbrockChainConfig;
    const task = rosenbrockChainTask(c);
    return { name: task.name, config: c, instanceBytes: 8 * c.dim, sample: () => task };
  },
  function2d: (config) => function2dFamily(config as { name: string; jitter?: number }),
});

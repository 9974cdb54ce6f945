/**
 * A task family of your own for the l2o command line: logistic regression on random data
 * (each sampled task draws its own true weights and its own points), a stand-in for the
 * problem you want an optimizer for. Meta-train an LSTM optimizer on it, then compare it with
 * tuned Adam on fresh tasks:
 *
 *   npx l2o train --task ./examples/my_task.ts --out my-optimizer.safetensors --epochs 10
 *   npx l2o eval --task ./examples/my_task.ts --optimizers adam,my-optimizer.safetensors
 *   npx l2o run --task ./examples/my_task.ts --task-config '{"features":20}' --optimizer my-optimizer.safetensors
 *
 * What l2o reads from this module:
 * - the default export: a function from the task config (`--task-config`, a JSON object) to a
 *   `TaskFamily` (or a `TaskFamily` itself, which then takes no config);
 * - `training` (optional): what `l2o train` starts from, the task config and each learned
 *   optimizer kind's config, over their own defaults;
 * - `description` (optional): one line.
 * A training records this file's path and the SHA-256 of its bytes: its checkpoint resumes
 * only while the file is unchanged.
 */
import { ConfigError, normal, ParamLayout, split, type Key, type TaskFamily } from "l2o";

export const description = "logistic regression on random points with random true weights";

export const training = {
  // The task config meta-training uses, over the factory's defaults (eval and run use those).
  taskConfig: {},
  // Gradients of a mean loss are small: the paper's LogAndSign preprocessing (p = 10).
  optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } },
};

/** `features` inputs (and a bias), `samples` points per task; both bounded before anything is drawn. */
export default function logisticRegression(config: Record<string, unknown>): TaskFamily {
  const { features = 10, samples = 64, ...rest } = config;
  if (Object.keys(rest).length > 0) throw new ConfigError(`unknown config key(s) ${Object.keys(rest).join(", ")} (known: features, samples)`);
  const count = (name: string, v: unknown, max: number): number => {
    if (!(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max)) throw new ConfigError(`${name} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const d = count("features", features, 10_000);
  const n = count("samples", samples, 100_000);
  const layout = new ParamLayout([
    { name: "w", shape: [d], group: "fc" },
    { name: "b", shape: [], group: "fc" },
  ]);
  return {
    name: "logistic-regression",
    config: { features: d, samples: n },
    instanceBytes: 4 * (n * d + n + 2 * (d + 1)),
    sample(key: Key) {
      const [kx, kw, k0] = split(key, 3) as [Key, Key, Key];
      const x = normal(kx, n * d);
      const wTrue = normal(kw, d);
      // Labels from the true weights: a separable problem, as a linear classifier would see.
      const y = new Float32Array(n).map((_, i) => (x.subarray(i * d, (i + 1) * d).reduce((s, v, j) => s + v * wTrue[j]!, 0) > 0 ? 1 : 0));
      return {
        name: "logistic-regression",
        layout,
        instances: 1,
        init: () => normal(k0, d + 1, 0.01),
        // Mean of log(1 + e^z) - y z over the points, z = w . x + b, and its exact gradient.
        lossAndGrad(theta: Float32Array) {
          const grad = new Float32Array(d + 1);
          let loss = 0;
          for (let i = 0; i < n; i++) {
            let z = theta[d]!;
            for (let j = 0; j < d; j++) z += theta[j]! * x[i * d + j]!;
            loss += (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[i]! * z) / n;
            const r = (1 / (1 + Math.exp(-z)) - y[i]!) / n;
            for (let j = 0; j < d; j++) grad[j] = grad[j]! + r * x[i * d + j]!;
            grad[d] = grad[d]! + r;
          }
          return { loss, grad };
        },
      };
    },
  };
}

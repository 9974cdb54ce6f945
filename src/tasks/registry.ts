/**
 * The explicit registry of task families that the CLI and configs resolve by name. One literal
 * list; a config is a plain JSON object whose keys are checked against the family's defaults,
 * so configs round-trip through JSON.
 */
import { ConfigError } from "../core/errors.ts";
import { CNN_DEFAULTS, cnnFamily, type CnnConfig } from "./cnn.ts";
import { ART_DEFAULTS, artFamily, type ArtConfig } from "./art.ts";
import { MNIST_MLP_DEFAULTS, mnistMlpFamily, type MnistMlpConfig } from "./mnist_mlp.ts";
import { QUADRATIC_DEFAULTS, quadraticFamily, type QuadraticConfig } from "./quadratic.ts";
import { LEAST_SQUARES_DEFAULTS, leastSquaresFamily, type LeastSquaresConfig } from "./least_squares.ts";
import { VALLEY_DEFAULTS, valleyFamily, type ValleyConfig } from "./valleys.ts";
import { MIXTURE_DEFAULTS, mixtureFamily, type MixtureConfig } from "./mixture.ts";
import { LOGISTIC_REGRESSION_DEFAULTS, logisticRegressionFamily, type LogisticRegressionConfig } from "./logistic_regression.ts";
import { ROBUST_REGRESSION_DEFAULTS, robustRegressionFamily, type RobustRegressionConfig } from "./robust_regression.ts";
import { CLUSTERED_MLP_DEFAULTS, clusteredMlpFamily, type ClusteredMlpConfig } from "./clustered.ts";
import type { TaskFamily } from "./base.ts";
import { shownValue } from "./config_error.ts";

/** A task family's configuration as it appears in JSON. */
export type TaskConfig = Readonly<Record<string, unknown>>;

export interface TaskSpec {
  /** Registry name, e.g. `quadratic`. */
  readonly name: string;
  /** One line for help text. */
  readonly description: string;
  /** The default value of every config key; also the set of accepted keys. */
  readonly defaults: TaskConfig;
  /** The family with `config` over the defaults (keys already checked by `taskFamily`). */
  make(config: TaskConfig): TaskFamily;
  /** What meta-training on this task starts from unless told otherwise (`l2o train`). */
  readonly training: TrainingDefaults;
  /**
   * How a folder of the user's own data (`--data DIR`) sets the task's config, for tasks that
   * read one (`cnn`: CIFAR-10's binary batches); absent where the task reads no folder.
   */
  readonly dataConfig?: (dir: string) => TaskConfig;
}

/** A task's meta-training defaults: its config, and each learned-optimizer kind's config. */
export interface TrainingDefaults {
  readonly taskConfig: TaskConfig;
  /** By kind (`lstm`, `mlp`): config fields over the kind's own defaults. */
  readonly optimizer: Readonly<Record<string, TaskConfig>>;
}

/** Every task family the registry knows, in a fixed order. */
export const TASKS: readonly TaskSpec[] = [
  {
    name: "quadratic",
    description: "Random quadratics ||W theta - y||^2, W and y IID normal (Andrychowicz et al. 2016, 3.1)",
    defaults: QUADRATIC_DEFAULTS,
    make: (config) => quadraticFamily(config as QuadraticConfig),
    // Batches of 128 functions with raw gradients (the paper's setting).
    training: { taskConfig: { instances: 128 }, optimizer: { lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } } },
  },
  {
    name: "mnist-mlp",
    description: "MLP on MNIST minibatches, softmax cross-entropy (Andrychowicz et al. 2016, 3.2)",
    defaults: MNIST_MLP_DEFAULTS,
    make: (config) => mnistMlpFamily(config as MnistMlpConfig),
    // LogAndSign (p = 10) and output scale 0.1 (the paper's appendix A).
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } } },
  },
  {
    name: "cnn",
    description: "Convolutional network (conv, batch norm, ReLU, max pool; fc 32) on MNIST or the user's CIFAR-10, label subsets (Andrychowicz et al. 2016, 3.3)",
    defaults: CNN_DEFAULTS,
    make: (config) => cnnFamily(config as CnnConfig),
    dataConfig: (dir) => ({ dataset: "cifar10", dataDir: dir }),
    // LogAndSign inputs as for MNIST; one LSTM for the convolution layers, one for the rest (the paper's Figure 7).
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1, groups: [["conv"], ["fc"]] } } },
  },
  {
    name: "art",
    description: "Neural art: style transfer over the image's pixels, random-filter features (Andrychowicz et al. 2016, 3.4)",
    defaults: ART_DEFAULTS,
    make: (config) => artFamily(config as ArtConfig),
    // LogAndSign inputs; pixels live in [0, 1], so the updates are scaled by 0.03 (near tuned Adam's rate).
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.03 } } },
  },
  {
    name: "logistic-regression",
    description: "L2-regularised logistic regression on two random Gaussian classes, convex (Li & Malik 2016)",
    defaults: LOGISTIC_REGRESSION_DEFAULTS,
    make: (config) => logisticRegressionFamily(config as LogisticRegressionConfig),
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } } },
  },
  {
    name: "robust-regression",
    description: "Linear regression with the Geman-McClure loss on clustered data, non-convex (Li & Malik 2016)",
    defaults: ROBUST_REGRESSION_DEFAULTS,
    make: (config) => robustRegressionFamily(config as RobustRegressionConfig),
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } } },
  },
  {
    name: "clustered-mlp",
    description: "Two-layer ReLU classifier on random Gaussian clusters (Li & Malik 2016, 2017)",
    defaults: CLUSTERED_MLP_DEFAULTS,
    make: (config) => clusteredMlpFamily(config as ClusteredMlpConfig),
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "none" }, outputScale: 0.1 } } },
  },
  {
    name: "least-squares",
    description: "Ill-conditioned least squares (scale / rows) ||A theta - b||^2, condition number and scale set",
    defaults: LEAST_SQUARES_DEFAULTS,
    make: (config) => leastSquaresFamily(config as LeastSquaresConfig),
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } } },
  },
  {
    name: "valley",
    description: "Rosenbrock-like curved valleys over pairs of coordinates, steepness and scale set",
    defaults: VALLEY_DEFAULTS,
    make: (config) => valleyFamily(config as ValleyConfig),
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } } },
  },
  {
    name: "mixture",
    description: "A broad mixture: quadratics, least squares and valleys of many sizes, conditionings and scales; MNIST MLPs of many shapes; other tasks by weight",
    defaults: MIXTURE_DEFAULTS,
    make: (config) => mixtureFamily(config as MixtureConfig, taskFamily, TASK_NAMES),
    // LogAndSign inputs: the mixture's gradients span many orders of magnitude.
    training: { taskConfig: {}, optimizer: { lstm: { preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 } } },
  },
];

/** Registered task family names, in registry order. */
export const TASK_NAMES: readonly string[] = TASKS.map((t) => t.name);

/** The registry entry for `name`; throws listing the known names. */
export function taskSpec(name: string): TaskSpec {
  const spec = TASKS.find((t) => t.name === name);
  if (spec === undefined) throw new ConfigError(`unknown task '${name}'; known tasks: ${TASK_NAMES.join(", ")}`);
  return spec;
}

function kind(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  return `a ${typeof v}`;
}

/**
 * The family registered as `name`, with `config` over its defaults. Throws a clear error for an
 * unknown name, an unknown config key, or a value of the wrong kind (the family's own factory
 * then checks ranges).
 */
export function taskFamily(name: string, config: TaskConfig = {}): TaskFamily {
  const spec = taskSpec(name);
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError(`${name}: the task config must be a JSON object, got ${shownValue(config)}`);
  }
  const known = Object.keys(spec.defaults);
  for (const [k, v] of Object.entries(config)) {
    if (!known.includes(k)) throw new ConfigError(`${name}: unknown config key '${k}' (known keys: ${known.join(", ")})`);
    const want = kind(spec.defaults[k]);
    if (kind(v) !== want) throw new ConfigError(`${name}: config key '${k}' must be ${want}, got ${shownValue(v)}`);
  }
  return spec.make(config);
}

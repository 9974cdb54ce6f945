/**
 * The MNIST MLP's configuration: the accepted values, the defaults, and the checks that turn a
 * partial config into a resolved one (shared by `mnistMlpFamily` and `mlpTaskFrom`).
 */
import { failTaskConfig } from "./config_error.ts";

/** Hidden-layer nonlinearities. */
export const MLP_ACTIVATIONS = ["sigmoid", "relu", "tanh"] as const;
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];

/** Where the loss, gradient and logits are computed (see the comment of `mnist_mlp.ts`). */
export const MLP_BACKENDS = ["wasm", "jax"] as const;
export type MlpBackend = (typeof MLP_BACKENDS)[number];

export interface MnistMlpConfig {
  /** Widths of the hidden layers. Default `[20]`. */
  readonly hidden?: readonly number[];
  /** Hidden nonlinearity. Default `sigmoid`. */
  readonly activation?: MlpActivation;
  /** Training images per minibatch. Default 128. */
  readonly batchSize?: number;
  /** Standard deviation of the initial weights and biases, N(0, initStd^2). Default 0.1. */
  readonly initStd?: number;
  /** `wasm` (default, fastest) or `jax` (replays results made with it bit for bit). */
  readonly backend?: MlpBackend;
}

export type ResolvedMnistMlpConfig = Required<MnistMlpConfig>;

export const MNIST_MLP_DEFAULTS: ResolvedMnistMlpConfig = Object.freeze({
  hidden: Object.freeze([20]),
  activation: "sigmoid",
  batchSize: 128,
  initStd: 0.1,
  backend: "wasm",
});

/**
 * The largest network and batch a config may ask for, checked before anything is allocated:
 * at most 8 hidden layers of at most 1,024 units, and at most 10,000 images per minibatch
 * (the kernels then need at most about 0.5 GB).
 */
export const MNIST_MLP_LIMITS = Object.freeze({ depth: 8, width: 1024, batchSize: 10_000 });

/** Throws the error for a bad config value: `mnist-mlp: <what>, got <value as JSON>`. */
export function failConfig(what: string, v: unknown): never {
  failTaskConfig("mnist-mlp", what, v);
}

export function checkActivation(v: unknown): MlpActivation {
  if (!MLP_ACTIVATIONS.includes(v as MlpActivation)) failConfig(`'activation' must be one of ${MLP_ACTIVATIONS.join(", ")}`, v);
  return v as MlpActivation;
}

export function checkBackend(v: unknown): MlpBackend {
  if (!MLP_BACKENDS.includes(v as MlpBackend)) failConfig(`'backend' must be one of ${MLP_BACKENDS.join(", ")}`, v);
  return v as MlpBackend;
}

export function checkInitStd(v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) failConfig("'initStd' must be a finite number >= 0", v);
  return v;
}

/** Fills in defaults and validates; throws a clear error on a bad value. */
export function resolveMnistMlpConfig(config: MnistMlpConfig = {}): ResolvedMnistMlpConfig {
  const hidden = config.hidden ?? MNIST_MLP_DEFAULTS.hidden;
  const { depth, width, batchSize: maxBatch } = MNIST_MLP_LIMITS;
  if (!Array.isArray(hidden) || !hidden.every((h) => Number.isInteger(h) && h >= 1)) {
    failConfig("'hidden' must be a list of positive integer layer widths", hidden);
  }
  if (hidden.length > depth) failConfig(`'hidden' may list at most ${depth} layers`, hidden);
  if (hidden.some((h) => h > width)) failConfig(`'hidden' layer widths must be at most ${width}`, hidden);
  const batchSize = config.batchSize ?? MNIST_MLP_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) failConfig("'batchSize' must be a positive integer", batchSize);
  if (batchSize > maxBatch) failConfig(`'batchSize' must be at most ${maxBatch}`, batchSize);
  return {
    hidden: [...hidden],
    activation: checkActivation(config.activation ?? MNIST_MLP_DEFAULTS.activation),
    batchSize,
    initStd: checkInitStd(config.initStd ?? MNIST_MLP_DEFAULTS.initStd),
    backend: checkBackend(config.backend ?? MNIST_MLP_DEFAULTS.backend),
  };
}

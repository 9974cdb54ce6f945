/**
 * Meta-training the proposal LSTM (lstm.ts) on functions drawn from a GP by random Fourier
 * features (rff.ts): each iteration draws a batch of fresh functions, rolls the network out
 * for the horizon, and takes an Adam step on the batch's mean meta-loss, its gradient clipped
 * to a norm. Training functions come from the key `foldIn(key(seed), "train")`; test functions
 * (eval.ts) from "test", so none is seen in training.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, key } from "../core/rng.ts";
import { initParameters, lossAndGradient, type LstmShape, type MetaLoss } from "./lstm.ts";
import { Rand } from "./random.ts";
import { DEFAULT_GP_SAMPLE, gpSample, type GpSampleOptions } from "./rff.ts";

export interface TrainOptions {
  readonly shape: LstmShape;
  readonly loss: MetaLoss;
  /** Queries per rollout (the paper's horizon T). */
  readonly horizon: number;
  readonly iterations: number;
  /** Functions per iteration. */
  readonly batch: number;
  /** Adam's step size. */
  readonly lr: number;
  /** Gradient norm clip. */
  readonly clip: number;
  readonly seed: number;
  readonly functions: Omit<GpSampleOptions, "dim">;
}

export const TRAIN_LIMITS = { horizon: 1000, iterations: 1_000_000, batch: 10_000 } as const;

export function defaultTrainOptions(dim: number, loss: MetaLoss): TrainOptions {
  return { shape: { dim, hidden: 32 }, loss, horizon: 30, iterations: 1000, batch: 16, lr: 3e-3, clip: 1, seed: 0, functions: DEFAULT_GP_SAMPLE };
}

export interface TrainResult {
  readonly params: Float64Array;
  /** The mean meta-loss of each iteration's batch. */
  readonly losses: number[];
  readonly seconds: number;
}

export function metaTrain(o: TrainOptions, onIteration?: (i: number, loss: number) => void, init?: Float64Array): TrainResult {
  if (!Number.isInteger(o.horizon) || o.horizon < 2 || o.horizon > TRAIN_LIMITS.horizon) throw new ConfigError(`horizon must be an integer in 2..${TRAIN_LIMITS.horizon}, got ${o.horizon}`);
  if (!Number.isInteger(o.iterations) || o.iterations < 1 || o.iterations > TRAIN_LIMITS.iterations) throw new ConfigError(`iterations must be an integer in 1..${TRAIN_LIMITS.iterations}, got ${o.iterations}`);
  if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > TRAIN_LIMITS.batch) throw new ConfigError(`batch must be an integer in 1..${TRAIN_LIMITS.batch}, got ${o.batch}`);
  if (!(o.lr > 0 && o.lr < 1) || !(o.clip > 0)) throw new ConfigError(`learning rate must be in (0, 1) and clip positive, got ${o.lr} and ${o.clip}`);
  const root = foldIn(key(o.seed), "train");
  const params = init?.slice() ?? initParameters(o.shape, new Rand(foldIn(root, "init")));
  const m = new Float64Array(params.length), v = new Float64Array(params.length);
  const losses: number[] = [];
  const start = performance.now();
  for (let it = 0; it < o.iterations; it++) {
    const grad = new Float64Array(params.length);
    let loss = 0;
    const k = foldIn(root, it);
    for (let b = 0; b < o.batch; b++) {
      const f = gpSample({ ...o.functions, dim: o.shape.dim }, foldIn(k, b));
      const x0 = new Rand(foldIn(foldIn(k, b), "x0")).uniforms(o.shape.dim);
      loss += lossAndGradient(o.shape, params, f, o.horizon, x0, o.loss, grad) / o.batch;
    }
    let norm = 0;
    for (let i = 0; i < grad.length; i++) {
      grad[i] = grad[i]! / o.batch;
      norm += grad[i]! ** 2;
    }
    norm = Math.sqrt(norm);
    if (!Number.isFinite(norm)) throw new ConfigError(`meta-training diverged at iteration ${it} (a non-finite gradient); lower the learning rate`);
    const scale = norm > o.clip ? o.clip / norm : 1;
    const t = it + 1;
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i]! * scale;
      m[i] = 0.9 * m[i]! + 0.1 * g;
      v[i] = 0.999 * v[i]! + 0.001 * g * g;
      params[i] = params[i]! - (o.lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8);
    }
    losses.push(loss);
    onIteration?.(it + 1, loss);
  }
  return { params, losses, seconds: (performance.now() - start) / 1000 };
}

/**
 * The `mixture` task's configuration and its draws: which sub-family a key picks (by weight)
 * and the config it draws for it from the ranges (dimension, conditioning, scale; the MLP's
 * depth, widths, activation, batch size and initial scale). Pure functions of the key, so a
 * horizon's task is the same wherever it is drawn.
 */
import { foldIn, uniform, type Key } from "../core/rng.ts";
import { failTaskConfig } from "./config_error.ts";
import { MLP_ACTIVATIONS, MNIST_MLP_LIMITS } from "./mnist_mlp_config.ts";

/** A closed range [lo, hi] of positive numbers, drawn log-uniformly. */
export type Range = readonly [number, number];

export interface MixtureConfig {
  /** Sub-family (registry name) -> weight >= 0; a key picks one with probability weight / total. */
  readonly weights?: Readonly<Record<string, number>>;
  /** Dimension of quadratics and least squares, and twice the pairs of valleys (integers, log-uniform). */
  readonly dim?: Range;
  /** Least squares: the Hessian's condition number (log-uniform). */
  readonly condition?: Range;
  /** Least squares and valleys: the loss's scale (log-uniform). */
  readonly scale?: Range;
  /** Valleys: the valley's steepness (log-uniform). */
  readonly curvature?: Range;
  /** MNIST MLP: hidden layers, from..to (integers, uniform). */
  readonly depth?: Range;
  /** MNIST MLP: the widths a hidden layer draws from (each layer its own). */
  readonly widths?: readonly number[];
  /** MNIST MLP: the activations drawn from. */
  readonly activations?: readonly string[];
  /** MNIST MLP: the minibatch sizes drawn from. */
  readonly batchSizes?: readonly number[];
  /** MNIST MLP: the initial weights' standard deviation (log-uniform). */
  readonly initStd?: Range;
  /**
   * Sub-family -> a fixed config for the families the mixture draws no config for (`cnn`,
   * `logistic-regression`, ...); over the drawn config for the others.
   */
  readonly configs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export type ResolvedMixtureConfig = Required<MixtureConfig>;

export const MIXTURE_DEFAULTS: ResolvedMixtureConfig = Object.freeze({
  weights: Object.freeze({ quadratic: 1, "least-squares": 2, valley: 1, "mnist-mlp": 4, cnn: 0 }),
  dim: Object.freeze([2, 100]) as Range,
  condition: Object.freeze([1, 1e4]) as Range,
  scale: Object.freeze([1e-3, 1e3]) as Range,
  curvature: Object.freeze([1, 100]) as Range,
  depth: Object.freeze([1, 3]) as Range,
  widths: Object.freeze([5, 10, 20, 40, 80]),
  activations: Object.freeze(["sigmoid", "relu", "tanh"]),
  batchSizes: Object.freeze([16, 32, 64, 128]),
  initStd: Object.freeze([0.01, 0.3]) as Range,
  configs: Object.freeze({}),
});

function fail(what: string, v: unknown): never {
  failTaskConfig("mixture", what, v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function range(name: string, v: unknown, min: number, max: number, integer = false): Range {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number" && x >= min && x <= max && (!integer || Number.isInteger(x)));
  if (!ok || v[0] > v[1]) fail(`'${name}' must be [lo, hi] with ${min} <= lo <= hi <= ${max}${integer ? ", integers" : ""}`, v);
  return [v[0], v[1]];
}

function choices<T>(name: string, v: unknown, ok: (x: unknown) => x is T, what: string): T[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every(ok)) fail(`'${name}' must be a non-empty list of ${what}`, v);
  return [...v];
}

/**
 * Fills in defaults and validates. `known`: the registry's task names (a weight or fixed
 * config may name only those, never `mixture` itself).
 */
export function resolveMixtureConfig(c: MixtureConfig, known: readonly string[]): ResolvedMixtureConfig {
  const r = { ...MIXTURE_DEFAULTS, ...c };
  const family = (what: string, name: string): void => {
    if (name === "mixture") fail(`'${what}' may not name the mixture itself`, name);
    if (!known.includes(name)) fail(`'${what}' names an unknown task '${name}' (known: ${known.filter((k) => k !== "mixture").join(", ")})`, name);
  };
  if (!isRecord(r.weights)) fail("'weights' must be an object of task name -> weight", r.weights);
  let total = 0;
  for (const [name, w] of Object.entries(r.weights)) {
    family("weights", name);
    if (typeof w !== "number" || !(w >= 0) || !Number.isFinite(w)) fail(`weight of '${name}' must be a finite number >= 0`, w);
    total += w;
  }
  if (!(total > 0)) fail("'weights' must give at least one task a weight above 0", r.weights);
  if (!isRecord(r.configs) || !Object.values(r.configs).every(isRecord)) fail("'configs' must be an object of task name -> config object", r.configs);
  for (const name of Object.keys(r.configs)) family("configs", name);
  const { depth, width, batchSize } = MNIST_MLP_LIMITS;
  const posInt = (max: number) => (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= max;
  return {
    weights: { ...r.weights },
    dim: range("dim", r.dim, 2, 4096, true),
    condition: range("condition", r.condition, 1, 1e12),
    scale: range("scale", r.scale, 1e-12, 1e12),
    curvature: range("curvature", r.curvature, 1e-6, 1e12),
    depth: range("depth", r.depth, 1, depth, true),
    widths: choices("widths", r.widths, posInt(width), `integers from 1 to ${width}`),
    activations: choices("activations", r.activations, (x): x is string => MLP_ACTIVATIONS.includes(x as never), MLP_ACTIVATIONS.join(" / ")),
    batchSizes: choices("batchSizes", r.batchSizes, posInt(batchSize), `integers from 1 to ${batchSize}`),
    initStd: range("initStd", r.initStd, 1e-6, 100),
    configs: { ...r.configs },
  };
}

/** One draw of the mixture: the sub-family's registry name and its config. */
export interface MixtureDraw {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** Uniform numbers of one key, one per named role (so adding a role never moves another's). */
function u(k: Key, role: string): number {
  return uniform(foldIn(k, role), 1)[0]!;
}

function logUniform(k: Key, role: string, [lo, hi]: Range): number {
  return lo === hi ? lo : Math.exp(Math.log(lo) + u(k, role) * (Math.log(hi) - Math.log(lo)));
}

function pick<T>(k: Key, role: string, xs: readonly T[]): T {
  return xs[Math.min(xs.length - 1, Math.floor(u(k, role) * xs.length))]!;
}

/** The sub-family and config that key `k` draws (a pure function of `k` and `cfg`). */
export function mixtureDraw(cfg: ResolvedMixtureConfig, k: Key): MixtureDraw {
  const entries = Object.entries(cfg.weights).filter(([, w]) => w > 0);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = u(k, "family") * total;
  let name = entries[entries.length - 1]![0];
  for (const [n, w] of entries) {
    if (x < w) {
      name = n;
      break;
    }
    x -= w;
  }
  const dim = Math.round(logUniform(k, "dim", cfg.dim));
  const scale = logUniform(k, "scale", cfg.scale);
  let drawn: Record<string, unknown> = {};
  if (name === "quadratic") drawn = { dim };
  else if (name === "least-squares") drawn = { dim, condition: logUniform(k, "condition", cfg.condition), scale };
  else if (name === "valley") drawn = { pairs: Math.max(1, Math.round(dim / 2)), curvature: logUniform(k, "curvature", cfg.curvature), scale };
  else if (name === "mnist-mlp") {
    const [dlo, dhi] = cfg.depth;
    const layers = dlo + Math.min(dhi - dlo, Math.floor(u(k, "depth") * (dhi - dlo + 1)));
    drawn = {
      hidden: Array.from({ length: layers }, (_, i) => pick(k, `width${i}`, cfg.widths)),
      activation: pick(k, "activation", cfg.activations),
      batchSize: pick(k, "batchSize", cfg.batchSizes),
      initStd: logUniform(k, "initStd", cfg.initStd),
    };
  }
  return { name, config: { ...drawn, ...(cfg.configs[name] ?? {}) } };
}

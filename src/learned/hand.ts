/**
 * Hand-designed optimizers as learned optimizers with an empty phi (learned_optimization's
 * convention), so that evaluation, files and the command line treat every optimizer alike.
 * As a registry kind (`hand`) its config names a registered optimizer and its rate.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { optimizerSpec, type OptimizerOptions } from "../optimizers/registry.ts";
import type { GradientTransformation } from "../optimizers/transform.ts";
import { guardedTransform, namedPhi, type LearnedOptimizer } from "./contract.ts";

/** The config of a hand-designed optimizer in a file: `{optimizer: "adam", lr: 0.01}`. */
export interface HandConfig {
  readonly optimizer: string;
  readonly lr: number;
  readonly options?: OptimizerOptions;
}

/** Wraps a hand-designed transformation as a learned optimizer with an empty `phi`. */
export function handDesigned(name: string, tx: GradientTransformation, config: unknown = { optimizer: name }): LearnedOptimizer {
  return {
    kind: "hand",
    name,
    config,
    phiEntries: [],
    phiSize: 0,
    init: () => namedPhi(new Float32Array(0), []),
    optFn: () => guardedTransform(name, { init: (p) => tx.init(p), update: (g, s, p, c) => tx.update(g, s, p, c), dispose: () => {} }),
  };
}

/** Reads and checks a `hand` config (from a file or a caller). */
export function resolveHandConfig(c: unknown): HandConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError("hand-designed optimizer config must be an object");
  const o = c as Record<string, unknown>;
  const known = ["optimizer", "lr", "options"];
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new ConfigError(`hand-designed optimizer config: unknown field(s) ${extra.join(", ")} (known: ${known.join(", ")})`);
  if (typeof o.optimizer !== "string") throw new ConfigError(`hand-designed optimizer config: 'optimizer' must name a registered optimizer`);
  if (typeof o.lr !== "number" || !(o.lr > 0) || !Number.isFinite(o.lr)) throw new ConfigError(`hand-designed optimizer config: 'lr' must be a positive number, got ${shownValue(o.lr)}`);
  const options = o.options;
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ConfigError(`hand-designed optimizer config: 'options' must be an object of numbers`);
  }
  return { optimizer: o.optimizer, lr: o.lr, ...(options !== undefined ? { options: options as OptimizerOptions } : {}) };
}

/** The hand-designed optimizer a `hand` config describes. */
export function handFromConfig(c: unknown): LearnedOptimizer {
  const cfg = resolveHandConfig(c);
  let tx: GradientTransformation;
  try {
    tx = optimizerSpec(cfg.optimizer).make(cfg.lr, cfg.options);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  return handDesigned(cfg.optimizer, tx, cfg);
}

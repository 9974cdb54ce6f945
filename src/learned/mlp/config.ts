/**
 * The per-coordinate MLP optimizer's configuration: the MLP's width and depth, the momentum
 * decays it reads, and the two output multipliers; defaults (those of learned_optimization's
 * small_fc_lopt, Metz et al. 2022, "Practical tradeoffs between memory, compute, and
 * performance in learned optimizers") and validation, also of configs read from files.
 */
import { ConfigError } from "../../core/errors.ts";

export interface MlpOptimizerConfig {
  /** Units per hidden layer, 1..1024 (default 32, as small_fc_lopt). */
  readonly hidden?: number;
  /** Hidden layers, 1..8 (default 2, as small_fc_lopt). */
  readonly hiddenLayers?: number;
  /**
   * Decays b of the momenta m_b <- b m_b + (1 - b) g that the MLP reads, 1..8 of them, each
   * in [0, 1) (default [0.5, 0.9, 0.99]; small_fc_lopt has [0.1, 0.5, 0.9, 0.99, 0.999]).
   */
  readonly decays?: readonly number[];
  /** The step is d * exp(a * expMult) * stepMult (default 0.001, as small_fc_lopt). */
  readonly stepMult?: number;
  /** See `stepMult` (default 0.001, as small_fc_lopt). */
  readonly expMult?: number;
}

export interface ResolvedMlpOptimizerConfig {
  readonly hidden: number;
  readonly hiddenLayers: number;
  readonly decays: readonly number[];
  readonly stepMult: number;
  readonly expMult: number;
}

export const MLP_DEFAULTS: ResolvedMlpOptimizerConfig = Object.freeze({
  hidden: 32,
  hiddenLayers: 2,
  decays: Object.freeze([0.5, 0.9, 0.99]),
  stepMult: 0.001,
  expMult: 0.001,
});

const FIELDS: readonly string[] = ["hidden", "hiddenLayers", "decays", "stepMult", "expMult"];

/** The largest sizes an MLP config may declare, checked before anything is allocated. */
export const MLP_LIMITS = Object.freeze({ hidden: 1024, hiddenLayers: 8, decays: 8 });

function intIn(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new ConfigError(`mlp optimizer: '${name}' must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function positive(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`mlp optimizer: '${name}' must be a positive finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function decayList(v: unknown): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MLP_LIMITS.decays) {
    throw new ConfigError(`mlp optimizer: 'decays' must be a list of 1 to ${MLP_LIMITS.decays} numbers in [0, 1), got ${JSON.stringify(v)}`);
  }
  return v.map((b: unknown) => {
    if (typeof b !== "number" || !Number.isFinite(b) || b < 0 || b >= 1) {
      throw new ConfigError(`mlp optimizer: every decay must be a number in [0, 1), got ${JSON.stringify(b)} in ${JSON.stringify(v)}`);
    }
    return b;
  });
}

/** Fills in defaults and validates (also configs read from JSON): a bad one throws ConfigError. */
export function resolveMlpOptimizerConfig(c: unknown = {}): ResolvedMlpOptimizerConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(`mlp optimizer config must be an object, got ${JSON.stringify(c)}`);
  const o = c as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !FIELDS.includes(k));
  if (extra.length > 0) throw new ConfigError(`mlp optimizer config: unknown field(s) ${extra.join(", ")} (known: ${FIELDS.join(", ")})`);
  return {
    hidden: intIn("hidden", o.hidden ?? MLP_DEFAULTS.hidden, 1, MLP_LIMITS.hidden),
    hiddenLayers: intIn("hiddenLayers", o.hiddenLayers ?? MLP_DEFAULTS.hiddenLayers, 1, MLP_LIMITS.hiddenLayers),
    decays: decayList(o.decays ?? MLP_DEFAULTS.decays),
    stepMult: positive("stepMult", o.stepMult ?? MLP_DEFAULTS.stepMult),
    expMult: positive("expMult", o.expMult ?? MLP_DEFAULTS.expMult),
  };
}

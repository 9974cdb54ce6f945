/**
 * The per-coordinate MLP optimizer's configuration: the MLP's width and depth, the features it
 * reads, the momentum decays, and the two output multipliers; defaults (those of
 * learned_optimization's small_fc_lopt, Metz et al. 2022, "Practical tradeoffs between memory,
 * compute, and performance in learned optimizers") and validation, also of configs read from
 * files.
 *
 * `features` picks the inputs: `basic` (small_fc_lopt's, the default, and what a config
 * without the field always meant) or `adafac` (adafac_mlp_lopt's: second-moment and factored
 * adafactor statistics, and time features; see features_adafac.ts), which comes with its own
 * defaults (a 4-unit MLP, as VeLO's per-parameter MLP, so a step stays cheap).
 */
import { ConfigError, shownValue } from "../../core/errors.ts";

export type MlpFeatureSet = "basic" | "adafac";
export const MLP_FEATURE_SETS: readonly MlpFeatureSet[] = ["basic", "adafac"];

export interface MlpOptimizerConfig {
  /** `basic` (default: parameter, gradient, momenta) or `adafac` (see the file comment). */
  readonly features?: MlpFeatureSet;
  /** Units per hidden layer, 1..1024 (default 32, as small_fc_lopt; 4 with `adafac`). */
  readonly hidden?: number;
  /** Hidden layers, 1..8 (default 2, as small_fc_lopt; 1 with `adafac`). */
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
  /** `adafac` only: decay of the second-moment accumulator v <- b v + (1 - b) g^2, in [0, 1) (default 0.999). */
  readonly rmsDecay?: number;
  /** `adafac` only: decay of the factored row and column accumulators, in [0, 1) (default 0.999). */
  readonly factoredDecay?: number;
  /** `adafac` only: timescales x of the features tanh(t / x), 0..8 positive numbers (default [10, 100, 1000, 10000]). */
  readonly timescales?: readonly number[];
}

export interface ResolvedMlpOptimizerConfig {
  readonly features: MlpFeatureSet;
  readonly hidden: number;
  readonly hiddenLayers: number;
  readonly decays: readonly number[];
  readonly stepMult: number;
  readonly expMult: number;
  /** Present with `adafac` only (so a `basic` config reads and saves as before). */
  readonly rmsDecay?: number;
  readonly factoredDecay?: number;
  readonly timescales?: readonly number[];
}

export const MLP_DEFAULTS: ResolvedMlpOptimizerConfig = Object.freeze({
  features: "basic",
  hidden: 32,
  hiddenLayers: 2,
  decays: Object.freeze([0.5, 0.9, 0.99]),
  stepMult: 0.001,
  expMult: 0.001,
});

/** The defaults with `features: "adafac"`, where they differ from `MLP_DEFAULTS`. */
export const MLP_ADAFAC_DEFAULTS = Object.freeze({
  hidden: 4,
  hiddenLayers: 1,
  rmsDecay: 0.999,
  factoredDecay: 0.999,
  timescales: Object.freeze([10, 100, 1000, 10000]),
});

const BASIC_FIELDS: readonly string[] = ["features", "hidden", "hiddenLayers", "decays", "stepMult", "expMult"];
const ADAFAC_FIELDS: readonly string[] = ["rmsDecay", "factoredDecay", "timescales"];
const FIELDS: readonly string[] = [...BASIC_FIELDS, ...ADAFAC_FIELDS];

/** The largest sizes an MLP config may declare, checked before anything is allocated. */
export const MLP_LIMITS = Object.freeze({ hidden: 1024, hiddenLayers: 8, decays: 8, timescales: 8 });

function intIn(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new ConfigError(`mlp optimizer: '${name}' must be an integer from ${lo} to ${hi}, got ${shownValue(v)}`);
  }
  return v;
}

function positive(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`mlp optimizer: '${name}' must be a positive finite number, got ${shownValue(v)}`);
  }
  return v;
}

function decay(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v >= 1) {
    throw new ConfigError(`mlp optimizer: '${name}' must be a number in [0, 1), got ${shownValue(v)}`);
  }
  return v;
}

function decayList(v: unknown): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MLP_LIMITS.decays) {
    throw new ConfigError(`mlp optimizer: 'decays' must be a list of 1 to ${MLP_LIMITS.decays} numbers in [0, 1), got ${shownValue(v)}`);
  }
  return v.map((b: unknown) => {
    if (typeof b !== "number" || !Number.isFinite(b) || b < 0 || b >= 1) {
      throw new ConfigError(`mlp optimizer: every decay must be a number in [0, 1), got ${shownValue(b)} in ${shownValue(v)}`);
    }
    return b;
  });
}

function timescaleList(v: unknown): number[] {
  if (!Array.isArray(v) || v.length > MLP_LIMITS.timescales || v.some((x) => typeof x !== "number" || !Number.isFinite(x) || x <= 0)) {
    throw new ConfigError(`mlp optimizer: 'timescales' must be a list of 0 to ${MLP_LIMITS.timescales} positive numbers, got ${shownValue(v)}`);
  }
  return [...(v as number[])];
}

/** Fills in defaults and validates (also configs read from JSON): a bad one throws ConfigError. */
export function resolveMlpOptimizerConfig(c: unknown = {}): ResolvedMlpOptimizerConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(`mlp optimizer config must be an object, got ${shownValue(c)}`);
  const o = c as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !FIELDS.includes(k));
  if (extra.length > 0) throw new ConfigError(`mlp optimizer config: unknown field(s) ${extra.join(", ")} (known: ${FIELDS.join(", ")})`);
  const features = o.features ?? MLP_DEFAULTS.features;
  if (!MLP_FEATURE_SETS.includes(features as MlpFeatureSet)) {
    throw new ConfigError(`mlp optimizer: 'features' must be one of ${MLP_FEATURE_SETS.join(", ")}, got ${shownValue(features)}`);
  }
  const adafac = features === "adafac";
  const stray = ADAFAC_FIELDS.filter((k) => o[k] !== undefined);
  if (!adafac && stray.length > 0) throw new ConfigError(`mlp optimizer: ${stray.join(", ")} belong to features 'adafac' (this config has '${String(features)}')`);
  const base = {
    features: features as MlpFeatureSet,
    hidden: intIn("hidden", o.hidden ?? (adafac ? MLP_ADAFAC_DEFAULTS.hidden : MLP_DEFAULTS.hidden), 1, MLP_LIMITS.hidden),
    hiddenLayers: intIn("hiddenLayers", o.hiddenLayers ?? (adafac ? MLP_ADAFAC_DEFAULTS.hiddenLayers : MLP_DEFAULTS.hiddenLayers), 1, MLP_LIMITS.hiddenLayers),
    decays: decayList(o.decays ?? MLP_DEFAULTS.decays),
    stepMult: positive("stepMult", o.stepMult ?? MLP_DEFAULTS.stepMult),
    expMult: positive("expMult", o.expMult ?? MLP_DEFAULTS.expMult),
  };
  if (!adafac) return base;
  return {
    ...base,
    rmsDecay: decay("rmsDecay", o.rmsDecay ?? MLP_ADAFAC_DEFAULTS.rmsDecay),
    factoredDecay: decay("factoredDecay", o.factoredDecay ?? MLP_ADAFAC_DEFAULTS.factoredDecay),
    timescales: timescaleList(o.timescales ?? MLP_ADAFAC_DEFAULTS.timescales),
  };
}

/**
 * The hierarchical RNN optimizer's configuration (Wichrowska et al. 2017, "Learned optimizers
 * that scale and generalize"): the three GRUs' widths, the momentum timescales and the RMS
 * decay it reads, the initial and largest log learning rate, and whether it evaluates the
 * next gradient at a look-ahead point (the paper's attention, section 3.2.1). Defaults are the
 * paper's where it gives them (10, 30 and 20 units); validation, also of configs from files.
 */
import { ConfigError, shownValue } from "../../core/errors.ts";

export interface HrnnOptimizerConfig {
  /** Units of the per-parameter GRU, 1..64 (default 10, as the paper). */
  readonly paramHidden?: number;
  /** Units of the per-tensor GRU, 1..256 (default 30, as the paper). */
  readonly tensorHidden?: number;
  /** Units of the global GRU, 1..256 (default 20, as the paper). */
  readonly globalHidden?: number;
  /**
   * Decays b of the momenta m_b <- b m_b + (1 - b) g, 1..8 of them, each in [0, 1) (default
   * [0.5, 0.9, 0.99]). Fixed here: the paper makes the shortest one an output of the
   * per-parameter GRU and each next one its square root.
   */
  readonly decays?: readonly number[];
  /** Decay rho of each momentum's mean square v_b <- rho v_b + (1 - rho) m_b^2, in [0, 1) (default 0.96, the paper's sigmoid(3.2)). */
  readonly rmsDecay?: number;
  /** The per-coordinate learning rate at step 0, exp(eta_0), in (0, 1e3] (default 0.01). */
  readonly initLr?: number;
  /** The log learning rate is clipped to at most this, in [-30, 30] (default 2). */
  readonly maxLogLr?: number;
  /** Evaluate the next gradient at a learned look-ahead point (the paper's attention); default false. */
  readonly lookAhead?: boolean;
}

export interface ResolvedHrnnOptimizerConfig {
  readonly paramHidden: number;
  readonly tensorHidden: number;
  readonly globalHidden: number;
  readonly decays: readonly number[];
  readonly rmsDecay: number;
  readonly initLr: number;
  readonly maxLogLr: number;
  readonly lookAhead: boolean;
}

export const HRNN_DEFAULTS: ResolvedHrnnOptimizerConfig = Object.freeze({
  paramHidden: 10,
  tensorHidden: 30,
  globalHidden: 20,
  decays: Object.freeze([0.5, 0.9, 0.99]),
  rmsDecay: 0.96,
  initLr: 0.01,
  maxLogLr: 2,
  lookAhead: false,
});

const FIELDS: readonly string[] = Object.keys(HRNN_DEFAULTS);

/** The largest sizes an hrnn config may declare, checked before anything is allocated. */
export const HRNN_LIMITS = Object.freeze({ paramHidden: 64, tensorHidden: 256, globalHidden: 256, decays: 8 });

function intIn(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new ConfigError(`hrnn optimizer: '${name}' must be an integer from ${lo} to ${hi}, got ${shownValue(v)}`);
  }
  return v;
}

function numberIn(name: string, v: unknown, lo: number, hi: number, loOpen: boolean, hiOpen: boolean): number {
  const ok = typeof v === "number" && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw new ConfigError(`hrnn optimizer: '${name}' must be a number in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}, got ${shownValue(v)}`);
  return v as number;
}

function decayList(v: unknown): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > HRNN_LIMITS.decays) {
    throw new ConfigError(`hrnn optimizer: 'decays' must be a list of 1 to ${HRNN_LIMITS.decays} numbers in [0, 1), got ${shownValue(v)}`);
  }
  return v.map((b: unknown) => numberIn("decays", b, 0, 1, false, true));
}

/** Fills in defaults and validates (also configs read from JSON): a bad one throws ConfigError. */
export function resolveHrnnOptimizerConfig(c: unknown = {}): ResolvedHrnnOptimizerConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(`hrnn optimizer config must be an object, got ${shownValue(c)}`);
  const o = c as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !FIELDS.includes(k));
  if (extra.length > 0) throw new ConfigError(`hrnn optimizer config: unknown field(s) ${extra.join(", ")} (known: ${FIELDS.join(", ")})`);
  const d = HRNN_DEFAULTS;
  const lookAhead = o.lookAhead ?? d.lookAhead;
  if (typeof lookAhead !== "boolean") throw new ConfigError(`hrnn optimizer: 'lookAhead' must be true or false, got ${shownValue(lookAhead)}`);
  return {
    paramHidden: intIn("paramHidden", o.paramHidden ?? d.paramHidden, 1, HRNN_LIMITS.paramHidden),
    tensorHidden: intIn("tensorHidden", o.tensorHidden ?? d.tensorHidden, 1, HRNN_LIMITS.tensorHidden),
    globalHidden: intIn("globalHidden", o.globalHidden ?? d.globalHidden, 1, HRNN_LIMITS.globalHidden),
    decays: decayList(o.decays ?? d.decays),
    rmsDecay: numberIn("rmsDecay", o.rmsDecay ?? d.rmsDecay, 0, 1, false, true),
    initLr: numberIn("initLr", o.initLr ?? d.initLr, 0, 1e3, true, false),
    maxLogLr: numberIn("maxLogLr", o.maxLogLr ?? d.maxLogLr, -30, 30, false, false),
    lookAhead,
  };
}

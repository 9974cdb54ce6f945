/**
 * The optimizer as a policy (Li & Malik 2016, 2017): a small network reads the history
 * features of one coordinate (`history.ts`: its last H gradients and steps, the last H
 * objective changes) and gives the mean of a Gaussian over that coordinate's step,
 *
 *   mu(s) = lin . s + w2 . tanh(W1^T s + b1) + b2,     a ~ N(mu(s), exp(logStd)^2),
 *
 * one hidden layer (Li & Malik's policy had one hidden layer of 50 units) plus a linear path
 * from the features to the step. The linear path can express gradient descent and momentum
 * (a weighted sum of past gradients) exactly; it starts as gradient descent at rate `initLr`
 * (0 starts from the zero step), so that training refines an optimizer instead of finding
 * descent from nothing. logStd is one learned number for every coordinate.
 *
 * Everything is over a flat phi (`phiEntries` names its slices), in float64 arithmetic.
 */
import { ConfigError } from "../../core/errors.ts";
import { normal, split, type Key } from "../../core/rng.ts";
import type { PhiEntry } from "../contract.ts";
import { featureCount } from "./history.ts";

export interface PolicyConfig {
  /** History length H: the features are 3H numbers. Default 25 (the paper's). */
  readonly history?: number;
  /** Hidden tanh units. Default 50. */
  readonly hidden?: number;
  /** Gradient-descent rate the linear path starts at. Default 0.1. */
  readonly initLr?: number;
  /** The steps' initial standard deviation (exp(logStd) at init). Default 0.05. */
  readonly initStd?: number;
}

export type ResolvedPolicyConfig = Required<PolicyConfig>;

export const POLICY_DEFAULTS: ResolvedPolicyConfig = Object.freeze({ history: 25, hidden: 50, initLr: 0.1, initStd: 0.05 });

export const POLICY_LIMITS = Object.freeze({ history: 1000, hidden: 4096 });

function int(name: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
    throw new ConfigError(`rl policy: '${name}' must be an integer in [1, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function num(name: string, v: unknown, positive: boolean): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
    throw new ConfigError(`rl policy: '${name}' must be a finite number ${positive ? ">" : ">="} 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Fills in defaults and checks ranges; throws a ConfigError on an unknown key or a bad value. */
export function resolvePolicyConfig(config: unknown = {}): ResolvedPolicyConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new ConfigError("rl policy: the config must be an object");
  const c = config as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!(k in POLICY_DEFAULTS)) throw new ConfigError(`rl policy: unknown config key '${k}' (known: ${Object.keys(POLICY_DEFAULTS).join(", ")})`);
  }
  const d = POLICY_DEFAULTS;
  return {
    history: int("history", c.history ?? d.history, POLICY_LIMITS.history),
    hidden: int("hidden", c.hidden ?? d.hidden, POLICY_LIMITS.hidden),
    initLr: num("initLr", c.initLr ?? d.initLr, false),
    initStd: num("initStd", c.initStd ?? d.initStd, true),
  };
}

/** Where each tensor of phi lies. */
export interface PolicyShape {
  readonly cfg: ResolvedPolicyConfig;
  /** Features per coordinate (3H). */
  readonly F: number;
  readonly entries: readonly PhiEntry[];
  readonly size: number;
  readonly oW1: number;
  readonly oB1: number;
  readonly oW2: number;
  readonly oLin: number;
  readonly oB2: number;
  readonly oLogStd: number;
}

export function policyShape(config: unknown = {}): PolicyShape {
  const cfg = resolvePolicyConfig(config);
  const F = featureCount(cfg.history);
  const Hd = cfg.hidden;
  const entries: PhiEntry[] = [
    { name: "w1", shape: [F, Hd] },
    { name: "b1", shape: [Hd] },
    { name: "w2", shape: [Hd] },
    { name: "lin", shape: [F] },
    { name: "b2", shape: [1] },
    { name: "logStd", shape: [1] },
  ];
  const oB1 = F * Hd;
  const oW2 = oB1 + Hd;
  const oLin = oW2 + Hd;
  const oB2 = oLin + F;
  return { cfg, F, entries, size: oB2 + 2, oW1: 0, oB1, oW2, oLin, oB2, oLogStd: oB2 + 1 };
}

/** Fresh phi: W1 ~ N(0, 1/F), w2 ~ N(0, 0.01^2), the linear path gradient descent at initLr. */
export function initPolicyPhi(shape: PolicyShape, key: Key): Float32Array {
  const [k1, k2] = split(key, 2) as [Key, Key];
  const { F, cfg } = shape;
  const phi = new Float32Array(shape.size);
  phi.set(normal(k1, F * cfg.hidden, 1 / Math.sqrt(F)), shape.oW1);
  phi.set(normal(k2, cfg.hidden, 0.01), shape.oW2);
  phi[shape.oLin] = -cfg.initLr; // feature 0 is the newest gradient
  phi[shape.oLogStd] = Math.log(cfg.initStd);
  return phi;
}

/** The step's standard deviation under phi. */
export const policyStd = (shape: PolicyShape, phi: ArrayLike<number>): number => Math.exp(phi[shape.oLogStd]!);

/**
 * The mean step for the features s[off .. off + F); `hidden` (length `hidden`), when given,
 * receives the tanh activations for a backward pass.
 */
export function policyMean(shape: PolicyShape, phi: ArrayLike<number>, s: ArrayLike<number>, off = 0, hidden?: Float64Array): number {
  const { F, oW1, oB1, oW2, oLin, oB2 } = shape;
  const Hd = shape.cfg.hidden;
  let mu = phi[oB2]!;
  for (let j = 0; j < F; j++) mu += phi[oLin + j]! * s[off + j]!;
  for (let k = 0; k < Hd; k++) {
    let a = phi[oB1 + k]!;
    for (let j = 0; j < F; j++) a += phi[oW1 + j * Hd + k]! * s[off + j]!;
    const h = Math.tanh(a);
    if (hidden) hidden[k] = h;
    mu += phi[oW2 + k]! * h;
  }
  return mu;
}

/** Adds dmu * d mu / d phi into `dphi` (features s at `off`; `hidden` from `policyMean`). */
export function policyMeanBackward(
  shape: PolicyShape,
  phi: ArrayLike<number>,
  s: ArrayLike<number>,
  off: number,
  hidden: Float64Array,
  dmu: number,
  dphi: Float64Array,
): void {
  const { F, oW1, oB1, oW2, oLin, oB2 } = shape;
  const Hd = shape.cfg.hidden;
  dphi[oB2] = dphi[oB2]! + dmu;
  for (let j = 0; j < F; j++) dphi[oLin + j] = dphi[oLin + j]! + dmu * s[off + j]!;
  for (let k = 0; k < Hd; k++) {
    const h = hidden[k]!;
    dphi[oW2 + k] = dphi[oW2 + k]! + dmu * h;
    const da = dmu * phi[oW2 + k]! * (1 - h * h);
    if (da === 0) continue;
    dphi[oB1 + k] = dphi[oB1 + k]! + da;
    for (let j = 0; j < F; j++) dphi[oW1 + j * Hd + k] = dphi[oW1 + j * Hd + k]! + da * s[off + j]!;
  }
}

/** log N(a; mu(s), std^2) for one coordinate's features and step. */
export function policyLogProb(shape: PolicyShape, phi: ArrayLike<number>, s: ArrayLike<number>, off: number, a: number): number {
  const mu = policyMean(shape, phi, s, off);
  const logStd = phi[shape.oLogStd]!;
  const z = (a - mu) / Math.exp(logStd);
  return -0.5 * z * z - logStd - 0.5 * Math.log(2 * Math.PI);
}

/**
 * Adds weight * d log N(a; mu(s), std^2) / d phi into `dphi`: d/dmu = (a - mu) / std^2,
 * d/dlogStd = z^2 - 1. `hidden` is scratch of length `hidden`.
 */
export function policyLogProbGrad(
  shape: PolicyShape,
  phi: ArrayLike<number>,
  s: ArrayLike<number>,
  off: number,
  a: number,
  weight: number,
  dphi: Float64Array,
  hidden: Float64Array,
): void {
  const mu = policyMean(shape, phi, s, off, hidden);
  const std = Math.exp(phi[shape.oLogStd]!);
  const z = (a - mu) / std;
  policyMeanBackward(shape, phi, s, off, hidden, (weight * z) / std, dphi);
  dphi[shape.oLogStd] = dphi[shape.oLogStd]! + weight * (z * z - 1);
}

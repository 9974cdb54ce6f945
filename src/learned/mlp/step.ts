/**
 * One step of the per-coordinate MLP optimizer (learned_optimization's small_fc_lopt, Metz et
 * al. 2022, section 3), shared by the transform (evaluation) and the differentiable step
 * (meta-training), so both compute the same bits:
 *
 *   update the state (momenta, ...);   x = features;   (d, a) = MLP(x);
 *   theta_{t+1} = theta_t - d * exp(a * expMult) * stepMult.
 *
 * The features are the config's set (`featureMap`: `basic` in features.ts, `adafac` in
 * features_adafac.ts); the MLP runs on an engine (engine.ts: the float64 reference or the
 * WebAssembly kernel). The new theta is computed in float64 and rounded to float32 once (as the
 * LSTM's step is).
 */
import type { ParamEntry } from "../../core/layout.ts";
import type { StepContext } from "../contract.ts";
import type { ResolvedMlpOptimizerConfig } from "./config.ts";
import { normalisedFeatures, updateMomenta } from "./features.ts";
import { adafacColumns, adafacFeatures } from "./features_adafac.ts";
import type { MlpEngine } from "./engine.ts";

/** A feature set over one layout: its columns, its state, and the pass that makes them. */
export interface MlpFeatureMap {
  /** Columns normalised per tensor (the first of each row). */
  readonly F: number;
  /** Time columns after them, the same in every row. */
  readonly T: number;
  /** Floats in the flat state. */
  readonly stateSize: number;
  /** Whether the backward can give dL/dgrad (second order). */
  readonly secondOrder: boolean;
  /** Updates `state` in place; writes F + T columns of n into `x` (column k at k * n) and the scales into `s`. */
  compute(theta: Float32Array, grad: Float32Array, state: Float32Array, ctx: StepContext, x: Float64Array, s: Float64Array): void;
}

/** The normalised columns F and the time columns T of `cfg`'s features. */
export function featureColumns(cfg: ResolvedMlpOptimizerConfig): { F: number; T: number } {
  return cfg.features === "adafac" ? adafacColumns(cfg) : { F: 2 + cfg.decays.length, T: 0 };
}

/** The feature set `cfg.features` over `entries` (n coordinates). */
export function featureMap(cfg: ResolvedMlpOptimizerConfig, entries: readonly ParamEntry[], n: number): MlpFeatureMap {
  if (cfg.features === "adafac") return { ...adafacFeatures(cfg, entries, n), secondOrder: false };
  const D = cfg.decays.length;
  return {
    F: 2 + D,
    T: 0,
    stateSize: n * D,
    secondOrder: true,
    compute(theta, grad, m, _ctx, x, s) {
      updateMomenta(m, grad, cfg.decays);
      normalisedFeatures(theta, grad, m, D, entries, x, s);
    },
  };
}

/** What a step computes besides theta_{t+1}: what the backward needs (a tape slot). */
export interface MlpStepBuffers {
  /** Features, F + T columns of n (column-major: feature k of coordinate i at k * n + i). */
  readonly x: Float64Array;
  /** Normalisation scales, tensors * F. */
  readonly s: Float64Array;
  /** MLP outputs (d, a) per coordinate, n * 2. */
  readonly out: Float64Array;
}

/** Buffers for a step over `n` coordinates in `tensors` tensors. */
export function stepBuffers(n: number, tensors: number, fm: MlpFeatureMap): MlpStepBuffers {
  return { x: new Float64Array(n * (fm.F + fm.T)), s: new Float64Array(tensors * fm.F), out: new Float64Array(n * 2) };
}

/**
 * theta_{t+1} as a new array. Updates `state` in place and fills `buf`; the engine records
 * its forward under tape slot `slot` (-1: none); `theta` and `grad` are not modified.
 */
export function mlpForwardStep(
  engine: MlpEngine,
  fm: MlpFeatureMap,
  cfg: ResolvedMlpOptimizerConfig,
  theta: Float32Array,
  grad: Float32Array,
  state: Float32Array,
  ctx: StepContext,
  buf: MlpStepBuffers,
  slot: number,
): Float32Array {
  const n = theta.length;
  fm.compute(theta, grad, state, ctx, buf.x, buf.s);
  engine.forward(buf.x, n, buf.out, slot);
  const { stepMult, expMult } = cfg;
  const out = buf.out;
  const next = new Float32Array(n);
  for (let i = 0; i < n; i++) next[i] = theta[i]! - out[2 * i]! * Math.exp(out[2 * i + 1]! * expMult) * stepMult;
  return next;
}

/**
 * One step of the per-coordinate MLP optimizer (learned_optimization's small_fc_lopt, Metz et
 * al. 2022, section 3), shared by the transform (evaluation) and the differentiable step
 * (meta-training), so both compute the same bits:
 *
 *   m_b <- b m_b + (1 - b) g;   x = normalised [p, g, m];   (d, a) = MLP(x);
 *   theta_{t+1} = theta_t - d * exp(a * expMult) * stepMult.
 *
 * The new theta is computed in float64 and rounded to float32 once (as the LSTM's step is).
 */
import type { ParamEntry } from "../../core/layout.ts";
import type { ResolvedMlpOptimizerConfig } from "./config.ts";
import { normalisedFeatures, updateMomenta } from "./features.ts";
import type { MlpNet } from "./network.ts";

/** What a step computes besides theta_{t+1}: what the backward needs (a tape slot). */
export interface MlpStepBuffers {
  /** Normalised features, n * F. */
  readonly x: Float64Array;
  /** Normalisation scales, tensors * F. */
  readonly s: Float64Array;
  /** MLP outputs (d, a) per coordinate, n * 2. */
  readonly out: Float64Array;
  /** Post-ReLU activations of each hidden layer (n * hidden each), or null when not kept. */
  readonly acts: Float64Array[] | null;
}

/** Buffers for a step over `n` coordinates in `tensors` tensors; `withActs` keeps activations. */
export function stepBuffers(n: number, tensors: number, F: number, hidden: number, hiddenLayers: number, withActs: boolean): MlpStepBuffers {
  return {
    x: new Float64Array(n * F),
    s: new Float64Array(tensors * F),
    out: new Float64Array(n * 2),
    acts: withActs ? Array.from({ length: hiddenLayers }, () => new Float64Array(n * hidden)) : null,
  };
}

/**
 * theta_{t+1} as a new array. Updates the momenta `m` (n * D, coordinate-major) in place and
 * fills `buf`; `theta` and `grad` are not modified.
 */
export function mlpForwardStep(
  net: MlpNet,
  cfg: ResolvedMlpOptimizerConfig,
  entries: readonly ParamEntry[],
  theta: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  buf: MlpStepBuffers,
): Float32Array {
  const n = theta.length;
  updateMomenta(m, grad, cfg.decays);
  normalisedFeatures(theta, grad, m, cfg.decays.length, entries, buf.x, buf.s);
  net.forward(buf.x, n, buf.out, buf.acts);
  const { stepMult, expMult } = cfg;
  const out = buf.out;
  const next = new Float32Array(n);
  for (let i = 0; i < n; i++) next[i] = theta[i]! - out[2 * i]! * Math.exp(out[2 * i + 1]! * expMult) * stepMult;
  return next;
}

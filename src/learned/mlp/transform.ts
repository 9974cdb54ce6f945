/**
 * The gradient transformation a trained per-coordinate MLP optimizer becomes (`optFn`;
 * small_fc_lopt of Metz et al. 2022, section 3), on the hand-designed optimizers' pure
 * `init`/`update` contract.
 *
 * State: `{m: Float32Array}`, the momenta, n * D floats, coordinate-major in theta's order
 * (coordinate i, decay b at i * D + b), zeros from `init`: the same array as the
 * differentiable step's `getState`.
 *
 * Bits: the LSTM computes its step in float64 before rounding theta_{t+1} to float32 once,
 * and the same is done here (`mlpForwardStep` is the differentiable step's own forward). The
 * update is then u = fl32(theta_{t+1} - theta_t), so that applyUpdates(theta_t, u) =
 * fl32(theta_t + u) gives back the differentiable step's theta_{t+1}: exactly whenever
 * theta_{t+1} is within a factor 2 of theta_t (Sterbenz: the difference is a float32, the
 * sum exact), which is nearly always; otherwise within half an ulp of |u| plus the sum's
 * rounding, as close as a float32 update added in float32 can come (near a cancellation,
 * theta_t + u for float32 u cannot reach every float32 near theta_{t+1}). Rounding the
 * float64 step on its own (u = fl32(-step)) would round twice and miss by an ulp more often.
 */
import type { ParamLayout } from "../../core/layout.ts";
import type { OptState } from "../../optimizers/transform.ts";
import type { LearnedTransform, StepContext } from "../contract.ts";
import type { ResolvedMlpOptimizerConfig } from "./config.ts";
import type { MlpNet } from "./network.ts";
import { mlpForwardStep, stepBuffers } from "./step.ts";

/**
 * The transform over `net` (which it owns) for `layout`. `update` is pure: it modifies none
 * of its arguments and returns a fresh state, which is small (D floats a coordinate), so
 * `copyState: false` has nothing to save and is served the same way.
 */
export function mlpTransform(net: MlpNet, cfg: ResolvedMlpOptimizerConfig, layout: ParamLayout): LearnedTransform {
  const n = layout.size;
  const D = cfg.decays.length;
  const F = 2 + D;
  const buf = stepBuffers(n, layout.entries.length, F, net.dims[1]!, net.hiddenLayers, false);
  return {
    init(params: Float32Array): OptState {
      layout.check(params);
      return { m: new Float32Array(n * D) };
    },
    update(grads: Float32Array, state: OptState, params: Float32Array, _ctx?: StepContext): [Float32Array, OptState] {
      if (grads.length !== n) throw new Error(`mlp optimizer: ${grads.length} gradients for a layout of ${n} coordinates`);
      if (params.length !== n) throw new Error(`mlp optimizer: ${params.length} parameters for a layout of ${n} coordinates`);
      const m0 = state.m;
      if (!(m0 instanceof Float32Array) || m0.length !== n * D) {
        throw new Error(`mlp optimizer: state.m must be a Float32Array of ${n * D} floats (the momenta, from init)`);
      }
      const m = new Float32Array(m0);
      const next = mlpForwardStep(net, cfg, layout.entries, params, grads, m, buf);
      const updates = new Float32Array(n);
      for (let i = 0; i < n; i++) updates[i] = next[i]! - params[i]!;
      return [updates, { m }];
    },
    dispose() {},
  };
}

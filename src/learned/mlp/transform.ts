/**
 * The gradient transformation a trained per-coordinate MLP optimizer becomes (`optFn`;
 * small_fc_lopt of Metz et al. 2022, section 3), on the hand-designed optimizers' pure
 * `init`/`update` contract.
 *
 * State: with the basic features `{m: Float32Array}`, the momenta, n * D floats,
 * coordinate-major in theta's order (coordinate i, decay b at i * D + b); with the adafac
 * features `{state: Float32Array}` (features_adafac.ts); zeros from `init`: the same array as
 * the differentiable step's `getState`.
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
import type { MlpEngine } from "./engine.ts";
import { featureMap, mlpForwardStep, stepBuffers } from "./step.ts";
import { adafacStateLayout, adafacTime } from "./features_adafac.ts";

/**
 * The transform over `engine` (which it owns) for `layout`. `update` is pure: it modifies none
 * of its arguments and returns a fresh state, which is small (a few floats a coordinate), so
 * `copyState: false` has nothing to save and is served the same way.
 */
export function mlpTransform(engine: MlpEngine, cfg: ResolvedMlpOptimizerConfig, layout: ParamLayout): LearnedTransform {
  const n = layout.size;
  const fm = featureMap(cfg, layout.entries, n);
  // The basic features' state is the momenta alone (`m`); the adafac features' is `state`.
  const field = cfg.features === "basic" ? "m" : "state";
  const what = cfg.features === "basic" ? "the momenta" : "the adafac statistics";
  const buf = stepBuffers(n, layout.entries.length, fm);
  // The adafac features on the kernel: computed inside it and fused with the forward
  // (engine_contract.ts, the same bits); other engines and features take mlpForwardStep.
  let fused: ReturnType<NonNullable<MlpEngine["fusedAdafac"]>> | undefined;
  const sl = adafacStateLayout(layout.entries, n, cfg.decays.length);
  const tau = new Float64Array(fm.T);
  if (cfg.features === "adafac" && engine.fusedAdafac !== undefined) {
    fused = engine.fusedAdafac({
      n,
      decays: cfg.decays,
      rmsDecay: cfg.rmsDecay!,
      factoredDecay: cfg.factoredDecay!,
      tensors: layout.entries.map((e, i) => ({ offset: e.offset, size: e.size, ...sl.slices[i]! })),
      stateSize: fm.stateSize,
    });
  }
  return {
    init(params: Float32Array): OptState {
      layout.check(params);
      return { [field]: new Float32Array(fm.stateSize) };
    },
    update(grads: Float32Array, state: OptState, params: Float32Array, ctx: StepContext = {}): [Float32Array, OptState] {
      if (grads.length !== n) throw new Error(`mlp optimizer: ${grads.length} gradients for a layout of ${n} coordinates`);
      if (params.length !== n) throw new Error(`mlp optimizer: ${params.length} parameters for a layout of ${n} coordinates`);
      const s0 = state[field];
      if (!(s0 instanceof Float32Array) || s0.length !== fm.stateSize) {
        throw new Error(`mlp optimizer: state.${field} must be a Float32Array of ${fm.stateSize} floats (${what}, from init)`);
      }
      const updates = new Float32Array(n);
      if (fused !== undefined) {
        adafacTime(cfg.timescales!, ctx.step ?? s0[sl.tAt]!, ctx.horizon, tau);
        const { out, np, state: s } = fused(params, grads, s0, tau);
        s[sl.tAt] = s[sl.tAt]! + 1;
        fusedUpdates(params, out, np, cfg.expMult, cfg.stepMult, updates);
        return [updates, { [field]: s }];
      }
      const s = new Float32Array(s0);
      const next = mlpForwardStep(engine, fm, cfg, params, grads, s, ctx, buf, -1);
      for (let i = 0; i < n; i++) updates[i] = next[i]! - params[i]!;
      return [updates, { [field]: s }];
    },
    dispose() {
      engine.dispose();
    },
  };
}

/**
 * The updates fl32(theta_{t+1}) - theta from the kernel's outputs `out` (d at i, a at np + i):
 * mlpForwardStep's arithmetic, theta_{t+1} rounded to float32 once.
 */
function fusedUpdates(params: Float32Array, out: Float32Array, np: number, expMult: number, stepMult: number, updates: Float32Array): void {
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    updates[i] = Math.fround(p - out[i]! * Math.exp(out[np + i]! * expMult) * stepMult) - p;
  }
}

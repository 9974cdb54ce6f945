/**
 * The per-coordinate MLP optimizer's differentiable step (the `DifferentiableStep` of
 * src/learned/contract.ts) for truncated backpropagation through time (Andrychowicz et al.
 * 2016, section 2; the optimizer is small_fc_lopt of Metz et al. 2022, section 3).
 *
 * Forward: `mlpForwardStep`, keeping per recorded step the features, their scales and the
 * outputs (float64; the engine keeps the hidden activations). Backward of step t, given
 * A = dL/dtheta_{t+1}:
 *
 *   dL/dd_i = -A_i e_i stepMult,  dL/da_i = -A_i d_i e_i stepMult expMult  (e_i = exp(a_i expMult))
 *   -> the MLP's backward (the engine): dL/dphi and dL/dx  -> the normalisation's backward: dL/dr
 *   -> A_i += dL/dp_i (the parameter feature; the identity path is the caller's)
 *   -> with dGrad (basic features only): dL/dg_i = dL/dr_{g,i} + sum_b (1 - b) M_{b,i},
 *      M_b = dL/dr_{m_b} + C_b, and the carry C_b <- b M_b reaches step t - 1's momenta.
 *
 * The carry lives within one truncation: the momenta at its start are constants (the cut),
 * so `finishBackward`, `resetState` and `setState` zero it.
 */
import type { ParamLayout } from "../../core/layout.ts";
import { L2oError } from "../../core/errors.ts";
import type { DifferentiableStep, StepContext } from "../contract.ts";
import { TapeCursor } from "../tape_cursor.ts";
import type { ResolvedMlpOptimizerConfig } from "./config.ts";
import { normalisationBackward } from "./features.ts";
import type { MlpEngine } from "./engine.ts";
import { featureMap, mlpForwardStep, stepBuffers, type MlpStepBuffers } from "./step.ts";

/** The differentiable step over `engine` (its weights already set) for `layout`, recording up to `capacity` steps. */
export function mlpDifferentiableStep(engine: MlpEngine, cfg: ResolvedMlpOptimizerConfig, layout: ParamLayout, capacity: number): DifferentiableStep {
  const cursor = new TapeCursor("mlp optimizer", capacity);
  const n = layout.size;
  const entries = layout.entries;
  const fm = featureMap(cfg, entries, n);
  const decays = cfg.decays;
  const D = decays.length;
  const F = fm.F;
  const { stepMult, expMult } = cfg;
  const state = new Float32Array(fm.stateSize);
  // Tape slots, made when first recorded into and reused by later truncations.
  const tape: MlpStepBuffers[] = [];
  const scratch = stepBuffers(n, entries.length, fm);
  const acc = new Float64Array(engine.phiSize);
  const carry = new Float64Array(n * D);
  const dOut = new Float64Array(n * 2);
  const dx = new Float64Array(n * (F + fm.T));

  const clearTape = (): void => {
    cursor.reset();
    acc.fill(0);
    carry.fill(0);
  };

  return {
    n,
    phiSize: engine.phiSize,
    capacity,
    get recorded() {
      return cursor.recorded;
    },
    setPhi: (phi) => engine.setPhi(phi),
    resetState() {
      clearTape();
      state.fill(0);
    },
    getState: () => state.slice(),
    setState(s) {
      cursor.checkLength("the state", s, fm.stateSize);
      clearTape();
      state.set(s);
    },
    step(theta: Float32Array, grad: Float32Array, ctx: StepContext, record: false | "phi" | "inputs"): Float32Array {
      cursor.checkLength("theta", theta, n);
      cursor.checkLength("the gradient", grad, n);
      if (record === false) return mlpForwardStep(engine, fm, cfg, theta, grad, state, ctx, scratch, -1);
      if (record === "inputs" && !fm.secondOrder) {
        throw new L2oError(`mlp optimizer: second order (dL/dgrad) needs features 'basic'; features '${cfg.features}' train first order only`);
      }
      const pos = cursor.recordSlot(record);
      const slot = (tape[pos] ??= stepBuffers(n, entries.length, fm));
      const next = mlpForwardStep(engine, fm, cfg, theta, grad, state, ctx, slot, pos);
      cursor.stepRecorded();
      return next;
    },
    backward(adjoint: Float64Array, dGrad?: Float32Array): void {
      const pos = cursor.backSlot(adjoint, n, dGrad);
      const slot = tape[pos]!;
      const out = slot.out;
      for (let i = 0; i < n; i++) {
        const e = Math.exp(out[2 * i + 1]! * expMult) * stepMult;
        dOut[2 * i] = -adjoint[i]! * e;
        dOut[2 * i + 1] = -adjoint[i]! * out[2 * i]! * e * expMult;
      }
      // dL/dx: the parameter's column, and with dGrad the gradient's and the momenta's.
      const columns = dGrad === undefined ? 1 : F;
      engine.backward(pos, slot.x, n, dOut, acc, dx, columns);
      normalisationBackward(dx, slot.x, slot.s, F, entries, n, columns);
      for (let i = 0; i < n; i++) adjoint[i] = adjoint[i]! + dx[i]!;
      if (dGrad === undefined) return;
      for (let i = 0; i < n; i++) {
        let g = dx[n + i]!;
        for (let b = 0; b < D; b++) {
          const total = dx[(2 + b) * n + i]! + carry[i * D + b]!;
          g += (1 - decays[b]!) * total;
          carry[i * D + b] = decays[b]! * total;
        }
        dGrad[i] = g;
      }
    },
    finishBackward(dphi: Float32Array): void {
      cursor.checkLength("dphi", dphi, engine.phiSize);
      for (let i = 0; i < acc.length; i++) dphi[i] = dphi[i]! + acc[i]!;
      clearTape();
    },
    dispose() {
      tape.length = 0;
      engine.dispose();
    },
  };
}

/**
 * The gradient transformation a trained hierarchical RNN optimizer becomes (`optFn`;
 * Wichrowska et al. 2017), on the hand-designed optimizers' pure `init`/`update` contract.
 *
 * State, named: `h` (n * P, the per-parameter GRU states, coordinate-major), `tensor`
 * (tensors * T), `global` (Gl), `eta` (n, log learning rates), `m` and `v` (n * S, momenta
 * and their mean squares), and with look-ahead `o` (n, the parameters minus the point where
 * the next gradient is evaluated). Concatenated in that order they are the differentiable
 * step's `getState`.
 *
 * `update` computes the next point in float64 as the differentiable step does (the same
 * function), and returns u = fl32(x' - x), so that applyUpdates gives x' (exactly whenever x'
 * is within a factor 2 of x; see src/learned/mlp/transform.ts). With look-ahead, x' is where
 * the next gradient is to be evaluated, and `paramsAt(x', state)` = x' + o gives the
 * parameters the optimizer stands at (evaluation reports the loss there).
 */
import type { ParamLayout } from "../../core/layout.ts";
import type { OptState } from "../../optimizers/transform.ts";
import type { LearnedTransform, StepContext } from "../contract.ts";
import type { ResolvedHrnnOptimizerConfig } from "./config.ts";
import { tensorIndex } from "./differentiable.ts";
import { hrnnForward, hrnnStateLayout, hrnnTape, initialState, type HrnnStateLayout, type ParamGru } from "./step.ts";
import type { HrnnPhiLayout } from "./weights.ts";

/** The state's named parts and where each lies in the flat state. */
function parts(sl: HrnnStateLayout, lookAhead: boolean): [string, number, number][] {
  const p: [string, number, number][] = [
    ["h", sl.h, sl.tensor],
    ["tensor", sl.tensor, sl.global],
    ["global", sl.global, sl.eta],
    ["eta", sl.eta, sl.m],
    ["m", sl.m, sl.v],
    ["v", sl.v, sl.o],
  ];
  if (lookAhead) p.push(["o", sl.o, sl.size]);
  return p;
}

export function hrnnTransform(
  cfg: ResolvedHrnnOptimizerConfig, lay: HrnnPhiLayout, phi: Float32Array, layout: ParamLayout, paramGru: ParamGru | null,
): LearnedTransform {
  const n = layout.size;
  const entries = layout.entries;
  const sl = hrnnStateLayout(cfg, n, entries.length);
  const named = parts(sl, cfg.lookAhead);
  const w = Float64Array.from(phi);
  const gi = tensorIndex(layout);
  const groupOf = (i: number): number => gi[i]!;
  const tape = hrnnTape(cfg, lay, n, entries.length);
  const toRecord = (flat: Float32Array): OptState => Object.fromEntries(named.map(([k, a, b]) => [k, flat.subarray(a, b)]));
  const toFlat = (state: OptState): Float32Array => {
    const flat = new Float32Array(sl.size);
    for (const [k, a, b] of named) {
      const v = state[k];
      if (!(v instanceof Float32Array) || v.length !== b - a) {
        throw new Error(`hrnn optimizer: state.${k} must be a Float32Array of ${b - a} floats (from init)`);
      }
      flat.set(v, a);
    }
    return flat;
  };
  return {
    init(params: Float32Array): OptState {
      layout.check(params);
      return toRecord(initialState(cfg, sl, n));
    },
    update(grads: Float32Array, state: OptState, params: Float32Array, _ctx?: StepContext): [Float32Array, OptState] {
      if (grads.length !== n) throw new Error(`hrnn optimizer: ${grads.length} gradients for a layout of ${n} coordinates`);
      if (params.length !== n) throw new Error(`hrnn optimizer: ${params.length} parameters for a layout of ${n} coordinates`);
      const flat = toFlat(state);
      const next = hrnnForward(cfg, lay, w, entries, groupOf, params, grads, flat, tape, paramGru);
      const updates = new Float32Array(n);
      for (let i = 0; i < n; i++) updates[i] = next[i]! - params[i]!;
      return [updates, toRecord(flat)];
    },
    ...(cfg.lookAhead
      ? {
          paramsAt(point: Float32Array, state: OptState): Float32Array {
            const o = state.o;
            if (!(o instanceof Float32Array) || o.length !== n) throw new Error(`hrnn optimizer: state.o must be a Float32Array of ${n} floats (from init)`);
            const out = new Float32Array(n);
            for (let i = 0; i < n; i++) out[i] = point[i]! + o[i]!;
            return out;
          },
        }
      : {}),
    dispose() {},
  };
}

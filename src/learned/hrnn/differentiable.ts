/**
 * The hierarchical RNN optimizer's differentiable step (the `DifferentiableStep` of
 * src/learned/contract.ts) for truncated backpropagation through time: `hrnnForward` keeping a
 * tape per recorded step (float64, about n * (2 F + 5 P + 4 S + 6) numbers), and
 * `hrnnBackward` carrying the adjoints of the recurrent state (the three RNN states, the log
 * learning rates, the look-ahead offset; for dL/dgrad the momenta and mean squares) from step
 * to step within a truncation. The state at a truncation's start is a constant (the cut), so
 * `finishBackward`, `resetState` and `setState` zero the carries. The per-parameter GRU's
 * forward and backward run on the WebAssembly kernel where `kernels` gives one (remade at each
 * `setPhi`), its float32 gates kept in the float64 tape.
 *
 * With look-ahead, the `theta` this step takes and returns is the point where the task's
 * gradient is evaluated (x in ./step.ts); the parameters themselves are x + o, o in the state.
 */
import type { ParamLayout } from "../../core/layout.ts";
import type { DifferentiableStep, StepContext } from "../contract.ts";
import { TapeCursor } from "../tape_cursor.ts";
import { clearCarries, hrnnBackward, hrnnCarries, type ParamGruBackward } from "./backward.ts";
import type { ResolvedHrnnOptimizerConfig } from "./config.ts";
import { hrnnForward, hrnnStateLayout, hrnnTape, initialState, type HrnnTape, type ParamGru } from "./step.ts";
import type { HrnnPhiLayout } from "./weights.ts";

/** Coordinate i's tensor (layout entry index), for every coordinate. */
export function tensorIndex(layout: ParamLayout): Int32Array {
  const g = new Int32Array(layout.size);
  layout.entries.forEach((e, ei) => g.fill(ei, e.offset, e.offset + e.size));
  return g;
}

/** The per-parameter GRU's forward and backward kernels for weights phi (null: the TypeScript reference). */
export type ParamGruKernels = (phi: Float32Array) => { readonly forward: ParamGru; readonly backward: ParamGruBackward } | null;

export function hrnnDifferentiableStep(
  cfg: ResolvedHrnnOptimizerConfig, lay: HrnnPhiLayout, phi: Float32Array, layout: ParamLayout, capacity: number, kernels: ParamGruKernels,
): DifferentiableStep {
  const cursor = new TapeCursor("hrnn optimizer", capacity);
  const n = layout.size;
  const entries = layout.entries;
  const E = entries.length;
  const gi = tensorIndex(layout);
  const groupOf = (i: number): number => gi[i]!;
  const w = new Float64Array(lay.size);
  const sl = hrnnStateLayout(cfg, n, E);
  let state = initialState(cfg, sl, n);
  const tape: HrnnTape[] = [];
  const scratch = hrnnTape(cfg, lay, n, E);
  const acc = new Float64Array(lay.size);
  const carries = hrnnCarries(cfg, n, E);
  const clearTape = (): void => {
    cursor.reset();
    acc.fill(0);
    clearCarries(carries);
  };
  let paramGru: ParamGru | null = null;
  let paramBack: ParamGruBackward | null = null;
  const setPhi = (p: Float32Array): void => {
    cursor.checkLength("phi", p, lay.size);
    w.set(p);
    const k = kernels(p);
    paramGru = k?.forward ?? null;
    paramBack = k?.backward ?? null;
  };
  setPhi(phi);
  return {
    n,
    phiSize: lay.size,
    capacity,
    get recorded() {
      return cursor.recorded;
    },
    setPhi,
    resetState() {
      clearTape();
      state = initialState(cfg, sl, n);
    },
    getState: () => state.slice(),
    setState(s) {
      cursor.checkLength("the state", s, sl.size);
      clearTape();
      state = new Float32Array(s);
    },
    step(theta: Float32Array, grad: Float32Array, _ctx: StepContext, record: false | "phi" | "inputs"): Float32Array {
      cursor.checkLength("theta", theta, n);
      cursor.checkLength("the gradient", grad, n);
      if (record === false) return hrnnForward(cfg, lay, w, entries, groupOf, theta, grad, state, scratch, paramGru);
      const slot = (tape[cursor.recordSlot(record)] ??= hrnnTape(cfg, lay, n, E));
      const next = hrnnForward(cfg, lay, w, entries, groupOf, theta, grad, state, slot, paramGru);
      cursor.stepRecorded();
      return next;
    },
    backward(adjoint: Float64Array, dGrad?: Float32Array): void {
      const slot = tape[cursor.backSlot(adjoint, n, dGrad)]!;
      hrnnBackward(cfg, lay, w, entries, groupOf, slot, adjoint, carries, acc, dGrad, paramBack);
    },
    finishBackward(dphi: Float32Array): void {
      cursor.checkLength("dphi", dphi, lay.size);
      for (let i = 0; i < acc.length; i++) dphi[i] = dphi[i]! + acc[i]!;
      clearTape();
    },
    dispose() {
      tape.length = 0;
    },
  };
}

/**
 * The LSTM optimizer bound to a layout: one engine per separately weighted LSTM (an
 * instance), and the differentiable step that meta-training drives over it: theta_{t+1} =
 * theta_t + outputScale * LSTM(preprocess(grad_t)), backpropagated through the engines'
 * tapes (Andrychowicz et al. 2016, section 2) and, for second order, through the
 * preprocessing to the gradient.
 */
import type { ParamLayout } from "../../core/layout.ts";
import type { LstmShape } from "../../kernels/types.ts";
import type { DifferentiableStep, StepContext } from "../contract.ts";
import { gatherRows, scatterRows } from "../rows.ts";
import { lstmGroupIndices, type ResolvedLstmOptimizerConfig } from "./config.ts";
import type { Preprocessor } from "./preprocess.ts";
import type { LstmEngineFactory, LstmInstance, LstmPart } from "./types.ts";

/** What an instance is made from: the optimizer's resolved parts. */
export interface LstmBlueprint {
  readonly config: ResolvedLstmOptimizerConfig;
  readonly shape: LstmShape;
  readonly preprocess: Preprocessor;
  /** Floats of phi per LSTM, and of recurrent state per coordinate. */
  readonly phiPerLstm: number;
  readonly stateSize: number;
  readonly phiSize: number;
  readonly engineFactory: LstmEngineFactory;
}

/** Engines for `layout` with weights `phi`, able to record `capacity` steps, state zero. */
export function lstmInstance(bp: LstmBlueprint, phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance {
  const { shape, preprocess: pre, phiPerLstm: one, phiSize: total, stateSize: S } = bp;
  if (phi.length !== total) throw new Error(`lstm optimizer: phi has ${phi.length} floats, expected ${total}`);
  const P = pre.stateSize;
  const n = layout.size;
  const parts: LstmPart[] = [];
  try {
    lstmGroupIndices(layout, bp.config.groups).forEach((idx, k) => {
      if (idx.length === 0) return;
      const engine = bp.engineFactory({ shape, n: idx.length, capacity });
      parts.push({ engine, indices: idx.length === n ? null : idx, phiOffset: k * one, phiLength: one, preState: new Float32Array(idx.length * P) });
      engine.setPhi(phi.subarray(k * one, (k + 1) * one));
    });
  } catch (e) {
    for (const part of parts) part.engine.dispose();
    throw e;
  }
  return {
    preprocess: pre,
    outputScale: bp.config.outputScale,
    n,
    phiSize: total,
    stateSize: S,
    parts,
    setPhi(p) {
      if (p.length !== total) throw new Error(`lstm optimizer: phi has ${p.length} floats, expected ${total}`);
      for (const part of parts) part.engine.setPhi(p.subarray(part.phiOffset, part.phiOffset + part.phiLength));
    },
    resetState() {
      for (const part of parts) {
        part.engine.resetState();
        part.preState.fill(0);
      }
    },
    getState() {
      const out = new Float32Array(n * (S + P));
      for (const part of parts) {
        scatterRows(part.engine.getState(), part.indices, S, out);
        if (P > 0) scatterRows(part.preState, part.indices, P, out.subarray(n * S));
      }
      return out;
    },
    setState(state) {
      if (state.length !== n * (S + P)) throw new Error(`lstm optimizer: state has ${state.length} floats, expected ${n * (S + P)}`);
      for (const part of parts) {
        part.engine.setState(gatherRows(state.subarray(0, n * S), part.indices, S));
        if (P > 0) part.preState.set(gatherRows(state.subarray(n * S), part.indices, P));
      }
    },
    dispose() {
      for (const part of parts) part.engine.dispose();
    },
  };
}

/**
 * The differentiable step over `inst`. With second order (`record: "inputs"`) it keeps each
 * step's gradient and, for a stateful preprocessing, the preprocessing's state after the step,
 * so that `backward` can carry dL/dx back through the preprocessing (and its moving
 * averages, within the truncation) to dL/dgrad.
 */
export function lstmDifferentiableStep(inst: LstmInstance): DifferentiableStep {
  const { n, parts, preprocess: pre, outputScale: scale } = inst;
  const I = pre.inputs;
  const P = pre.stateSize;
  for (const p of parts) {
    if (p.engine.shape.inputs !== I) throw new Error(`lstm optimizer: engine takes ${p.engine.shape.inputs} inputs, preprocessing makes ${I}`);
  }
  const capacity = Math.min(...parts.map((p) => p.engine.capacity));
  const covered = parts.reduce((a, p) => a + p.engine.n, 0) === n;
  const bufs = parts.map((p) => ({
    x: new Float32Array(p.engine.n * I),
    out: new Float32Array(p.engine.n),
    dx: null as Float32Array | null,
    preStates: [] as Float32Array[],
    carry: new Float32Array(p.engine.n * pre.carrySize),
  }));
  const dOut = new Float32Array(n);
  // With second order: each recorded step's gradient, and the position of the step that the
  // next `backward` takes.
  const inGrads: Float32Array[] = [];
  let mode: false | "phi" | "inputs" = false;
  let pos = 0;
  const clearTape = (): void => {
    inGrads.length = 0;
    pos = 0;
    mode = false;
    for (const b of bufs) {
      b.preStates.length = 0;
      b.carry.fill(0);
    }
  };
  return {
    n,
    phiSize: inst.phiSize,
    capacity,
    get recorded() {
      return parts[0]?.engine.recorded ?? 0;
    },
    setPhi: (phi) => inst.setPhi(phi),
    resetState() {
      clearTape();
      inst.resetState();
    },
    getState: () => inst.getState(),
    setState(state) {
      clearTape();
      inst.setState(state);
    },
    step(theta: Float32Array, grad: Float32Array, _ctx: StepContext, record: false | "phi" | "inputs"): Float32Array {
      if (record !== false) {
        if (mode !== false && mode !== record) throw new Error(`lstm optimizer: a truncation records either "phi" or "inputs", not both`);
        mode = record;
      }
      const next = new Float32Array(theta);
      parts.forEach((p, k) => {
        const b = bufs[k]!;
        pre.apply(gatherRows(grad, p.indices, 1), b.x, p.preState);
        p.engine.forward(b.x, b.out, record !== false);
        const idx = p.indices;
        if (idx === null) for (let i = 0; i < next.length; i++) next[i] = theta[i]! + scale * b.out[i]!;
        else for (let i = 0; i < idx.length; i++) next[idx[i]!] = theta[idx[i]!]! + scale * b.out[i]!;
      });
      if (record === "inputs") {
        inGrads.push(grad);
        if (P > 0) parts.forEach((p, k) => bufs[k]!.preStates.push(p.preState.slice()));
      }
      if (record !== false) pos++;
      return next;
    },
    backward(adjoint: Float64Array, dGrad?: Float32Array): void {
      if (pos === 0) throw new Error("lstm optimizer: backward without a recorded step");
      const t = --pos;
      const wantInputs = dGrad !== undefined;
      if (wantInputs && mode !== "inputs") throw new Error(`lstm optimizer: dL/dgrad needs the steps recorded with "inputs"`);
      if (wantInputs && !covered) dGrad.fill(0);
      for (let i = 0; i < n; i++) dOut[i] = scale * adjoint[i]!;
      parts.forEach((p, k) => {
        const b = bufs[k]!;
        if (wantInputs) b.dx ??= new Float32Array(p.engine.n * I);
        p.engine.backwardStep(gatherRows(dOut, p.indices, 1), wantInputs ? b.dx! : undefined);
        if (wantInputs) {
          const st = P > 0 ? { state: b.preStates[t]!, carry: b.carry } : undefined;
          scatterRows(pre.vjp(gatherRows(inGrads[t]!, p.indices, 1), b.dx!, undefined, st), p.indices, 1, dGrad);
        }
      });
    },
    finishBackward(dphi: Float32Array): void {
      for (const p of parts) p.engine.finishBackward(dphi.subarray(p.phiOffset, p.phiOffset + p.phiLength));
      clearTape();
    },
    dispose: () => inst.dispose(),
  };
}

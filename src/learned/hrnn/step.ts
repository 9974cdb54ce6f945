/**
 * One step of the hierarchical RNN optimizer (Wichrowska et al. 2017, section 3), shared by
 * the transform (evaluation) and the differentiable step (meta-training), so both compute the
 * same bits. For each coordinate i of tensor e, with gradient g evaluated at the point x:
 *
 *   m_b <- b m_b + (1 - b) g;  v_b <- rho v_b + (1 - rho) m_b^2          (b over the decays)
 *   inputs: m_b / sqrt(v_b + 1e-16); log(v_b + 1e-16) minus its mean over b; eta_i - mean_e eta
 *   h_i <- GRU_param(inputs, h_i; bias from the tensor state of e and the global state)
 *   u_e <- GRU_tensor(mean_{i in e} h_i, u_e; bias from the global state)
 *   w   <- GRU_global(mean_e u_e, w)
 *   d_i = h_i . direction + sum_b shortcut_b m_b / sqrt(v_b);  dhat = d / rms_e(d)
 *   l_i = clip(eta_i + h_i . lr + lrBias, -33, maxLogLr);  eta_i <- k eta_i + (1 - k) l_i  (k = sigmoid(lrMomentum))
 *   theta' = theta - exp(l_i + stepOffset) dhat_i
 *
 * The upper levels' new states reach the level below as biases at the next step. Without
 * look-ahead x = theta and x' = theta'. With it (the paper's attention), the state keeps the
 * offset o = theta - x, and the next gradient is evaluated at x' = theta - exp(l_i) ahat_i
 * (ahat: the normalised readout h_i . attention), so o' = exp(l_i) ahat_i - step.
 * Arithmetic in float64; the state and x' are stored in float32.
 */
import type { ParamEntry } from "../../core/layout.ts";
import type { ResolvedHrnnOptimizerConfig } from "./config.ts";
import { gruForward, gruTape, type GruTape } from "./gru.ts";
import type { HrnnPhiLayout } from "./weights.ts";

/** Below this, log(v + eps) and 1 / sqrt(v + eps) stay finite for a coordinate that saw only zeros. */
export const RMS_EPS = 1e-16;
/** The log learning rate's lower clip (the paper's code's: about log of float32's smallest normal). */
export const MIN_LOG_LR = -33;

/** Offsets of the state's parts in its flat Float32Array (what `getState` returns). */
export interface HrnnStateLayout {
  readonly h: number;
  readonly tensor: number;
  readonly global: number;
  readonly eta: number;
  readonly m: number;
  readonly v: number;
  /** The look-ahead offset theta - x (present with look-ahead). */
  readonly o: number;
  readonly size: number;
}

export function hrnnStateLayout(cfg: ResolvedHrnnOptimizerConfig, n: number, tensors: number): HrnnStateLayout {
  const S = cfg.decays.length;
  const h = 0;
  const tensor = h + n * cfg.paramHidden;
  const global = tensor + tensors * cfg.tensorHidden;
  const eta = global + cfg.globalHidden;
  const m = eta + n;
  const v = m + n * S;
  const o = v + n * S;
  return { h, tensor, global, eta, m, v, o, size: o + (cfg.lookAhead ? n : 0) };
}

/** The state of step 0: every RNN state zero, eta = log(initLr), no momenta, no offset. */
export function initialState(cfg: ResolvedHrnnOptimizerConfig, sl: HrnnStateLayout, n: number): Float32Array {
  const s = new Float32Array(sl.size);
  s.fill(Math.log(cfg.initLr), sl.eta, sl.eta + n);
  return s;
}

/** What a step keeps for its backward (float64); one per recorded step. */
export interface HrnnTape {
  readonly feats: Float64Array;
  /** The momenta and mean squares after this step's update (for dL/dgrad), n * S each. */
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** The state before the step: per-parameter, per-tensor and global RNN states, eta. */
  readonly hPrev: Float64Array;
  readonly tPrev: Float64Array;
  readonly gPrev: Float64Array;
  readonly etaPrev: Float64Array;
  readonly param: GruTape;
  readonly tensor: GruTape;
  readonly global: GruTape;
  /** The GRUs' inputs at the upper levels, and the biases each level gets from above. */
  readonly tIn: Float64Array;
  readonly gIn: Float64Array;
  readonly pBias: Float64Array;
  readonly tBias: Float64Array;
  /** Normalised direction and look-ahead readouts (n), their tensors' rms (tensors), clipped log learning rates (n). */
  readonly dHat: Float64Array;
  readonly dRms: Float64Array;
  readonly aHat: Float64Array;
  readonly aRms: Float64Array;
  readonly l: Float64Array;
  /** Scratch: one row's pre-activations. */
  readonly pre: Float64Array;
}

export function hrnnTape(cfg: ResolvedHrnnOptimizerConfig, lay: HrnnPhiLayout, n: number, E: number): HrnnTape {
  const { paramHidden: P, tensorHidden: T, globalHidden: Gl } = cfg;
  const S = cfg.decays.length;
  const f = (k: number): Float64Array => new Float64Array(k);
  return {
    feats: f(n * lay.features), m: f(n * S), v: f(n * S),
    hPrev: f(n * P), tPrev: f(E * T), gPrev: f(Gl), etaPrev: f(n),
    param: gruTape(n, P), tensor: gruTape(E, T), global: gruTape(1, Gl),
    tIn: f(E * P), gIn: f(T), pBias: f(E * 3 * P), tBias: f(3 * T),
    dHat: f(n), dRms: f(E), aHat: f(cfg.lookAhead ? n : 0), aRms: f(E), l: f(n),
    pre: f(3 * Math.max(P, T, Gl)),
  };
}

/** The per-parameter GRU's forward, replaceable by a kernel (src/kernels/hrnn.ts) that gives the same numbers within float32. */
export type ParamGru = (rows: number, x: Float64Array, hPrev: Float64Array, bias: Float64Array, groupOf: (i: number) => number, tape: GruTape, pre: Float64Array) => void;

/** Normalises `a` (n) per tensor in place by its root mean square; writes each tensor's rms. */
function normalise(a: Float64Array, entries: readonly ParamEntry[], rms: Float64Array): void {
  entries.forEach((e, ei) => {
    let ss = 0;
    for (let i = e.offset; i < e.offset + e.size; i++) ss += a[i]! * a[i]!;
    const r = Math.sqrt(ss / e.size + RMS_EPS);
    rms[ei] = r;
    for (let i = e.offset; i < e.offset + e.size; i++) a[i] = a[i]! / r;
  });
}

/** The step from the point x with its gradient: updates `state` in place, fills `tape`, returns x'. */
export function hrnnForward(
  cfg: ResolvedHrnnOptimizerConfig, lay: HrnnPhiLayout, phi: Float64Array, entries: readonly ParamEntry[],
  groupOf: (i: number) => number, x: Float32Array, grad: Float32Array, state: Float32Array, tape: HrnnTape, paramGru: ParamGru | null,
): Float32Array {
  const n = x.length;
  const E = entries.length;
  const { paramHidden: P, tensorHidden: T, globalHidden: Gl, decays, rmsDecay: rho } = cfg;
  const S = decays.length;
  const F = lay.features;
  const sl = hrnnStateLayout(cfg, n, E);
  const off = lay.off;
  // Features.
  for (let i = 0; i < n; i++) tape.etaPrev[i] = state[sl.eta + i]!;
  const etaMean = new Float64Array(E);
  entries.forEach((e, ei) => {
    let s = 0;
    for (let i = e.offset; i < e.offset + e.size; i++) s += tape.etaPrev[i]!;
    etaMean[ei] = s / e.size;
  });
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    let meanLog = 0;
    for (let b = 0; b < S; b++) {
      const m = decays[b]! * state[sl.m + i * S + b]! + (1 - decays[b]!) * g;
      const m32 = Math.fround(m);
      const v = Math.fround(rho * state[sl.v + i * S + b]! + (1 - rho) * m32 * m32);
      state[sl.m + i * S + b] = m32;
      state[sl.v + i * S + b] = v;
      tape.m[i * S + b] = m32;
      tape.v[i * S + b] = v;
      tape.feats[i * F + b] = m32 / Math.sqrt(v + RMS_EPS);
      const lg = Math.log(v + RMS_EPS);
      tape.feats[i * F + S + b] = lg;
      meanLog += lg / S;
    }
    for (let b = 0; b < S; b++) tape.feats[i * F + S + b] = tape.feats[i * F + S + b]! - meanLog;
    tape.feats[i * F + 2 * S] = tape.etaPrev[i]! - etaMean[groupOf(i)]!;
  }
  // Biases from the levels above (their states before this step).
  for (let k = 0; k < E * T; k++) tape.tPrev[k] = state[sl.tensor + k]!;
  for (let k = 0; k < Gl; k++) tape.gPrev[k] = state[sl.global + k]!;
  for (let k = 0; k < n * P; k++) tape.hPrev[k] = state[sl.h + k]!;
  const fromGlobal = (to: Float64Array, at: number, width: number, w: number): void => {
    for (let k = 0; k < width; k++) to[at + k] = 0;
    for (let j = 0; j < Gl; j++) {
      const v = tape.gPrev[j]!;
      for (let k = 0; k < width; k++) to[at + k] = to[at + k]! + v * phi[w + j * width + k]!;
    }
  };
  for (let e = 0; e < E; e++) {
    fromGlobal(tape.pBias, e * 3 * P, 3 * P, off["param.fromGlobal"]!);
    for (let j = 0; j < T; j++) {
      const v = tape.tPrev[e * T + j]!;
      const w = off["param.fromTensor"]! + j * 3 * P;
      for (let k = 0; k < 3 * P; k++) tape.pBias[e * 3 * P + k] = tape.pBias[e * 3 * P + k]! + v * phi[w + k]!;
    }
  }
  fromGlobal(tape.tBias, 0, 3 * T, off["tensor.fromGlobal"]!);
  // The three levels, bottom up.
  if (paramGru !== null) paramGru(n, tape.feats, tape.hPrev, tape.pBias, groupOf, tape.param, tape.pre);
  else gruForward(phi, lay.param, n, tape.feats, tape.hPrev, tape.pBias, groupOf, tape.param, tape.pre);
  const h = tape.param.h;
  entries.forEach((e, ei) => {
    for (let k = 0; k < P; k++) tape.tIn[ei * P + k] = 0;
    for (let i = e.offset; i < e.offset + e.size; i++) for (let k = 0; k < P; k++) tape.tIn[ei * P + k] = tape.tIn[ei * P + k]! + h[i * P + k]! / e.size;
  });
  gruForward(phi, lay.tensor, E, tape.tIn, tape.tPrev, tape.tBias, () => 0, tape.tensor, tape.pre);
  for (let k = 0; k < T; k++) {
    let s = 0;
    for (let e = 0; e < E; e++) s += tape.tensor.h[e * T + k]!;
    tape.gIn[k] = s / E;
  }
  gruForward(phi, lay.global, 1, tape.gIn, tape.gPrev, null, () => 0, tape.global, tape.pre);
  // Readouts.
  const wd = off["out.direction"]!;
  const wl = off["out.lr"]!;
  const wa = off["out.attention"] ?? -1;
  const sc = off["out.shortcut"]!;
  for (let i = 0; i < n; i++) {
    let d = 0;
    let dl = phi[off["out.lrBias"]!]!;
    let a = 0;
    for (let k = 0; k < P; k++) {
      const hk = h[i * P + k]!;
      d += hk * phi[wd + k]!;
      dl += hk * phi[wl + k]!;
      if (wa >= 0) a += hk * phi[wa + k]!;
    }
    for (let b = 0; b < S; b++) d += phi[sc + b]! * tape.feats[i * F + b]!;
    tape.dHat[i] = d;
    if (wa >= 0) tape.aHat[i] = a;
    tape.l[i] = Math.min(cfg.maxLogLr, Math.max(MIN_LOG_LR, tape.etaPrev[i]! + dl));
  }
  normalise(tape.dHat, entries, tape.dRms);
  if (wa >= 0) normalise(tape.aHat, entries, tape.aRms);
  // The new state and point.
  const k = 1 / (1 + Math.exp(-phi[off["out.lrMomentum"]!]!));
  const stepOffset = phi[off["out.stepOffset"]!]!;
  const next = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = tape.l[i]!;
    state[sl.eta + i] = k * tape.etaPrev[i]! + (1 - k) * l;
    const step = Math.exp(l + stepOffset) * tape.dHat[i]!;
    if (!cfg.lookAhead) {
      next[i] = x[i]! - step;
      continue;
    }
    const theta = x[i]! + state[sl.o + i]!;
    const ahead = Math.exp(l) * tape.aHat[i]!;
    next[i] = theta - ahead;
    state[sl.o + i] = ahead - step;
  }
  state.set(tape.param.h, sl.h);
  state.set(tape.tensor.h, sl.tensor);
  state.set(tape.global.h, sl.global);
  return next;
}

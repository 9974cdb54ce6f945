/**
 * The backward of one hierarchical RNN step (`hrnnForward` in ./step.ts), derived by hand.
 * Given A = dL/dx' and the adjoints of the state the step made (carried from the later steps of
 * the truncation: RNN states, eta, the look-ahead offset o, and for dL/dgrad the momenta and
 * mean squares), it adds dL/dphi, replaces the carries with the adjoints of the state it read,
 * and leaves in A what reaches x through the step (the identity x' = x + ...: A itself).
 *
 *   without look-ahead: x' = x - s            ds = -A
 *   with look-ahead:    x' = x + o - a,  o' = a - s    ds = -C_o,  da = C_o - A,  C_o <- A
 *   s = exp(l + off) dhat, a = exp(l) ahat, l = eta + h.lr + lrBias (the clip passes gradients
 *   straight through, as the paper's code does), eta' = k eta + (1 - k) l
 *   dhat = d / rms_e(d):  dd_i = (ddhat_i - dhat_i mean_e(ddhat dhat)) / rms_e
 *   then the GRUs top down: global, tensor (its input the mean of the new per-parameter
 *   states), per parameter (its bias from the states before the step), the features.
 */
import type { ParamEntry } from "../../core/layout.ts";
import type { ResolvedHrnnOptimizerConfig } from "./config.ts";
import { gruBackward, type GruTape } from "./gru.ts";
import { RMS_EPS, type HrnnTape } from "./step.ts";
import type { HrnnPhiLayout } from "./weights.ts";

/**
 * The per-parameter GRU's backward, replaceable by a kernel (src/kernels/hrnn.ts) that gives
 * the same numbers within float32: adds into `acc` and `dBias`, writes `dx` and `dhPrev`.
 */
export type ParamGruBackward = (
  rows: number, x: Float64Array, hPrev: Float64Array, tape: GruTape, dh: Float64Array, acc: Float64Array,
  dBias: Float64Array, groupOf: (i: number) => number, dx: Float64Array, dhPrev: Float64Array,
) => void;

/** The adjoints carried from step t + 1 to step t within a truncation (zero at its end). */
export interface HrnnCarries {
  readonly h: Float64Array;
  readonly tensor: Float64Array;
  readonly global: Float64Array;
  readonly eta: Float64Array;
  readonly o: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
}

export function hrnnCarries(cfg: ResolvedHrnnOptimizerConfig, n: number, E: number): HrnnCarries {
  const S = cfg.decays.length;
  const f = (k: number): Float64Array => new Float64Array(k);
  return { h: f(n * cfg.paramHidden), tensor: f(E * cfg.tensorHidden), global: f(cfg.globalHidden), eta: f(n), o: f(cfg.lookAhead ? n : 0), m: f(n * S), v: f(n * S) };
}

export function clearCarries(c: HrnnCarries): void {
  for (const a of [c.h, c.tensor, c.global, c.eta, c.o, c.m, c.v]) a.fill(0);
}

/** dL/dx for a normalisation `hat = a / rms_e(a)`, in place: `d` holds dL/dhat on entry. */
function normaliseBackward(d: Float64Array, hat: Float64Array, rms: Float64Array, entries: readonly ParamEntry[]): void {
  entries.forEach((e, ei) => {
    let c = 0;
    for (let i = e.offset; i < e.offset + e.size; i++) c += d[i]! * hat[i]!;
    c /= e.size;
    for (let i = e.offset; i < e.offset + e.size; i++) d[i] = (d[i]! - hat[i]! * c) / rms[ei]!;
  });
}

/** Backpropagates one step (see the file comment); `dGrad`, when given, receives dL/dgrad. */
export function hrnnBackward(
  cfg: ResolvedHrnnOptimizerConfig, lay: HrnnPhiLayout, phi: Float64Array, entries: readonly ParamEntry[], groupOf: (i: number) => number,
  tape: HrnnTape, A: Float64Array, C: HrnnCarries, acc: Float64Array, dGrad: Float32Array | undefined, paramBack: ParamGruBackward | null = null,
): void {
  const n = A.length;
  const E = entries.length;
  const { paramHidden: P, tensorHidden: T, globalHidden: Gl, decays, rmsDecay: rho } = cfg;
  const S = decays.length;
  const F = lay.features;
  const off = lay.off;
  const k = 1 / (1 + Math.exp(-phi[off["out.lrMomentum"]!]!));
  const stepOffset = phi[off["out.stepOffset"]!]!;
  const dD = new Float64Array(n);
  const dA = new Float64Array(cfg.lookAhead ? n : 0);
  const dl = new Float64Array(n);
  const dEta = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const l = tape.l[i]!;
    const el = Math.exp(l + stepOffset);
    let ds: number;
    if (cfg.lookAhead) {
      ds = -C.o[i]!;
      const da = C.o[i]! - A[i]!;
      C.o[i] = A[i]!;
      const ea = Math.exp(l);
      dl[i] = da * ea * tape.aHat[i]!;
      dA[i] = da * ea;
    } else ds = -A[i]!;
    const s = el * tape.dHat[i]!;
    dl[i] = dl[i]! + ds * s + (1 - k) * C.eta[i]!;
    acc[off["out.stepOffset"]!] = acc[off["out.stepOffset"]!]! + ds * s;
    dD[i] = ds * el;
    const ce = C.eta[i]!;
    acc[off["out.lrMomentum"]!] = acc[off["out.lrMomentum"]!]! + ce * (tape.etaPrev[i]! - l) * k * (1 - k);
    dEta[i] = k * ce + dl[i]!;
  }
  normaliseBackward(dD, tape.dHat, tape.dRms, entries);
  if (cfg.lookAhead) normaliseBackward(dA, tape.aHat, tape.aRms, entries);
  // Readouts -> dL/dh' (per parameter), with the carry from the next step.
  const h = tape.param.h;
  const dh = C.h;
  const wd = off["out.direction"]!;
  const wl = off["out.lr"]!;
  const wa = off["out.attention"] ?? -1;
  const sc = off["out.shortcut"]!;
  const dFeats = new Float64Array(n * F);
  for (let i = 0; i < n; i++) {
    acc[off["out.lrBias"]!] = acc[off["out.lrBias"]!]! + dl[i]!;
    for (let q = 0; q < P; q++) {
      const hq = h[i * P + q]!;
      acc[wd + q] = acc[wd + q]! + hq * dD[i]!;
      acc[wl + q] = acc[wl + q]! + hq * dl[i]!;
      let add = phi[wd + q]! * dD[i]! + phi[wl + q]! * dl[i]!;
      if (wa >= 0) {
        acc[wa + q] = acc[wa + q]! + hq * dA[i]!;
        add += phi[wa + q]! * dA[i]!;
      }
      dh[i * P + q] = dh[i * P + q]! + add;
    }
    for (let b = 0; b < S; b++) {
      acc[sc + b] = acc[sc + b]! + tape.feats[i * F + b]! * dD[i]!;
      dFeats[i * F + b] = phi[sc + b]! * dD[i]!;
    }
  }
  // Global GRU, then the tensor GRU (whose new states fed the global input), then the per-parameter one.
  const pre = new Float64Array(3 * Math.max(P, T, Gl));
  const dgPrev = new Float64Array(Gl);
  const dgIn = new Float64Array(T);
  gruBackward(phi, lay.global, 1, tape.gIn, tape.gPrev, tape.global, C.global, acc, null, () => 0, dgIn, dgPrev, pre);
  for (let e = 0; e < E; e++) for (let q = 0; q < T; q++) C.tensor[e * T + q] = C.tensor[e * T + q]! + dgIn[q]! / E;
  const dtPrev = new Float64Array(E * T);
  const dtIn = new Float64Array(E * P);
  const dtBias = new Float64Array(3 * T);
  gruBackward(phi, lay.tensor, E, tape.tIn, tape.tPrev, tape.tensor, C.tensor, acc, dtBias, () => 0, dtIn, dtPrev, pre);
  entries.forEach((e, ei) => {
    for (let i = e.offset; i < e.offset + e.size; i++) for (let q = 0; q < P; q++) dh[i * P + q] = dh[i * P + q]! + dtIn[ei * P + q]! / e.size;
  });
  const dhPrev = new Float64Array(n * P);
  const dpBias = new Float64Array(E * 3 * P);
  const dx = new Float64Array(n * F);
  if (paramBack !== null) paramBack(n, tape.feats, tape.hPrev, tape.param, dh, acc, dpBias, groupOf, dx, dhPrev);
  else gruBackward(phi, lay.param, n, tape.feats, tape.hPrev, tape.param, dh, acc, dpBias, groupOf, dx, dhPrev, pre);
  // The biases' sources: the tensor and global states before the step.
  const toSource = (dBias: Float64Array, at: number, width: number, src: Float64Array, so: number, rows: number, w: number, dSrc: Float64Array, dso: number): void => {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let q = 0; q < width; q++) {
        acc[w + j * width + q] = acc[w + j * width + q]! + src[so + j]! * dBias[at + q]!;
        s += phi[w + j * width + q]! * dBias[at + q]!;
      }
      dSrc[dso + j] = dSrc[dso + j]! + s;
    }
  };
  toSource(dtBias, 0, 3 * T, tape.gPrev, 0, Gl, off["tensor.fromGlobal"]!, dgPrev, 0);
  for (let e = 0; e < E; e++) {
    toSource(dpBias, e * 3 * P, 3 * P, tape.tPrev, e * T, T, off["param.fromTensor"]!, dtPrev, e * T);
    toSource(dpBias, e * 3 * P, 3 * P, tape.gPrev, 0, Gl, off["param.fromGlobal"]!, dgPrev, 0);
  }
  C.h.set(dhPrev);
  C.tensor.set(dtPrev);
  C.global.set(dgPrev);
  // The relative log learning rate feature: eta_i - mean_e eta.
  entries.forEach((e) => {
    let mean = 0;
    for (let i = e.offset; i < e.offset + e.size; i++) mean += dx[i * F + 2 * S]! / e.size;
    for (let i = e.offset; i < e.offset + e.size; i++) dEta[i] = dEta[i]! + dx[i * F + 2 * S]! - mean;
  });
  C.eta.set(dEta);
  if (dGrad === undefined) return;
  // Features -> the momenta and mean squares -> the gradient (and the carries to step t - 1).
  for (let i = 0; i < n; i++) {
    let meanDl = 0;
    for (let b = 0; b < S; b++) meanDl += dx[i * F + S + b]! / S;
    let g = 0;
    for (let b = 0; b < S; b++) {
      const j = i * S + b;
      const m = tape.m[j]!;
      const q = tape.v[j]! + RMS_EPS;
      const dScaled = dx[i * F + b]! + dFeats[i * F + b]!;
      const dv = -0.5 * dScaled * m / (q * Math.sqrt(q)) + (dx[i * F + S + b]! - meanDl) / q + C.v[j]!;
      const dm = dScaled / Math.sqrt(q) + dv * 2 * (1 - rho) * m + C.m[j]!;
      C.v[j] = rho * dv;
      C.m[j] = decays[b]! * dm;
      g += (1 - decays[b]!) * dm;
    }
    dGrad[i] = g;
  }
}

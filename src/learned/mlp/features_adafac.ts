/**
 * The `adafac` inputs of the per-coordinate MLP optimizer, after learned_optimization's
 * adafac_mlp_lopt (Metz et al. 2022, section 3): besides small_fc_lopt's parameter, gradient
 * and momenta, a second-moment accumulator and adafactor's factored row and column statistics
 * (Shazeer and Stern 2018), the gradient and momenta normalised by each, and features of time.
 *
 * State, one flat Float32Array (what the differentiable step's `getState` returns and the
 * transform keeps as `{state}`): momenta m (n * D, coordinate i, decay b at i * D + b), the
 * accumulator v (n), the factored accumulators (per tensor in layout order: a tensor of shape
 * [..., C] with two or more dimensions has R = size / C row and C column accumulators; any other
 * tensor has one per coordinate), then the count of steps taken. Each step first updates them:
 *
 *   m_b <- b m_b + (1 - b) g;   v <- rho v + (1 - rho) g^2;
 *   row_r <- f row_r + (1 - f) mean_c (g_rc^2 + 1e-30);   col_c <- f col_c + (1 - f) mean_r (...);
 *   vhat_rc = row_r col_c / mean_r row_r   (a tensor without rows: vhat <- f vhat + (1 - f) g^2).
 *
 * Then per coordinate, with rv = 1/sqrt(v + EPS) and fv = 1/sqrt(vhat + EPS), the F = 7 + 3D
 * columns [p, g, m_0..m_{D-1}, g rv, m_b rv.., rv, g fv, m_b fv.., 1/sqrt(row + EPS),
 * 1/sqrt(col + EPS)] (a tensor without rows repeats fv for the last two), each normalised over
 * its tensor as the basic features are (features.ts), and T time columns, the same for every
 * coordinate and not normalised: tanh(t / x) for each timescale x, and t / horizon (0 when the
 * context gives no horizon), t being the steps taken before this one.
 *
 * Only theta enters the normalised columns' own arithmetic through p, so the first-order
 * backward needs dL/dp alone; dL/dgrad through these statistics is not implemented (second
 * order needs the basic features).
 */
import type { ParamEntry } from "../../core/layout.ts";
import type { StepContext } from "../contract.ts";
import type { ResolvedMlpOptimizerConfig } from "./config.ts";
import { scaleColumns } from "./features.ts";

/** Added to a second moment under its inverse square root. */
export const RSQRT_EPS = 1e-8;
/** Added to each g^2 of the factored statistics (adafactor's epsilon_1). */
const FAC_EPS = 1e-30;

/** Where each tensor's factored accumulators lie, and its rows and columns (rows 0: per coordinate). */
export interface FactoredSlice {
  readonly at: number;
  readonly rows: number;
  readonly cols: number;
}

/** Where the adafac state's parts lie (features_adafac's layout, above). */
export interface AdafacStateLayout {
  /** The accumulator v. */
  readonly vAt: number;
  /** Each tensor's factored accumulators. */
  readonly slices: readonly FactoredSlice[];
  /** The count of steps taken. */
  readonly tAt: number;
  readonly stateSize: number;
}

/** The state layout of the adafac features over the tensors `entries` (n coordinates, D decays). */
export function adafacStateLayout(entries: readonly ParamEntry[], n: number, D: number): AdafacStateLayout {
  const vAt = n * D;
  let at = vAt + n;
  const slices: FactoredSlice[] = entries.map((e) => {
    const twoD = e.shape.length >= 2 && e.size > 0;
    const cols = twoD ? e.shape[e.shape.length - 1]! : 1;
    const rows = twoD ? e.size / cols : 0;
    const s = { at, rows, cols };
    at += twoD ? rows + cols : e.size;
    return s;
  });
  return { vAt, slices, tAt: at, stateSize: at + 1 };
}

/** The T time features of step `t` into `tau`: tanh(t / x) for each timescale x, then t / horizon (0 without one). */
export function adafacTime(scales: readonly number[], t: number, horizon: number | undefined, tau: Float64Array): void {
  for (let k = 0; k < scales.length; k++) tau[k] = Math.tanh(t / scales[k]!);
  tau[scales.length] = horizon !== undefined && horizon > 0 ? t / horizon : 0;
}

export interface AdafacFeatures {
  /** Normalised per-coordinate columns. */
  readonly F: number;
  /** Time columns. */
  readonly T: number;
  /** Floats in the flat state. */
  readonly stateSize: number;
  /** Updates `state` in place; writes F + T columns of n into `x` (column k at k * n) and the scales into `s` (tensors * F). */
  compute(theta: Float32Array, grad: Float32Array, state: Float32Array, ctx: StepContext, x: Float64Array, s: Float64Array): void;
}

/** The normalised and the time columns of the adafac features of `cfg`. */
export function adafacColumns(cfg: ResolvedMlpOptimizerConfig): { F: number; T: number } {
  return { F: 7 + 3 * cfg.decays.length, T: (cfg.timescales?.length ?? 0) + 1 };
}

/** The adafac features of `cfg` (features 'adafac') over the tensors `entries`, `n` coordinates. */
export function adafacFeatures(cfg: ResolvedMlpOptimizerConfig, entries: readonly ParamEntry[], n: number): AdafacFeatures {
  const decays = cfg.decays;
  const D = decays.length;
  const rho = cfg.rmsDecay!;
  const f = cfg.factoredDecay!;
  const scales = cfg.timescales!;
  const { F, T } = adafacColumns(cfg);
  const { vAt, slices, tAt, stateSize } = adafacStateLayout(entries, n, D);
  const tau = new Float64Array(T);
  const vhat = new Float64Array(n);
  const rowF = new Float64Array(n);
  const colF = new Float64Array(n);
  // Sums of squares of one tensor's columns, added in coordinate order as they are written
  // (the momenta's three columns per decay in `mss`).
  const ss = new Float64Array(F);
  const mss = new Float64Array(3 * D);

  /** Updates the factored accumulators of tensor `e` and fills vhat, rowF, colF over it. */
  const factored = (e: ParamEntry, sl: FactoredSlice, grad: Float32Array, st: Float32Array): void => {
    const o = e.offset;
    if (sl.rows === 0) {
      for (let i = 0; i < e.size; i++) {
        const g = grad[o + i]!;
        st[sl.at + i] = f * st[sl.at + i]! + (1 - f) * (g * g + FAC_EPS);
        const u = 1 / Math.sqrt(st[sl.at + i]! + RSQRT_EPS);
        vhat[o + i] = st[sl.at + i]!;
        rowF[o + i] = u;
        colF[o + i] = u;
      }
      return;
    }
    const { rows: R, cols: C } = sl;
    const rAt = sl.at;
    const cAt = sl.at + R;
    const colSum = new Float64Array(C);
    let rowMean = 0;
    for (let r = 0; r < R; r++) {
      let rs = 0;
      for (let c = 0; c < C; c++) {
        const g = grad[o + r * C + c]!;
        const q = g * g + FAC_EPS;
        rs += q;
        colSum[c] = colSum[c]! + q;
      }
      st[rAt + r] = f * st[rAt + r]! + (1 - f) * (rs / C);
      rowMean += st[rAt + r]!;
    }
    rowMean /= R;
    for (let c = 0; c < C; c++) st[cAt + c] = f * st[cAt + c]! + (1 - f) * (colSum[c]! / R);
    for (let r = 0; r < R; r++) {
      const rr = st[rAt + r]!;
      const ru = 1 / Math.sqrt(rr + RSQRT_EPS);
      for (let c = 0; c < C; c++) {
        const i = o + r * C + c;
        const cc = st[cAt + c]!;
        vhat[i] = rowMean > 0 ? (rr * cc) / rowMean : 0;
        rowF[i] = ru;
        colF[i] = 1 / Math.sqrt(cc + RSQRT_EPS);
      }
    }
  };

  return {
    F,
    T,
    stateSize,
    compute(theta, grad, st, ctx, x, s) {
      entries.forEach((e, ei) => factored(e, slices[ei]!, grad, st));
      // Column k of coordinate i at k * n + i (features.ts); each tensor's sums of squares
      // are added as its columns are written, then its columns are scaled (scaleColumns).
      const cG = n, cGr = (2 + D) * n, cR = (3 + 2 * D) * n, cGf = (4 + 2 * D) * n, cRow = (5 + 3 * D) * n, cCol = (6 + 3 * D) * n;
      entries.forEach((e, ei) => {
        mss.fill(0);
        let sP = 0, sG = 0, sGr = 0, sR = 0, sGf = 0, sRow = 0, sCol = 0;
        for (let i = e.offset; i < e.offset + e.size; i++) {
          const g = grad[i]!;
          const p = theta[i]!;
          const v = rho * st[vAt + i]! + (1 - rho) * g * g;
          st[vAt + i] = v;
          const rv = 1 / Math.sqrt(st[vAt + i]! + RSQRT_EPS);
          const fv = 1 / Math.sqrt(vhat[i]! + RSQRT_EPS);
          const gr = g * rv;
          const gf = g * fv;
          const ro = rowF[i]!;
          const co = colF[i]!;
          x[i] = p;
          x[cG + i] = g;
          x[cGr + i] = gr;
          x[cR + i] = rv;
          x[cGf + i] = gf;
          x[cRow + i] = ro;
          x[cCol + i] = co;
          sP += p * p;
          sG += g * g;
          sGr += gr * gr;
          sR += rv * rv;
          sGf += gf * gf;
          sRow += ro * ro;
          sCol += co * co;
          for (let b = 0; b < D; b++) {
            const d = decays[b]!;
            st[i * D + b] = d * st[i * D + b]! + (1 - d) * g;
            const m = st[i * D + b]!;
            const mr = m * rv;
            const mf = m * fv;
            x[(2 + b) * n + i] = m;
            x[(3 + D + b) * n + i] = mr;
            x[(5 + 2 * D + b) * n + i] = mf;
            mss[3 * b] = mss[3 * b]! + m * m;
            mss[3 * b + 1] = mss[3 * b + 1]! + mr * mr;
            mss[3 * b + 2] = mss[3 * b + 2]! + mf * mf;
          }
        }
        ss[0] = sP;
        ss[1] = sG;
        ss[2 + D] = sGr;
        ss[3 + 2 * D] = sR;
        ss[4 + 2 * D] = sGf;
        ss[5 + 3 * D] = sRow;
        ss[6 + 3 * D] = sCol;
        for (let b = 0; b < D; b++) {
          ss[2 + b] = mss[3 * b]!;
          ss[3 + D + b] = mss[3 * b + 1]!;
          ss[5 + 2 * D + b] = mss[3 * b + 2]!;
        }
        scaleColumns(x, n, F, e, ei, ss, s);
      });
      adafacTime(scales, ctx.step ?? st[tAt]!, ctx.horizon, tau);
      for (let k = 0; k < T; k++) x.fill(tau[k]!, (F + k) * n, (F + k + 1) * n);
      st[tAt] = st[tAt]! + 1;
    },
  };
}

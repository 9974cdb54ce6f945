/**
 * Linear-Gaussian controllers on the feature state, one per group of coordinates: Li &
 * Malik's setting, where the controllers' state is what the policy reads. For coordinate i of
 * a group at step t the state z (d = 3H numbers) is its history features (`learned/rl/history.ts`:
 * its last H gradients, its last H steps, the last H objective changes) and the action u is
 * its step; the controller is u ~ N(K_t . z + k_t, S_t), the same for every coordinate of the
 * group, so its size (d + 2 numbers per step) does not depend on the parameter count. Every
 * coordinate of every sampled run is a sample of the group's system.
 *
 * - Dynamics z_{t+1} = F_t [z; u] + f_t, fitted per step by ridge regression toward the fit of
 *   all steps pooled (`fitPerStep`). The steps' part is a shift (dx_{t+1} = u exactly), the
 *   objective changes' is what the group sees of the whole objective; the new gradient's is
 *   g' = g + h_t u + b_t, h_t the secant curvature along the group's steps ((g_{t+1} - g_t)
 *   regressed on u_t, fitted the same way).
 * - Cost: the objective is not a sum over coordinates, its change is: for a quadratic,
 *   f(x + u) - f(x) = sum_i (g_i(x) + g_i(x + u)) u_i / 2 exactly. With that g', coordinate i's share of the
 *   step's change, (z_0 + g') u / 2, is quadratic in [z; u]; the run's cost sum_t f(x_{t+1}) /
 *   f(x_0) gives the change made at step t the weight T - t (every later step keeps it).
 * - The backward pass (`featureBackward`) is that of `lqr.ts` with the cost on (z_t, u_t) and a
 *   one-dimensional action: K = -Quz / Quu, k = -Qu / Quu, S = 1 / Quu, under the KL to the
 *   previous controller at the sampled states (`featureKl`), eta by bisection.
 */
import { fitPerStep } from "./lqr.ts";
import type { Trajectory } from "./rollout.ts";

/** A group's controller: per step t the gain K_t (d), offset k_t and variance S_t. */
export interface FeatureController {
  readonly d: number;
  readonly T: number;
  readonly K: Float64Array[];
  readonly k: Float64Array;
  readonly S: Float64Array;
}

/** One group's samples of one condition: its chosen coordinates in each run; sample s = run * coords + c. */
export interface GroupSamples {
  readonly runs: readonly Trajectory[];
  readonly coords: Int32Array;
  /** Features per coordinate (d). */
  readonly d: number;
}

export const sampleCount = (g: GroupSamples): number => g.runs.length * g.coords.length;
const runOf = (g: GroupSamples, s: number): Trajectory => g.runs[Math.floor(s / g.coords.length)]!;
const coordOf = (g: GroupSamples, s: number): number => g.coords[s % g.coords.length]!;

/** Sample s's state at step t (a view into its run's features). */
export function stateAt(g: GroupSamples, s: number, t: number): Float64Array {
  const i = coordOf(g, s);
  return runOf(g, s).feats[t]!.subarray(i * g.d, (i + 1) * g.d);
}

/** Sample s's action at step t. */
export const actionAt = (g: GroupSamples, s: number, t: number): number => runOf(g, s).actions[t]![coordOf(g, s)]!;

/** [z_t; u_t] of sample s. */
function stateAction(g: GroupSamples, s: number, t: number): Float64Array {
  const w = new Float64Array(g.d + 1);
  w.set(stateAt(g, s, t));
  w[g.d] = actionAt(g, s, t);
  return w;
}

/** The controller's mean action at state z, step t. */
export function controllerMean(p: FeatureController, t: number, z: ArrayLike<number>): number {
  const K = p.K[t]!;
  let u = p.k[t]!;
  for (let j = 0; j < p.d; j++) u += K[j]! * z[j]!;
  return u;
}

export interface FeatureModel {
  readonly d: number;
  readonly T: number;
  /** Dynamics t = 0..T-2: F_t (d x (d + 1)), f_t (d). */
  readonly F: Float64Array[];
  readonly f: Float64Array[];
  /** Cost of step t = 0..T-1 over w = [z; u]: 1/2 w^T C_t w + c_t . w (relative-objective units). */
  readonly C: Float64Array[];
  readonly c: Float64Array[];
}

/** The group's local model from its samples; `scale` turns the task's gradients into relative-cost units (1 / f(x_0)). */
export function fitFeatureModel(g: GroupSamples, scale: number): FeatureModel {
  const { d } = g;
  const T = g.runs[0]!.steps;
  const S = sampleCount(g);
  const D = d + 1;
  const dyn = T >= 2 ? fitPerStep(S, 0, T - 2, D, d, (s, t) => stateAction(g, s, t), (s, t) => stateAt(g, s, t + 1)) : { A: [], b: [] };
  // The next gradient g' = g + h_t u + b_t: h_t the secant curvature along the steps the group's
  // coordinates took, (g_{t+1} - g_t) regressed on u_t. A regression on the whole [z; u] would
  // credit the effect of every coordinate's step (the coupled part, sum_j H_ij u_j, which follows
  // g since the steps do) to the state, leaving the action only the diagonal curvature H_ii, and
  // controllers that think larger steps cost little (their cost rose every iteration).
  const next = fitPerStep(S, 0, T - 1, 1, 1, (s, t) => [actionAt(g, s, t)], (s, t) => {
    const i = coordOf(g, s);
    const r = runOf(g, s);
    return [r.grads[t + 1]![i]! - r.grads[t]![i]!];
  });
  const C: Float64Array[] = [];
  const c: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const h = next.A[t]![0]!;
    if (t < T - 1) {
      // The gradient's row of the dynamics is that model.
      const F = dyn.A[t]!;
      F.fill(0, 0, D);
      F[0] = 1;
      F[d] = h;
      dyn.b[t]![0] = next.b[t]![0]!;
    }
    // Cost (z_0 + g') u / 2 = (2 z_0 + h u + b) u / 2 times scale (T - t): e = 2 e_0 + h e_u, C = w (e_u e^T + e e_u^T) / 2.
    const w = scale * (T - t);
    const e = new Float64Array(D);
    e[0] = 2;
    e[d] = h;
    const Ct = new Float64Array(D * D);
    for (let j = 0; j < D; j++) {
      Ct[d * D + j] = Ct[d * D + j]! + 0.5 * w * e[j]!;
      Ct[j * D + d] = Ct[j * D + d]! + 0.5 * w * e[j]!;
    }
    const ct = new Float64Array(D);
    ct[d] = 0.5 * w * next.b[t]![0]!;
    C.push(Ct);
    c.push(ct);
  }
  return { d, T, F: dyn.A, f: dyn.b, C, c };
}

/** The backward pass's other terms: the previous controller, the policy linearised at the samples, the duals. */
export interface FeatureTerms {
  readonly prior: FeatureController;
  /** The policy's mean ~ Kpi_t . z + kpi_t at the group's samples. */
  readonly policyK: Float64Array[];
  readonly policyk: Float64Array;
  readonly policyPrecision: number;
  /** Per step: the multiplier on E_p[u_t] = E_pi[u_t] over the group's coordinates. */
  readonly lambda: Float64Array;
  readonly nu: number;
}

/** Adds w/2 (u - K . z - k)^2 over [z; u] to (Q, q). */
function addTracking(Q: Float64Array, q: Float64Array, d: number, K: Float64Array, k: number, w: number): void {
  const D = d + 1;
  const row = new Float64Array(D);
  for (let j = 0; j < d; j++) row[j] = -K[j]!;
  row[d] = 1;
  for (let i = 0; i < D; i++) {
    q[i] = q[i]! - w * k * row[i]!;
    for (let j = 0; j < D; j++) Q[i * D + j] = Q[i * D + j]! + w * row[i]! * row[j]!;
  }
}

/** The backward pass at temperature eta; null when some Quu is not positive. */
export function featureBackward(model: FeatureModel, terms: FeatureTerms, eta: number): FeatureController | null {
  const { d, T } = model;
  const D = d + 1;
  let Vzz = new Float64Array(d * d);
  let Vz = new Float64Array(d);
  const out: FeatureController = { d, T, K: [], k: new Float64Array(T), S: new Float64Array(T) };
  for (let t = T - 1; t >= 0; t--) {
    const Q = model.C[t]!.map((v) => v / eta);
    const q = model.c[t]!.map((v) => v / eta);
    if (t < T - 1) {
      const F = model.F[t]!;
      const f = model.f[t]!;
      // Q += F^T Vzz F, q += F^T (Vzz f + Vz).
      const VF = new Float64Array(d * D);
      for (let i = 0; i < d; i++) for (let m = 0; m < d; m++) { const v = Vzz[i * d + m]!; if (v !== 0) for (let j = 0; j < D; j++) VF[i * D + j] = VF[i * D + j]! + v * F[m * D + j]!; }
      const r = Vz.slice();
      for (let i = 0; i < d; i++) for (let m = 0; m < d; m++) r[i] = r[i]! + Vzz[i * d + m]! * f[m]!;
      for (let m = 0; m < d; m++) {
        for (let i = 0; i < D; i++) {
          const Fmi = F[m * D + i]!;
          if (Fmi === 0) continue;
          q[i] = q[i]! + Fmi * r[m]!;
          for (let j = 0; j < D; j++) Q[i * D + j] = Q[i * D + j]! + Fmi * VF[m * D + j]!;
        }
      }
    }
    addTracking(Q, q, d, terms.prior.K[t]!, terms.prior.k[t]!, 1 / terms.prior.S[t]!);
    if (terms.nu > 0) addTracking(Q, q, d, terms.policyK[t]!, terms.policyk[t]!, (terms.nu * terms.policyPrecision) / eta);
    q[d] = q[d]! - terms.lambda[t]! / eta;
    const Quu = Q[d * D + d]!;
    if (!(Quu > 0) || !Number.isFinite(Quu)) return null;
    // Quz from both halves (the matrix is symmetric up to rounding).
    const Quz = Float64Array.from({ length: d }, (_, j) => 0.5 * (Q[d * D + j]! + Q[j * D + d]!));
    out.K[t] = Quz.map((v) => -v / Quu);
    out.k[t] = -q[d]! / Quu;
    out.S[t] = 1 / Quu;
    const nextVzz = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) nextVzz[i * d + j] = 0.5 * (Q[i * D + j]! + Q[j * D + i]!) - (Quz[i]! * Quz[j]!) / Quu;
    Vzz = nextVzz;
    Vz = Float64Array.from({ length: d }, (_, i) => q[i]! - (Quz[i]! * q[d]!) / Quu);
    if (!Vz.every(Number.isFinite)) return null;
  }
  return out;
}

/** Mean over steps and samples of KL(N(mu_p, S_p) || N(mu_q, S_q)), the means at each sampled state. */
export function featureKl(p: FeatureController, g: GroupSamples, meanQ: (t: number, s: number) => number, varQ: (t: number) => number): number {
  const S = sampleCount(g);
  let sum = 0;
  for (let t = 0; t < p.T; t++) {
    const vp = p.S[t]!;
    const vq = varQ(t);
    const base = 0.5 * (vp / vq - 1 + Math.log(vq) - Math.log(vp));
    for (let s = 0; s < S; s++) {
      const dm = controllerMean(p, t, stateAt(g, s, t)) - meanQ(t, s);
      sum += base + (0.5 * dm * dm) / vq;
    }
  }
  return sum / (p.T * S);
}

/**
 * The backward pass with eta chosen by bisection in log space, as `solveWithKl` of `lqr.ts`:
 * the boldest eta whose mean KL to the previous controller at the samples is at most `maxKl`.
 */
export function solveFeatureWithKl(model: FeatureModel, terms: FeatureTerms, g: GroupSamples, maxKl: number): { controller: FeatureController; eta: number; kl: number } {
  const prior = terms.prior;
  const klTo = (c: FeatureController): number => featureKl(c, g, (t, s) => controllerMean(prior, t, stateAt(g, s, t)), (t) => prior.S[t]!);
  let lo = -8;
  let hi = 12;
  let best: { controller: FeatureController; eta: number; kl: number } | null = null;
  for (let i = 0; i < 24; i++) {
    const mid = 0.5 * (lo + hi);
    const c = featureBackward(model, terms, 10 ** mid);
    const kl = c === null ? Infinity : klTo(c);
    if (c !== null && kl <= maxKl) {
      best = { controller: c, eta: 10 ** mid, kl };
      hi = mid;
    } else {
      lo = mid;
    }
  }
  if (best !== null) return best;
  const c = featureBackward(model, terms, 10 ** hi);
  return c === null ? { controller: prior, eta: Infinity, kl: 0 } : { controller: c, eta: 10 ** hi, kl: klTo(c) };
}

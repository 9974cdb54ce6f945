/**
 * Meta-training the policy by guided policy search, as Li & Malik (2016, 2017) do after
 * Levine et al.: a fixed set of training conditions (a problem and its x_0 each), one
 * time-varying linear-Gaussian controller per condition (`lqr.ts`), and the neural policy,
 * coupled by Bregman ADMM. Each iteration:
 *
 * 1. C-step, per condition: fit the local model (dynamics and a quadratic cost) to the latest
 *    samples, linearise the policy at them, and run the iLQG backward pass on
 *    cost - lambda . u + nu/2 |u - pi(x)|^2 / sigma^2 under a KL bound to the previous
 *    controller (eta by bisection). As Levine et al. do (the defaults): the dynamics of each
 *    step are fitted under a Gaussian-mixture prior over all recent samples
 *    (`dynamics_prior.ts`), the KL is that of the trajectory distributions under the fitted
 *    model (`trajectory_kl.ts`), and the bound is rescaled each iteration from the predicted
 *    against the actual improvement of the last step (`step_size.ts`). The simpler variants
 *    (a pooled linear prior, the KL at the sampled states, a fixed bound) stay selectable;
 * 2. draw `samples` runs from each new controller (every evaluation of the objective counted
 *    by the task, as in any run);
 * 3. S-step: fit the policy by weighted regression to the controllers' means at the sampled
 *    states, shifted by the duals (target mu_p(x) - S lambda / nu, weight 1 / S per
 *    coordinate: the diagonal of the controller's precision); the policy's spread becomes the
 *    controllers' (the inverse of their mean precision);
 * 4. dual step: lambda_t += nu (E[pi(x_t)] - E[mu_p(x_t)]) over the samples; nu doubles (the
 *    ADMM penalty schedule), up to a cap.
 *
 * The policy reads each coordinate's history features, so what it is fitted to is the
 * controllers' behaviour along their runs, the guidance; the controllers see x only.
 */
import { ConfigError } from "../core/errors.ts";
import { foldIn, key as makeKey, normal, type Key } from "../core/rng.ts";
import { adam } from "../optimizers/alias.ts";
import { applyUpdates } from "../optimizers/transform.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { fitDynamicsGmm, fitStepWithGmm, GMM_PRIOR_DEFAULTS } from "./dynamics_prior.ts";
import { matvec } from "./linalg.ts";
import { controllerKl, fitLocalModel, fitPerStep, meanKl, solveWithKl, type BackwardTerms, type Controller, type LocalModel } from "./lqr.ts";
import { nextStepMult } from "./step_size.ts";
import { expectedCost, initialState, modelKl, type StateDist } from "./trajectory_kl.ts";
import { DIVERGED_COST, relativeCosts, trainingDraw } from "./pg.ts";
import { policyMean, policyMeanBackward, policyStd, type PolicyShape } from "./policy.ts";
import { policyActor, rollout, type Actor, type Trajectory } from "./rollout.ts";

export const GPS_DEFAULTS = Object.freeze({ samples: 5, maxKl: 0.5, nu0: 0.01, nuGrowth: 2, nuMax: 100, fitSteps: 100 });

/** How each step's dynamics are fitted: toward a Gaussian-mixture prior (Levine et al.), or toward one pooled linear fit. */
export const GPS_DYNAMICS_PRIORS = ["gmm", "pooled"] as const;
/** Where the KL to the previous controller is measured: through the fitted model, or at the sampled states. */
export const GPS_KL_ESTIMATES = ["model", "samples"] as const;
/** The KL bound: rescaled from predicted against actual improvement, or fixed. */
export const GPS_STEP_RULES = ["adaptive", "fixed"] as const;
export type GpsDynamicsPrior = (typeof GPS_DYNAMICS_PRIORS)[number];
export type GpsKlEstimate = (typeof GPS_KL_ESTIMATES)[number];
export type GpsStepRule = (typeof GPS_STEP_RULES)[number];

/** The most parameters a task may have for GPS on x: its controllers are dense n x n per step (`gps_groups.ts` has no such limit). */
export const GPS_MAX_PARAMS = 256;

export interface GpsOptions {
  readonly family: TaskFamily;
  readonly steps: number;
  readonly iterations: number;
  /** Training conditions (problems with their x_0), fixed for the whole training. */
  readonly conditions: number;
  /** Runs drawn from each controller per iteration. */
  readonly samples: number;
  /** Adam's rate in the supervised fit. */
  readonly lr: number;
  readonly seed: number;
  /** Mean KL bound per step between successive controllers. */
  readonly maxKl?: number;
  readonly nu0?: number;
  /** Adam steps per supervised fit. */
  readonly fitSteps?: number;
  /** Default "gmm". */
  readonly dynamicsPrior?: GpsDynamicsPrior;
  /** Default "model". */
  readonly klEstimate?: GpsKlEstimate;
  /** Default "adaptive". */
  readonly stepRule?: GpsStepRule;
  /**
   * Rescale the S-step's weights so that every condition has the same total (default false:
   * the controllers' precisions as they are, which lets the conditions whose controllers are
   * sharpest dominate the fit; see docs/RESULTS.md on GPS's overfitting).
   */
  readonly balanceConditions?: boolean;
  /** After each S-step: its rows, the policy before and after the fit (for diagnostics). */
  readonly onFit?: (iteration: number, rows: readonly FitRow[], before: Float32Array, after: Float32Array) => void;
  /** After each iteration: the noise-free policy's mean relative cost per step on the training conditions. */
  readonly onIteration?: (iteration: number, policyCost: number, phi: Float32Array, info: GpsIterationInfo) => void;
}

export interface GpsIterationInfo {
  /** Mean relative cost per step of the controllers' samples. */
  readonly controllerCost: number;
  /** Mean KL(p || pi) over the sampled states: how far the policy is from the controllers. */
  readonly policyKl: number;
  readonly nu: number;
  /** Mean temperature eta of the C-steps. */
  readonly eta: number;
  /** Mean multiplier of the base KL bound used by the C-steps (1 under the fixed rule). */
  readonly stepMult: number;
}

/** Samples from controller p: u_t = K_t x + k_t + chol(S_t) eps, eps from foldIn(noise, t). */
export function controllerActor(p: Controller, noise: Key): Actor {
  return ({ t, x }) => {
    const { n } = p;
    const eps = normal(foldIn(noise, t), n);
    const u = matvec(p.K[t]!, x, n, n);
    const noiseTerm = matvec(p.chol[t]!, eps, n, n);
    for (let i = 0; i < n; i++) u[i] = u[i]! + p.k[t]![i]! + noiseTerm[i]!;
    return u;
  };
}

const meanCost = (runs: readonly Trajectory[]): number => runs.reduce((s, r) => s + relativeCosts(r).reduce((a, b) => a + b, 0) / r.steps, 0) / runs.length;

/** The policy's mean action at each sampled step: means[s][t] (n values). */
function policyMeans(shape: PolicyShape, phi: ArrayLike<number>, runs: readonly Trajectory[]): Float64Array[][] {
  return runs.map((r) => r.feats.map((f) => Float64Array.from({ length: r.n }, (_, i) => policyMean(shape, phi, f, i * shape.F))));
}

/** The policy linearised at the samples: per step, mean action ~ K x + k. */
function linearisePolicy(shape: PolicyShape, phi: ArrayLike<number>, runs: readonly Trajectory[]) {
  const means = policyMeans(shape, phi, runs);
  const n = runs[0]!.n;
  return fitPerStep(runs.length, 0, runs[0]!.steps - 1, n, n, (s, t) => runs[s]!.xs[t]!, (s, t) => means[s]![t]!);
}

/** Targets and weights for the S-step, from one condition's samples. */
export interface FitRow {
  /** The training condition the row comes from. */
  readonly cond: number;
  readonly feats: Float64Array;
  readonly i: number;
  readonly target: number;
  readonly weight: number;
}

/** Weighted least squares of the policy mean onto the rows, `steps` full-batch Adam steps; the spread set from `variance`. */
export function fitPolicy(shape: PolicyShape, phi0: Float32Array, rows: readonly FitRow[], steps: number, lr: number, variance: number): Float32Array {
  const opt = adam(lr);
  let phi: Float32Array = phi0.slice();
  let state = opt.init(phi);
  const hidden = new Float64Array(shape.cfg.hidden);
  const wsum = rows.reduce((s, r) => s + r.weight, 0);
  for (let k = 0; k < steps; k++) {
    const g = new Float64Array(shape.size);
    for (const r of rows) {
      const mu = policyMean(shape, phi, r.feats, r.i * shape.F, hidden);
      policyMeanBackward(shape, phi, r.feats, r.i * shape.F, hidden, (r.weight * (mu - r.target)) / wsum, g);
    }
    g[shape.oLogStd] = 0;
    const [upd, next] = opt.update(Float32Array.from(g), state, phi);
    state = next;
    phi = applyUpdates(phi, upd);
  }
  phi[shape.oLogStd] = 0.5 * Math.log(variance);
  return phi;
}

/** The rows with each condition's weights rescaled to an equal total (their ratios within a condition kept). */
function balanced(rows: readonly FitRow[], conditions: number): FitRow[] {
  const sums = new Float64Array(conditions);
  for (const r of rows) sums[r.cond] = sums[r.cond]! + r.weight;
  const mean = sums.reduce((a, b) => a + b, 0) / conditions;
  return rows.map((r) => ({ ...r, weight: (r.weight * mean) / sums[r.cond]! }));
}

/** Trains phi by guided policy search; returns it and the policy's cost per iteration. */
export function trainGps(shape: PolicyShape, phi0: Float32Array, opts: GpsOptions): { phi: Float32Array; costs: number[]; info: GpsIterationInfo[] } {
  const root = foldIn(makeKey(opts.seed), "rl/gps");
  const M = opts.samples;
  const T = opts.steps;
  const H = shape.cfg.history;
  const maxKl = opts.maxKl ?? GPS_DEFAULTS.maxKl;
  const conds = Array.from({ length: opts.conditions }, (_, j) => trainingDraw(opts.family, root, 0, j));
  const size = conds[0]!.theta0.length;
  if (size > GPS_MAX_PARAMS) {
    throw new ConfigError(`gps: ${opts.family.name} has ${size} parameters; guided policy search's dense controllers on x handle at most ${GPS_MAX_PARAMS} (use --controller-state features, grouped controllers on the feature state, or train with pg)`);
  }
  const scales = conds.map((c) => 1 / (c.task.instances * Math.max(Math.abs(c.task.lossAndGrad(c.theta0, foldIn(c.batchKey, 0)).loss / c.task.instances), 1e-12)));
  const draw = (j: number, it: number, actor: (noise: Key) => Actor): Trajectory[] => {
    const out: Trajectory[] = [];
    for (let s = 0; s < M; s++) {
      const c = conds[j]!;
      const r = rollout(c.task, c.theta0, T, H, c.batchKey, actor(foldIn(foldIn(c.noise, it), s)), DIVERGED_COST);
      if (!r.diverged) out.push(r);
    }
    return out;
  };
  let phi: Float32Array = phi0.slice();
  // The start: samples of the noisy policy, and controllers that are the policy linearised there.
  let samples = conds.map((_, j) => draw(j, 0, (noise) => policyActor(shape, phi, noise)));
  const n = conds[0]!.theta0.length;
  let controllers: Controller[] = samples.map((runs) => {
    const lin = linearisePolicy(shape, phi, runs);
    const v = policyStd(shape, phi) ** 2;
    const cov = Array.from({ length: T }, () => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? v : 0)));
    const chol = cov.map((c) => c.map((x) => Math.sqrt(x)));
    return { n, T, K: lin.A, k: lin.b, cov, chol };
  });
  const lambda = conds.map(() => Array.from({ length: T }, () => new Float64Array(n)));
  let nu = opts.nu0 ?? GPS_DEFAULTS.nu0;
  const costs: number[] = [];
  const infos: GpsIterationInfo[] = [];
  const dynamicsPrior = opts.dynamicsPrior ?? "gmm";
  const klEstimate = opts.klEstimate ?? "model";
  const stepRule = opts.stepRule ?? "adaptive";
  // The samples the mixture prior is fitted to: the newest iterations', every condition's.
  const recent: Trajectory[][] = [samples.flat()];
  // Per condition: the KL bound's multiplier, and the last C-step (its model, the controller it
  // started from, its terms, the initial state) for the predicted and actual improvements.
  const stepMult = conds.map(() => 1);
  const last: ({ model: LocalModel; prior: Controller; terms: BackwardTerms; init: StateDist } | null)[] = conds.map(() => null);
  for (let it = 0; it < opts.iterations; it++) {
    let etaSum = 0;
    const gmm = dynamicsPrior === "gmm" ? fitDynamicsGmm(recent.flat(), foldIn(foldIn(root, "gmm"), it)) : null;
    // C-step.
    controllers = controllers.map((prior, j) => {
      const runs = samples[j]!;
      if (runs.length < 2) return prior;
      const model = fitLocalModel(runs, scales[j]!, gmm === null ? undefined : (t) => fitStepWithGmm(gmm, runs, t));
      const init = initialState(runs.map((r) => r.xs[0]!));
      const prev = last[j]!;
      if (stepRule === "adaptive" && prev !== null) {
        // The last step's objective: before it, after it as planned, after it as found.
        const before = expectedCost(prev.model, prev.prior, prev.init, prev.terms);
        const predicted = before - expectedCost(prev.model, prior, prev.init, prev.terms);
        const actual = before - expectedCost(model, prior, init, prev.terms);
        stepMult[j] = nextStepMult(stepMult[j]!, predicted, actual);
      }
      const policy = linearisePolicy(shape, phi, runs);
      const terms: BackwardTerms = { prior, policy, policyPrecision: 1 / policyStd(shape, phi) ** 2, lambda: lambda[j]!, nu };
      const states = (t: number, s: number): Float64Array => runs[s]!.xs[t]!;
      const klToPrior = klEstimate === "model" ? (c: Controller) => modelKl(c, prior, model, init) : (c: Controller) => controllerKl(c, prior, states, runs.length);
      const r = solveWithKl(model, terms, maxKl * stepMult[j]!, klToPrior);
      etaSum += r.eta;
      // The duals change in place after the S-step: keep this step's own.
      last[j] = { model, prior, terms: { ...terms, lambda: terms.lambda.map((l) => l.slice()) }, init };
      return r.controller;
    });
    samples = controllers.map((p, j) => {
      const runs = draw(j, it + 1, (noise) => controllerActor(p, noise));
      return runs.length >= 2 ? runs : samples[j]!;
    });
    recent.push(samples.flat());
    if (recent.length > GMM_PRIOR_DEFAULTS.iterations) recent.shift();
    // S-step.
    const rows: FitRow[] = [];
    let precision = 0;
    let count = 0;
    samples.forEach((runs, j) => {
      const p = controllers[j]!;
      for (const r of runs) {
        for (let t = 0; t < r.actions.length; t++) {
          const mp = matvec(p.K[t]!, r.xs[t]!, n, n);
          for (let i = 0; i < n; i++) {
            const S = p.cov[t]!;
            let shift = 0;
            for (let q = 0; q < n; q++) shift += S[i * n + q]! * lambda[j]![t]![q]!;
            const w = 1 / S[i * n + i]!;
            rows.push({ cond: j, feats: r.feats[t]!, i, target: mp[i]! + p.k[t]![i]! - shift / nu, weight: w });
            precision += w;
            count++;
          }
        }
      }
    });
    const before = phi;
    const fitRows = opts.balanceConditions === true ? balanced(rows, conds.length) : rows;
    phi = fitPolicy(shape, phi, fitRows, opts.fitSteps ?? GPS_DEFAULTS.fitSteps, opts.lr, count / precision);
    opts.onFit?.(it, fitRows, before, phi);
    // Dual step, and how far policy and controllers still are.
    let klSum = 0;
    samples.forEach((runs, j) => {
      const p = controllers[j]!;
      const means = policyMeans(shape, phi, runs);
      for (let t = 0; t < T; t++) {
        const diff = new Float64Array(n);
        for (let s = 0; s < runs.length; s++) {
          const mp = matvec(p.K[t]!, runs[s]!.xs[t]!, n, n);
          for (let i = 0; i < n; i++) diff[i] = diff[i]! + (means[s]![t]![i]! - mp[i]! - p.k[t]![i]!) / runs.length;
        }
        for (let i = 0; i < n; i++) lambda[j]![t]![i] = lambda[j]![t]![i]! + nu * diff[i]!;
      }
      const v = policyStd(shape, phi) ** 2;
      const covPi = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? v : 0));
      klSum += meanKl(p, () => covPi, (t, s) => means[s]![t]!, (t, s) => runs[s]!.xs[t]!, runs.length);
    });
    nu = Math.min(GPS_DEFAULTS.nuMax, nu * GPS_DEFAULTS.nuGrowth);
    const policyRuns = conds.map((c) => rollout(c.task, c.theta0, T, H, c.batchKey, policyActor(shape, phi, null), DIVERGED_COST));
    const info: GpsIterationInfo = { controllerCost: meanCost(samples.flat()), policyKl: klSum / conds.length, nu, eta: etaSum / conds.length, stepMult: stepMult.reduce((a, b) => a + b, 0) / conds.length };
    costs.push(meanCost(policyRuns));
    infos.push(info);
    opts.onIteration?.(it, costs[it]!, phi, info);
  }
  return { phi, costs, info: infos };
}

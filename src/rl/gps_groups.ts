/**
 * Guided policy search with controllers on the feature state, one per group of coordinates
 * (`l2o rl train --trainer gps --controller-state features --groups SPEC`): the way Li & Malik
 * (2017) scale GPS past a handful of parameters. `gps.ts` gives each training condition one
 * controller over the whole iterate x (dense n x n per step, so at most GPS_MAX_PARAMS
 * parameters), and its controllers encode where each training problem's minimum is, which the
 * policy, reading only histories, cannot express (what docs/RESULTS.md's measurements point to
 * as why its policies do not transfer). Here each condition's coordinates are split
 * into groups (`groups.ts`), and each group of each condition has one time-varying
 * linear-Gaussian controller over a coordinate's history features, the state the policy itself
 * reads, with a one-dimensional action, the same for every coordinate of the group
 * (`lqr_features.ts`): controllers of d + 2 numbers per step whatever the parameter count, and
 * guidance the policy can represent, since both are functions of the same features.
 *
 * The iteration is `gps.ts`'s, per (condition, group) instead of per condition:
 * 1. C-step: fit the group's local model (feature dynamics and each coordinate's share of the
 *    objective's change) on up to `coords` of its coordinates in every sample, linearise the
 *    policy there, and run the backward pass under a KL bound to the previous controller (the
 *    KL at the sampled states, a fixed bound per coordinate and step; the dynamics toward their
 *    pooled fit: the earlier GPS's choices, since the mixture prior and the model KL of
 *    `gps.ts` are written for the x state);
 * 2. draw `samples` runs of every condition, each coordinate stepped by its group's controller;
 * 3. S-step: the policy fitted by weighted regression to the controllers' means at the sampled
 *    coordinates (dual-shifted, weight the controller's precision), on at most
 *    GROUPED_DEFAULTS.fitRows rows drawn from them; its spread the controllers' mean variance;
 * 4. dual step per group and step: lambda_t += nu (E[pi] - E[p]) over its sampled coordinates.
 */
import { foldIn, key as makeKey, normal, permutation, type Key } from "../core/rng.ts";
import type { TaskFamily } from "../tasks/base.ts";
import { fitPolicy, GPS_DEFAULTS, type FitRow, type GpsIterationInfo, type GpsOptions } from "./gps.ts";
import { coordinateGroups, coordinateSubset, type GroupSpec } from "./groups.ts";
import { fitPerStep } from "./lqr.ts";
import { controllerMean, fitFeatureModel, sampleCount, solveFeatureWithKl, stateAt, type FeatureController, type GroupSamples } from "./lqr_features.ts";
import { DIVERGED_COST, relativeCosts, trainingDraw } from "./pg.ts";
import { policyMean, policyStd, type PolicyShape } from "./policy.ts";
import { policyActor, rollout, type Actor, type Trajectory } from "./rollout.ts";

/** The most coordinates of a group (per run) that a C-step fits; the most rows of an S-step. */
export const GROUPED_DEFAULTS = Object.freeze({ coords: 64, fitRows: 20_000 });

/** The dense GPS's run settings (their meanings are GpsOptions'), plus the groups. */
export interface GroupedGpsOptions extends Pick<GpsOptions, "family" | "steps" | "iterations" | "conditions" | "samples" | "lr" | "seed" | "nu0" | "fitSteps"> {
  readonly groups: GroupSpec;
  /** Mean KL bound per coordinate and step between successive controllers. */
  readonly maxKl?: number;
  /** Coordinates per group and run fitted in a C-step (default GROUPED_DEFAULTS.coords). */
  readonly coords?: number;
  /** After each C-step: the new controllers, per condition and group (for diagnostics). */
  readonly onControllers?: (iteration: number, controllers: readonly (readonly FeatureController[])[]) => void;
  readonly onIteration?: (iteration: number, policyCost: number, phi: Float32Array, info: GpsIterationInfo) => void;
}

/** Samples from each group's controller: coordinate i of group g steps by N(K z_i + k, S). */
export function groupedControllerActor(controllers: readonly FeatureController[], groupOf: Int32Array, noise: Key): Actor {
  return ({ t, feats, x }) => {
    const n = x.length;
    const eps = normal(foldIn(noise, t), n);
    const u = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = controllers[groupOf[i]!]!;
      const d = p.d;
      u[i] = controllerMean(p, t, feats.subarray(i * d, (i + 1) * d)) + Math.sqrt(p.S[t]!) * eps[i]!;
    }
    return u;
  };
}

const meanCost = (runs: readonly Trajectory[]): number => runs.reduce((s, r) => s + relativeCosts(r).reduce((a, b) => a + b, 0) / r.steps, 0) / runs.length;

/** The policy's mean at every sample of the group: means[t][s]. */
function policyMeansAt(shape: PolicyShape, phi: ArrayLike<number>, g: GroupSamples, T: number): Float64Array[] {
  const S = sampleCount(g);
  return Array.from({ length: T }, (_, t) => Float64Array.from({ length: S }, (_, s) => policyMean(shape, phi, stateAt(g, s, t))));
}

/** The policy linearised at the group's samples, per step. */
function linearise(g: GroupSamples, means: readonly Float64Array[], T: number): { K: Float64Array[]; k: Float64Array } {
  const fit = fitPerStep(sampleCount(g), 0, T - 1, g.d, 1, (s, t) => stateAt(g, s, t), (s, t) => [means[t]![s]!]);
  return { K: fit.A, k: Float64Array.from(fit.b, (b) => b[0]!) };
}

/** Trains phi by grouped GPS; returns it, the policy's cost per iteration, and the last controllers (per condition, per group). */
export function trainGpsGrouped(shape: PolicyShape, phi0: Float32Array, opts: GroupedGpsOptions): { phi: Float32Array; costs: number[]; info: GpsIterationInfo[]; controllers: FeatureController[][] } {
  const root = foldIn(makeKey(opts.seed), "rl/gps");
  const { samples: M, steps: T } = opts;
  const H = shape.cfg.history;
  const d = shape.F;
  const maxKl = opts.maxKl ?? GPS_DEFAULTS.maxKl;
  const maxCoords = opts.coords ?? GROUPED_DEFAULTS.coords;
  const conds = Array.from({ length: opts.conditions }, (_, j) => trainingDraw(opts.family, root, 0, j));
  const groups = conds.map((c) => coordinateGroups(c.task.layout, opts.groups));
  const groupOf = groups.map((gs) => {
    const of = new Int32Array(gs.reduce((a, g) => a + g.length, 0));
    gs.forEach((g, k) => g.forEach((i) => (of[i] = k)));
    return of;
  });
  const scales = conds.map((c) => 1 / (c.task.instances * Math.max(Math.abs(c.task.lossAndGrad(c.theta0, foldIn(c.batchKey, 0)).loss / c.task.instances), 1e-12)));
  const draw = (j: number, it: number, actor: (noise: Key) => Actor): Trajectory[] => {
    const c = conds[j]!;
    const out: Trajectory[] = [];
    for (let s = 0; s < M; s++) {
      const r = rollout(c.task, c.theta0, T, H, c.batchKey, actor(foldIn(foldIn(c.noise, it), s)), DIVERGED_COST);
      if (!r.diverged) out.push(r);
    }
    return out;
  };
  const view = (j: number, k: number, it: number, runs: readonly Trajectory[]): GroupSamples => ({ runs, d, coords: coordinateSubset(groups[j]![k]!, maxCoords, foldIn(foldIn(foldIn(root, "coords"), it), j * 4096 + k)) });
  let phi: Float32Array = phi0.slice();
  let samples = conds.map((_, j) => draw(j, 0, (noise) => policyActor(shape, phi, noise)));
  // The start: each group's controller is the policy linearised at its samples, with the policy's spread.
  const v0 = policyStd(shape, phi) ** 2;
  let controllers: FeatureController[][] = samples.map((runs, j) =>
    groups[j]!.map((_, k) => {
      const g = view(j, k, 0, runs);
      const lin = linearise(g, policyMeansAt(shape, phi, g, T), T);
      return { d, T, K: lin.K, k: lin.k, S: new Float64Array(T).fill(v0) };
    }),
  );
  const lambda = groups.map((gs) => gs.map(() => new Float64Array(T)));
  let nu = opts.nu0 ?? GPS_DEFAULTS.nu0;
  const costs: number[] = [];
  const infos: GpsIterationInfo[] = [];
  for (let it = 0; it < opts.iterations; it++) {
    let etaSum = 0;
    let solved = 0;
    const prec = 1 / policyStd(shape, phi) ** 2;
    // C-step.
    controllers = controllers.map((cs, j) => {
      const runs = samples[j]!;
      if (runs.length < 2) return cs;
      return cs.map((prior, k) => {
        const g = view(j, k, it, runs);
        const lin = linearise(g, policyMeansAt(shape, phi, g, T), T);
        const model = fitFeatureModel(g, scales[j]!);
        const r = solveFeatureWithKl(model, { prior, policyK: lin.K, policyk: lin.k, policyPrecision: prec, lambda: lambda[j]![k]!, nu }, g, maxKl);
        if (Number.isFinite(r.eta)) (etaSum += r.eta), solved++;
        return r.controller;
      });
    });
    opts.onControllers?.(it, controllers);
    samples = controllers.map((cs, j) => {
      const runs = draw(j, it + 1, (noise) => groupedControllerActor(cs, groupOf[j]!, noise));
      return runs.length >= 2 ? runs : samples[j]!;
    });
    // S-step rows, and each group's samples and policy means for the dual step.
    const rows: FitRow[] = [];
    let precision = 0;
    let count = 0;
    const seen = samples.map((runs, j) =>
      controllers[j]!.map((p, k) => {
        const g = view(j, k, it + 1, runs);
        for (let s = 0; s < sampleCount(g); s++) {
          const r = g.runs[Math.floor(s / g.coords.length)]!;
          const i = g.coords[s % g.coords.length]!;
          for (let t = 0; t < T; t++) {
            const w = 1 / p.S[t]!;
            rows.push({ cond: j, feats: r.feats[t]!, i, target: controllerMean(p, t, stateAt(g, s, t)) - (p.S[t]! * lambda[j]![k]![t]!) / nu, weight: w });
            precision += w;
            count++;
          }
        }
        return g;
      }),
    );
    const fitRows = rows.length <= GROUPED_DEFAULTS.fitRows ? rows : Array.from(permutation(foldIn(foldIn(root, "rows"), it), rows.length).subarray(0, GROUPED_DEFAULTS.fitRows), (q) => rows[q]!);
    phi = fitPolicy(shape, phi, fitRows, opts.fitSteps ?? GPS_DEFAULTS.fitSteps, opts.lr, count / precision);
    // Dual step, and the policy's KL to the controllers at the samples.
    const v = policyStd(shape, phi) ** 2;
    let klSum = 0;
    let klCount = 0;
    seen.forEach((gs, j) =>
      gs.forEach((g, k) => {
        const p = controllers[j]![k]!;
        const means = policyMeansAt(shape, phi, g, T);
        const S = sampleCount(g);
        for (let t = 0; t < T; t++) {
          let diff = 0;
          for (let s = 0; s < S; s++) {
            const dm = means[t]![s]! - controllerMean(p, t, stateAt(g, s, t));
            diff += dm / S;
            klSum += 0.5 * (p.S[t]! / v - 1 + Math.log(v / p.S[t]!) + (dm * dm) / v);
            klCount++;
          }
          lambda[j]![k]![t] = lambda[j]![k]![t]! + nu * diff;
        }
      }),
    );
    nu = Math.min(GPS_DEFAULTS.nuMax, nu * GPS_DEFAULTS.nuGrowth);
    const policyRuns = conds.map((c) => rollout(c.task, c.theta0, T, H, c.batchKey, policyActor(shape, phi, null), DIVERGED_COST));
    const info: GpsIterationInfo = { controllerCost: meanCost(samples.flat()), policyKl: klSum / Math.max(klCount, 1), nu, eta: solved > 0 ? etaSum / solved : Infinity, stepMult: 1 };
    costs.push(meanCost(policyRuns));
    infos.push(info);
    opts.onIteration?.(it, costs[it]!, phi, info);
  }
  return { phi, costs, info: infos, controllers };
}

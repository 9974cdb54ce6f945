/**
 * Persistent evolution strategies (Vicol, Metz and Sohl-Dickstein 2021; learned_optimization's
 * `TruncatedPES`): truncations like truncated BPTT, but unbiased for the Gaussian-smoothed
 * meta-loss over the whole horizon.
 *
 * Each trajectory keeps P antithetic pairs of particles. In truncation tau every pair draws a
 * fresh eps_tau; its plus particle runs the truncation with phi + sigma eps_tau, its minus
 * particle with phi - sigma eps_tau, each from where it stood (its own theta and optimizer
 * state: perturbed trajectories diverge, so they cannot share one). The pair's accumulated
 * perturbation xi = eps_0 + ... + eps_tau (reset at a horizon's start) carries the credit of
 * the earlier truncations' perturbations for this truncation's losses:
 *
 *   g_tau = sum_j (L+_j - L-_j) xi_j / (2 sigma P)
 *
 * Summed over the truncations of a horizon it is, in expectation, the gradient of the
 * smoothed meta-loss of the whole horizon. Truncations before `metaLossFrom` still run the
 * particles and accumulate their perturbations (they change the losses that count) and
 * return null. It runs the optimizer forward alone (`optFn`), so it trains any kind.
 *
 * The trajectory's own theta stays where its horizon started: the particles carry where
 * the horizon has got to (`Trajectory.particles`, kept in its record).
 */
import type { Instance } from "../eval/evaluate.ts";
import type { GradientEstimator, TrajectoryPart, TrajectoryParts, Truncation } from "./estimator.ts";
import { estimatorFromParts, localFrom } from "./estimator.ts";
import {
  antitheticPart,
  checkPerturbations,
  countedPoints,
  forwardOptimizer,
  instanceSegment,
  perturbation,
  perturbationKey,
  perturbed,
  runSegment,
  type ForwardOptimizer,
  type PairLosses,
} from "./perturbed.ts";
import type { ParticlePair, Trajectory, TrajectorySet } from "./trajectory.ts";

export interface PesOptions {
  /** The perturbation's standard deviation (in phi's units). */
  readonly sigma: number;
  /** Antithetic pairs of particles per trajectory. */
  readonly pairs: number;
}

/** Fresh pairs at a horizon's start: every particle at theta_0 with the state of step 0, nothing accumulated. */
export function pesStart(theta0: Float32Array, pairs: number, phiSize: number): ParticlePair[] {
  return Array.from({ length: pairs }, () => ({
    plus: { theta: theta0, state: null },
    minus: { theta: theta0, state: null },
    acc: new Float32Array(phiSize),
  }));
}

/** The eps of pair `j` in truncation `index` of the trajectory of `instance`. */
export function pesPerturbation(instance: Pick<Instance, "batchKey">, index: number, j: number, n: number): Float32Array {
  return perturbation(perturbationKey(instance.batchKey, "pes", index, j), n);
}

/** What a pair's truncation needs of the trajectory and the truncation. */
export interface PesAt extends Pick<Truncation, "index" | "length" | "horizon" | "metaLoss" | "metaLossFrom"> {
  /** The trajectory's position (steps taken in its horizon). */
  readonly position: number;
}

export interface PesPairResult extends PairLosses {
  /** The pair after the truncation (its `acc` is the `direction`). */
  readonly pair: ParticlePair;
}

/**
 * One pair's truncation (the work a worker can do): a pure function of phi, the pair's
 * record and the keys (instance, truncation, pair index). The losses are the truncation's
 * meta-losses as truncated BPTT reports them (NaN: the particle diverged).
 */
export function pesPairTruncation(
  opt: ForwardOptimizer,
  instance: Instance,
  phi: Float32Array,
  sigma: number,
  pair: ParticlePair,
  j: number,
  at: PesAt,
): PesPairResult {
  const eps = pesPerturbation(instance, at.index, j, phi.length);
  const acc = new Float32Array(pair.acc.length);
  for (let i = 0; i < acc.length; i++) acc[i] = pair.acc[i]! + eps[i]!;
  const seg = instanceSegment(instance, { position: at.position, length: at.length, horizon: at.horizon, metaLoss: at.metaLoss, from: localFrom(at) });
  const plus = runSegment(opt, perturbed(phi, eps, sigma), pair.plus, seg);
  const minus = runSegment(opt, perturbed(phi, eps, -sigma), pair.minus, seg);
  return { plus: plus.loss, minus: minus.loss, direction: acc, pair: { plus: plus.particle, minus: minus.particle, acc } };
}

/** Truncated PES with antithetic particles. */
export function pes(opts: PesOptions): GradientEstimator {
  const { sigma, pairs } = opts;
  checkPerturbations("pes", sigma, pairs);
  const counts = (trunc: Truncation): boolean => countedPoints({ length: trunc.length, from: localFrom(trunc) }) > 0;
  const parts: TrajectoryParts = {
    sum: "f64",
    advances: () => true,
    estimates: counts,
    part(trunc: Truncation, set: TrajectorySet, k: number): TrajectoryPart | "diverged" | null {
      const opt = forwardOptimizer(trunc, "pes");
      const tr = set.items[k]!;
      const results = advancePairs(opt, tr, trunc, sigma, pairs);
      tr.position += trunc.length;
      // Before the counted steps a diverged particle goes on as NaN, and the first truncation that counts drops it.
      if (!counts(trunc)) return null;
      const part = antitheticPart(results, sigma, trunc.phi.length);
      if (part === "diverged") {
        // A diverged particle: the rest of the horizon is dropped; it does not touch phi.
        tr.live = false;
        tr.particles = undefined;
      }
      return part;
    },
  };
  return estimatorFromParts("pes", parts, true);
}

/** Runs the trajectory's pairs through the truncation (fresh ones at a horizon's start) and keeps them. */
function advancePairs(opt: ForwardOptimizer, tr: Trajectory, trunc: Truncation, sigma: number, pairs: number): PesPairResult[] {
  const n = trunc.phi.length;
  if (tr.position === 0 || tr.particles === undefined) tr.particles = pesStart(tr.theta, pairs, n);
  if (tr.particles.length !== pairs) throw new Error(`pes: the trajectory of horizon ${tr.horizon} carries ${tr.particles.length} pairs of particles, this estimator ${pairs}`);
  const at = { ...trunc, position: tr.position };
  const results = tr.particles.map((p, j) => pesPairTruncation(opt, tr.instance, trunc.phi, sigma, p, j, at));
  tr.particles = results.map((r) => r.pair);
  return results;
}

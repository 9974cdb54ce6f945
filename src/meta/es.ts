/**
 * Antithetic evolution strategies over whole horizons (Salimans et al. 2017; learned_optimization's
 * `FullES`): for each trajectory, P directions eps_j; the whole horizon is run from the same
 * theta_0, fresh optimizer state and minibatch keys with phi + sigma eps_j and with
 * phi - sigma eps_j, and
 *
 *   g = sum_j (L(phi + sigma eps_j) - L(phi - sigma eps_j)) eps_j / (2 sigma P)
 *
 * estimates the gradient of the Gaussian-smoothed meta-loss E_eps L(phi + sigma eps): no
 * truncation, so no truncation bias, at the price of one update per horizon and variance
 * that grows with phi's size. It runs the optimizer forward alone (`optFn`), so it trains any
 * kind, with or without a differentiable step.
 *
 * Through the `GradientEstimator` interface the whole horizon runs at its first truncation,
 * which returns the estimate; the later truncations return null.
 */
import type { Instance } from "../eval/evaluate.ts";
import type { GradientEstimator, TrajectoryPart, TrajectoryParts, Truncation } from "./estimator.ts";
import { estimatorFromParts } from "./estimator.ts";
import {
  antitheticPart,
  checkPerturbations,
  forwardOptimizer,
  instanceSegment,
  perturbation,
  perturbationKey,
  perturbed,
  runSegment,
  type ForwardOptimizer,
  type PairLosses,
} from "./perturbed.ts";
import type { TrajectorySet } from "./trajectory.ts";

export interface EsOptions {
  /** The perturbation's standard deviation (in phi's units). */
  readonly sigma: number;
  /** Antithetic pairs per trajectory (2 * pairs whole horizons per estimate). */
  readonly pairs: number;
}

/** What a pair's run needs of the truncation. */
export type EsHorizon = Pick<Truncation, "horizon" | "metaLoss" | "metaLossFrom">;

/** The direction of pair `j` for the trajectory of `instance`. */
export function esDirection(instance: Pick<Instance, "batchKey">, j: number, n: number): Float32Array {
  return perturbation(perturbationKey(instance.batchKey, "es", 0, j), n);
}

/**
 * One antithetic pair (the work a worker can do): the meta-losses of the whole horizon of
 * `instance` run with phi + sigma eps and with phi - sigma eps, eps being pair `j`'s
 * direction. A pure function of its arguments.
 */
export function esPair(opt: ForwardOptimizer, instance: Instance, phi: Float32Array, sigma: number, j: number, at: EsHorizon): PairLosses {
  const direction = esDirection(instance, j, phi.length);
  const seg = instanceSegment(instance, { position: 0, length: at.horizon, horizon: at.horizon, metaLoss: at.metaLoss, from: at.metaLossFrom });
  const start = { theta: instance.theta0, state: null };
  const plus = runSegment(opt, perturbed(phi, direction, sigma), start, seg).loss;
  const minus = runSegment(opt, perturbed(phi, direction, -sigma), start, seg).loss;
  return { plus, minus, direction };
}

/** Antithetic ES over whole horizons. */
export function antitheticEs(opts: EsOptions): GradientEstimator {
  const { sigma, pairs } = opts;
  checkPerturbations("es", sigma, pairs);
  const parts: TrajectoryParts = {
    sum: "f64",
    // The whole horizon runs at its first truncation, which gives the estimate.
    advances: (trunc) => trunc.index === 0,
    estimates: (trunc) => trunc.index === 0,
    part(trunc: Truncation, set: TrajectorySet, k: number): TrajectoryPart | "diverged" {
      const opt = forwardOptimizer(trunc, "es");
      const n = trunc.phi.length;
      const tr = set.items[k]!;
      const results: PairLosses[] = [];
      for (let j = 0; j < pairs; j++) results.push(esPair(opt, tr.instance, trunc.phi, sigma, j, trunc));
      tr.position = trunc.horizon;
      const part = antitheticPart(results, sigma, n);
      // A diverged particle: the horizon is dropped; it does not touch phi.
      if (part === "diverged") tr.live = false;
      return part;
    },
  };
  return estimatorFromParts("es", parts, true);
}

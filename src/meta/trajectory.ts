/**
 * Trajectories: a task instance on its way through a horizon (its theta, the optimizer's
 * state, its position), advanced truncation by truncation. Horizon h draws its task, initial
 * point and minibatches from `foldIn(trainKey, h)`, so a trajectory is a named record that a
 * checkpoint (or a job on another machine) carries: `TrajectoryRecord`. Under PES a trajectory
 * also carries its perturbed particles, whose thetas and optimizer states diverge from one
 * another (`ParticlePair`).
 */
import { foldIn, type Key } from "../core/rng.ts";
import type { LossAndGrad, TaskFamily } from "../tasks/base.ts";
import type { DifferentiableStep } from "../learned/contract.ts";
import type { OptState } from "../optimizers/transform.ts";
import { drawInstance, type Instance } from "../eval/evaluate.ts";

export interface Trajectory {
  /** The horizon's number: its instance comes from `foldIn(trainKey, horizon)`. */
  readonly horizon: number;
  readonly instance: Instance;
  /** Where it stands. */
  theta: Float32Array;
  /** Steps taken in the horizon. */
  position: number;
  /** Loss and gradient at theta on the next step's minibatch, when known. */
  first: LossAndGrad | undefined;
  /** The optimizer's state while the step does not hold it (undefined: the state of step 0). */
  state: Float32Array | undefined;
  /** False once it diverged: the rest of its horizon is dropped. */
  live: boolean;
  /** PES's antithetic particles in this horizon (undefined: none yet, or another estimator). */
  particles?: ParticlePair[] | undefined;
}

/** A perturbed copy of a trajectory: where it stands and the optimizer's state (optFn's record; null: step 0's). */
export interface Particle {
  readonly theta: Float32Array;
  readonly state: OptState | null;
}

/**
 * An antithetic pair of particles, run with phi + sigma eps and phi - sigma eps (a fresh eps
 * each truncation), and `acc`, the sum of the eps drawn for the pair so far in the horizon.
 */
export interface ParticlePair {
  readonly plus: Particle;
  readonly minus: Particle;
  readonly acc: Float32Array;
}

/** What a checkpoint keeps of a trajectory (the instance is drawn again from its key). */
export interface TrajectoryRecord {
  readonly horizon: number;
  readonly position: number;
  readonly theta: Float32Array;
  readonly state: Float32Array | null;
  readonly live: boolean;
  /** PES's particles, when it has any. */
  readonly particles?: readonly ParticlePair[];
}

/** The instance of horizon `horizon`: task, initial point and minibatch key. */
export function horizonInstance(family: TaskFamily, trainKey: Key, horizon: number): Instance {
  return drawInstance(family, foldIn(trainKey, horizon));
}

/** Fresh trajectories for horizons first .. first + count - 1, at their step 0. */
export function startTrajectories(family: TaskFamily, trainKey: Key, first: number, count: number): Trajectory[] {
  return Array.from({ length: count }, (_, k) => {
    const instance = horizonInstance(family, trainKey, first + k);
    return { horizon: first + k, instance, theta: instance.theta0, position: 0, first: undefined, state: undefined, live: true };
  });
}

/** The batch key of step `t` of the truncation that starts at the trajectory's position. */
export function batchKeys(tr: Trajectory): (t: number) => Key {
  const at = tr.position;
  return (t) => foldIn(tr.instance.batchKey, at + t);
}

/**
 * A set of trajectories that share one differentiable step (one layout): the step holds one
 * trajectory's state at a time. With one trajectory the state simply stays in the step; with
 * several, `enter` restores a trajectory's state and `leave` copies it out. Estimators that
 * run the optimizer forward only (ES, PES) get a set without a step (null).
 */
export class TrajectorySet {
  readonly #step: DifferentiableStep | null;

  constructor(
    step: DifferentiableStep | null,
    readonly items: Trajectory[],
  ) {
    this.#step = step;
    step?.resetState();
  }

  /** The shared differentiable step (an error for a set made without one). */
  get step(): DifferentiableStep {
    if (this.#step === null) throw new Error("trajectories: this set has no differentiable step (it serves estimators that run the optimizer forward only)");
    return this.#step;
  }

  /** Whether the set has a differentiable step. */
  get hasStep(): boolean {
    return this.#step !== null;
  }

  enter(k: number): Trajectory {
    const tr = this.items[k]!;
    if (this.items.length > 1 && this.#step !== null) {
      if (tr.state === undefined) this.step.resetState();
      else this.step.setState(tr.state);
    }
    return tr;
  }

  leave(k: number): void {
    if (this.items.length > 1 && this.#step !== null) this.items[k]!.state = this.#step.getState();
  }

  /** The records a checkpoint keeps (each trajectory's state copied out of the step). */
  records(): TrajectoryRecord[] {
    return this.items.map((tr) => ({
      horizon: tr.horizon,
      position: tr.position,
      theta: tr.theta,
      state: this.items.length > 1 || this.#step === null ? (tr.state ?? null) : this.#step.getState(),
      live: tr.live,
      ...(tr.particles !== undefined ? { particles: tr.particles.slice() } : {}),
    }));
  }

  /** Trajectories rebuilt from `records` over `step` (the inverse of `records`). */
  static fromRecords(step: DifferentiableStep | null, family: TaskFamily, trainKey: Key, records: readonly TrajectoryRecord[]): TrajectorySet {
    const items = records.map((r) => ({
      horizon: r.horizon,
      instance: horizonInstance(family, trainKey, r.horizon),
      theta: r.theta,
      position: r.position,
      first: undefined,
      state: r.state ?? undefined,
      live: r.live,
      ...(r.particles !== undefined ? { particles: r.particles.slice() } : {}),
    }));
    const set = new TrajectorySet(step, items);
    if (step !== null && items.length === 1 && items[0]!.state !== undefined) step.setState(items[0]!.state);
    return set;
  }
}

/**
 * The learned-optimizer contract (learned_optimization's convention): a learned optimizer is a
 * family of gradient transformations indexed by meta-parameters `phi`.
 *
 * - `init(key)` gives phi: named tensors over one flat vector (the outer optimizer and the
 *   files work on the flat vector; names and shapes say what each slice is).
 * - `optFn(phi, layout)` gives, for a task's parameter layout (every tensor's name, shape and
 *   group), a transform with the hand-designed optimizers' `init`/`update` contract, whose
 *   `update` also receives the step's context (loss, step index, horizon).
 * - `differentiable(phi, layout, capacity)`, where the kind can be meta-trained by gradient,
 *   gives a differentiable step: a forward that keeps what the backward needs, and a backward
 *   to phi and to its inputs (see `DifferentiableStep`).
 *
 * Hand-designed optimizers are learned optimizers with an empty phi (`handDesigned`), so
 * evaluation, files and the CLI treat all alike. Room left for the kinds to come:
 * - state is a named record (`OptState`), so per-tensor and global state (a hierarchical RNN)
 *   fit beside per-coordinate state; the layout gives every tensor's extent;
 * - `initialParams` lets a kind learn the initial theta (the MAML family);
 * - `LossOnlyOptimizer` is the contract of optimizers that see only losses (propose a point,
 *   then observe its loss).
 */
import type { Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";
import type { GradientTransformation, OptState, StepContext } from "../optimizers/transform.ts";
import type { FlatEntry } from "../io/optimizer_file.ts";
import { L2oError } from "../core/errors.ts";
import { assertFiniteGrads } from "../optimizers/checks.ts";

export type { StepContext };

/**
 * One named tensor of phi: its name and shape; tensors lie in phi's flat vector in order
 * (the file format's `FlatEntry`, so phi is saved as it is named).
 */
export type PhiEntry = FlatEntry;

/** phi as named tensors over one flat vector. */
export interface NamedPhi {
  readonly flat: Float32Array;
  readonly entries: readonly PhiEntry[];
  /** The tensor called `name`, a view into `flat` (throws on an unknown name). */
  tensor(name: string): Float32Array;
}

/** Names `flat` by `entries` (their sizes must add up to its length). */
export function namedPhi(flat: Float32Array, entries: readonly PhiEntry[]): NamedPhi {
  const offsets = new Map<string, [number, number]>();
  let o = 0;
  for (const e of entries) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    offsets.set(e.name, [o, o + size]);
    o += size;
  }
  if (o !== flat.length) throw new Error(`phi has ${flat.length} floats, its tensors ${o}`);
  return {
    flat,
    entries,
    tensor(name) {
      const r = offsets.get(name);
      if (r === undefined) throw new Error(`phi has no tensor '${name}' (it has ${entries.map((e) => e.name).join(", ")})`);
      return flat.subarray(r[0], r[1]);
    },
  };
}

/**
 * A transform made by `optFn`: the hand-designed contract, plus `dispose` for what it holds.
 * Every kind's refuses a non-finite gradient or loss and use after `dispose` (`guardedTransform`).
 */
export interface LearnedTransform extends GradientTransformation {
  /** Frees engines, worker threads and memory; `init` and `update` throw afterwards. */
  dispose(): void;
}

/**
 * `tx` with the checks every kind's `optFn` makes before its own step, so that all optimizers,
 * hand-designed and learned, answer bad input alike. Before any state is touched (a recurrent
 * state fed a non-finite value is poisoned for good), a NaN or infinite gradient throws a
 * NonFiniteGradientError whose message starts with `owner` (`lstm optimizer`; a hand-designed
 * one's name, as `named` says it), and a non-finite loss in the step context an L2oError. Any
 * use after `dispose()` throws instead of running on freed engines; `dispose` may be called
 * more than once.
 */
export function guardedTransform(owner: string, tx: LearnedTransform): LearnedTransform {
  let disposed = false;
  const live = (what: string): void => {
    if (disposed) throw new Error(`${owner}: ${what} after dispose(); make a new transform with optFn`);
  };
  const paramsAt = tx.paramsAt;
  return {
    init(params) {
      live("init");
      return tx.init(params);
    },
    update(grads, state, params, ctx) {
      live("update");
      assertFiniteGrads(owner, grads);
      const loss = ctx?.loss;
      if (loss !== undefined && !Number.isFinite(loss)) throw new L2oError(`${owner}: the step context's loss is ${loss}, not a finite number`);
      return tx.update(grads, state, params, ctx);
    },
    ...(paramsAt === undefined
      ? {}
      : {
          paramsAt(params: Float32Array, state: OptState): Float32Array {
            live("paramsAt");
            return paramsAt.call(tx, params, state);
          },
        }),
    dispose() {
      if (disposed) return;
      disposed = true;
      tx.dispose();
    },
  };
}

export interface TransformOptions {
  /**
   * Return a copy of the state from every `update` (default true). With false a kind may
   * return a handle that only the next `update` accepts, copying nothing (evaluation,
   * validation and training loops never keep a state).
   */
  readonly copyState?: boolean;
}

/**
 * A learned optimizer's step, differentiable with respect to phi and to its inputs, over one
 * task layout, for truncated backpropagation through time (`src/meta/unroll.ts`).
 *
 * The step maps (theta_t, grad_t, context) to theta_{t+1}, with the kind's recurrent or
 * accumulated state inside. Protocol for one truncation of T <= capacity steps: `step(...,
 * record)` for t = 0..T-1, then `backward` for t = T-1 down to 0 (each call takes the latest
 * step not yet backpropagated), then `finishBackward(dphi)`, which adds dL/dphi, clears the
 * tape and keeps the state (the truncation cut). `step` without `record` advances alone.
 */
export interface DifferentiableStep {
  /** Coordinates of theta. */
  readonly n: number;
  readonly phiSize: number;
  /** Most steps recorded before a backward pass. */
  readonly capacity: number;
  /** Steps recorded and not yet backpropagated. */
  readonly recorded: number;
  setPhi(phi: Float32Array): void;
  /** The state of step 0 (for every coordinate, tensor and the whole). */
  resetState(): void;
  /**
   * A copy of the whole state, flat: what a trajectory carries between truncations. Its
   * layout is the kind's own (it need not equal the transform's state record).
   */
  getState(): Float32Array;
  /** Restores a state from `getState` (clears the tape). */
  setState(state: Float32Array): void;
  /**
   * theta_{t+1} from theta_t and its gradient, as a new array. `record` keeps what the
   * backward needs; `record: "inputs"` also keeps what dL/dgrad needs (second order).
   */
  step(theta: Float32Array, grad: Float32Array, ctx: StepContext, record: false | "phi" | "inputs"): Float32Array;
  /**
   * Backpropagates the latest recorded step. On entry `adjoint` holds dL/dtheta_{t+1} (n
   * numbers); the step accumulates dL/dphi and may add to `adjoint` what reaches theta_t
   * through the update's own use of theta (the identity path theta_{t+1} = theta_t + ... is
   * the caller's). With `dGrad` (the steps recorded with "inputs") it writes dL/dgrad_t
   * there, including what reaches grad_t through the kind's own state from later steps of
   * the truncation (moving averages: the kind carries that adjoint between calls). A
   * truncation passes `dGrad` to every `backward` or to none, and takes no unrecorded step
   * while it records.
   */
  backward(adjoint: Float64Array, dGrad?: Float32Array): void;
  /** Adds the accumulated dL/dphi into `dphi`, clears the accumulator and the tape. */
  finishBackward(dphi: Float32Array): void;
  dispose(): void;
}

/** A learned optimizer of some kind, with its configuration resolved. */
export interface LearnedOptimizer<Config = unknown> {
  /** The registry kind (`lstm`, `mlp`, `hand`); files record it. */
  readonly kind: string;
  /** A short name for tables, e.g. `lstm` or `adam`. */
  readonly name: string;
  /** The resolved configuration: everything needed to rebuild the optimizer (JSON). */
  readonly config: Config;
  /** phi's tensors, in the order of the flat vector (empty for a hand-designed optimizer). */
  readonly phiEntries: readonly PhiEntry[];
  /** Floats in phi. */
  readonly phiSize: number;
  /** Fresh meta-parameters. */
  init(key: Key): NamedPhi;
  /** The optimizer that phi describes, for parameters laid out as `layout`. */
  optFn(phi: Float32Array, layout: ParamLayout, opts?: TransformOptions): LearnedTransform;
  /**
   * The differentiable step for gradient-based meta-training; absent for kinds trained
   * without gradients of the meta-loss (and for hand-designed optimizers).
   */
  differentiable?(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep;
  /**
   * The initial theta the optimizer starts a task from, given the task's own theta_0 (the
   * MAML family learns it); absent: theta_0 as the task draws it. Evaluation and validation
   * start from it; `metaTrain` refuses such a kind until an estimator trains it.
   */
  initialParams?(phi: Float32Array, layout: ParamLayout, theta0: Float32Array): Float32Array;
}

/**
 * An optimizer that sees only losses (Chen et al. 2017's zeroth-order RNNs): it proposes a
 * point, is told its loss, and proposes the next.
 */
export interface LossOnlyOptimizer<State extends OptState = OptState> {
  init(layout: ParamLayout, theta0: Float32Array): State;
  propose(state: State): Float32Array;
  observe(state: State, point: Float32Array, loss: number): State;
}

/**
 * Transforms of `opt` with weights `phi`, one per parameter layout, made at the first `get`
 * for that layout and kept until `dispose`: runs that follow one another (evaluation,
 * validation) share engines instead of making them per run. Each run starts from its own
 * `init` state, which the transform restores.
 */
export function transformsByLayout(
  opt: Pick<LearnedOptimizer, "optFn">,
  phi: Float32Array,
  opts: TransformOptions = {},
): { get(layout: ParamLayout): LearnedTransform; dispose(): void } {
  const kept: { layout: ParamLayout; tx: LearnedTransform }[] = [];
  return {
    get(layout) {
      const hit = kept.find((k) => k.layout.sameAs(layout));
      if (hit !== undefined) return hit.tx;
      const tx = opt.optFn(phi, layout, opts);
      kept.push({ layout, tx });
      return tx;
    },
    dispose() {
      for (const k of kept) k.tx.dispose();
      kept.length = 0;
    },
  };
}

/** Size of a shape (product of its dimensions). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

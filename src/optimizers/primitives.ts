/**
 * The primitive gradient transformations the named optimizers are chained from, one idea
 * each (after optax's `transform.py`). All work over flat Float32Arrays, return fresh update
 * arrays and fresh state records, and never modify their inputs. Arithmetic is done in
 * double precision and stored as float32.
 *
 * Convention: wherever a small `eps` guards a division by a root mean square, it is added
 * OUTSIDE the square root, `g / (sqrt(v) + eps)`, as in PyTorch, Keras and the Adam paper
 * (optax puts it inside for `scale_by_rms` and `scale_by_rss`; pass `epsInSqrt: true` to
 * `scaleByRms` or `scaleByAdagrad` for that). A coordinate whose denominator is exactly 0 has
 * never seen a nonzero gradient, and gets an update of 0.
 *
 * The loops themselves are the rule kernels of src/kernels/rules.ts: WebAssembly SIMD where
 * it is built, else plain TypeScript, with the same bits (`engine` picks one). Each rule
 * followed by a `scale` in a `chain` runs as one pass (`ScalableTransformation`).
 *
 * No primitive checks that its gradients are finite (a NaN enters its state and stays): the
 * named optimizers do, through `named` (src/optimizers/combine.ts), which a chain of
 * primitives can be wrapped in too.
 */
import {
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkPositive,
  stateArray,
  stateNumber,
} from "./checks.ts";
import { ConfigError } from "../core/errors.ts";
import { RULE_ENGINES, ruleKernels, type RuleEngine, type RuleKernels } from "../kernels/rules.ts";
import { EMPTY_STATE, type OptState, type ScalableTransformation, type ScaleTransformation } from "./transform.ts";

export interface RuleEngineOption {
  /**
   * The kernels that run the rule: `wasm` (WebAssembly SIMD) or `ts` (plain TypeScript), with
   * the same bits. Default: `wasm` where it is built, else `ts`. Any other value is a
   * ConfigError when the optimizer is made.
   */
  readonly engine?: RuleEngine | undefined;
}

/**
 * The rule kernels of `engine`, found at the first update when no engine is named (so that
 * making an optimizer loads nothing), and at once when one is (so that a missing build is
 * reported where it was asked for).
 */
export function kernelsOf(engine: RuleEngine | undefined): () => RuleKernels {
  if (engine !== undefined && !RULE_ENGINES.includes(engine)) {
    throw new ConfigError(`unknown rule engine '${String(engine)}'; known engines: ${RULE_ENGINES.join(", ")}`);
  }
  let k: RuleKernels | undefined = engine === undefined ? undefined : ruleKernels(engine);
  return () => (k ??= ruleKernels(engine));
}

/**
 * A rule whose step `run(grads, state, post)` takes an optional factor to apply in the same
 * pass, as both `update` and `updateScaled`.
 */
export function scalableRule<S extends OptState>(
  init: (params: Float32Array) => S,
  run: (grads: Float32Array, state: OptState, post: number | undefined) => [Float32Array, S],
): ScalableTransformation {
  return {
    init,
    update: (grads, state) => run(grads, state, undefined),
    updateScaled: (grads, state, _params, c) => run(grads, state, c),
  };
}

/** Multiplies the updates by the constant `c`. */
export function scale(c: number, opts: RuleEngineOption = {}): ScaleTransformation {
  checkFinite("scale", "the factor", c);
  const k = kernelsOf(opts.engine);
  return {
    scaleFactor: c,
    init: () => EMPTY_STATE,
    update: (grads) => [k().scale(grads, c), EMPTY_STATE],
  };
}

/**
 * Multiplies the updates by `-lr`, turning a descent direction into a step (updates are added
 * to the parameters).
 */
export function scaleByLearningRate(lr: number, opts: RuleEngineOption = {}): ScaleTransformation {
  checkPositive("scaleByLearningRate", "the learning rate", lr);
  return scale(-lr, opts);
}

export interface TraceMomentumOptions extends RuleEngineOption {
  /** Momentum coefficient mu in [0, 1). Default 0.9. */
  readonly decay?: number;
  /** Use Nesterov's look-ahead form. Default false. */
  readonly nesterov?: boolean;
}

/** State of `traceMomentum`: the velocity. */
export type TraceState = { readonly trace: Float32Array };

/**
 * Heavy-ball momentum (Polyak 1964) in the deep-learning form used by PyTorch and optax:
 * `trace_t = decay * trace_{t-1} + g_t`, update `trace_t`; with `nesterov`, the update is
 * `g_t + decay * trace_t` (Sutskever et al. 2013, "On the importance of initialization and
 * momentum in deep learning", as reformulated by Bengio et al. 2013).
 */
export function traceMomentum(opts: TraceMomentumOptions = {}): ScalableTransformation {
  const decay = checkDecay("traceMomentum", "decay", opts.decay ?? 0.9);
  const nesterov = opts.nesterov ?? false;
  const k = kernelsOf(opts.engine);
  return scalableRule(
    (params): TraceState => ({ trace: new Float32Array(params.length) }),
    (grads, state, post): [Float32Array, TraceState] => {
      const prev = stateArray("traceMomentum", state, "trace", grads.length);
      const { out, trace } = k().momentum(grads, prev, decay, nesterov, post);
      return [out, { trace }];
    },
  );
}

export interface ScaleByRmsOptions extends RuleEngineOption {
  /** Decay of the mean of squared gradients, in [0, 1). Default 0.9. */
  readonly decay?: number;
  /** Added to the root mean square (see `epsInSqrt`). Default 1e-8. */
  readonly eps?: number;
  /** Add `eps` inside the square root, as optax does. Default false. */
  readonly epsInSqrt?: boolean;
}

/** State of `scaleByRms`: the running mean of squared gradients. */
export type RmsState = { readonly nu: Float32Array };

/**
 * Divides by a running root mean square of the gradients (Tieleman & Hinton 2012, "Lecture
 * 6.5 - RMSProp", COURSERA: Neural Networks for Machine Learning):
 * `nu_t = decay * nu_{t-1} + (1 - decay) g_t^2`, update `g_t / (sqrt(nu_t) + eps)`.
 * The mean starts at 0.
 */
export function scaleByRms(opts: ScaleByRmsOptions = {}): ScalableTransformation {
  const decay = checkDecay("scaleByRms", "decay", opts.decay ?? 0.9);
  const eps = checkNonNegative("scaleByRms", "eps", opts.eps ?? 1e-8);
  const inside = opts.epsInSqrt ?? false;
  const k = kernelsOf(opts.engine);
  return scalableRule(
    (params): RmsState => ({ nu: new Float32Array(params.length) }),
    (grads, state, post): [Float32Array, RmsState] => {
      const prev = stateArray("scaleByRms", state, "nu", grads.length);
      const { out, nu } = k().rms(grads, prev, decay, eps, inside, post);
      return [out, { nu }];
    },
  );
}

export interface ScaleByAdamOptions extends RuleEngineOption {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root of the corrected second moment. Default 1e-8. */
  readonly eps?: number;
}

/** State of `scaleByAdam`: steps taken, first and second moments (uncorrected). */
export type AdamState = { readonly count: number; readonly mu: Float32Array; readonly nu: Float32Array };

/**
 * Adam's direction (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization",
 * Algorithm 1): `mu_t = b1 mu_{t-1} + (1 - b1) g_t`, `nu_t = b2 nu_{t-1} + (1 - b2) g_t^2`,
 * update `mu_hat / (sqrt(nu_hat) + eps)` with the bias corrections
 * `mu_hat = mu_t / (1 - b1^t)`, `nu_hat = nu_t / (1 - b2^t)`.
 */
export function scaleByAdam(opts: ScaleByAdamOptions = {}): ScalableTransformation {
  const b1 = checkDecay("scaleByAdam", "b1", opts.b1 ?? 0.9);
  const b2 = checkDecay("scaleByAdam", "b2", opts.b2 ?? 0.999);
  const eps = checkNonNegative("scaleByAdam", "eps", opts.eps ?? 1e-8);
  const k = kernelsOf(opts.engine);
  return scalableRule(
    (params): AdamState => ({
      count: 0,
      mu: new Float32Array(params.length),
      nu: new Float32Array(params.length),
    }),
    (grads, state, post): [Float32Array, AdamState] => {
      const count = stateNumber("scaleByAdam", state, "count") + 1;
      const mu0 = stateArray("scaleByAdam", state, "mu", grads.length);
      const nu0 = stateArray("scaleByAdam", state, "nu", grads.length);
      const c1 = 1 - Math.pow(b1, count);
      const c2 = 1 - Math.pow(b2, count);
      const { out, mu, nu } = k().adam(grads, mu0, nu0, b1, b2, eps, c1, c2, post);
      return [out, { count, mu, nu }];
    },
  );
}

export interface ScaleByAdagradOptions extends RuleEngineOption {
  /** Starting value of the sum of squared gradients, >= 0. Default 0.1. */
  readonly initialAccumulator?: number;
  /** Added to the root of the sum (see `epsInSqrt`). Default 1e-7. */
  readonly eps?: number;
  /** Add `eps` inside the square root, as optax does. Default false. */
  readonly epsInSqrt?: boolean;
}

/** State of `scaleByAdagrad`: the running sum of squared gradients. */
export type AdagradState = { readonly sumOfSquares: Float32Array };

/**
 * Adagrad's direction (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online
 * Learning and Stochastic Optimization"): `s_t = s_{t-1} + g_t^2` from `s_0 =
 * initialAccumulator`, update `g_t / (sqrt(s_t) + eps)`.
 */
export function scaleByAdagrad(opts: ScaleByAdagradOptions = {}): ScalableTransformation {
  const s0 = checkNonNegative("scaleByAdagrad", "initialAccumulator", opts.initialAccumulator ?? 0.1);
  const eps = checkNonNegative("scaleByAdagrad", "eps", opts.eps ?? 1e-7);
  const inside = opts.epsInSqrt ?? false;
  const k = kernelsOf(opts.engine);
  return scalableRule(
    (params): AdagradState => ({ sumOfSquares: new Float32Array(params.length).fill(s0) }),
    (grads, state, post): [Float32Array, AdagradState] => {
      const prev = stateArray("scaleByAdagrad", state, "sumOfSquares", grads.length);
      const { out, s } = k().adagrad(grads, prev, eps, inside, post);
      return [out, { sumOfSquares: s }];
    },
  );
}

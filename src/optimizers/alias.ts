/**
 * The named hand-designed optimizers, each a thin `chain` of primitives wrapped by `named` (so
 * a NaN or infinite gradient throws a NonFiniteGradientError that names the optimizer). Every
 * factory validates its hyperparameters when called. Updates are added to the parameters:
 * theta <- theta + updates, with updates = -lr * direction.
 */
import { checkDecay, checkNonNegative, checkPositive } from "./checks.ts";
import { chain, named } from "./combine.ts";
import {
  scaleByAdagrad,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  traceMomentum,
  type RuleEngineOption,
} from "./primitives.ts";
import { scaleBySignRule } from "./sign.ts";
import type { GradientTransformation } from "./transform.ts";

export interface MomentumOptions extends RuleEngineOption {
  /** Momentum coefficient in [0, 1). Default 0.9. */
  readonly decay?: number;
}
export interface RmspropOptions extends RuleEngineOption {
  /** Decay of the mean of squared gradients, in [0, 1). Default 0.9. */
  readonly decay?: number;
  /** Added outside the square root. Default 1e-8. */
  readonly eps?: number;
}
export interface AdamOptions extends RuleEngineOption {
  /** Default 0.9. */
  readonly b1?: number;
  /** Default 0.999. */
  readonly b2?: number;
  /** Added outside the square root. Default 1e-8. */
  readonly eps?: number;
}
export interface AdagradOptions extends RuleEngineOption {
  /** Starting sum of squared gradients. Default 0.1. */
  readonly initialAccumulator?: number;
  /** Added outside the square root. Default 1e-7. */
  readonly eps?: number;
}
export interface SignRuleOptions extends RuleEngineOption {
  /** Base of the rule (e for PowerSign, 1 for AddSign by default). */
  readonly alpha?: number;
  /** Decay of the running average of gradients, in [0, 1). Default 0.9. */
  readonly beta?: number;
}

/** Default hyperparameters of each named optimizer (the learning rate aside). */
export const MOMENTUM_DEFAULTS = { decay: 0.9 } as const;
export const RMSPROP_DEFAULTS = { decay: 0.9, eps: 1e-8 } as const;
export const ADAM_DEFAULTS = { b1: 0.9, b2: 0.999, eps: 1e-8 } as const;
export const ADAGRAD_DEFAULTS = { initialAccumulator: 0.1, eps: 1e-7 } as const;
export const POWERSIGN_DEFAULTS = { alpha: Math.E, beta: 0.9 } as const;
export const ADDSIGN_DEFAULTS = { alpha: 1, beta: 0.9 } as const;

function lrOf(name: string, lr: number): void {
  checkPositive(name, "the learning rate", lr);
}

/**
 * Stochastic gradient descent, `theta <- theta - lr g` (Robbins & Monro 1951, "A Stochastic
 * Approximation Method"). Stateless.
 */
export function sgd(lr: number, opts: RuleEngineOption = {}): GradientTransformation {
  lrOf("sgd", lr);
  return named("sgd", scaleByLearningRate(lr, { engine: opts.engine }));
}

/**
 * SGD with heavy-ball momentum (Polyak 1964, "Some methods of speeding up the convergence of
 * iteration methods"), in PyTorch's form: `v_t = decay v_{t-1} + g_t`, step `-lr v_t`.
 */
export function momentum(lr: number, opts: MomentumOptions = {}): GradientTransformation {
  lrOf("momentum", lr);
  const decay = checkDecay("momentum", "decay", opts.decay ?? MOMENTUM_DEFAULTS.decay);
  return named("momentum", chain(traceMomentum({ decay, nesterov: false, engine: opts.engine }), scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * Nesterov's accelerated gradient (Nesterov 1983; Sutskever et al. 2013, "On the importance
 * of initialization and momentum in deep learning") in the deep-learning form of PyTorch and
 * optax: `v_t = decay v_{t-1} + g_t`, step `-lr (g_t + decay v_t)`. The gradient is taken at
 * the current parameters, not at a look-ahead point.
 */
export function nesterov(lr: number, opts: MomentumOptions = {}): GradientTransformation {
  lrOf("nesterov", lr);
  const decay = checkDecay("nesterov", "decay", opts.decay ?? MOMENTUM_DEFAULTS.decay);
  return named("nesterov", chain(traceMomentum({ decay, nesterov: true, engine: opts.engine }), scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * RMSprop (Tieleman & Hinton 2012, "Lecture 6.5 - RMSProp"): `nu_t = decay nu_{t-1} +
 * (1 - decay) g_t^2` from 0, step `-lr g_t / (sqrt(nu_t) + eps)`: eps OUTSIDE the square root,
 * as PyTorch and Keras do (optax's default puts it inside).
 */
export function rmsprop(lr: number, opts: RmspropOptions = {}): GradientTransformation {
  lrOf("rmsprop", lr);
  const decay = checkDecay("rmsprop", "decay", opts.decay ?? RMSPROP_DEFAULTS.decay);
  const eps = checkNonNegative("rmsprop", "eps", opts.eps ?? RMSPROP_DEFAULTS.eps);
  return named("rmsprop", chain(scaleByRms({ decay, eps, engine: opts.engine }), scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"), bias-corrected,
 * step `-lr mu_hat / (sqrt(nu_hat) + eps)`. Its first step is `-lr g / (|g| + eps)`.
 */
export function adam(lr: number, opts: AdamOptions = {}): GradientTransformation {
  lrOf("adam", lr);
  const b1 = checkDecay("adam", "b1", opts.b1 ?? ADAM_DEFAULTS.b1);
  const b2 = checkDecay("adam", "b2", opts.b2 ?? ADAM_DEFAULTS.b2);
  const eps = checkNonNegative("adam", "eps", opts.eps ?? ADAM_DEFAULTS.eps);
  return named("adam", chain(scaleByAdam({ b1, b2, eps, engine: opts.engine }), scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * Adagrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
 * Stochastic Optimization"): `s_t = s_{t-1} + g_t^2` from `s_0 = initialAccumulator`, step
 * `-lr g_t / (sqrt(s_t) + eps)` (eps outside the square root; the defaults 0.1 and 1e-7 are
 * optax's and Keras's).
 */
export function adagrad(lr: number, opts: AdagradOptions = {}): GradientTransformation {
  lrOf("adagrad", lr);
  const initialAccumulator = checkNonNegative(
    "adagrad",
    "initialAccumulator",
    opts.initialAccumulator ?? ADAGRAD_DEFAULTS.initialAccumulator,
  );
  const eps = checkNonNegative("adagrad", "eps", opts.eps ?? ADAGRAD_DEFAULTS.eps);
  return named("adagrad", chain(scaleByAdagrad({ initialAccumulator, eps, engine: opts.engine }), scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * PowerSign (Bello et al. 2017, "Neural Optimizer Search with Reinforcement Learning"):
 * `m_t = beta m_{t-1} + (1 - beta) g_t`, step `-lr alpha^(sign(g_t) sign(m_t)) g_t`.
 */
export function powersign(lr: number, opts: SignRuleOptions = {}): GradientTransformation {
  lrOf("powersign", lr);
  const alpha = checkPositive("powersign", "alpha", opts.alpha ?? POWERSIGN_DEFAULTS.alpha);
  const beta = checkDecay("powersign", "beta", opts.beta ?? POWERSIGN_DEFAULTS.beta);
  const rule = scaleBySignRule({ rule: "powersign", alpha, beta, engine: opts.engine });
  return named("powersign", chain(rule, scaleByLearningRate(lr, { engine: opts.engine })));
}

/**
 * AddSign (Bello et al. 2017, "Neural Optimizer Search with Reinforcement Learning"):
 * `m_t = beta m_{t-1} + (1 - beta) g_t`, step `-lr (alpha + sign(g_t) sign(m_t)) g_t`.
 */
export function addsign(lr: number, opts: SignRuleOptions = {}): GradientTransformation {
  lrOf("addsign", lr);
  const alpha = checkNonNegative("addsign", "alpha", opts.alpha ?? ADDSIGN_DEFAULTS.alpha);
  const beta = checkDecay("addsign", "beta", opts.beta ?? ADDSIGN_DEFAULTS.beta);
  const rule = scaleBySignRule({ rule: "addsign", alpha, beta, engine: opts.engine });
  return named("addsign", chain(rule, scaleByLearningRate(lr, { engine: opts.engine })));
}

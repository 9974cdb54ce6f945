/**
 * Update rules found by Neural Optimizer Search (Bello, Zoph, Vasudevan & Le 2017, "Neural
 * Optimizer Search with Reinforcement Learning", ICML): PowerSign and AddSign scale each
 * gradient coordinate up when its sign agrees with the sign of a running average of the
 * gradients, and down when it disagrees.
 */
import { ConfigError } from "../core/errors.ts";
import { checkDecay, checkNonNegative, checkPositive, stateArray } from "./checks.ts";
import { kernelsOf, scalableRule, type RuleEngineOption } from "./primitives.ts";
import type { ScalableTransformation } from "./transform.ts";

/** Which rule: `alpha^(sign(g) sign(m)) g` or `(alpha + sign(g) sign(m)) g`. */
export type SignRule = "powersign" | "addsign";

export interface ScaleBySignRuleOptions extends RuleEngineOption {
  readonly rule: SignRule;
  /** Base: Math.E for PowerSign, 1 for AddSign unless given. */
  readonly alpha?: number;
  /** Decay of the running average m of the gradients, in [0, 1). Default 0.9. */
  readonly beta?: number;
}

/** State of `scaleBySignRule`: the running average of the gradients. */
export type SignRuleState = { readonly mu: Float32Array };

/** The default `alpha` of each rule (the paper's choice). */
export const SIGN_RULE_ALPHA: Readonly<Record<SignRule, number>> = { powersign: Math.E, addsign: 1 };

/**
 * The direction of PowerSign or AddSign (Bello et al. 2017, section 5, "PowerSign" and
 * "AddSign"). First `m_t = beta m_{t-1} + (1 - beta) g_t` (from `m_0 = 0`), then with
 * `s = sign(g_t) sign(m_t)` (0 when either is 0) the update is `alpha^s g_t` for PowerSign
 * (alpha > 0) and `(alpha + s) g_t` for AddSign (alpha >= 0). Chain with
 * `scaleByLearningRate(lr)` for the step `-lr * ...`. The paper's decayed variants (where
 * `s` is multiplied by a schedule) are not provided.
 */
export function scaleBySignRule(opts: ScaleBySignRuleOptions): ScalableTransformation {
  const rule = opts.rule;
  if (rule !== "powersign" && rule !== "addsign") {
    throw new ConfigError(`scaleBySignRule: rule must be 'powersign' or 'addsign', got '${String(rule)}'`);
  }
  const alpha0 = opts.alpha ?? SIGN_RULE_ALPHA[rule];
  const alpha =
    rule === "powersign"
      ? checkPositive(rule, "alpha", alpha0)
      : checkNonNegative(rule, "alpha", alpha0);
  const beta = checkDecay(rule, "beta", opts.beta ?? 0.9);
  // The factor for s = 1, -1 and 0, computed once.
  const [same, opposite, zero] = rule === "powersign" ? [alpha, 1 / alpha, 1] : [alpha + 1, alpha - 1, alpha];
  const k = kernelsOf(opts.engine);
  return scalableRule(
    (params): SignRuleState => ({ mu: new Float32Array(params.length) }),
    (grads, state, post): [Float32Array, SignRuleState] => {
      const prev = stateArray("scaleBySignRule", state, "mu", grads.length);
      const { out, mu } = k().signRule(grads, prev, beta, same, opposite, zero, post);
      return [out, { mu }];
    },
  );
}

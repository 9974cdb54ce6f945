/**
 * Update rules found by Neural Optimizer Search (Bello, Zoph, Vasudevan & Le 2017, "Neural
 * Optimizer Search with Reinforcement Learning", ICML): PowerSign and AddSign scale each
 * gradient coordinate up when its sign agrees with the sign of a running average of the
 * gradients, and down when it disagrees.
 */
import { checkDecay, checkNonNegative, checkPositive, stateArray } from "./checks.ts";
import type { GradientTransformation } from "./transform.ts";

/** Which rule: `alpha^(sign(g) sign(m)) g` or `(alpha + sign(g) sign(m)) g`. */
export type SignRule = "powersign" | "addsign";

export interface ScaleBySignRuleOptions {
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
export function scaleBySignRule(opts: ScaleBySignRuleOptions): GradientTransformation {
  const rule = opts.rule;
  if (rule !== "powersign" && rule !== "addsign") {
    throw new Error(`scaleBySignRule: rule must be 'powersign' or 'addsign', got '${String(rule)}'`);
  }
  const alpha0 = opts.alpha ?? SIGN_RULE_ALPHA[rule];
  const alpha =
    rule === "powersign"
      ? checkPositive(rule, "alpha", alpha0)
      : checkNonNegative(rule, "alpha", alpha0);
  const beta = checkDecay(rule, "beta", opts.beta ?? 0.9);
  // PowerSign's factor for s = -1, 0, +1, computed once.
  const power = [1 / alpha, 1, alpha] as const;
  return {
    init: (params): SignRuleState => ({ mu: new Float32Array(params.length) }),
    update(grads, state): [Float32Array, SignRuleState] {
      const prev = stateArray("scaleBySignRule", state, "mu", grads.length);
      const mu = new Float32Array(grads.length);
      const out = new Float32Array(grads.length);
      for (let i = 0; i < grads.length; i++) {
        const g = grads[i]!;
        const m = beta * prev[i]! + (1 - beta) * g;
        mu[i] = m;
        const s = Math.sign(g) * Math.sign(m);
        out[i] = (rule === "powersign" ? power[s + 1]! : alpha + s) * g;
      }
      return [out, { mu }];
    },
  };
}

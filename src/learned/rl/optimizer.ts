/**
 * Li & Malik's policy as a learned optimizer (`../contract.ts`), kind `rl-policy`: its
 * transform steps each coordinate by the policy's mean (no exploration noise), reading the
 * history that its state carries; the loss comes from the step context. The trainers
 * (`src/rl/`: policy gradient, guided policy search) make phi; here is only what running a
 * trained policy needs, so that its files load wherever optimizers are named.
 *
 * The update is the mean step rounded to float32, the step the rollouts of `src/rl/rollout.ts`
 * take: a policy's transform run under the evaluation protocol visits the rollout's points
 * bit for bit.
 */
import { ConfigError } from "../../core/errors.ts";
import type { OptState } from "../../optimizers/transform.ts";
import { guardedTransform, namedPhi, type LearnedOptimizer, type LearnedTransform } from "../contract.ts";
import { allFeatures, copyHistory, newHistory, pushHistory, type History } from "./history.ts";
import { initPolicyPhi, policyMean, policyShape, type PolicyShape, type ResolvedPolicyConfig } from "./policy.ts";

export const RL_KIND = "rl-policy";

/** The policy of `config` as a learned optimizer (a bad config is a ConfigError). */
export function rlPolicyOptimizer(config: unknown = {}): LearnedOptimizer<ResolvedPolicyConfig> & { readonly shape: PolicyShape } {
  const shape = policyShape(config);
  return {
    kind: RL_KIND,
    name: "rl-policy",
    config: shape.cfg,
    shape,
    phiEntries: shape.entries,
    phiSize: shape.size,
    init: (key) => namedPhi(initPolicyPhi(shape, key), shape.entries),
    optFn(phi, layout): LearnedTransform {
      if (phi.length !== shape.size) throw new ConfigError(`rl policy: phi has ${phi.length} floats, the policy needs ${shape.size}`);
      const n = layout.size;
      const H = shape.cfg.history;
      const hist = (s: OptState): History => (s as unknown as { hist: History }).hist;
      return guardedTransform("rl policy", {
        init: () => ({ hist: newHistory(n, H) }) as unknown as OptState,
        update(grads, state, params, ctx) {
          if (ctx?.loss === undefined) throw new ConfigError("rl policy: the step context must carry the loss (the policy reads objective changes): update(grads, state, params, { loss })");
          if (grads.length !== n || params.length !== n) throw new ConfigError(`rl policy: the transform was made for ${n} parameters, got ${params.length} and ${grads.length} gradients`);
          const h = copyHistory(hist(state));
          pushHistory(h, params, ctx.loss, grads);
          const f = allFeatures(h);
          const upd = new Float32Array(n);
          for (let i = 0; i < n; i++) upd[i] = policyMean(shape, phi, f, i * shape.F);
          return [upd, { hist: h } as unknown as OptState];
        },
        dispose() {},
      });
    },
  };
}

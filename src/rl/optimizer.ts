/**
 * The trained policy as a learned optimizer (`src/learned/contract.ts`): its transform steps
 * each coordinate by the policy's mean (no exploration noise), reading the history that its
 * state carries; the loss comes from the step context. Saved and loaded in l2o's optimizer
 * file (safetensors, phi by tensor name) under the kind `rl-policy`, which `l2o rl eval`
 * reads.
 */
import { ConfigError } from "../core/errors.ts";
import { namedPhi, type LearnedOptimizer, type LearnedTransform } from "../learned/contract.ts";
import { saveLearnedOptimizer } from "../learned/file.ts";
import { loadOptimizerFile } from "../io/optimizer_file.ts";
import type { OptState } from "../optimizers/transform.ts";
import { allFeatures, copyHistory, newHistory, pushHistory, type History } from "./history.ts";
import { initPolicyPhi, policyMean, policyShape, type PolicyShape, type ResolvedPolicyConfig } from "./policy.ts";

export const RL_KIND = "rl-policy";

/** The policy of `config` as a learned optimizer. */
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
      return {
        init: () => ({ hist: newHistory(n, H) }) as unknown as OptState,
        update(grads, state, params, ctx) {
          if (ctx?.loss === undefined) throw new Error("rl policy: the step context must carry the loss (the policy reads objective changes)");
          const h = copyHistory(hist(state));
          pushHistory(h, params, ctx.loss, grads);
          const f = allFeatures(h);
          const upd = new Float32Array(n);
          for (let i = 0; i < n; i++) upd[i] = policyMean(shape, phi, f, i * shape.F);
          return [upd, { hist: h } as unknown as OptState];
        },
        dispose() {},
      };
    },
  };
}

/** Saves a trained policy (atomically), with what its training recorded. */
export function saveRlPolicy(path: string, config: ResolvedPolicyConfig, phi: Float32Array, training: Record<string, unknown>): void {
  saveLearnedOptimizer(path, rlPolicyOptimizer(config), phi, { training });
}

/** A saved policy: its optimizer, phi, and what its training recorded. */
export interface LoadedRlPolicy {
  readonly opt: ReturnType<typeof rlPolicyOptimizer>;
  readonly phi: Float32Array;
  readonly training: Record<string, unknown>;
}

/** Loads a policy file; another kind of optimizer file, or mismatched tensors, is a ConfigError. */
export function loadRlPolicy(path: string): LoadedRlPolicy {
  const file = loadOptimizerFile(path);
  if (file.meta.kind !== RL_KIND) {
    throw new ConfigError(`${path} holds a '${file.meta.kind}' optimizer, not an ${RL_KIND} (train one with l2o rl train)`);
  }
  const opt = rlPolicyOptimizer(file.meta.config);
  const phi = new Float32Array(opt.phiSize);
  let o = 0;
  for (const e of opt.phiEntries) {
    const t = file.phi[e.name];
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (t === undefined || t.data.length !== size) throw new ConfigError(`${path}: tensor '${e.name}' is missing or not of shape [${e.shape.join(", ")}]`);
    phi.set(t.data as Float32Array, o);
    o += size;
  }
  return { opt, phi, training: file.meta.training };
}

/**
 * A trained policy's file: l2o's optimizer file (safetensors, phi by tensor name) of kind
 * `rl-policy`, with what its training recorded. The optimizer itself is a registered
 * learned-optimizer kind (`src/learned/rl/`), so a policy file also loads wherever optimizers
 * are named (`l2o eval --optimizers rl:FILE`, `l2o info FILE`, `loadLearnedOptimizer`).
 */
import { clip, FileFormatError } from "../io/safetensors.ts";
import { loadOptimizerFile } from "../io/optimizer_file.ts";
import { learnedFromFile } from "../learned/decode.ts";
import { resolveOptimizerPath, saveLearnedOptimizer } from "../learned/file.ts";
import { RL_KIND, rlPolicyOptimizer } from "../learned/rl/optimizer.ts";
import type { ResolvedPolicyConfig } from "../learned/rl/policy.ts";

export { RL_KIND, rlPolicyOptimizer };

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

/**
 * Loads a policy file (checked as every optimizer file is: hashes, config, tensors' names and
 * shapes, finite weights); another kind of optimizer file is a FileFormatError that says so.
 */
export function loadRlPolicy(spec: string): LoadedRlPolicy {
  const path = resolveOptimizerPath(spec);
  const file = loadOptimizerFile(path);
  if (file.meta.kind !== RL_KIND) {
    throw new FileFormatError(`${path} holds a '${clip(String(file.meta.kind))}' optimizer, not an ${RL_KIND} (train one with l2o rl train)`, { path });
  }
  const d = learnedFromFile(file, path, {}, RL_KIND);
  return { opt: rlPolicyOptimizer(d.optimizer.config), phi: d.phi, training: d.meta.training };
}

/**
 * `mixture`: a broad distribution of tasks for training an optimizer that generalises
 * (learned_optimization's task mixtures; Wichrowska et al. 2017, section 4). Each sample picks
 * a sub-family by weight and draws its config from ranges (`mixture_config.ts`): quadratics
 * and ill-conditioned least squares over a wide range of dimension, conditioning and scale,
 * Rosenbrock-like valleys, MLPs on MNIST of varied depth, widths, activation, batch size and
 * initial scale, and any registered task at a fixed config (the CNN, logistic regression).
 *
 * Sub-families are made through the registry's resolver (passed in, so this file does not
 * import the registry that lists it) and kept in a small cache, so the MNIST kernels of a
 * network shape are built once, not per horizon. Sampled tasks have the layout of their
 * sub-family's task, so layouts differ from one sample to the next: meta-training makes a
 * differentiable step per layout (when the layout changes from one horizon to the next), and
 * the horizons of one meta-batch must share a layout, so the mixture trains with
 * `--meta-batch 1`.
 */
import { split, type Key } from "../core/rng.ts";
import type { Task, TaskFamily } from "./base.ts";
import { mixtureDraw, resolveMixtureConfig, type MixtureConfig, type MixtureDraw, type ResolvedMixtureConfig } from "./mixture_config.ts";

export { MIXTURE_DEFAULTS, mixtureDraw, resolveMixtureConfig, type MixtureConfig, type MixtureDraw, type ResolvedMixtureConfig } from "./mixture_config.ts";

/** Makes a registered family from its name and config (the registry's `taskFamily`). */
export type FamilyResolver = (name: string, config: Readonly<Record<string, unknown>>) => TaskFamily;

/** How many sub-families (name and config) the cache keeps before dropping the oldest. */
export const MIXTURE_CACHE = 24;

export interface MixtureFamily extends TaskFamily<ResolvedMixtureConfig> {
  /** The sub-family and config that `sample(key)` draws from, without building it. */
  describe(key: Key): MixtureDraw;
}

/**
 * The mixture over `known` registered tasks, built through `resolve`. Deterministic per key:
 * `sample(key)` draws the sub-family and config from one half of the key and the task from
 * the other.
 */
export function mixtureFamily(config: MixtureConfig, resolve: FamilyResolver, known: readonly string[]): MixtureFamily {
  const cfg = resolveMixtureConfig(config, known);
  const cache = new Map<string, TaskFamily>();
  // Each sub-family's config is checked once up front where it is fixed (a bad `configs` entry
  // fails at construction, not mid-training).
  for (const [name, c] of Object.entries(cfg.configs)) if ((cfg.weights[name] ?? 0) > 0) familyOf({ name, config: c });

  function familyOf(d: MixtureDraw): TaskFamily {
    const id = `${d.name} ${JSON.stringify(d.config)}`;
    let f = cache.get(id);
    if (f === undefined) {
      f = resolve(d.name, d.config);
      if (cache.size >= MIXTURE_CACHE) cache.delete(cache.keys().next().value!);
    } else cache.delete(id);
    cache.set(id, f);
    return f;
  }

  const describe = (key: Key): MixtureDraw => mixtureDraw(cfg, split(key, 2)[0]!);
  return {
    name: "mixture",
    config: cfg,
    describe,
    sample(key: Key): Task {
      return familyOf(describe(key)).sample(split(key, 2)[1]!);
    },
  };
}

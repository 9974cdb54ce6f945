/** The `mlp` entry of the learned-optimizer registry. */
import type { KindDescription, LearnedKind } from "../kind.ts";
import { MLP_LIMITS, resolveMlpOptimizerConfig } from "./config.ts";
import { mlpOptimizer } from "./optimizer.ts";

export const MLP_KIND: LearnedKind = {
  kind: "mlp",
  description: "per-coordinate MLP on normalised parameter, gradient and momenta (small_fc_lopt, Metz et al. 2022): step d * exp(a * expMult) * stepMult",
  // Plain TypeScript: the kernel options are for kinds with a kernel, and are ignored.
  hasKernel: false,
  limits: MLP_LIMITS,
  build: (config: unknown) => mlpOptimizer(resolveMlpOptimizerConfig(config)),
  describe(config: unknown): KindDescription {
    const c = resolveMlpOptimizerConfig(config);
    return {
      architecture: `${c.hiddenLayers} hidden layers x ${c.hidden} units; step = direction x exp(${c.expMult} x magnitude) x ${c.stepMult}`,
      inputs: `the parameter, the gradient and its moving averages at ${c.decays.join(", ")}, each normalised per tensor`,
    };
  },
};

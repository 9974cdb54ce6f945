/** The `hrnn` entry of the learned-optimizer registry. */
import type { KernelOptions } from "../kernel_options.ts";
import type { KindDescription, LearnedKind } from "../kind.ts";
import { HRNN_LIMITS, resolveHrnnOptimizerConfig } from "./config.ts";
import { hrnnOptimizer } from "./optimizer.ts";

export const HRNN_KIND: LearnedKind = {
  kind: "hrnn",
  description: "hierarchical RNN (Wichrowska et al. 2017): per-parameter, per-tensor and global GRUs; momenta at several timescales, learned per-parameter log learning rates",
  // engine 'ref' runs the per-parameter GRU in TypeScript; otherwise its WebAssembly kernel where built.
  hasKernel: true,
  // What a training file records: the per-parameter GRU's engine (one thread, no fused multiply-add).
  kernelRecord: (k: KernelOptions) => ({ engine: k.engine === "ref" ? "ref" : "wasm-simd" }),
  limits: HRNN_LIMITS,
  build: (config: unknown, k: KernelOptions = {}) => hrnnOptimizer(config, k.engine === "ref" ? "ref" : k.engine === undefined ? "auto" : "wasm"),
  describe(config: unknown): KindDescription {
    const c = resolveHrnnOptimizerConfig(config);
    const ahead = c.lookAhead ? "; the next gradient at a learned look-ahead point" : "";
    return {
      architecture: `GRUs of ${c.paramHidden} units per parameter, ${c.tensorHidden} per tensor, ${c.globalHidden} global; step = exp(log learning rate) x normalised direction, initial rate ${c.initLr}${ahead}`,
      inputs: `momenta at ${c.decays.join(", ")} over the root of their mean squares (decay ${c.rmsDecay}), their relative log mean squares, the relative log learning rate`,
    };
  },
};

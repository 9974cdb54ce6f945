/** The `mlp` entry of the learned-optimizer registry. */
import type { KernelOptions } from "../kernel_options.ts";
import type { KindDescription, LearnedKind } from "../kind.ts";
import { mlpEngineKind } from "./engine.ts";
import { MLP_LIMITS, resolveMlpOptimizerConfig } from "./config.ts";
import { mlpOptimizer } from "./optimizer.ts";

export const MLP_KIND: LearnedKind = {
  kind: "mlp",
  description:
    "per-coordinate MLP on normalised parameter, gradient and momenta (small_fc_lopt, Metz et al. 2022; features 'adafac': adafac_mlp_lopt's second-moment, factored and time features): step d * exp(a * expMult) * stepMult",
  // The engine: any `wasm*` is the one WebAssembly kernel (single thread), `ref` the reference.
  hasKernel: true,
  // One kernel, single thread, multiply then add (no fused multiply-add): `wasm-simd` in the
  // engines' names, whichever `wasm*` was asked for; or the float64 reference.
  kernelRecord: (k: KernelOptions) => ({ engine: mlpEngineKind(k.engine) === "wasm" ? "wasm-simd" : "ref" }),
  limits: MLP_LIMITS,
  build: (config: unknown, k: KernelOptions = {}) => mlpOptimizer(resolveMlpOptimizerConfig(config), mlpEngineKind(k.engine)),
  describe(config: unknown): KindDescription {
    const c = resolveMlpOptimizerConfig(config);
    return {
      architecture: `${c.hiddenLayers} hidden layers x ${c.hidden} units; step = direction x exp(${c.expMult} x magnitude) x ${c.stepMult}`,
      inputs:
        c.features === "basic"
          ? `the parameter, the gradient and its moving averages at ${c.decays.join(", ")}, each normalised per tensor`
          : `the parameter, the gradient, its moving averages at ${c.decays.join(", ")}, a second moment (decay ${c.rmsDecay}) and factored row/column second moments (decay ${c.factoredDecay}) with the gradient and momenta normalised by each, per tensor; tanh(t / x) for x in ${c.timescales!.join(", ") || "(none)"} and t / horizon`,
    };
  },
};

/**
 * The hierarchical RNN optimizer of Wichrowska et al. 2017, "Learned optimizers that scale and
 * generalize" (section 3): a small GRU per parameter coordinate (shared by all of them), a GRU
 * per tensor reading the mean of its coordinates' states, and a global GRU reading the mean of
 * the tensors' states; each level's state feeds the level below as a bias at the next step. It
 * reads momenta at several timescales scaled by their running magnitude and their relative log
 * magnitudes, and outputs a direction and a change of each coordinate's log learning rate
 * (and, with look-ahead, where to evaluate the next gradient). See ./step.ts for the step.
 *
 * The per-parameter GRU's forward, the part whose cost grows with the coordinates, runs on a
 * WebAssembly SIMD kernel (src/kernels/hrnn.ts) where it is built, else in TypeScript, and so
 * does its backward in the differentiable step; the rest (features, the per-tensor and global
 * GRUs, readouts) is plain TypeScript in float64.
 */
import type { Key } from "../../core/rng.ts";
import type { ParamLayout } from "../../core/layout.ts";
import { hrnnParamGruBackwardKernel, hrnnParamGruKernel } from "../../kernels/hrnn.ts";
import { guardedTransform, namedPhi, type DifferentiableStep, type LearnedOptimizer, type LearnedTransform, type TransformOptions } from "../contract.ts";
import { resolveHrnnOptimizerConfig, type ResolvedHrnnOptimizerConfig } from "./config.ts";
import { hrnnDifferentiableStep } from "./differentiable.ts";
import type { ParamGru } from "./step.ts";
import { hrnnTransform } from "./transform.ts";
import { hrnnInitPhi, hrnnPhiLayout } from "./weights.ts";

export interface HrnnOptimizer extends LearnedOptimizer<ResolvedHrnnOptimizerConfig> {
  readonly kind: "hrnn";
  optFn(phi: Float32Array, layout: ParamLayout, opts?: TransformOptions): LearnedTransform;
  differentiable(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep;
}

/** Which per-parameter GRU forward to run: `wasm` (the kernel; an error where it is not built), `ref` (TypeScript), or `auto` (the kernel where built). */
export type HrnnEngine = "auto" | "wasm" | "ref";

/**
 * The hierarchical RNN optimizer a configuration describes (validated and filled in by
 * `resolveHrnnOptimizerConfig`: a bad one throws ConfigError).
 */
export function hrnnOptimizer(config: unknown = {}, engine: HrnnEngine = "auto"): HrnnOptimizer {
  const cfg = resolveHrnnOptimizerConfig(config);
  const lay = hrnnPhiLayout(cfg);
  const gru = (phi: Float32Array): ParamGru | null => (engine === "ref" ? null : hrnnParamGruKernel(phi, lay.param, engine === "wasm"));
  return {
    kind: "hrnn",
    name: "hrnn",
    config: cfg,
    phiEntries: lay.entries,
    phiSize: lay.size,
    init: (key: Key) => namedPhi(hrnnInitPhi(lay, key), lay.entries),
    optFn: (phi: Float32Array, layout: ParamLayout, _opts: TransformOptions = {}) => guardedTransform("hrnn optimizer", hrnnTransform(cfg, lay, phi, layout, gru(phi))),
    differentiable(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep {
      const kernels = (p: Float32Array) => {
        const forward = gru(p);
        if (forward === null) return null;
        return { forward, backward: hrnnParamGruBackwardKernel(p, lay.param, true)! };
      };
      return hrnnDifferentiableStep(cfg, lay, phi, layout, capacity, kernels);
    },
  };
}

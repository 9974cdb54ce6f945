/**
 * The per-coordinate MLP optimizer: learned_optimization's small_fc_lopt (Metz et al. 2022,
 * "Practical tradeoffs between memory, compute, and performance in learned optimizers",
 * section 3). One small MLP, shared by every coordinate of the optimizee as the LSTM of
 * Andrychowicz et al. 2016 is, reads the coordinate's parameter, gradient and momenta, each
 * normalised over its tensor (src/learned/mlp/features.ts), and outputs a direction d and a
 * magnitude a: theta <- theta - d * exp(a * expMult) * stepMult. Its only state is the
 * momenta, so it costs a few floats per coordinate instead of an LSTM's hidden state.
 */
import { normal, split, type Key } from "../../core/rng.ts";
import type { ParamLayout } from "../../core/layout.ts";
import { guardedTransform, namedPhi, type DifferentiableStep, type LearnedOptimizer, type LearnedTransform, type PhiEntry, type TransformOptions } from "../contract.ts";
import { resolveMlpOptimizerConfig, type ResolvedMlpOptimizerConfig } from "./config.ts";
import { mlpDifferentiableStep } from "./differentiable.ts";
import { makeMlpEngine, type MlpEngine, type MlpEngineKind } from "./engine.ts";
import { mlpDims, mlpPhiEntries } from "./network.ts";
import { featureColumns } from "./step.ts";
import { mlpTransform } from "./transform.ts";

export interface MlpOptimizer extends LearnedOptimizer<ResolvedMlpOptimizerConfig> {
  readonly kind: "mlp";
  /** Features per coordinate: 2 + decays (basic: parameter, gradient, momenta), or adafac's 7 + 3 decays and the time features. */
  readonly inputs: number;
  /** The engine the MLP runs on: `ref` (float64 TypeScript) or `wasm` (the SIMD kernel). */
  readonly engine: MlpEngineKind;
  /** Widths of the layers' inputs and outputs: [inputs, hidden x hiddenLayers, 2]. */
  readonly dims: readonly number[];
  optFn(phi: Float32Array, layout: ParamLayout, opts?: TransformOptions): LearnedTransform;
  differentiable(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep;
}

/**
 * The per-coordinate MLP optimizer a configuration describes (validated and filled in by
 * `resolveMlpOptimizerConfig`: a bad one throws ConfigError), its MLP on `engine` (default
 * `ref`, the float64 reference; the registry's `build` picks the kernel where it is built).
 */
export function mlpOptimizer(config: unknown = {}, engine: MlpEngineKind = "ref"): MlpOptimizer {
  const cfg = resolveMlpOptimizerConfig(config);
  const { F, T } = featureColumns(cfg);
  const inputs = F + T;
  const dims = mlpDims(inputs, cfg.hidden, cfg.hiddenLayers);
  const entries: PhiEntry[] = mlpPhiEntries(dims);
  const phiSize = entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  const net = (phi: Float32Array): MlpEngine => makeMlpEngine(engine, dims, T, phi);
  return {
    kind: "mlp",
    name: "mlp",
    config: cfg,
    phiEntries: entries,
    phiSize,
    inputs,
    dims,
    engine,
    init(key: Key) {
      // Weights N(0, 1 / fan_in), biases zero: Haiku's default for hk.Linear (a normal
      // truncated at two standard deviations there; plain here), which small_fc_lopt uses.
      const flat = new Float32Array(phiSize);
      let o = 0;
      split(key, entries.length).forEach((k, j) => {
        const shape = entries[j]!.shape;
        const size = shape.reduce((a, b) => a * b, 1);
        if (shape.length === 2) flat.set(normal(k, size, 1 / Math.sqrt(shape[0]!)), o);
        o += size;
      });
      return namedPhi(flat, entries);
    },
    optFn(phi: Float32Array, layout: ParamLayout, _opts: TransformOptions = {}): LearnedTransform {
      return guardedTransform("mlp optimizer", mlpTransform(net(phi), cfg, layout));
    },
    differentiable(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep {
      return mlpDifferentiableStep(net(phi), cfg, layout, capacity);
    },
  };
}

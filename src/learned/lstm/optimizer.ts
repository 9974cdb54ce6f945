/**
 * The coordinatewise LSTM optimizer of Andrychowicz et al. 2016 ("Learning to learn by
 * gradient descent by gradient descent", section 2.1): one small two-layer LSTM, shared by
 * every coordinate of the optimizee, reads the preprocessed gradient of its coordinate and
 * proposes that coordinate's update, `outputScale * output`.
 *
 * `groups` splits the parameters by layout group into separately weighted LSTMs, as the
 * paper's CIFAR-10 experiment does for convolutional and fully connected layers (section
 * 3.3): `[["conv"], ["fc"]]`. Then `phi` is the concatenation of each LSTM's weights, in the
 * order of `groups`.
 */
import { split, uniform, type Key } from "../../core/rng.ts";
import type { ParamLayout } from "../../core/layout.ts";
import { defaultEngineFactory } from "../../kernels/select.ts";
import { phiShapes, phiSize, stateSize, type LstmShape } from "../../kernels/types.ts";
import { guardedTransform, namedPhi, type DifferentiableStep, type LearnedOptimizer, type LearnedTransform, type PhiEntry, type TransformOptions } from "../contract.ts";
import { resolveLstmOptimizerConfig, type LstmOptimizerConfig, type ResolvedLstmOptimizerConfig } from "./config.ts";
import { lstmDifferentiableStep, lstmInstance, type LstmBlueprint } from "./instance.ts";
import { preprocessor, type Preprocessor } from "./preprocess.ts";
import { lstmTransform } from "./transform.ts";
import type { LstmEngineFactory, LstmInstance } from "./types.ts";

export interface LstmOptimizer extends LearnedOptimizer<ResolvedLstmOptimizerConfig> {
  readonly kind: "lstm";
  readonly shape: LstmShape;
  /** Number of separately weighted LSTMs. */
  readonly lstms: number;
  readonly preprocess: Preprocessor;
  optFn(phi: Float32Array, layout: ParamLayout, opts?: TransformOptions): LearnedTransform;
  differentiable(phi: Float32Array, layout: ParamLayout, capacity: number): DifferentiableStep;
  /** Engines for `layout` with weights `phi`, able to record `capacity` steps, state zero. */
  instantiate(phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance;
}

/** The tensor names and shapes of phi for an LSTM optimizer of `shape` with `lstms` LSTMs. */
export function lstmPhiEntries(shape: LstmShape, lstms: number): PhiEntry[] {
  const shapes = phiShapes(shape);
  const names: string[] = [];
  for (let l = 0; l < shape.layers; l++) names.push(`layer${l}.weight`, `layer${l}.bias`);
  names.push("head.weight", "head.bias");
  const out: PhiEntry[] = [];
  for (let k = 0; k < lstms; k++) names.forEach((n, j) => out.push({ name: `lstm${k}.${n}`, shape: shapes[j]! }));
  return out;
}

/**
 * The coordinatewise LSTM optimizer (Andrychowicz et al. 2016, section 2.1, with the
 * preprocessing of appendix A). `engineFactory` picks the kernel: by default the WebAssembly
 * engine on one thread where it is built, else the plain-TypeScript reference
 * (`defaultEngineFactory()`); pass `createReferenceEngine` for the reference, or
 * `engineFactory(kind, threads)` for another build or more threads.
 */
export function lstmOptimizer(config: LstmOptimizerConfig = {}, engineFactory: LstmEngineFactory = defaultEngineFactory()): LstmOptimizer {
  const cfg = resolveLstmOptimizerConfig(config);
  const pre = preprocessor(cfg.preprocess);
  const shape: LstmShape = { inputs: pre.inputs, hidden: cfg.hidden, layers: cfg.layers };
  const lstms = cfg.groups?.length ?? 1;
  const one = phiSize(shape);
  const bp: LstmBlueprint = {
    config: cfg,
    shape,
    preprocess: pre,
    phiPerLstm: one,
    stateSize: stateSize(shape),
    phiSize: lstms * one,
    engineFactory,
  };
  const entries = lstmPhiEntries(shape, lstms);
  const instantiate = (phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance => lstmInstance(bp, phi, layout, capacity);
  return {
    kind: "lstm",
    name: "lstm",
    config: cfg,
    phiEntries: entries,
    phiSize: bp.phiSize,
    shape,
    lstms,
    preprocess: pre,
    instantiate,
    init(key: Key) {
      const phi = new Float32Array(bp.phiSize);
      const shapes = phiShapes(shape);
      split(key, lstms).forEach((kl, k) => {
        let o = k * one;
        split(kl, shapes.length).forEach((kt, j) => {
          const sh = shapes[j]!;
          const size = sh.reduce((a, b) => a * b, 1);
          // Matrices uniform on (-0.1, 0.1), biases zero, as in the PyTorch reference.
          if (sh.length === 2) phi.set(uniform(kt, size, -0.1, 0.1), o);
          o += size;
        });
      });
      return namedPhi(phi, entries);
    },
    optFn(phi: Float32Array, layout: ParamLayout, opts: TransformOptions = {}): LearnedTransform {
      return guardedTransform("lstm optimizer", lstmTransform(instantiate(phi, layout, 1), layout, opts.copyState ?? true));
    },
    differentiable(phi, layout, capacity) {
      return lstmDifferentiableStep(instantiate(phi, layout, capacity));
    },
  };
}

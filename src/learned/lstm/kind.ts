/** The `lstm` entry of the learned-optimizer registry. */
import { defaultEngineFactory, resolveEngineKind } from "../../kernels/select.ts";
import type { KernelOptions } from "../kernel_options.ts";
import type { KindDescription, LearnedKind } from "../kind.ts";
import type { PreprocessConfig } from "./preprocess.ts";
import { lstmOptimizer } from "./optimizer.ts";
import { LSTM_LIMITS, resolveLstmOptimizerConfig } from "./config.ts";

export const LSTM_KIND: LearnedKind = {
  kind: "lstm",
  description: "coordinatewise LSTM (Andrychowicz et al. 2016): one small LSTM shared by every coordinate, fed the preprocessed gradient",
  hasKernel: true,
  // The float32 tape is the default and not recorded, so files from before the bfloat16 tape are unchanged.
  kernelRecord: ({ engine = "wasm", threads = 1, reduction = "chunks", tape = "f32" }: KernelOptions) => ({
    engine: resolveEngineKind(engine),
    threads: engine === "ref" ? 1 : threads,
    ...(engine === "ref" ? {} : { reduction, ...(tape === "f32" ? {} : { tape }) }),
  }),
  limits: LSTM_LIMITS,
  build: (config: unknown, k: KernelOptions = {}) =>
    lstmOptimizer(resolveLstmOptimizerConfig(config), defaultEngineFactory(k.engine, k.threads ?? 1, k.reduction ?? "chunks", k.tape ?? "f32", k.memoryBudget)),
  describe(config: unknown): KindDescription {
    const c = resolveLstmOptimizerConfig(config);
    const groups = c.groups === undefined ? "one LSTM for every coordinate" : `${c.groups.length} LSTMs, one per parameter group (${c.groups.map((g) => g.join("+")).join("; ")})`;
    return { architecture: `${c.layers} layers x ${c.hidden} units, output scale ${c.outputScale}; ${groups}`, inputs: preprocessWords(c.preprocess) };
  },
};

function preprocessWords(p: PreprocessConfig): string {
  switch (p.kind) {
    case "none":
      return "the gradient as it is";
    case "scale":
      return `the gradient times ${p.scale}`;
    case "logSign":
      return `the gradient as LogAndSign (p ${p.p})`;
    case "logSignMomentum":
      return `the gradient and its bias-corrected moving averages at ${p.betas.join(", ")}, each as LogAndSign (p ${p.p})`;
  }
}

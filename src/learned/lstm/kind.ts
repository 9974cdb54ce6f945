/** The `lstm` entry of the learned-optimizer registry. */
import { defaultEngineFactory } from "../../kernels/select.ts";
import type { KernelOptions } from "../kernel_options.ts";
import type { LearnedKind } from "../kind.ts";
import { lstmOptimizer } from "./optimizer.ts";
import { LSTM_LIMITS, resolveLstmOptimizerConfig } from "./config.ts";

export const LSTM_KIND: LearnedKind = {
  kind: "lstm",
  description: "coordinatewise LSTM (Andrychowicz et al. 2016): one small LSTM shared by every coordinate, fed the preprocessed gradient",
  hasKernel: true,
  limits: LSTM_LIMITS,
  build: (config: unknown, k: KernelOptions = {}) =>
    lstmOptimizer(resolveLstmOptimizerConfig(config), defaultEngineFactory(k.engine, k.threads ?? 1, k.reduction ?? "chunks")),
};

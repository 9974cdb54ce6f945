/**
 * l2o for browsers (`l2o/browser`): the part of the library that imports no Node module, so
 * that a bundler can build it for a page. Tasks, hand-designed and learned optimizers,
 * evaluation, and optimizer files as bytes. What needs a disk (loading and saving files,
 * checkpoints, MNIST, meta-training jobs) and worker threads stays in the main entry.
 *
 * The WebAssembly kernels come from the page: fetch `build/web/lstm.wasm` and
 * `build/rules.wasm`, hand their bytes to `setKernelSource` (as `web/lstm.wasm` and
 * `rules.wasm`), then build optimizers. A learned optimizer runs its LSTM on one thread, on an
 * unshared memory (a page needs no cross-origin isolation), with the same bits as in Node.
 * test/browser_bundle.test.ts bundles this entry for the browser and fails on any Node module.
 */
// core
export { ParamLayout, type ParamSpec, type ParamEntry } from "./core/layout.ts";
export { key, split, foldIn, bits, uniform, normal, randint, permutation, keyToJSON, keyFromJSON, type Key } from "./core/rng.ts";
export { L2oError, ConfigError, NonFiniteGradientError } from "./core/errors.ts";
// tasks
export type { Task, TaskFamily, LossAndGrad, Metrics } from "./tasks/base.ts";
export { quadraticFamily, quadraticTaskFrom, resolveQuadraticConfig, type QuadraticConfig, type QuadraticTask } from "./tasks/quadratic.ts";
export {
  FUNCTIONS_2D,
  FUNCTION_2D_NAMES,
  function2d,
  function2dTask,
  function2dFamily,
  type Function2d,
  type Function2dConfig,
} from "./tasks/functions2d.ts";
// hand-designed optimizers
export { applyUpdates, EMPTY_STATE, type GradientTransformation, type OptState, type StepContext } from "./optimizers/transform.ts";
export { chain, named } from "./optimizers/combine.ts";
export { scale, scaleByLearningRate, traceMomentum, scaleByRms, scaleByAdam, scaleByAdagrad } from "./optimizers/primitives.ts";
export { sgd, momentum, nesterov, rmsprop, adam, adagrad, powersign, addsign } from "./optimizers/alias.ts";
export { OPTIMIZERS, OPTIMIZER_NAMES, optimizerSpec, optimizerByName, type OptimizerSpec } from "./optimizers/registry.ts";
// kernels
export { setKernelSource, type KernelSource } from "./kernels/source.ts";
export { createReferenceEngine } from "./kernels/lstm_ref.ts";
export { createWasmEngine, wasmEngineAvailable, type WasmEngineOptions, type WasmLstmEngine } from "./kernels/wasm.ts";
export { engineFactory, defaultEngineFactory, KernelUnavailableError, type EngineKind, type EngineFactory } from "./kernels/select.ts";
export { ruleKernels, wasmRulesAvailable, TS_RULES, type RuleEngine, type RuleKernels } from "./kernels/rules.ts";
// learned optimizers
export type { LearnedOptimizer, LearnedTransform, DifferentiableStep, NamedPhi, PhiEntry } from "./learned/contract.ts";
export type { KernelOptions } from "./learned/kernel_options.ts";
export { LEARNED_KINDS, LEARNED_KIND_NAMES, learnedKind } from "./learned/registry.ts";
export { handDesigned, handFromConfig } from "./learned/hand.ts";
export { lstmOptimizer, type LstmOptimizer } from "./learned/lstm/optimizer.ts";
export { mlpOptimizer, type MlpOptimizer } from "./learned/mlp/optimizer.ts";
export { decodeLearnedOptimizer, learnedFromFile, type DecodedLearnedOptimizer } from "./learned/decode.ts";
// evaluation
export {
  evaluate,
  runOptimizer,
  runCandidate,
  drawInstances,
  drawInstance,
  evalRoots,
  tuneLearningRate,
  DEFAULT_LR_GRID,
  type Candidate,
  type RunResult,
  type Instance,
  type TuneResult,
  type EvalOptions,
  type EvalReport,
} from "./eval/evaluate.ts";
export { summarize, summarizeSteps, type Summary } from "./eval/stats.ts";
// files as bytes
export { FileFormatError, encodeSafetensors, decodeSafetensors, type Tensor, type SafetensorsContents } from "./io/safetensors.ts";
export { encodeOptimizerFile, decodeOptimizerFile, type OptimizerMeta, type OptimizerFile } from "./io/optimizer_bytes.ts";
export { L2O_VERSION } from "./io/version.ts";

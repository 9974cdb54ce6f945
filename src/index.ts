/**
 * l2o: learned optimizers for TypeScript. Every public name is listed here explicitly.
 */
// core
export { ParamLayout, type ParamSpec, type ParamEntry } from "./core/layout.ts";
export { key, split, foldIn, bits, uniform, normal, randint, permutation, keyToJSON, keyFromJSON, type Key } from "./core/rng.ts";
export { L2oError, ConfigError } from "./core/errors.ts";
// data
export { DataError, parseIdx, readIdxFile, encodeIdx, type IdxArray, type ReadIdxOptions } from "./data/idx.ts";
export { loadMnist, mnistDir, gatherImages, imageRows, MNIST_PIXELS, MNIST_CLASSES, MNIST_FILES, type MnistData, type MnistSplit, type LoadMnistOptions } from "./data/mnist.ts";
// tasks
export type { Task, TaskFamily, LossAndGrad, Metrics } from "./tasks/base.ts";
export {
  quadraticFamily,
  quadraticTaskFrom,
  resolveQuadraticConfig,
  QUADRATIC_DEFAULTS,
  type QuadraticConfig,
  type ResolvedQuadraticConfig,
  type QuadraticTask,
  type QuadraticData,
} from "./tasks/quadratic.ts";
export {
  mnistMlpFamily,
  mlpTaskFrom,
  mlpLayout,
  resolveMnistMlpConfig,
  MNIST_MLP_DEFAULTS,
  MLP_ACTIVATIONS,
  type MnistMlpConfig,
  type ResolvedMnistMlpConfig,
  type MlpActivation,
  type MlpData,
} from "./tasks/mnist_mlp.ts";
export { TASKS, TASK_NAMES, taskSpec, taskFamily, type TaskSpec, type TaskConfig } from "./tasks/registry.ts";
// hand-designed optimizers
export {
  applyUpdates,
  EMPTY_STATE,
  type GradientTransformation,
  type OptState,
  type ScalableTransformation,
  type ScaleTransformation,
} from "./optimizers/transform.ts";
export { chain, named, type ChainState } from "./optimizers/combine.ts";
export {
  scale,
  scaleByLearningRate,
  traceMomentum,
  scaleByRms,
  scaleByAdam,
  scaleByAdagrad,
  type RuleEngineOption,
  type TraceMomentumOptions,
  type ScaleByRmsOptions,
  type ScaleByAdamOptions,
  type ScaleByAdagradOptions,
  type TraceState,
  type RmsState,
  type AdamState,
  type AdagradState,
} from "./optimizers/primitives.ts";
export { scaleBySignRule, SIGN_RULE_ALPHA, type SignRule, type ScaleBySignRuleOptions, type SignRuleState } from "./optimizers/sign.ts";
export {
  sgd,
  momentum,
  nesterov,
  rmsprop,
  adam,
  adagrad,
  powersign,
  addsign,
  type MomentumOptions,
  type RmspropOptions,
  type AdamOptions,
  type AdagradOptions,
  type SignRuleOptions,
} from "./optimizers/alias.ts";
export { OPTIMIZERS, OPTIMIZER_NAMES, optimizerSpec, optimizerByName, type OptimizerSpec, type OptimizerOptions } from "./optimizers/registry.ts";
// kernels
export { phiShapes, phiSize, stateSize, hasSnapshots, type LstmShape, type LstmEngine, type LstmEngineOptions, type SnapshotLstmEngine } from "./kernels/types.ts";
export { createReferenceEngine } from "./kernels/lstm_ref.ts";
export {
  ruleKernels,
  wasmRulesAvailable,
  TS_RULES,
  RULE_ENGINES,
  WASM_RULES_MIN_LENGTH,
  RuleKernelUnavailableError,
  type RuleEngine,
  type RuleKernels,
} from "./kernels/rules.ts";
export { engineFactory, defaultEngineFactory, KernelUnavailableError, type EngineKind, type EngineFactory, type ThreadCount } from "./kernels/select.ts";
export { GRADIENT_REDUCTIONS, type GradientReduction } from "./kernels/wasm.ts";
// learned optimizers
export { handDesigned, type LearnedOptimizer } from "./learned/base.ts";
export { preprocessor, parsePreprocessConfig, DEFAULT_PREPROCESS, type PreprocessConfig, type Preprocessor, type PreprocessVjpStep } from "./learned/preprocess.ts";
export {
  lstmOptimizer,
  resolveLstmOptimizerConfig,
  lstmGroupIndices,
  widenInputs,
  transformsByLayout,
  type LstmOptimizer,
  type LstmOptimizerConfig,
  type ResolvedLstmOptimizerConfig,
  type LstmInstance,
  type LstmTransform,
  type LstmTransformOptions,
  type LstmEngineFactory,
} from "./learned/lstm_optimizer.ts";
export { saveLstmOptimizer, loadLstmOptimizer, resolveOptimizerPath, PRETRAINED_DIR, type LoadedLstmOptimizer } from "./learned/file.ts";
// meta-training
export { unrollMetaGrad, type UnrollOptions, type UnrollResult, type MetaLossWeights } from "./meta/unroll.ts";
export {
  metaTrain,
  initMetaTrainState,
  resolveMetaTrainConfig,
  validationScore,
  clipByGlobalNorm,
  META_TRAIN_DEFAULTS,
  type MetaTrainConfig,
  type MetaTrainState,
  type MetaTrainHooks,
  type MetaTrainResult,
} from "./meta/train.ts";
export { stateToCheckpoint, stateFromCheckpoint } from "./meta/checkpoint.ts";
// evaluation
export {
  evaluate,
  runOptimizer,
  runCandidate,
  drawInstances,
  evalRoots,
  tuneLearningRate,
  DEFAULT_LR_GRID,
  type Candidate,
  type RunResult,
  type Instance,
  type EvalOptions,
  type EvalReport,
  type CandidateResult,
  type TuneResult,
} from "./eval/evaluate.ts";
export { summarize, summarizeSteps, tQuantile975, type Summary } from "./eval/stats.ts";
// files and logs
export { FileFormatError, encodeSafetensors, decodeSafetensors, type Tensor, type SafetensorsContents } from "./io/safetensors.ts";
export { MissingFileError, L2O_VERSION } from "./io/files.ts";
export { saveOptimizerFile, loadOptimizerFile, type OptimizerMeta, type OptimizerFile } from "./io/optimizer_file.ts";
export { saveCheckpoint, loadCheckpoint, type CheckpointRecord } from "./io/checkpoint.ts";
export { jsonlWriter, memoryWriter, multiWriter, nullWriter, readJsonl, type MetricWriter } from "./io/metrics.ts";

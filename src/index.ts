/**
 * l2o: learned optimizers for TypeScript. Every public name is listed here explicitly.
 */
// core
export { ParamLayout, type ParamSpec, type ParamEntry } from "./core/layout.ts";
export { key, split, foldIn, bits, uniform, normal, randint, permutation, keyToJSON, keyFromJSON, type Key } from "./core/rng.ts";
export { L2oError, ConfigError, NonFiniteGradientError } from "./core/errors.ts";
// data
export { DataError, parseIdx, readIdxFile, encodeIdx, type IdxArray, type ReadIdxOptions } from "./data/idx.ts";
export { loadMnist, mnistDir, gatherImages, imageRows, MNIST_PIXELS, MNIST_CLASSES, MNIST_FILES, type MnistData, type MnistSplit, type LoadMnistOptions } from "./data/mnist.ts";
export { loadCifar10, readCifarBatch, encodeCifarBatch, CIFAR_FILES, CIFAR_PIXELS, CIFAR_RECORD, type CifarData, type CifarSplit } from "./data/cifar.ts";
export { keepClasses, type LabelledSplit } from "./data/subset.ts";
export { cnnFamily, cnnLayout, CNN_DEFAULTS, CNN_LIMITS, resolveCnnConfig, type CnnConfig, type ResolvedCnnConfig } from "./tasks/cnn.ts";
export { ConvArena, convScratchFloats, ConvKernelUnavailableError, type ConvShape, type F32Buf, type I32Buf } from "./kernels/conv.ts";
// tasks
export type { Task, TaskFamily, LossAndGrad, Metrics } from "./tasks/base.ts";
export {
  quadraticFamily,
  quadraticTaskFrom,
  resolveQuadraticConfig,
  QUADRATIC_DEFAULTS,
  QUADRATIC_LIMITS,
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
  MNIST_MLP_LIMITS,
  MLP_ACTIVATIONS,
  type MnistMlpConfig,
  type ResolvedMnistMlpConfig,
  type MlpActivation,
  type MlpData,
} from "./tasks/mnist_mlp.ts";
export { TASKS, TASK_NAMES, taskSpec, taskFamily, type TaskSpec, type TaskConfig } from "./tasks/registry.ts";
export { FUNCTIONS_2D, FUNCTION_2D_NAMES, function2d, function2dTask, function2dFamily, type Function2d, type Function2dConfig } from "./tasks/functions2d.ts";
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
export { setKernelSource, type KernelSource } from "./kernels/source.ts";
export { engineFactory, defaultEngineFactory, KernelUnavailableError, type EngineKind, type EngineFactory, type ThreadCount } from "./kernels/select.ts";
export { GRADIENT_REDUCTIONS, type GradientReduction } from "./kernels/wasm.ts";
// learned optimizers
export {
  namedPhi,
  transformsByLayout,
  type LearnedOptimizer,
  type LearnedTransform,
  type DifferentiableStep,
  type LossOnlyOptimizer,
  type NamedPhi,
  type PhiEntry,
  type TransformOptions,
} from "./learned/contract.ts";
export type { StepContext } from "./optimizers/transform.ts";
export type { KernelOptions } from "./learned/kernel_options.ts";
export type { LearnedKind } from "./learned/kind.ts";
export { LEARNED_KINDS, LEARNED_KIND_NAMES, learnedKind } from "./learned/registry.ts";
export { handDesigned, handFromConfig, type HandConfig } from "./learned/hand.ts";
export { resolveOptimizer, pretrainedNames, UnknownOptimizerError, type ResolvedOptimizer } from "./learned/resolve.ts";
export { preprocessor, parsePreprocessConfig, DEFAULT_PREPROCESS, type PreprocessConfig, type Preprocessor, type PreprocessVjpStep } from "./learned/lstm/preprocess.ts";
export { lstmOptimizer, lstmPhiEntries, type LstmOptimizer } from "./learned/lstm/optimizer.ts";
export { resolveLstmOptimizerConfig, lstmGroupIndices, type LstmOptimizerConfig, type ResolvedLstmOptimizerConfig } from "./learned/lstm/config.ts";
export { widenInputs, extendPreprocessing } from "./learned/lstm/widen.ts";
export { mlpOptimizer, type MlpOptimizer } from "./learned/mlp/optimizer.ts";
export { rlPolicyOptimizer, RL_KIND } from "./learned/rl/optimizer.ts";
export { resolvePolicyConfig, type PolicyConfig, type ResolvedPolicyConfig } from "./learned/rl/policy.ts";
export { loadRlPolicy, saveRlPolicy, type LoadedRlPolicy } from "./rl/optimizer.ts";
export { resolveMlpOptimizerConfig, type MlpOptimizerConfig, type ResolvedMlpOptimizerConfig } from "./learned/mlp/config.ts";
export {
  saveLearnedOptimizer,
  loadLearnedOptimizer,
  resolveOptimizerPath,
  PRETRAINED_DIR,
  type LoadedLearnedOptimizer,
  type SavedInfo,
} from "./learned/file.ts";
export { decodeLearnedOptimizer, learnedFromFile, type DecodedLearnedOptimizer } from "./learned/decode.ts";
// meta-training
export { unrollMetaGrad, advanceUnroll, type UnrollOptions, type UnrollResult, type MetaLossWeights } from "./meta/unroll.ts";
export { META_LR_MAX, META_TRAIN_DEFAULTS, resolveMetaTrainConfig, type MetaTrainConfig, type MetaLossKind, type HorizonSampling } from "./meta/config.ts";
export { initMetaTrainState, type MetaTrainState } from "./meta/state.ts";
export { metaTrain, metaTrainSteps, defaultEstimator, type MetaTrainHooks, type MetaTrainResult } from "./meta/train.ts";
export { localFrom, type GradientEstimator, type Estimate, type Truncation } from "./meta/estimator.ts";
export { truncatedBptt, type TruncatedBpttOptions } from "./meta/truncated_bptt.ts";
export { antitheticEs, esPair, type EsOptions } from "./meta/es.ts";
export { pes, pesPairTruncation, pesStart, type PesOptions } from "./meta/pes.ts";
export { antitheticGradient, runSegment, type PairLosses, type Segment } from "./meta/perturbed.ts";
export { startTrajectories, horizonInstance, batchKeys, TrajectorySet, type Trajectory, type TrajectoryRecord, type Particle, type ParticlePair } from "./meta/trajectory.ts";
export { outerOptimizer, outerStep, clipByGlobalNorm, type OuterStep } from "./meta/outer.ts";
export { validationScore, validationInstances } from "./meta/validation.ts";
export { runTrainJob, runTrainJobAsync, runRecord, plannedIterations, TrainingFailedError, type TrainJob, type TrainJobHooks, type TrainJobResult } from "./meta/job.ts";
export { stateToCheckpoint, stateFromCheckpoint, checkRunRecord, RESUME_MAY_CHANGE, type RunRecord } from "./meta/checkpoint.ts";
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
  type EvalOptions,
  type EvalReport,
  type CandidateResult,
  type TuneResult,
} from "./eval/evaluate.ts";
export { candidateFor, type NamedCandidate } from "./eval/candidates.ts";
export { summarize, summarizeSteps, tQuantile975, type Summary } from "./eval/stats.ts";
// files and logs
export { FileFormatError, encodeSafetensors, decodeSafetensors, type Tensor, type SafetensorsContents } from "./io/safetensors.ts";
export { MissingFileError, L2O_VERSION } from "./io/files.ts";
export { acquireLock, acquireLocks, FileLockedError, type FileLock } from "./io/lock.ts";
export { saveOptimizerFile, loadOptimizerFile, encodeOptimizerFile, decodeOptimizerFile, type OptimizerMeta, type OptimizerFile } from "./io/optimizer_file.ts";
export { saveCheckpoint, loadCheckpoint, type CheckpointRecord } from "./io/checkpoint.ts";
export { jsonlWriter, memoryWriter, multiWriter, nullWriter, readJsonl, type MetricWriter } from "./io/metrics.ts";

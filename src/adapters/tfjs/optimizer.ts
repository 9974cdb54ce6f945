/**
 * An l2o optimizer as a `tf.Optimizer`, so that `model.compile({optimizer: learned("mnist")})`,
 * `model.fit` and `model.save(..., {includeOptimizer: true})` / `tf.loadLayersModel` work as
 * with tfjs's own optimizers.
 *
 * Each step reads the gradients and the variables into one flat `Float32Array` each (variables
 * in the order `applyGradients` is handed them; layout by position, groups from shapes, see
 * `layout.ts`), runs the optimizer's transform (`optFn(phi, layout).update`: l2o's own
 * WebAssembly kernels, not tfjs ops), adds the updates in float32 (`applyUpdates`, the bits of
 * l2o's own loops) and assigns the results. The state (per coordinate for a learned optimizer)
 * lives in l2o's kernels and plain arrays; `getWeights` hands it to tfjs (see `state.ts`).
 */
import { Optimizer, dispose, engine, keep, serialization, tensor, tensor1d, tidy } from "@tensorflow/tfjs-core";
import type { NamedTensorMap, Tensor, Variable } from "@tensorflow/tfjs-core";
import { L2oError, shownValue } from "../../core/errors.ts";
import { firstNonFinite } from "../../core/finite.ts";
import type { ParamLayout } from "../../core/layout.ts";
import type { LearnedTransform } from "../../learned/contract.ts";
import type { KernelOptions } from "../../learned/kernel_options.ts";
import { applyUpdates, type OptState } from "../../optimizers/transform.ts";
import { DEFAULT_OPTIMIZER } from "../defaults.ts";
import { NonFiniteGradientError, TfjsAdapterError } from "./errors.ts";
import { layoutOfShapes, sameShapes, shapesText } from "./layout.ts";
import { optimizerSource, type OptimizerSource } from "./source.ts";
import {
  bitsToNumber,
  decodeShapes,
  encodeShapes,
  numberToBits,
  SHAPES_WEIGHT,
  STATE_PREFIX,
  stateFromLeaves,
  stateLeaves,
  stateSignature,
  type StateLeaf,
} from "./state.ts";

/** A named tensor, as tfjs's optimizers take and give their weights (tfjs-core does not export the type). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** Options of `learned`: the kernel a learned optimizer runs on (default `wasm`, one thread). */
export interface LearnedOptions extends KernelOptions {
  /** The SHA-256 the optimizer must have (what a saved model recorded); refused when it differs. */
  readonly sha256?: string;
}

/** The transform for one model's variables, and the buffers its steps reuse. */
interface Run {
  readonly shapes: number[][];
  readonly layout: ParamLayout;
  readonly tx: LearnedTransform;
  /** The variables' names at the first step (null: made by setWeights, no step taken yet). */
  names: string[] | null;
  readonly grads: Float32Array;
  readonly params: Float32Array;
}

/**
 * The tf.Optimizer of an l2o optimizer (`learned(name)` makes one). Registered with
 * `tf.serialization.registerClass` as `L2oOptimizer` when `l2o/tfjs` is imported: import it
 * before `tf.loadLayersModel` reads a model saved with one.
 */
export class L2oOptimizer extends Optimizer {
  static get className(): string {
    return "L2oOptimizer";
  }

  /** The name it was made from (`mnist`, `adam@0.01`, a path). */
  readonly optimizerName: string;
  /** The optimizer's kind (`lstm`, `mlp`, `hand`). */
  readonly kind: string;
  /** What loading its file warned about (a file without hashes, say); the library prints nothing. */
  readonly warnings: readonly string[];
  private readonly source: OptimizerSource;
  private readonly kernel: KernelOptions;
  private run: Run | null = null;
  /** The state for the next step (null: `init` at the next step). */
  private state: OptState | null = null;
  /** The state came from setWeights and no step has checked it yet. */
  private restored = false;
  private handedOut: Tensor[] = [];
  private disposed = false;

  constructor(name: string = DEFAULT_OPTIMIZER, options: LearnedOptions = {}) {
    super();
    const { sha256, ...kernel } = options;
    if (sha256 !== undefined && typeof sha256 !== "string") {
      throw new TfjsAdapterError(`l2o/tfjs: option 'sha256' must be a hex string, got ${typeof sha256} ${shownValue(sha256)}`);
    }
    this.kernel = kernel;
    this.source = optimizerSource(name, kernel);
    if (sha256 !== undefined && sha256 !== this.source.sha256) {
      throw new TfjsAdapterError(
        `the model was saved with the optimizer '${name}' of SHA-256 ${sha256.slice(0, 16)}..., but '${name}' now names other weights ` +
          `(SHA-256 ${this.source.sha256.slice(0, 16)}...): load it where that name still means the optimizer it was trained with`,
      );
    }
    this.optimizerName = name;
    this.kind = this.source.optimizer.kind;
    this.warnings = this.source.warnings;
  }

  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    if (this.disposed) throw new TfjsAdapterError(`l2o/tfjs: the optimizer '${this.optimizerName}' was disposed`);
    const entries: [string, Tensor][] = Array.isArray(variableGradients) ? variableGradients.map((v) => [v.name, v.tensor]) : Object.entries(variableGradients);
    if (entries.length === 0) throw new TfjsAdapterError("applyGradients: no gradients were given");
    const registered = engine().registeredVariables;
    const vars = entries.map(([name]) => {
      const v = registered[name];
      if (v === undefined) throw new TfjsAdapterError(`applyGradients: no variable '${name}' is registered with tfjs`);
      if (v.dtype !== "float32") throw new TfjsAdapterError(`applyGradients: variable '${name}' is ${v.dtype}; l2o optimizers step float32 variables`);
      return v;
    });
    const run = this.runFor(entries.map(([n]) => n), vars);
    let o = 0;
    entries.forEach(([name, g], i) => {
      const size = run.layout.entries[i]!.size;
      if (g.size !== size) throw new TfjsAdapterError(`applyGradients: the gradient of '${name}' has ${g.size} elements, the variable ${size}`);
      const data = g.dataSync() as Float32Array;
      const bad = firstNonFinite(data);
      if (bad >= 0) {
        throw new NonFiniteGradientError(`applyGradients: the gradient of '${name}' (variable ${i}) holds ${data[bad]} at element ${bad}; the step is refused`);
      }
      run.grads.set(data, o);
      run.params.set(vars[i]!.dataSync() as Float32Array, o);
      o += size;
    });
    const state = this.state ?? run.tx.init(run.params);
    let updates: Float32Array;
    let next: OptState;
    try {
      [updates, next] = run.tx.update(run.grads, state, run.params, { step: this.iterations });
    } catch (e) {
      if (!this.restored || e instanceof L2oError) throw e;
      throw new TfjsAdapterError(`the optimizer state given to setWeights does not fit the optimizer '${this.optimizerName}': ${(e as Error).message}`);
    }
    const theta = applyUpdates(run.params, updates);
    tidy(() => {
      let at = 0;
      vars.forEach((v, i) => {
        const size = run.layout.entries[i]!.size;
        v.assign(tensor(theta.slice(at, at + size), v.shape, "float32"));
        at += size;
      });
    });
    this.state = next;
    this.restored = false;
    this.incrementIterations();
  }

  /** The run for these variables: made at the first step, checked against at every later one. */
  private runFor(names: string[], vars: Variable[]): Run {
    const shapes = vars.map((v) => [...v.shape]);
    let run = this.run;
    if (run === null) {
      run = this.makeRun(shapes);
    } else if (run.names === null && !sameShapes(run.shapes, shapes)) {
      throw new TfjsAdapterError(
        `the optimizer state given to setWeights was saved for variables of shapes ${shapesText(run.shapes)}; ` +
          `this model's trainable variables have shapes ${shapesText(shapes)}`,
      );
    } else if (run.names !== null && (run.names.length !== names.length || run.names.some((n, i) => n !== names[i]))) {
      throw new TfjsAdapterError(
        `applyGradients: this optimizer steps the variables ${run.names.slice(0, 8).join(", ")}${run.names.length > 8 ? ", ..." : ""} ` +
          `(it keeps per-coordinate state for them), and was handed ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", ..." : ""}: use one optimizer per model`,
      );
    }
    run.names ??= names;
    return run;
  }

  private makeRun(shapes: number[][]): Run {
    const layout = layoutOfShapes(shapes);
    const tx = this.source.optimizer.optFn(this.source.phi, layout);
    this.run = { shapes, layout, tx, names: null, grads: new Float32Array(layout.size), params: new Float32Array(layout.size) };
    return this.run;
  }

  /**
   * The step count, the variables' shapes, then the state's leaves (see `state.ts`). The
   * tensors stay the optimizer's: they are freed at the next `getWeights` or at `dispose`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    dispose(this.handedOut);
    const out: NamedTensor[] = [await this.saveIterations()];
    if (this.run !== null && this.state !== null) {
      out.push({ name: SHAPES_WEIGHT, tensor: tensor1d(encodeShapes(this.run.shapes), "int32") });
      for (const leaf of stateLeaves(this.state)) {
        const v = leaf.value;
        const t = v === null ? tensor1d([], "int32") : typeof v === "number" ? tensor1d(numberToBits(v), "int32") : tensor1d(v.slice(), "float32");
        out.push({ name: STATE_PREFIX + leaf.path, tensor: t });
      }
    }
    this.handedOut = out.map((w) => keep(w.tensor));
    return out;
  }

  /**
   * Restores what `getWeights` gave: the step count first (as tfjs's own optimizers), then
   * the state by position. Weights made for variables of other shapes, or for another kind
   * of optimizer, are refused here when the optimizer has stepped (or when the weights say
   * so), else at the first step.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (weightValues.length === 0 || weightValues[0]!.tensor.size !== 1) {
      throw new TfjsAdapterError("setWeights: the first weight must be the iteration count (a scalar), as getWeights gives it");
    }
    const rest = await this.extractIterations(weightValues);
    if (!Number.isSafeInteger(this.iterations) || this.iterations < 0) {
      throw new TfjsAdapterError(`setWeights: the iteration count ${this.iterations} is not a count`);
    }
    if (rest.length === 0) {
      this.state = null;
      this.restored = false;
      return;
    }
    const [head, ...leaves] = rest as [NamedTensor, ...NamedTensor[]];
    if (head.name !== SHAPES_WEIGHT || head.tensor.dtype !== "int32") {
      throw new TfjsAdapterError(`setWeights: weight 1 must be '${SHAPES_WEIGHT}' (int32), got '${head.name}' (${head.tensor.dtype}): these are not an l2o optimizer's weights`);
    }
    const shapes = decodeShapes(await head.tensor.data());
    const read: StateLeaf[] = [];
    for (const w of leaves) {
      if (!w.name.startsWith(STATE_PREFIX)) throw new TfjsAdapterError(`setWeights: weight '${w.name}' is not an l2o optimizer's state ('${STATE_PREFIX}...')`);
      const path = w.name.slice(STATE_PREFIX.length);
      if (w.tensor.dtype === "float32") read.push({ path, value: new Float32Array(await w.tensor.data()) });
      else if (w.tensor.dtype === "int32" && w.tensor.size === 2) read.push({ path, value: bitsToNumber(new Int32Array(await w.tensor.data())) });
      else if (w.tensor.dtype === "int32" && w.tensor.size === 0) read.push({ path, value: null });
      else throw new TfjsAdapterError(`setWeights: state weight '${w.name}' is ${w.tensor.dtype} of ${w.tensor.size} elements, neither float32 values, a number nor an empty record`);
    }
    const state = stateFromLeaves(read);
    if (this.run !== null && this.run.names !== null && !sameShapes(this.run.shapes, shapes)) {
      throw new TfjsAdapterError(
        `setWeights: the weights were saved for variables of shapes ${shapesText(shapes)}; this optimizer steps variables of shapes ${shapesText(this.run.shapes)}`,
      );
    }
    if (this.run !== null && !sameShapes(this.run.shapes, shapes)) {
      this.run.tx.dispose();
      this.run = null;
    }
    const run = this.run ?? this.makeRun(shapes);
    const want = stateSignature(run.tx.init(new Float32Array(run.layout.size))).sort();
    const got = stateSignature(state).sort();
    if (want.length !== got.length || want.some((s, i) => s !== got[i])) {
      throw new TfjsAdapterError(
        `setWeights: the state holds ${got.join(", ")}, the optimizer '${this.optimizerName}' (${this.kind}) keeps ${want.join(", ")}: the weights come from another optimizer`,
      );
    }
    this.state = state;
    this.restored = true;
  }

  /** What a saved model records: the name (resolving to the same optimizer) and its SHA-256. */
  override getConfig(): serialization.ConfigDict {
    const k = this.kernel;
    return {
      name: this.source.savedName,
      sha256: this.source.sha256,
      ...(k.engine !== undefined ? { engine: k.engine } : {}),
      ...(k.threads !== undefined ? { threads: k.threads } : {}),
      ...(k.reduction !== undefined ? { reduction: k.reduction } : {}),
    };
  }

  static override fromConfig<T extends serialization.Serializable>(cls: serialization.SerializableConstructor<T>, config: serialization.ConfigDict): T {
    if (typeof config.name !== "string") throw new TfjsAdapterError(`${L2oOptimizer.className}: the saved config names no optimizer`);
    const options: Record<string, unknown> = {};
    for (const k of ["sha256", "engine", "threads", "reduction"]) if (config[k] !== undefined && config[k] !== null) options[k] = config[k];
    return new cls(config.name, options);
  }

  /** Frees the optimizer's kernels and the tensors getWeights handed out; it is unusable afterwards. */
  override dispose(): void {
    this.run?.tx.dispose();
    this.run = null;
    this.state = null;
    dispose(this.handedOut);
    this.handedOut = [];
    this.disposed = true;
  }
}

serialization.registerClass(L2oOptimizer);

/**
 * A `tf.Optimizer` for the optimizer `name` names, by l2o's one name rule: a shipped optimizer
 * by its plain name (`general`, `mnist`, `quadratic`), an optimizer file by its path (any kind; `KIND:PATH`
 * insists on the kind), or a hand-designed one (`adam`, `adam@0.01`). Default:
 * `DEFAULT_OPTIMIZER` (`general`). An unknown name throws `UnknownOptimizerError`.
 */
export function learned(name: string = DEFAULT_OPTIMIZER, options: LearnedOptions = {}): L2oOptimizer {
  return new L2oOptimizer(name, options);
}

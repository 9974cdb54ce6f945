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
import { split, uniform, type Key } from "../core/rng.ts";
import type { ParamLayout } from "../core/layout.ts";
import { defaultEngineFactory } from "../kernels/select.ts";
import { phiShapes, phiSize, stateSize, type LstmEngine, type LstmEngineOptions, type LstmShape } from "../kernels/types.ts";
import type { GradientTransformation } from "../optimizers/transform.ts";
import type { LearnedOptimizer } from "./base.ts";
import { lstmTransform } from "./lstm_transform.ts";
import { gatherRows, scatterRows } from "./rows.ts";
import { DEFAULT_PREPROCESS, parsePreprocessConfig, preprocessor, type PreprocessConfig, type Preprocessor } from "./preprocess.ts";

/** Makes an engine (the reference engine or the WebAssembly one). */
export type LstmEngineFactory = (opts: LstmEngineOptions) => LstmEngine;

export interface LstmOptimizerConfig {
  /** Units per layer (default 20). */
  readonly hidden?: number;
  /** Stacked layers (default 2). */
  readonly layers?: number;
  /** Gradient preprocessing (default LogAndSign with p = 10). */
  readonly preprocess?: PreprocessConfig;
  /** The update is `outputScale * output` (default 0.1). */
  readonly outputScale?: number;
  /** Layout groups per separately weighted LSTM, e.g. `[["conv"], ["fc"]]` (default: one LSTM). */
  readonly groups?: readonly (readonly string[])[];
}

export interface ResolvedLstmOptimizerConfig {
  readonly hidden: number;
  readonly layers: number;
  readonly preprocess: PreprocessConfig;
  readonly outputScale: number;
  readonly groups?: readonly (readonly string[])[];
}

/** One LSTM of an instance: its engine, the coordinates it drives and its slice of `phi`. */
export interface LstmPart {
  readonly engine: LstmEngine;
  /** Coordinates of theta this LSTM drives, ascending; `null` means all of them in order. */
  readonly indices: Int32Array | null;
  readonly phiOffset: number;
  readonly phiLength: number;
  /**
   * The preprocessing's state for this part's coordinates (`engine.n * preprocess.stateSize`
   * floats, in the order of `indices`); empty for a stateless preprocessing.
   */
  readonly preState: Float32Array;
}

/**
 * The LSTM optimizer bound to weights and a parameter layout: engines that keep their state
 * between calls (for meta-training's truncated unrolls, see `src/meta/unroll.ts`).
 */
export interface LstmInstance {
  readonly preprocess: Preprocessor;
  readonly outputScale: number;
  /** Coordinates of theta. */
  readonly n: number;
  /** Length of the whole `phi` (every LSTM). */
  readonly phiSize: number;
  /** The non-empty LSTMs; a group with no coordinate in the layout has no part. */
  readonly parts: readonly LstmPart[];
  setPhi(phi: Float32Array): void;
  /** Zeroes the recurrent state and the preprocessing's state. */
  resetState(): void;
  /**
   * Recurrent state of every coordinate, coordinate-major in theta's order (n * stateSize
   * floats), then, for a stateful preprocessing, its state likewise (n * preprocess.stateSize).
   */
  getState(): Float32Array;
  setState(state: Float32Array): void;
  dispose(): void;
}

/**
 * The transform `optFn` returns; `dispose` frees its engines. Its state is
 * `{lstm: Float32Array, layout: number}`: the engines' snapshots (`layout` > 0) or, from
 * `init`, the contract's layout (`layout` 0); see `lstmTransform` below.
 */
export interface LstmTransform extends GradientTransformation {
  dispose(): void;
}

export interface LstmTransformOptions {
  /**
   * Return a copy of the recurrent state from every `update` (default true). With false,
   * `update` returns a handle that only the next `update` accepts, and copies nothing: the
   * same updates, about 0.9 ms less per step on the MNIST MLP (see `lstmTransform`).
   */
  readonly copyState?: boolean;
}

/**
 * Transforms of `opt` with weights `phi`, one per parameter layout, made at the first `get`
 * for that layout and kept until `dispose`: runs that follow one another (evaluation,
 * validation) share the engines instead of making them per run. Each run starts from its
 * own `init` state, which the transform restores. `opts` as for `optFn`.
 */
export function transformsByLayout(
  opt: Pick<LstmOptimizer, "optFn">,
  phi: Float32Array,
  opts: LstmTransformOptions = {},
): { get(layout: ParamLayout): LstmTransform; dispose(): void } {
  const kept: { layout: ParamLayout; tx: LstmTransform }[] = [];
  return {
    get(layout) {
      const hit = kept.find((k) => k.layout.sameAs(layout));
      if (hit !== undefined) return hit.tx;
      const tx = opt.optFn(phi, layout, opts);
      kept.push({ layout, tx });
      return tx;
    },
    dispose() {
      for (const k of kept) k.tx.dispose();
      kept.length = 0;
    },
  };
}

export interface LstmOptimizer extends LearnedOptimizer {
  readonly config: ResolvedLstmOptimizerConfig;
  readonly shape: LstmShape;
  /** Number of separately weighted LSTMs. */
  readonly lstms: number;
  readonly preprocess: Preprocessor;
  optFn(phi: Float32Array, layout: ParamLayout, opts?: LstmTransformOptions): LstmTransform;
  /** Engines for `layout` with weights `phi`, able to record `capacity` steps, state zero. */
  instantiate(phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error(`lstm optimizer: '${name}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Fills in defaults and validates (also for configs read from JSON). */
export function resolveLstmOptimizerConfig(c: unknown = {}): ResolvedLstmOptimizerConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new Error(`lstm optimizer config must be an object`);
  const o = c as Record<string, unknown>;
  const known = ["hidden", "layers", "preprocess", "outputScale", "groups"];
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new Error(`lstm optimizer config: unknown field(s) ${extra.join(", ")}`);
  const outputScale = o.outputScale ?? 0.1;
  if (typeof outputScale !== "number" || !Number.isFinite(outputScale) || outputScale <= 0) {
    throw new Error(`lstm optimizer: 'outputScale' must be a positive number, got ${JSON.stringify(outputScale)}`);
  }
  const out: ResolvedLstmOptimizerConfig = {
    hidden: positiveInt("hidden", o.hidden ?? 20),
    layers: positiveInt("layers", o.layers ?? 2),
    preprocess: parsePreprocessConfig(o.preprocess ?? DEFAULT_PREPROCESS),
    outputScale,
  };
  if (o.groups === undefined) return out;
  const g = o.groups;
  const bad = (): never => {
    throw new Error(`lstm optimizer: 'groups' must be a non-empty list of non-empty lists of group names, got ${JSON.stringify(g)}`);
  };
  if (!Array.isArray(g) || g.length === 0) bad();
  const seen = new Set<string>();
  const groups = (g as unknown[]).map((names) => {
    if (!Array.isArray(names) || names.length === 0 || !names.every((x) => typeof x === "string")) bad();
    for (const name of names as string[]) {
      if (seen.has(name)) throw new Error(`lstm optimizer: layout group '${name}' is listed twice in 'groups'`);
      seen.add(name);
    }
    return [...(names as string[])];
  });
  return { ...out, groups };
}

/**
 * The coordinates of theta that each LSTM drives: one ascending index list per entry of
 * `groups` (each entry names layout groups), or one list of every coordinate when `groups`
 * is absent. Throws when the layout has a group that no entry names.
 */
export function lstmGroupIndices(layout: ParamLayout, groups?: readonly (readonly string[])[]): Int32Array[] {
  if (groups === undefined) {
    const all = new Int32Array(layout.size);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return [all];
  }
  const owner = new Map<string, number>();
  groups.forEach((names, k) => names.forEach((name) => owner.set(name, k)));
  const counts = new Array<number>(groups.length).fill(0);
  for (const e of layout.entries) {
    const k = owner.get(e.group);
    if (k === undefined) {
      throw new Error(`lstm optimizer: layout group '${e.group}' (parameter '${e.name}') is in no LSTM group ${JSON.stringify(groups)}`);
    }
    counts[k] = counts[k]! + e.size;
  }
  const out = counts.map((c) => new Int32Array(c));
  const fill = new Array<number>(groups.length).fill(0);
  for (const e of layout.entries) {
    const k = owner.get(e.group)!;
    const idx = out[k]!;
    for (let j = 0; j < e.size; j++) idx[fill[k]!++] = e.offset + j;
  }
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
  const one = phiSize(shape);
  const lstms = cfg.groups?.length ?? 1;
  const total = lstms * one;
  const S = stateSize(shape);
  const P = pre.stateSize;

  const instantiate = (phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance => {
    if (phi.length !== total) throw new Error(`lstm optimizer: phi has ${phi.length} floats, expected ${total}`);
    const n = layout.size;
    const parts: LstmPart[] = [];
    lstmGroupIndices(layout, cfg.groups).forEach((idx, k) => {
      if (idx.length === 0) return;
      const engine = engineFactory({ shape, n: idx.length, capacity });
      engine.setPhi(phi.subarray(k * one, (k + 1) * one));
      parts.push({ engine, indices: idx.length === n ? null : idx, phiOffset: k * one, phiLength: one, preState: new Float32Array(idx.length * P) });
    });
    return {
      preprocess: pre,
      outputScale: cfg.outputScale,
      n,
      phiSize: total,
      parts,
      setPhi(p) {
        if (p.length !== total) throw new Error(`lstm optimizer: phi has ${p.length} floats, expected ${total}`);
        for (const part of parts) part.engine.setPhi(p.subarray(part.phiOffset, part.phiOffset + part.phiLength));
      },
      resetState() {
        for (const part of parts) {
          part.engine.resetState();
          part.preState.fill(0);
        }
      },
      getState() {
        const out = new Float32Array(n * (S + P));
        for (const part of parts) {
          scatterRows(part.engine.getState(), part.indices, S, out);
          if (P > 0) scatterRows(part.preState, part.indices, P, out.subarray(n * S));
        }
        return out;
      },
      setState(state) {
        if (state.length !== n * (S + P)) throw new Error(`lstm optimizer: state has ${state.length} floats, expected ${n * (S + P)}`);
        for (const part of parts) {
          part.engine.setState(gatherRows(state.subarray(0, n * S), part.indices, S));
          if (P > 0) part.preState.set(gatherRows(state.subarray(n * S), part.indices, P));
        }
      },
      dispose() {
        for (const part of parts) part.engine.dispose();
      },
    };
  };

  return {
    name: "lstm",
    phiSize: total,
    config: cfg,
    shape,
    lstms,
    preprocess: pre,
    instantiate,
    init(key: Key): Float32Array {
      const phi = new Float32Array(total);
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
      return phi;
    },
    optFn(phi: Float32Array, layout: ParamLayout, opts: LstmTransformOptions = {}): LstmTransform {
      return lstmTransform(instantiate(phi, layout, 1), layout, S, opts.copyState ?? true);
    },
  };
}

export { gatherRows, scatterRows };

/**
 * `phi` of an LSTM optimizer with `shape` rewritten for the same LSTM fed `inputs` >=
 * `shape.inputs` features: the first layer's rows for the new features (after the old ones)
 * are zero, so the wider optimizer computes exactly what the old one did until training
 * moves those weights. `lstms` separately weighted LSTMs are widened alike. Fine-tuning uses
 * it to give a trained LogAndSign optimizer the moving averages of `logSignMomentum`, whose
 * first two features are LogAndSign's.
 */
export function widenInputs(phi: Float32Array, shape: LstmShape, inputs: number, lstms = 1): Float32Array {
  if (!Number.isInteger(inputs) || inputs < shape.inputs) throw new Error(`widenInputs: cannot go from ${shape.inputs} inputs to ${inputs}`);
  const one = phiSize(shape);
  if (phi.length !== lstms * one) throw new Error(`widenInputs: phi has ${phi.length} floats, expected ${lstms * one}`);
  const wide: LstmShape = { ...shape, inputs };
  const wideOne = phiSize(wide);
  const G = 4 * shape.hidden;
  const out = new Float32Array(lstms * wideOne);
  for (let k = 0; k < lstms; k++) {
    const src = phi.subarray(k * one, (k + 1) * one);
    const dst = out.subarray(k * wideOne, (k + 1) * wideOne);
    // W_0: the old input rows, zero rows, then the recurrent rows; the rest is unchanged.
    dst.set(src.subarray(0, shape.inputs * G));
    dst.set(src.subarray(shape.inputs * G), inputs * G);
  }
  return out;
}

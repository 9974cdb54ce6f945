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
import { createReferenceEngine } from "../kernels/lstm_ref.ts";
import {
  hasSnapshots,
  phiShapes,
  phiSize,
  stateSize,
  type LstmEngine,
  type LstmEngineOptions,
  type LstmShape,
  type SnapshotLstmEngine,
} from "../kernels/types.ts";
import type { GradientTransformation, OptState } from "../optimizers/transform.ts";
import type { LearnedOptimizer } from "./base.ts";
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
  resetState(): void;
  /** Recurrent state of every coordinate, coordinate-major in theta's order. */
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

export interface LstmOptimizer extends LearnedOptimizer {
  readonly config: ResolvedLstmOptimizerConfig;
  readonly shape: LstmShape;
  /** Number of separately weighted LSTMs. */
  readonly lstms: number;
  readonly preprocess: Preprocessor;
  optFn(phi: Float32Array, layout: ParamLayout): LstmTransform;
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
 * preprocessing of appendix A). `engineFactory` picks the kernel: the plain-TypeScript
 * reference by default, or the WebAssembly engine.
 */
export function lstmOptimizer(config: LstmOptimizerConfig = {}, engineFactory: LstmEngineFactory = createReferenceEngine): LstmOptimizer {
  const cfg = resolveLstmOptimizerConfig(config);
  const pre = preprocessor(cfg.preprocess);
  const shape: LstmShape = { inputs: pre.inputs, hidden: cfg.hidden, layers: cfg.layers };
  const one = phiSize(shape);
  const lstms = cfg.groups?.length ?? 1;
  const total = lstms * one;
  const S = stateSize(shape);

  const instantiate = (phi: Float32Array, layout: ParamLayout, capacity: number): LstmInstance => {
    if (phi.length !== total) throw new Error(`lstm optimizer: phi has ${phi.length} floats, expected ${total}`);
    const n = layout.size;
    const parts: LstmPart[] = [];
    lstmGroupIndices(layout, cfg.groups).forEach((idx, k) => {
      if (idx.length === 0) return;
      const engine = engineFactory({ shape, n: idx.length, capacity });
      engine.setPhi(phi.subarray(k * one, (k + 1) * one));
      parts.push({ engine, indices: idx.length === n ? null : idx, phiOffset: k * one, phiLength: one });
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
        for (const part of parts) part.engine.resetState();
      },
      getState() {
        const out = new Float32Array(n * S);
        for (const part of parts) scatterRows(part.engine.getState(), part.indices, S, out);
        return out;
      },
      setState(state) {
        if (state.length !== n * S) throw new Error(`lstm optimizer: state has ${state.length} floats, expected ${n * S}`);
        for (const part of parts) part.engine.setState(gatherRows(state, part.indices, S));
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
    optFn(phi: Float32Array, layout: ParamLayout): LstmTransform {
      return lstmTransform(instantiate(phi, layout, 1), layout, S);
    },
  };
}

/** 32-bit FNV-1a of a string, as a number in [1, 2^32) (0 is kept for the contract layout). */
function fingerprint(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/**
 * The transform of `optFn` over an instance with capacity 1 (it never records).
 *
 * Its state is `{lstm: Float32Array, layout: number}`, in one of two layouts:
 * - `layout: 0` (or no `layout` field): the contract's layout, `n * stateSize` floats,
 *   coordinate-major in theta's order. `init` returns zeros in this layout, which any
 *   engine accepts; states written by hand or by older versions are read this way.
 * - `layout` = the transform's fingerprint (a positive integer): the engines' own snapshots
 *   (`LstmEngine.snapshot`), one per part in the order of `parts` (the order of `groups`,
 *   empty groups skipped), concatenated: part k's snapshot starts where part k-1's ends.
 *   The fingerprint hashes the parts' `stateLayout`s, the LSTM shape and the snapshot lengths,
 *   so a state from a transform of another engine kind or shape is refused with an error
 *   instead of being misread. `update` returns states in this layout whenever every engine
 *   implements snapshots (both engines of this library do), else in the contract's layout.
 *
 * `update` is pure: it changes none of its arguments and returns a new state. Internally the
 * engines keep the state they last produced, so when `update` is handed the very state object
 * it returned last (the usual training loop) it does not copy that state back into them; any
 * other state (an older one, or one from `init`) is first restored into the engines. States
 * are read as immutable: write into a returned state's arrays and a later `update` may or may
 * not see the change.
 */
function lstmTransform(inst: LstmInstance, layout: ParamLayout, S: number): LstmTransform {
  const n = layout.size;
  const pre = inst.preprocess;
  const I = pre.inputs;
  const scale = inst.outputScale;
  const parts = inst.parts;
  const engines = parts.map((p) => p.engine);
  const snapEngines = engines.every(hasSnapshots) ? (engines as SnapshotLstmEngine[]) : null;
  const offsets: number[] = [];
  let snapTotal = 0;
  for (const e of snapEngines ?? []) {
    offsets.push(snapTotal);
    snapTotal += e.snapshotLength;
  }
  const fp =
    snapEngines === null
      ? 0
      : fingerprint(
          `lstm-state;${I},${inst.parts[0]?.engine.shape.hidden},${inst.parts[0]?.engine.shape.layers};` +
            snapEngines.map((e) => `${e.stateLayout}:${e.n}:${e.snapshotLength}`).join("|"),
        );
  // Scratch reused by every step: gathered gradients (null: the part drives every coordinate
  // in order and reads `grads` itself), features and raw outputs.
  const scratch = parts.map((p) => ({
    g: p.indices === null ? null : new Float32Array(p.engine.n),
    x: new Float32Array(p.engine.n * I),
    out: new Float32Array(p.engine.n),
  }));
  /**
   * The state `update` returned last; the engines hold it while this is set. A strong
   * reference on purpose: a WeakRef target stays alive until the current job ends, so in a
   * synchronous training loop every returned state would be kept until the loop finishes.
   */
  let held: OptState | null = null;

  const restoreFrom = (state: OptState): void => {
    const st = state.lstm;
    const tag = state.layout ?? 0;
    if (typeof tag !== "number") throw new Error(`lstm optimizer: state.layout must be a number, got ${typeof tag}`);
    if (tag === 0) {
      if (!(st instanceof Float32Array) || st.length !== n * S) {
        throw new Error(`lstm optimizer: state.lstm must be a Float32Array of ${n * S} floats (from init)`);
      }
      for (const part of parts) part.engine.setState(gatherRows(st, part.indices, S));
      return;
    }
    if (tag !== fp) {
      throw new Error(
        `lstm optimizer: state.lstm is in state layout ${tag}, but this transform's engines use ` +
          (fp === 0 ? "the contract layout (0) only" : `state layout ${fp}`) +
          ": the state comes from a transform with another engine kind or shape; states only move between transforms of the same engine kind",
      );
    }
    if (!(st instanceof Float32Array) || st.length !== snapTotal) {
      throw new Error(`lstm optimizer: state.lstm must be a Float32Array of ${snapTotal} floats for state layout ${fp}`);
    }
    snapEngines!.forEach((e, k) => e.restore(st.subarray(offsets[k]!, offsets[k]! + e.snapshotLength), e.stateLayout));
  };

  return {
    init(params: Float32Array): OptState {
      layout.check(params);
      return { lstm: new Float32Array(n * S), layout: 0 };
    },
    update(grads, state, params): [Float32Array, OptState] {
      if (grads.length !== n) throw new Error(`lstm optimizer: ${grads.length} gradients for a layout of ${n} coordinates`);
      if (params.length !== n) throw new Error(`lstm optimizer: ${params.length} parameters for a layout of ${n} coordinates`);
      const engineHolds = held !== null && held === state;
      // Until this step completes the engines hold no returned state.
      held = null;
      if (!engineHolds) restoreFrom(state);
      const updates = new Float32Array(n);
      parts.forEach((part, k) => {
        const e = part.engine;
        const { g, x, out } = scratch[k]!;
        const gi = g === null ? grads : gatherInto(grads, part.indices!, g);
        pre.apply(gi, x);
        e.forward(x, out, false);
        const idx = part.indices;
        if (idx === null) for (let i = 0; i < out.length; i++) updates[i] = scale * out[i]!;
        else for (let i = 0; i < out.length; i++) updates[idx[i]!] = scale * out[i]!;
      });
      let next: OptState;
      if (snapEngines !== null) {
        const snap = snapEngines.length === 1 ? snapEngines[0]!.snapshot() : new Float32Array(snapTotal);
        if (snapEngines.length !== 1) snapEngines.forEach((e, k) => e.snapshot(snap, offsets[k]));
        next = { lstm: snap, layout: fp };
      } else {
        const st = new Float32Array(n * S);
        for (const part of parts) scatterRows(part.engine.getState(), part.indices, S, st);
        next = { lstm: st, layout: 0 };
      }
      held = next;
      return [updates, next];
    },
    dispose: () => {
      held = null;
      inst.dispose();
    },
  };
}

/** `dst[i] = src[idx[i]]` (the rows of width 1 that `gatherRows` copies), into `dst`. */
function gatherInto(src: Float32Array, idx: Int32Array, dst: Float32Array): Float32Array {
  for (let i = 0; i < idx.length; i++) dst[i] = src[idx[i]!]!;
  return dst;
}

/** Rows `idx` (each `width` floats) of `src`, or `src` itself when `idx` is null. */
export function gatherRows(src: Float32Array, idx: Int32Array | null, width: number): Float32Array {
  if (idx === null) return src;
  const out = new Float32Array(idx.length * width);
  if (width === 1) {
    for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]!]!;
  } else {
    for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i]! * width, (idx[i]! + 1) * width), i * width);
  }
  return out;
}

/** Writes the rows of `src` to rows `idx` of `dst` (all rows in order when `idx` is null). */
export function scatterRows(src: Float32Array, idx: Int32Array | null, width: number, dst: Float32Array): void {
  if (idx === null) {
    dst.set(src);
    return;
  }
  if (width === 1) {
    for (let i = 0; i < idx.length; i++) dst[idx[i]!] = src[i]!;
  } else {
    for (let i = 0; i < idx.length; i++) dst.set(src.subarray(i * width, (i + 1) * width), idx[i]! * width);
  }
}

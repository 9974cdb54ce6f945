/**
 * The gradient transformation a trained LSTM optimizer becomes (`LstmOptimizer.optFn`), with
 * its state kept as memcpy snapshots in the engines' own layout.
 */
import type { ParamLayout } from "../../core/layout.ts";
import { hasSnapshots, type SnapshotLstmEngine } from "../../kernels/types.ts";
import type { OptState } from "../../optimizers/transform.ts";
import type { LearnedTransform } from "../contract.ts";
import { gatherInto, gatherRows, scatterRows } from "../rows.ts";
import type { LstmInstance } from "./types.ts";

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
 * With a stateful preprocessing (`logSignMomentum`) the state also has `pre`: the
 * preprocessing's state, `n * preprocess.stateSize` floats, the parts' states concatenated in
 * the order of `parts` (each in the order of its coordinates; with one LSTM, theta's order).
 * `init` returns zeros.
 *
 * `update` is pure: it changes none of its arguments and returns a new state. Internally the
 * engines keep the state they last produced, so when `update` is handed the very state object
 * it returned last (the usual training loop) it does not copy that state back into them; any
 * other state (an older one, or one from `init`) is first restored into the engines. States
 * are read as immutable: write into a returned state's arrays and a later `update` may or may
 * not see the change.
 *
 * With `copyState: false` `update` returns a handle, `{handle: k}`, instead of a copy of the
 * state: the engines keep the state, and the handle may be passed only to the next `update`
 * (a state from `init`, or a copy from another transform of the same kind, is still
 * restored). That saves copying the whole recurrent state every step (for the MNIST MLP's
 * 15,910 coordinates 5.3 MB, about 0.9 ms of a 5-7 ms step), for loops that never keep,
 * branch or save a state: evaluation, validation, a training loop. The updates are the same
 * bits either way.
 */
export function lstmTransform(inst: LstmInstance, layout: ParamLayout, copyState = true): LearnedTransform {
  const n = layout.size;
  const S = inst.stateSize;
  const pre = inst.preprocess;
  const I = pre.inputs;
  const P = pre.stateSize;
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
  /** Handles returned so far (`copyState: false`). */
  let handles = 0;

  const restoreFrom = (state: OptState): void => {
    if (P > 0) {
      const ps = state.pre;
      if (!(ps instanceof Float32Array) || ps.length !== n * P) {
        throw new Error(`lstm optimizer: state.pre must be a Float32Array of ${n * P} floats (the preprocessing's state, from init)`);
      }
      let o = 0;
      for (const part of parts) {
        part.preState.set(ps.subarray(o, o + part.preState.length));
        o += part.preState.length;
      }
    }
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
      return { lstm: new Float32Array(n * S), layout: 0, ...(P > 0 ? { pre: new Float32Array(n * P) } : {}) };
    },
    update(grads, state, params): [Float32Array, OptState] {
      if (grads.length !== n) throw new Error(`lstm optimizer: ${grads.length} gradients for a layout of ${n} coordinates`);
      if (params.length !== n) throw new Error(`lstm optimizer: ${params.length} parameters for a layout of ${n} coordinates`);
      const engineHolds = held !== null && held === state;
      // Until this step completes the engines hold no returned state.
      held = null;
      if (!engineHolds) {
        if (state.handle !== undefined) {
          throw new Error(
            "lstm optimizer: this state is a handle (optFn with copyState: false), which only the update right after the one that returned it " +
              "accepts; to keep, branch or save states, use copyState: true (the default)",
          );
        }
        restoreFrom(state);
      }
      const updates = new Float32Array(n);
      parts.forEach((part, k) => {
        const e = part.engine;
        const { g, x, out } = scratch[k]!;
        const gi = g === null ? grads : gatherInto(grads, part.indices!, g);
        pre.apply(gi, x, part.preState);
        e.forward(x, out, false);
        const idx = part.indices;
        if (idx === null) for (let i = 0; i < out.length; i++) updates[i] = scale * out[i]!;
        else for (let i = 0; i < out.length; i++) updates[idx[i]!] = scale * out[i]!;
      });
      if (!copyState) {
        held = Object.freeze({ handle: ++handles });
        return [updates, held];
      }
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
      if (P > 0) {
        const ps = new Float32Array(n * P);
        let o = 0;
        for (const part of parts) {
          ps.set(part.preState, o);
          o += part.preState.length;
        }
        next = { ...next, pre: ps };
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

/**
 * The coordinatewise LSTM kernel contract (Andrychowicz et al. 2016, section 2.1).
 *
 * One small LSTM with weights `phi` is applied to every coordinate of the optimizee
 * independently, each coordinate keeping its own hidden and cell state. An engine owns the
 * per-coordinate state and the tape that backpropagation through time needs; the reference
 * engine (plain TypeScript) and the WebAssembly SIMD engine implement the same contract and
 * must agree to 1e-6 relative on the meta-gradient.
 *
 * `phi` is one flat Float32Array, laid out (matching the PyTorch fixtures) as, for each layer
 * l = 0..layers-1: `W_l` of shape `[in_l + H, 4H]` row-major (rows: the layer's inputs, then
 * its own previous hidden state; in_0 = inputs, in_l = H after), then `b_l` of shape `[4H]`;
 * then the head `W_out` `[H, 1]` and `b_out` `[1]`. Gate order in each 4H block: input,
 * forget, cell candidate, output. Cell: c' = s(f) c + s(i) tanh(g), h' = s(o) tanh(c');
 * output = h'_last . W_out + b_out (unscaled: the caller applies the output scale).
 */

export interface LstmShape {
  /** Features per coordinate fed in (2 for LogAndSign, 1 for none / fixed scaling). */
  readonly inputs: number;
  /** Units per layer (20 in the paper). */
  readonly hidden: number;
  /** Stacked layers (2 in the paper). */
  readonly layers: number;
}

/** The shapes of the tensors in phi, in order (see the module comment). */
export function phiShapes(s: LstmShape): number[][] {
  const out: number[][] = [];
  for (let l = 0; l < s.layers; l++) {
    const rows = (l === 0 ? s.inputs : s.hidden) + s.hidden;
    out.push([rows, 4 * s.hidden], [4 * s.hidden]);
  }
  out.push([s.hidden, 1], [1]);
  return out;
}

/** Number of floats in phi. */
export function phiSize(s: LstmShape): number {
  return phiShapes(s).reduce((a, sh) => a + sh.reduce((x, y) => x * y, 1), 0);
}

/** Floats of recurrent state per coordinate (h and c for every layer). */
export function stateSize(s: LstmShape): number {
  return 2 * s.layers * s.hidden;
}

export interface LstmEngineOptions {
  readonly shape: LstmShape;
  /** Number of coordinates the engine steps together. */
  readonly n: number;
  /** Most forward steps recorded on the tape before a backward pass (the unroll length T). */
  readonly capacity: number;
}

/**
 * A coordinatewise LSTM over `n` coordinates with its own state and tape.
 *
 * Training protocol for one truncation of T steps: `forward(x_t, out_t, true)` for
 * t = 0..T-1; then `backwardStep(dOut_t)` for t = T-1 down to 0 (each call consumes the most
 * recent un-backpropagated step), then `finishBackward(dphi)` which adds dL/dphi into `dphi`,
 * clears the tape and keeps the current state (the truncation cut: the next unroll starts
 * from where this one ended, with no gradient flowing back across the cut).
 */
export interface LstmEngine {
  readonly shape: LstmShape;
  readonly n: number;
  readonly capacity: number;
  /** Steps recorded on the tape and not yet backpropagated. */
  readonly recorded: number;
  /** Copies weights in (length `phiSize(shape)`). */
  setPhi(phi: Float32Array): void;
  /** Zeros h and c of every coordinate and clears the tape. */
  resetState(): void;
  /**
   * One step for all coordinates. `x` holds `n * inputs` floats, coordinate-major
   * (coordinate i's features at `x[i*inputs ..]`); `out` receives `n` unscaled outputs.
   * With `record`, what backpropagation needs is kept (throws when the tape is full).
   */
  forward(x: Float32Array, out: Float32Array, record: boolean): void;
  /**
   * Backpropagates the latest recorded step, given dL/dout for it (`n` floats), plus the
   * gradient arriving through the recurrent state from later steps. Accumulates dL/dphi.
   * If `dx` is given (`n * inputs` floats) it receives dL/dx for this step.
   */
  backwardStep(dOut: Float32Array, dx?: Float32Array): void;
  /** Adds the accumulated dL/dphi into `dphi`, zeros the accumulator, clears the tape. */
  finishBackward(dphi: Float32Array): void;
  /** A copy of the recurrent state: `n * stateSize(shape)` floats, coordinate-major. */
  getState(): Float32Array;
  /** Replaces the recurrent state (same layout as `getState`); clears the tape. */
  setState(state: Float32Array): void;
  /**
   * Names the layout of `snapshot()` (for example `"ref"` or `"wasm-v1"`): snapshots can be
   * restored only into an engine with the same `stateLayout`, shape and `n`. Optional: an
   * engine without snapshots is driven through `getState`/`setState` instead.
   */
  readonly stateLayout?: string;
  /** Floats in a snapshot (see `snapshot`). */
  readonly snapshotLength?: number;
  /**
   * A copy of the recurrent state in the engine's own internal layout: a plain copy of its
   * memory, no conversion (`getState` converts to the contract's layout). The copy is
   * `snapshotLength` floats; with `into` it is written there from `offset` (default 0) and
   * `into` is returned, else a new array is. Meaningful only to `restore` of an engine of the
   * same `stateLayout`, shape and `n`.
   */
  snapshot?(into?: Float32Array, offset?: number): Float32Array;
  /**
   * Replaces the recurrent state with a snapshot (the inverse of `snapshot`, again a plain
   * copy) and clears the tape, like `setState`. Throws when `snapshot` is not `snapshotLength`
   * floats, or when `layout` is given and is not this engine's `stateLayout` (a snapshot of a
   * different kind of engine).
   */
  restore?(snapshot: Float32Array, layout?: string): void;
  /** Frees workers and memory. The engine is unusable afterwards. */
  dispose(): void;
}

/** An engine that implements the snapshot methods (both engines of this library do). */
export interface SnapshotLstmEngine extends LstmEngine {
  readonly stateLayout: string;
  readonly snapshotLength: number;
  snapshot(into?: Float32Array, offset?: number): Float32Array;
  restore(snapshot: Float32Array, layout?: string): void;
}

/** Whether `e` implements `snapshot`/`restore` (see `SnapshotLstmEngine`). */
export function hasSnapshots(e: LstmEngine): e is SnapshotLstmEngine {
  return typeof e.stateLayout === "string" && typeof e.snapshotLength === "number" && typeof e.snapshot === "function" && typeof e.restore === "function";
}

/**
 * Checks a snapshot handed to `restore` (`what` names the engine in the message): its layout
 * tag, when given, must be the engine's own, and its length `snapshotLength`.
 */
export function checkSnapshot(what: string, own: string, length: number, snapshot: Float32Array, layout?: string): void {
  if (layout !== undefined && layout !== own) {
    throw new Error(
      `LSTM engine: cannot restore a snapshot in state layout '${layout}' into ${what} (state layout '${own}'); ` +
        "snapshots only move between engines of the same kind; use getState/setState to move state between kinds",
    );
  }
  if (!(snapshot instanceof Float32Array) || snapshot.length !== length) {
    const got = snapshot instanceof Float32Array ? `${snapshot.length} floats` : "not a Float32Array";
    throw new Error(`LSTM engine: snapshot is ${got}, expected ${length} floats (state layout '${own}')`);
  }
}

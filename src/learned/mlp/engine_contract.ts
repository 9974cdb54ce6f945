/**
 * What an engine of the per-coordinate MLP optimizer does (engine.ts picks one: the float64
 * reference or the WebAssembly kernel of engine_wasm.ts): the MLP's forward over every
 * coordinate's feature row, and its backward, kept per tape slot.
 */
export interface MlpEngine {
  /** `ref` or `wasm`. */
  readonly engine: "ref" | "wasm";
  readonly phiSize: number;
  setPhi(phi: Float32Array): void;
  /**
   * The outputs `out` (n * 2: d, a) of the n coordinates' features `x` (dims[0] columns of n,
   * column k at k * n: F normalised columns, then the time columns, the same for every
   * coordinate). With `slot` >= 0 the engine keeps
   * under that tape slot what `backward` needs (a later forward into the slot replaces it).
   */
  forward(x: Float64Array, n: number, out: Float64Array, slot: number): void;
  /**
   * Backpropagates dL/dout (n * 2) through the forward recorded in `slot` on `x`: adds dL/dphi
   * into `dphi` (float64, phi's layout) and writes dL/dx into `dx` (columns as `x`) for the
   * first `columns` columns at least.
   */
  backward(slot: number, x: Float64Array, n: number, dout: Float64Array, dphi: Float64Array, dx: Float64Array, columns: number): void;
  /**
   * `wasm` only: the evaluation path of the `adafac` features fused with the forward
   * (engine_wasm.ts). Returns a step that, from `state` (left as it is), computes the new state
   * (all but its step count) and the features inside the kernel and runs the forward with the
   * time features `tau`; it returns the new state (a fresh array) and the outputs as two rows of
   * the kernel's padded width (d at i, a at np + i; a view valid until the next call): the same
   * bits as the unfused path (features_adafac.ts, then `forward`).
   */
  fusedAdafac?(spec: FusedAdafacSpec): (theta: Float32Array, grad: Float32Array, state: Float32Array, tau: Float64Array) => { out: Float32Array; np: number; state: Float32Array };
  dispose(): void;
}

/** What the fused adafac step needs to know of the features (features_adafac.ts). */
export interface FusedAdafacSpec {
  readonly n: number;
  readonly decays: readonly number[];
  readonly rmsDecay: number;
  readonly factoredDecay: number;
  /** Per tensor: its offset and size, and its factored slice of the state. */
  readonly tensors: readonly { readonly offset: number; readonly size: number; readonly rows: number; readonly cols: number; readonly at: number }[];
  readonly stateSize: number;
}

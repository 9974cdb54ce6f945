/**
 * The LSTM optimizer's internal parts: its engines bound to a layout (an instance), which the
 * transform (evaluation) and the differentiable step (meta-training) both drive.
 */
import type { LstmEngine, LstmEngineOptions } from "../../kernels/types.ts";
import type { Preprocessor } from "./preprocess.ts";

/** Makes an engine (the reference engine or the WebAssembly one). */
export type LstmEngineFactory = (opts: LstmEngineOptions) => LstmEngine;

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
 * between calls.
 */
export interface LstmInstance {
  readonly preprocess: Preprocessor;
  readonly outputScale: number;
  /** Coordinates of theta. */
  readonly n: number;
  /** Length of the whole `phi` (every LSTM). */
  readonly phiSize: number;
  /** Floats of recurrent state per coordinate. */
  readonly stateSize: number;
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

// The truncation the LSTM engine benchmarks time (bench/kernels.ts, bench/tape_paired.ts): the
// same weights, inputs and output gradients from key(1), and one truncation of T recorded
// forward steps and T backward steps without dx, then finishBackward.
import { key, split, uniform } from "../src/core/rng.ts";
import { phiSize, type LstmEngine, type LstmShape } from "../src/kernels/types.ts";

export interface TruncationInputs {
  readonly phi: Float32Array;
  /** T steps of n coordinates' 2 inputs, like LogAndSign features: log|g|/p in [-1, 0], sign in {-1, 1}. */
  readonly xs: Float32Array;
  /** T steps of n output gradients. */
  readonly dOuts: Float32Array;
}

/** The weights (uniform in [-0.1, 0.1]), inputs and output gradients of a truncation of T steps over n coordinates of `shape` (2 inputs). */
export function truncationInputs(shape: LstmShape, n: number, T: number): TruncationInputs {
  const ks = split(key(1), 3);
  return {
    phi: uniform(ks[0]!, phiSize(shape), -0.1, 0.1),
    xs: uniform(ks[1]!, T * n * 2, -1, 1).map((v, i) => (i % 2 === 1 ? Math.sign(v) || 1 : -Math.abs(v))),
    dOuts: uniform(ks[2]!, T * n, -1, 1),
  };
}

/** Runs one truncation on `e` (n coordinates, T steps, dL/dphi added into `dphi`); returns [forward ms, backward ms]. */
export function timeTruncation(e: LstmEngine, inp: TruncationInputs, n: number, T: number, out: Float32Array, dphi: Float32Array): [number, number] {
  const t0 = performance.now();
  for (let t = 0; t < T; t++) e.forward(inp.xs.subarray(t * n * 2, (t + 1) * n * 2), out, true);
  const t1 = performance.now();
  for (let t = T - 1; t >= 0; t--) e.backwardStep(inp.dOuts.subarray(t * n, (t + 1) * n));
  e.finishBackward(dphi);
  return [t1 - t0, performance.now() - t1];
}

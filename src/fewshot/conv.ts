/**
 * The conv network's 3x3 "SAME" convolution, stride 1, written as im2col and one matrix product:
 * the input is zero-padded, its nine shifted views stacked into patches [n * h * w, c * 9], and
 * these multiply the weights [k, c, 3, 3] read as a [c * 9, k] matrix. It computes what
 * `lax.conv(x, w, [1, 1], "SAME")` does (test/fewshot_conv.test.ts: values, gradients and
 * second derivatives); it exists because jax-js 0.1.25 lowers a convolution whose weights differ
 * per episode (the inner loop under `vmap`) and its first and second derivatives to kernels
 * several times slower than the pads, slices and matrix products this is made of
 * (bench/fewshot_step.ts --conv lax|im2col measures both in a meta-iteration).
 */
import { jax } from "../tasks/mlp_jax.ts";
import type { Arr } from "./types.ts";

export type ConvImpl = "im2col" | "lax";
let impl: ConvImpl = "im2col";

/** Which convolution the conv network uses from now on (the benchmark compares both). */
export function useConv(which: ConvImpl): void {
  impl = which;
}

/** `x` [n, c, h, w] convolved with `w` [k, c, 3, 3], zero padding: [n, k, h, w]. Consumes both. */
export function conv3x3(x: Arr, w: Arr): Arr {
  return impl === "lax" ? conv3x3Lax(x, w) : conv3x3Im2col(x, w);
}

/** jax-js's own convolution: the reference. */
export function conv3x3Lax(x: Arr, w: Arr): Arr {
  return jax().lax.conv(x, w, [1, 1], "SAME");
}

export function conv3x3Im2col(x: Arr, w: Arr): Arr {
  const { numpy: jnp } = jax();
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const k = w.shape[0]!;
  const padded = jnp.pad(x, [[0, 0], [0, 0], [1, 1], [1, 1]]);
  const views: Arr[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) views.push(padded.ref.slice([], [], [dy, dy + h], [dx, dx + wd]));
  padded.dispose();
  // [n h w, c 9] (channel-major then window position, the order of w's [c, 3, 3]) times
  // [c 9, k]: a plain matrix product. Not [k, c 9] times [n, c 9, h w]: jax-js 0.1.25's matmul
  // of a matrix by a stack of matrices mixes up the stack when both n and k exceed 1.
  const patches = jnp.stack(views, 4).transpose([0, 2, 3, 1, 4]).reshape([n * h * wd, c * 9]);
  const y = jnp.matmul(patches, w.reshape([k, c * 9]).transpose([1, 0]));
  return y.reshape([n, h, wd, k]).transpose([0, 3, 1, 2]);
}

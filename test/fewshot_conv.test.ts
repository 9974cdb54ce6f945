/**
 * The conv network's im2col convolution (src/fewshot/conv.ts) against a direct float64 loop and
 * against jax-js's `lax.conv`, the path it replaces: forward values, the gradient of a weighted
 * sum with respect to input and weights, the second derivative MAML takes (the gradient of the
 * squared norm of an inner gradient), and per-episode weights under `vmap`. Float32 throughout;
 * the tolerance is 1e-5 relative to the largest magnitude compared (float32 sums of at most 36
 * products carry about 1e-6).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { key, normal } from "../src/core/rng.ts";
import { conv3x3Im2col, conv3x3Lax } from "../src/fewshot/conv.ts";
import type { Arr } from "../src/fewshot/types.ts";
import { jax } from "../src/tasks/mlp_jax.ts";

const { numpy: jnp, grad, vmap } = jax();
const TOL = 1e-5;

function close(a: Float32Array | Float64Array, b: Float32Array | Float64Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!), Math.abs(b[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  assert.ok(scale > 0.1, `${what}: values too small to compare (${scale})`);
  assert.ok(worst <= TOL * scale, `${what}: max difference ${worst} over scale ${scale}`);
}

const N = 3, C = 2, H = 5, W = 6, K = 4;
const xData = normal(key(1), N * C * H * W);
const wData = normal(key(2), K * C * 9);
const rData = normal(key(3), N * K * H * W);
// A copy: jax-js may keep the buffer it is given as the array's storage.
const arr = (d: Float32Array, shape: number[]): Arr => jnp.array(d.slice(), { shape });

test("im2col convolution equals a direct loop and lax.conv (odd, non-square images)", () => {
  const want = new Float64Array(N * K * H * W);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    let s = 0;
    for (let c = 0; c < C; c++) for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
      const y = i + dy - 1, x = j + dx - 1;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      s += xData[((n * C + c) * H + y) * W + x]! * wData[((k * C + c) * 3 + dy) * 3 + dx]!;
    }
    want[((n * K + k) * H + i) * W + j] = s;
  }
  const got = conv3x3Im2col(arr(xData, [N, C, H, W]), arr(wData, [K, C, 3, 3]));
  assert.deepEqual(got.shape, [N, K, H, W]);
  close(got.dataSync() as Float32Array, want, "im2col vs loop");
  close(conv3x3Lax(arr(xData, [N, C, H, W]), arr(wData, [K, C, 3, 3])).dataSync() as Float32Array, want, "lax vs loop");
});

type Conv = (x: Arr, w: Arr) => Arr;
/** L(x, w) = sum(conv(x, w) * r): its gradients with respect to x and w. */
const firstOrder = (conv: Conv) => grad((x: Arr, w: Arr) => conv(x, w).mul(arr(rData, [N, K, H, W])).sum(), { argnums: [0, 1] }) as unknown as (x: Arr, w: Arr) => [Arr, Arr];
/** M(x, w) = |d/dw sum(relu(conv(x, w))^2)|^2: a gradient through a gradient, as in MAML's inner step. */
const secondOrder = (conv: Conv) => {
  // Both arguments differentiated (the x part dropped): jax-js stops the gradient of arguments outside argnums.
  const inner = grad((x: Arr, w: Arr) => jnp.square(jax().nn.relu(conv(x, w))).sum(), { argnums: [0, 1] }) as unknown as (x: Arr, w: Arr) => [Arr, Arr];
  return grad((x: Arr, w: Arr) => {
    const [gx, gw] = inner(x, w);
    gx.dispose();
    return jnp.square(gw).sum();
  }, { argnums: [0, 1] }) as unknown as (x: Arr, w: Arr) => [Arr, Arr];
};

test("im2col convolution's first and second derivatives equal lax.conv's", () => {
  for (const [name, make] of [["first", firstOrder], ["second", secondOrder]] as const) {
    const [gxA, gwA] = make(conv3x3Im2col)(arr(xData, [N, C, H, W]), arr(wData, [K, C, 3, 3]));
    const [gxB, gwB] = make(conv3x3Lax)(arr(xData, [N, C, H, W]), arr(wData, [K, C, 3, 3]));
    close(gxA.dataSync() as Float32Array, gxB.dataSync() as Float32Array, `${name} order, d/dx`);
    close(gwA.dataSync() as Float32Array, gwB.dataSync() as Float32Array, `${name} order, d/dw`);
  }
});

test("im2col convolution under vmap with per-episode weights equals one call per episode", () => {
  const B = 2;
  const xs = normal(key(4), B * N * C * H * W);
  const ws = normal(key(5), B * K * C * 9);
  const batched = (vmap(conv3x3Im2col, [0, 0]) as unknown as Conv)(arr(xs, [B, N, C, H, W]), arr(ws, [B, K, C, 3, 3])).dataSync() as Float32Array;
  const per = N * K * H * W;
  for (let b = 0; b < B; b++) {
    const one = conv3x3Lax(arr(xs.slice(b * N * C * H * W, (b + 1) * N * C * H * W), [N, C, H, W]), arr(ws.slice(b * K * C * 9, (b + 1) * K * C * 9), [K, C, 3, 3]));
    close(batched.slice(b * per, (b + 1) * per), one.dataSync() as Float32Array, `episode ${b}`);
  }
});

/**
 * The `jax` backend of the CNN task, the reference the WebAssembly layers are checked against:
 * jax-js, `jit(valueAndGrad(loss))` over the flat parameter vector (packed as `cnnLayout`),
 * one compiled function per architecture and batch size. The same network: per layer
 * `lax.conv` (3x3, same padding) -> batch norm with the batch's statistics -> ReLU -> 2x2 max
 * pool (reshape and max), then dense -> ReLU -> dense, mean softmax cross-entropy.
 */
import type { numpy as np } from "@jax-js/jax";
import { BN_EPS } from "../kernels/conv.ts";
import type { CnnDims } from "./cnn_config.ts";
import { jax } from "./mlp_jax.ts";

export interface CnnJaxKernels {
  /** (theta, x [n, c, h, w], one-hot y [n, classes]) -> [loss, grad]; arguments consumed. */
  readonly lossGrad: (theta: np.Array, x: np.Array, y: np.Array) => [np.Array, np.Array];
  readonly logits: (theta: np.Array, x: np.Array) => np.Array;
}

const cache = new Map<string, CnnJaxKernels>();

export function cnnJaxKernels(d: CnnDims): CnnJaxKernels {
  const id = JSON.stringify(d);
  const hit = cache.get(id);
  if (hit) return hit;
  const { jit, valueAndGrad, nn, lax, numpy: jnp } = jax();
  const forward = (theta: np.Array, x: np.Array): np.Array => {
    let o = 0;
    const take = (n: number, shape: number[]): np.Array => {
      const a = theta.ref.slice([o, o + n]).reshape(shape);
      o += n;
      return a;
    };
    let h = x;
    let n = 0;
    for (const l of d.conv) {
      const w = take(l.k * l.c * 9, [l.k, l.c, 3, 3]);
      const scale = take(l.k, [1, l.k, 1, 1]);
      const shift = take(l.k, [1, l.k, 1, 1]);
      const y = lax.conv(h, w, [1, 1], "SAME");
      n = y.shape[0]!;
      const mean = y.ref.mean([0, 2, 3], { keepdims: true });
      const centred = y.sub(mean);
      const variance = jnp.square(centred.ref).mean([0, 2, 3], { keepdims: true });
      const a = nn.relu(centred.mul(jnp.reciprocal(jnp.sqrt(variance.add(BN_EPS)))).mul(scale).add(shift));
      const h2 = l.h >> 1;
      const w2 = l.w >> 1;
      const even = l.h % 2 === 0 && l.w % 2 === 0 ? a : a.slice([], [], [0, 2 * h2], [0, 2 * w2]);
      h = even.reshape([n, l.k, h2, 2, w2, 2]).max([3, 5]);
    }
    const w1 = take(d.flat * d.fc, [d.flat, d.fc]);
    const b1 = take(d.fc, [d.fc]);
    const w2 = take(d.fc * d.classes, [d.fc, d.classes]);
    const b2 = take(d.classes, [d.classes]);
    theta.dispose();
    const f = nn.relu(jnp.matmul(h.reshape([n, d.flat]), w1).add(b1));
    return jnp.matmul(f, w2).add(b2);
  };
  const loss = (theta: np.Array, x: np.Array, y: np.Array): np.Array => {
    const z = forward(theta, x);
    return nn.logsumexp(z.ref, -1).sub(z.mul(y).sum(-1)).mean();
  };
  const k: CnnJaxKernels = { lossGrad: jit(valueAndGrad(loss)), logits: jit(forward) };
  cache.set(id, k);
  return k;
}

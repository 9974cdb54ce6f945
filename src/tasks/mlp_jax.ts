/**
 * The `jax` backend of the MLP tasks: jax-js, `jit(valueAndGrad(loss))` over the flat parameter
 * vector, one compiled function per architecture, shared by every task of that shape. It also
 * gives the Hessian-vector products of both backends. Parameters are packed as in `mlpLayout`.
 */
import { createRequire } from "node:module";
import type { numpy as np } from "@jax-js/jax";
import type { MlpActivation } from "./mnist_mlp_config.ts";

type JaxModule = typeof import("@jax-js/jax");
let jaxModule: JaxModule | undefined;

/**
 * jax-js, loaded at its first use (the `jax` backend, Hessian-vector products) instead of
 * when l2o is imported: it costs about 30 ms and 35 MB that a command on the `wasm` backend
 * never needs. Its CommonJS build is the one loaded, so that loading stays synchronous;
 * nothing else in l2o imports jax-js, so there is one copy of it.
 */
export function jax(): JaxModule {
  return (jaxModule ??= createRequire(import.meta.url)("@jax-js/jax") as JaxModule);
}

type Fn = (x: np.Array) => np.Array;
/**
 * Sigmoid as (1 + tanh(x / 2)) / 2: jax-js 0.1.25's `nn.sigmoid` has a NaN gradient for
 * x below about -88 (exp(-x) overflows float32 and its derivative becomes inf / inf), which
 * a learned optimizer's larger steps reach within a few dozen MNIST steps.
 */
const stableSigmoid: Fn = (x) => jax().numpy.tanh(x.mul(0.5)).mul(0.5).add(0.5);
const ACT: Record<MlpActivation, Fn> = {
  sigmoid: stableSigmoid,
  relu: (x) => jax().nn.relu(x),
  tanh: (x) => jax().numpy.tanh(x),
};

/** Compiled functions for one architecture. Arguments are consumed, as everywhere in jax-js. */
export interface MlpKernels {
  readonly lossGrad: (theta: np.Array, x: np.Array, y: np.Array) => [np.Array, np.Array];
  readonly hvp: (theta: np.Array, v: np.Array, x: np.Array, y: np.Array) => np.Array;
  readonly logits: (theta: np.Array, x: np.Array) => np.Array;
}

const kernelCache = new Map<string, MlpKernels>();

/** The compiled functions of the MLP with layer widths `dims` (input first), made once per architecture. */
export function jaxMlpKernels(dims: readonly number[], activation: MlpActivation): MlpKernels {
  const id = `${dims.join("-")}/${activation}`;
  const hit = kernelCache.get(id);
  if (hit) return hit;
  const act = ACT[activation];
  const { jit, jvp, grad, valueAndGrad, nn, numpy: jnp } = jax();
  const forward = (theta: np.Array, x: np.Array): np.Array => {
    let h = x;
    let o = 0;
    for (let k = 1; k < dims.length; k++) {
      const din = dims[k - 1]!;
      const dout = dims[k]!;
      const w = theta.ref.slice([o, o + din * dout]).reshape([din, dout]);
      o += din * dout;
      const b = theta.ref.slice([o, o + dout]);
      o += dout;
      h = jnp.matmul(h, w).add(b);
      if (k < dims.length - 1) h = act(h);
    }
    theta.dispose();
    return h;
  };
  // Batch-mean softmax cross-entropy; y is one-hot [B, classes].
  const loss = (theta: np.Array, x: np.Array, y: np.Array): np.Array => {
    const z = forward(theta, x);
    return nn.logsumexp(z.ref, -1).sub(z.mul(y).sum(-1)).mean();
  };
  const k: MlpKernels = {
    lossGrad: jit(valueAndGrad(loss)),
    hvp: jit((theta: np.Array, v: np.Array, x: np.Array, y: np.Array) => {
      const [g, hv] = jvp((t: np.Array) => grad(loss)(t, x.ref, y.ref), [theta], [v]);
      g.dispose();
      x.dispose();
      y.dispose();
      return hv;
    }),
    logits: jit(forward),
  };
  kernelCache.set(id, k);
  return k;
}

/** The float32 data that jax-js returned (`dataSync()`), checked to be float32. */
export function f32(a: unknown): Float32Array {
  if (!(a instanceof Float32Array)) throw new Error("mnist-mlp: expected float32 data from jax-js");
  return a;
}

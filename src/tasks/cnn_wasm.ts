/**
 * The CNN task's loss, gradient and logits on the WebAssembly SIMD layers of
 * `src/kernels/conv.ts` (the `wasm` backend, the default): per convolution layer conv 3x3 ->
 * batch norm (batch statistics) -> ReLU -> 2x2 max pool, then dense -> ReLU -> dense, softmax
 * cross-entropy. One `CnnWasm` holds one arena with every buffer for a batch of `n` images:
 * the input, each layer's activations (kept for the backward), two gradient buffers as wide
 * as the widest layer, theta and the gradient.
 */
import { ParamLayout } from "../core/layout.ts";
import { ConvArena, convScratchFloats, type F32Buf, type I32Buf } from "../kernels/conv.ts";
import { cnnArenaFloats, type CnnDims } from "./cnn_config.ts";

/**
 * The layout of a CNN: per convolution layer i, `conv{i}.w` [k, c, 3, 3] and the batch norm's
 * `bn{i}.scale`, `bn{i}.shift` [k], all in group `conv`; then `fc1.w` [flat, fc], `fc1.b`,
 * `fc2.w` [fc, classes], `fc2.b` in group `fc`. The convolutions have no bias: the batch norm
 * right after subtracts the batch mean, so a bias's gradient would be exactly zero (its
 * shift does that job). The batch-norm parameters are in `conv` because they act per channel
 * of a convolution's output, so their gradients live on that layer's scale.
 */
export function cnnLayout(d: CnnDims): ParamLayout {
  const specs = [];
  d.conv.forEach((l, i) => {
    specs.push({ name: `conv${i}.w`, shape: [l.k, l.c, 3, 3], group: "conv" });
    specs.push({ name: `bn${i}.scale`, shape: [l.k], group: "conv" });
    specs.push({ name: `bn${i}.shift`, shape: [l.k], group: "conv" });
  });
  specs.push({ name: "fc1.w", shape: [d.flat, d.fc], group: "fc" });
  specs.push({ name: "fc1.b", shape: [d.fc], group: "fc" });
  specs.push({ name: "fc2.w", shape: [d.fc, d.classes], group: "fc" });
  specs.push({ name: "fc2.b", shape: [d.classes], group: "fc" });
  return new ParamLayout(specs);
}

export interface CnnWasm {
  /** The most images one call takes. */
  readonly maxRows: number;
  /** Input pixel bytes of the batch, `maxRows * c * h * w` (CHW per image); scaled by `lossGrad` and `logits`. */
  readonly bytes: Uint8Array;
  /** Mean cross-entropy of the first `n` images in `bytes` with `labels`, and its gradient (a fresh array). */
  lossGrad(theta: Float32Array, labels: ArrayLike<number>, n: number): { loss: number; grad: Float32Array };
  /** Logits of the first `n` images in `bytes` (batch statistics of those n): a view, valid until the next call. */
  logits(theta: Float32Array, n: number): Float32Array;
}

interface LayerBufs {
  readonly conv: F32Buf;
  readonly bn: F32Buf;
  readonly pool: F32Buf;
  readonly arg: I32Buf;
  readonly mean: F32Buf;
  readonly invstd: F32Buf;
}

export function cnnWasm(d: CnnDims, maxRows: number): CnnWasm {
  const layout = cnnLayout(d);
  const A = new ConvArena(cnnArenaFloats(d, maxRows));
  const N = maxRows;
  const first = d.conv[0]!;
  const inSize = first.c * first.h * first.w;
  const bytes = A.allocBytes(N * inSize);
  const x = A.alloc(N * inSize);
  const layers: LayerBufs[] = d.conv.map((l) => {
    const out = N * l.k * l.h * l.w;
    const pooled = N * l.k * (l.h >> 1) * (l.w >> 1);
    return { conv: A.alloc(out), bn: A.alloc(out), pool: A.alloc(pooled), arg: A.allocI32(pooled), mean: A.alloc(l.k), invstd: A.alloc(l.k) };
  });
  const widest = Math.max(...d.conv.map((l) => N * Math.max(l.k, l.c) * l.h * l.w));
  const g1 = A.alloc(widest);
  const g2 = A.alloc(widest);
  const scratch = A.alloc(Math.max(...d.conv.map((l) => convScratchFloats(l))));
  const h1 = A.alloc(N * d.fc);
  const z = A.alloc(N * d.classes);
  const dz = A.alloc(N * d.classes);
  const dh1 = A.alloc(N * d.fc);
  const dflat = A.alloc(N * d.flat);
  const labels = A.allocI32(N);
  const theta = A.alloc(layout.size);
  const grad = A.alloc(layout.size);
  const part = (b: F32Buf, name: string): F32Buf => {
    const e = layout.get(name);
    return { ptr: b.ptr + 4 * e.offset, f32: b.f32.subarray(e.offset, e.offset + e.size) };
  };
  const P = (name: string): F32Buf => part(theta, name);
  const G = (name: string): F32Buf => part(grad, name);

  const rows = (n: number): void => {
    if (!Number.isInteger(n) || n < 2 || n > N) throw new RangeError(`cnnWasm: ${n} images, expected 2 to ${N} (batch norm needs two)`);
  };
  const putTheta = (t: Float32Array): void => {
    layout.check(t);
    theta.f32.set(t);
  };
  /** The forward pass of the first n images; returns the last pooled buffer (the flat input of fc1). */
  const forward = (n: number): F32Buf => {
    A.scaleBytes(bytes, x, n * inSize);
    let inp = x;
    d.conv.forEach((l, i) => {
      const b = layers[i]!;
      const P_ = l.h * l.w;
      A.conv(inp, P(`conv${i}.w`), b.conv, { n, c: l.c, h: l.h, w: l.w, k: l.k }, scratch);
      A.batchNorm(b.conv, n, l.k, P_, P(`bn${i}.scale`), P(`bn${i}.shift`), b.bn, b.mean, b.invstd);
      A.relu(b.bn, n * l.k * P_);
      A.maxPool(b.bn, n * l.k, l.h, l.w, b.pool, b.arg);
      inp = b.pool;
    });
    A.dense(inp, n, d.flat, d.fc, P("fc1.w"), P("fc1.b"), h1);
    A.relu(h1, n * d.fc);
    A.dense(h1, n, d.fc, d.classes, P("fc2.w"), P("fc2.b"), z);
    return inp;
  };

  return {
    maxRows,
    bytes: bytes.u8,
    logits(t, n) {
      rows(n);
      putTheta(t);
      forward(n);
      return z.f32.subarray(0, n * d.classes);
    },
    lossGrad(t, y, n) {
      rows(n);
      putTheta(t);
      for (let i = 0; i < n; i++) labels.i32[i] = y[i]!;
      const flat = forward(n);
      const loss = A.softmaxCrossEntropy(z, labels, n, d.classes, dz);
      A.denseBackward(h1, dz, n, d.fc, d.classes, P("fc2.w"), G("fc2.w"), G("fc2.b"), dh1);
      A.reluBackward(h1, dh1, n * d.fc);
      A.denseBackward(flat, dh1, n, d.flat, d.fc, P("fc1.w"), G("fc1.w"), G("fc1.b"), dflat);
      // dPool of the last layer is dflat; walk the layers back with g1 / g2.
      let dpool = dflat;
      for (let i = d.conv.length - 1; i >= 0; i--) {
        const l = d.conv[i]!;
        const b = layers[i]!;
        const P_ = l.h * l.w;
        const dact = dpool === g1 ? g2 : g1;
        A.maxPoolBackward(dpool, b.arg, n * l.k, l.h, l.w, dact);
        A.reluBackward(b.bn, dact, n * l.k * P_);
        A.batchNormBackward(b.conv, n, l.k, P_, P(`bn${i}.scale`), b.mean, b.invstd, dact, G(`bn${i}.scale`), G(`bn${i}.shift`), dact);
        const inp = i === 0 ? x : layers[i - 1]!.pool;
        const dx = i === 0 ? undefined : dact === g1 ? g2 : g1;
        A.convBackward(inp, P(`conv${i}.w`), dact, G(`conv${i}.w`), dx, { n, c: l.c, h: l.h, w: l.w, k: l.k }, scratch);
        if (dx !== undefined) dpool = dx;
      }
      return { loss, grad: grad.f32.slice() };
    },
  };
}

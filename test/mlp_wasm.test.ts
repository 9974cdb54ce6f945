// The MLP task's WebAssembly backend (assembly/mlp.ts, src/tasks/mlp_wasm.ts): its gradient
// against central differences of a float64 loss written here, against the jax-js backend, and
// the MNIST family on both backends.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foldIn, key, normal, randint, split, type Key } from "../src/core/rng.ts";
import { gatherImages, gatherPixels, loadMnist } from "../src/data/mnist.ts";
import { MlpKernelUnavailableError, mlpWasm } from "../src/tasks/mlp_wasm.ts";
import { L2oError } from "../src/core/errors.ts";
import { mlpTaskFrom, mnistMlpFamily, type MlpActivation } from "../src/tasks/mnist_mlp.ts";
import { relErr } from "./fixture_tasks.ts";

const ACT64: Record<MlpActivation, (x: number) => number> = {
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => Math.max(x, 0),
  tanh: Math.tanh,
};

/** Mean softmax cross-entropy of an MLP in float64 (parameters packed as the task packs them). */
function loss64(theta: ArrayLike<number>, x: ArrayLike<number>, labels: readonly number[], dims: readonly number[], act: MlpActivation): number {
  const n = labels.length;
  let total = 0;
  for (let b = 0; b < n; b++) {
    let h = Array.from({ length: dims[0]! }, (_, i) => x[b * dims[0]! + i]!);
    let o = 0;
    for (let k = 1; k < dims.length; k++) {
      const din = dims[k - 1]!;
      const dout = dims[k]!;
      const z = new Array<number>(dout).fill(0);
      for (let j = 0; j < dout; j++) {
        let s = theta[o + din * dout + j]!;
        for (let i = 0; i < din; i++) s += h[i]! * theta[o + i * dout + j]!;
        z[j] = k < dims.length - 1 ? ACT64[act](s) : s;
      }
      o += din * dout + dout;
      h = z;
    }
    const m = Math.max(...h);
    total += m + Math.log(h.reduce((a, v) => a + Math.exp(v - m), 0)) - h[labels[b]!]!;
  }
  return total / n;
}

/** Inputs with about half of them exactly zero (the first layer skips zeros). */
function sparseInputs(k: Key, count: number): Float32Array {
  const x = normal(k, count, 1);
  const keep = randint(foldIn(k, 1), count, 0, 2);
  for (let i = 0; i < count; i++) if (keep[i] === 0) x[i] = 0;
  return x;
}

// Widths that exercise every lane path of the kernels: 16 at a time, 4, and single lanes.
const CASES: readonly { dims: number[]; act: MlpActivation }[] = [
  { dims: [7, 21, 3], act: "sigmoid" },
  { dims: [9, 5, 18, 6], act: "relu" },
  { dims: [6, 33, 4], act: "tanh" },
  { dims: [5, 4], act: "sigmoid" },
];

describe("mlp wasm backend", () => {
  for (const { dims, act } of CASES) {
    it(`${dims.join("-")} ${act}: gradient matches central differences of a float64 loss and the jax-js backend`, () => {
      const n = 11;
      const x = sparseInputs(key(dims.length * 10 + dims[1]!), n * dims[0]!);
      const labels = Array.from({ length: n }, (_, i) => (i * 5 + 2) % dims[dims.length - 1]!);
      const wasm = mlpTaskFrom({ x, labels, dims, activation: act, backend: "wasm" });
      const jax = mlpTaskFrom({ x, labels, dims, activation: act, backend: "jax" });
      const theta = normal(key(7), wasm.layout.size, 0.7);
      const w = wasm.lossAndGrad(theta, key(0));
      const j = jax.lossAndGrad(theta, key(0));
      const t64 = Float64Array.from(theta);
      const l64 = loss64(t64, x, labels, dims, act);
      assert.ok(Math.abs(w.loss - l64) < 1e-6 * Math.abs(l64), `loss ${w.loss} against float64 ${l64}`);
      assert.ok(Math.abs(w.loss - j.loss) < 1e-5 * Math.abs(l64), `loss ${w.loss} against jax-js ${j.loss}`);
      assert.ok(relErr(w.grad, j.grad) < 1e-5, `gradient against jax-js: relative error ${relErr(w.grad, j.grad)}`);
      const fd = new Float64Array(t64.length);
      const eps = 1e-5;
      for (let i = 0; i < t64.length; i++) {
        const save = t64[i]!;
        t64[i] = save + eps;
        const up = loss64(t64, x, labels, dims, act);
        t64[i] = save - eps;
        fd[i] = (up - loss64(t64, x, labels, dims, act)) / (2 * eps);
        t64[i] = save;
      }
      assert.ok(relErr(w.grad, fd) < 1e-5, `gradient against central differences: relative error ${relErr(w.grad, fd)}`);
    });
  }

  it("logits match the float64 forward pass, and calls without rows set are refused", () => {
    const dims = [6, 17, 5];
    const m = mlpWasm(dims, "tanh", 8);
    assert.throws(() => m.logits(new Float32Array(6 * 17 + 17 + 17 * 5 + 5), 3), /3 rows asked for, 0 set by rowsFromFloats/);
    const x = sparseInputs(key(3), 3 * 6);
    m.x.set(x);
    m.rowsFromFloats(3);
    const theta = normal(key(4), 6 * 17 + 17 + 17 * 5 + 5, 0.5);
    const z = m.logits(theta, 3);
    assert.equal(z.length, 15);
    // loss64 of a one-hot target c is lse(z) - z_c: differences between classes give z_c - z_0.
    for (let b = 0; b < 3; b++) {
      const row = Array.from(x.subarray(b * 6, (b + 1) * 6));
      for (let c = 1; c < 5; c++) {
        const diff = loss64(theta, row, [0], dims, "tanh") - loss64(theta, row, [c], dims, "tanh");
        assert.ok(Math.abs(z[b * 5 + c]! - z[b * 5]! - diff) < 1e-5, `row ${b} class ${c}`);
      }
    }
    assert.throws(() => m.rowsFromFloats(9), /9 rows, expected 1 to 8/);
    assert.throws(() => m.lossGrad(theta.subarray(1), [0, 1, 2], 3), /theta has 208 values, the 6-17-5 network 209/);
    assert.throws(() => m.lossGrad(theta, [0, 5, 1], 3), /label 5 at row 1 is not in \[0, 5\)/);
  });

  it("scales bytes exactly as gatherImages does and lists their nonzeros", () => {
    const mnist = loadMnist();
    const idx = randint(key(11), 9, 0, mnist.train.n);
    const m = mlpWasm([784, 12, 10], "sigmoid", 16);
    gatherPixels(mnist.train, idx, m.bytes);
    m.rowsFromBytes(9);
    const ref = gatherImages(mnist.train, idx);
    assert.deepEqual(m.x.subarray(0, 9 * 784), ref);
    // Every byte value: x = float32(v / 255).
    const all = mlpWasm([256, 3, 2], "relu", 1);
    for (let v = 0; v < 256; v++) all.bytes[v] = v;
    all.rowsFromBytes(1);
    assert.deepEqual(all.x, Float32Array.from({ length: 256 }, (_, v) => v / 255));
    // The lists decide which inputs count: logits from bytes equal logits from the same floats.
    const theta = normal(key(12), 784 * 12 + 12 + 12 * 10 + 10, 0.3);
    const fromBytes = m.logits(theta, 9).slice();
    m.x.set(ref);
    m.rowsFromFloats(9);
    assert.deepEqual(m.logits(theta, 9), fromBytes);
  });

  it("mnist-mlp on both backends: same minibatch, losses and gradients equal to float32 rounding, same HVP", () => {
    const [tk, ik, bk] = split(key(21), 3) as [Key, Key, Key];
    const w = mnistMlpFamily({ backend: "wasm" }).sample(tk);
    const j = mnistMlpFamily({ backend: "jax" }).sample(tk);
    const theta = w.init(ik);
    assert.deepEqual(theta, j.init(ik));
    for (let s = 0; s < 3; s++) {
      const a = w.lossAndGrad(theta, foldIn(bk, s));
      const b = j.lossAndGrad(theta, foldIn(bk, s));
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * b.loss, `step ${s}: loss ${a.loss} against ${b.loss}`);
      assert.ok(relErr(a.grad, b.grad) < 1e-5, `step ${s}: gradient relative error ${relErr(a.grad, b.grad)}`);
    }
    const v = normal(key(22), theta.length, 1);
    assert.deepEqual(w.hvp!(theta, v, foldIn(bk, 1)), j.hvp!(theta, v, foldIn(bk, 1)));
    const ew = w.evaluate!(theta);
    const ej = j.evaluate!(theta);
    assert.equal(ew.testAccuracy, ej.testAccuracy);
    assert.ok(Math.abs(ew.testLoss! - ej.testLoss!) < 1e-6 * ej.testLoss!, `test loss ${ew.testLoss} against ${ej.testLoss}`);
  });

  it("a missing kernel build is bad input for the CLI (one line, exit code 2), not a crash", () => {
    assert.ok(new MlpKernelUnavailableError("build/mlp.wasm not found") instanceof L2oError);
  });

  it("refuses an unknown backend by name", () => {
    assert.throws(() => mnistMlpFamily({ backend: "gpu" as "jax" }), /'backend' must be one of wasm, jax, got "gpu"/);
    assert.throws(() => mlpTaskFrom({ x: new Float32Array(2), labels: [0], dims: [2, 2], backend: "cuda" as "jax" }), /'backend' must be one of wasm, jax/);
  });
});

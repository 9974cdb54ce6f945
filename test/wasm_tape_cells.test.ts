// A float32 tape keeps the cell state c' of only every `cellEvery`-th step and the backward
// pass recomputes the others from the gates: that must give the same bits as keeping every
// step's c' (cellEvery 1), in less memory, whatever the interval (every second step, every
// third, none within the unroll), with the tape whole or in recomputed segments, on 1 and 2
// threads, with dx (second order) and the weight gradient over two truncations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { phiSize, stateSize, type LstmShape } from "../src/kernels/types.ts";
import * as lib from "../src/core/rng.ts";
import { createWasmEngine, wasmEngineAvailable, type WasmEngineOptions, type WasmVariant } from "../src/kernels/wasm.ts";
import { C_EVERY } from "../src/kernels/wasm_layout.ts";
import { runTrace, type Trace } from "./lstm_trace.ts";

const skip = wasmEngineAvailable() ? false : "build/lstm.wasm missing (npm run build:wasm)";
const variants: WasmVariant[] = wasmEngineAvailable("fma") ? ["simd", "fma"] : ["simd"];
const paper: LstmShape = { inputs: 2, hidden: 20, layers: 2 };
const T = 7;

function run(opts: WasmEngineOptions): { r: Trace; bytes: number } {
  const e = createWasmEngine(opts);
  try {
    return { r: runTrace(e, 23, T, 0.6), bytes: e.memoryBytes };
  } finally {
    e.dispose();
  }
}

/** The same float32 bits (NaN included), array by array. */
function sameBits(a: Trace, b: Trace, what: string): void {
  for (const k of ["outs", "states", "dxs", "dphi"] as const) {
    const x = new Uint32Array(a[k].buffer, a[k].byteOffset, a[k].length);
    const y = new Uint32Array(b[k].buffer, b[k].byteOffset, b[k].length);
    assert.equal(x.length, y.length, `${what}: ${k} lengths`);
    const i = x.findIndex((v, j) => v !== y[j]);
    assert.equal(i, -1, `${what}: ${k}[${i}] ${a[k][i]} against ${b[k][i]} with every c' kept`);
  }
}

for (const variant of variants) for (const threads of [1, 2]) for (const segment of [undefined, 3]) {
  const where = `${variant}, ${threads} thread(s), ${segment === undefined ? "whole tape" : `segments of ${segment}`}`;
  test(`c' kept every k-th step gives the bits of keeping every step's (${where})`, { skip }, () => {
    for (const [shape, n] of [[paper, 37], [{ inputs: 3, hidden: 6, layers: 3 }, 130]] as const) {
      const base: WasmEngineOptions = { shape, n, capacity: T, threads, variant, blockSize: 8, ...(segment !== undefined ? { segment } : {}) };
      const all = run({ ...base, cellEvery: 1 });
      for (const k of [2, 3, T, T + 1]) {
        const some = run({ ...base, cellEvery: k });
        sameBits(some.r, all.r, `hidden ${shape.hidden}, cellEvery ${k}`);
        assert.ok(some.bytes < all.bytes, `cellEvery ${k}: ${some.bytes} bytes, not fewer than ${all.bytes}`);
      }
    }
  });
}

test("the default keeps every second step's c': 80 fewer bytes per coordinate-step of the paper's LSTM than keeping all", { skip }, () => {
  assert.equal(C_EVERY, 2);
  const n = 4096;
  const bytes = (cellEvery: number, capacity: number): number =>
    createWasmEngineBytes({ shape: paper, n, capacity, threads: 1, cellEvery });
  // Two more steps of tape per coordinate: 2 x 640 bytes of gates (2 layers of 4 x 20 floats),
  // 2 x 8 of inputs, and one more c' (2 layers of 20 floats: 160) at the default, two with every c' kept.
  const perTwoSteps = (bytes(C_EVERY, 22) - bytes(C_EVERY, 20)) / n;
  const perTwoStepsAll = (bytes(1, 22) - bytes(1, 20)) / n;
  assert.ok(Math.abs(perTwoSteps - 1456) < 1, `${perTwoSteps} bytes per coordinate for two more steps`);
  assert.ok(Math.abs(perTwoStepsAll - 1616) < 1, `${perTwoStepsAll} bytes per coordinate for two more steps, every c' kept`);
});

function createWasmEngineBytes(opts: WasmEngineOptions): number {
  const e = createWasmEngine(opts);
  try {
    return e.memoryBytes;
  } finally {
    e.dispose();
  }
}

test("cellEvery must be a positive integer", { skip }, () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => createWasmEngine({ shape: paper, n: 4, capacity: 2, cellEvery: bad }), /cellEvery must be a positive integer, got/);
  }
});

test("steps run unrecorded after the recorded ones leave the recorded steps' gradient as it was", { skip }, () => {
  const n = 37;
  const { key, split, uniform } = lib;
  for (const variant of variants) for (const segment of [undefined, 3]) for (const tape of ["f32", "bf16"] as const) {
    const ks = split(key(5), 4);
    const phi = uniform(ks[0]!, phiSize(paper), -0.6, 0.6);
    const s0 = uniform(ks[1]!, n * stateSize(paper), -0.5, 0.5);
    const xs = uniform(ks[2]!, (T + 2) * n * 2, -1, 1);
    const dOut = uniform(ks[3]!, T * n, -1, 1);
    const grads = [0, 2].map((extra) => {
      const e = createWasmEngine({ shape: paper, n, capacity: T, threads: 2, variant, tape, ...(segment !== undefined ? { segment } : {}) });
      try {
        e.setPhi(phi);
        e.setState(s0);
        const out = new Float32Array(n);
        for (let t = 0; t < T + extra; t++) e.forward(xs.subarray(t * n * 2, (t + 1) * n * 2), out, t < T);
        const dxs = new Float32Array(T * n * 2);
        for (let t = T - 1; t >= 0; t--) e.backwardStep(dOut.subarray(t * n, (t + 1) * n), dxs.subarray(t * n * 2, (t + 1) * n * 2));
        const dphi = new Float32Array(phiSize(paper));
        e.finishBackward(dphi);
        return { dphi, dxs };
      } finally {
        e.dispose();
      }
    });
    const what = `${variant}, ${tape}, ${segment === undefined ? "whole tape" : `segments of ${segment}`}`;
    assert.deepEqual(grads[1]!.dphi, grads[0]!.dphi, `${what}: dphi`);
    assert.deepEqual(grads[1]!.dxs, grads[0]!.dxs, `${what}: dx`);
  }
});

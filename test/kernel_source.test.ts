// Where the WebAssembly kernels come from (src/kernels/source.ts) and the single-thread build
// for browsers (build/web/lstm.wasm, an unshared memory): the same bits as the threaded build
// on outputs, states, dx and dphi; kernels handed over as bytes, as a page does; a source
// without a kernel makes it unavailable (the rules then run their TypeScript loops).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { key, uniform } from "../src/core/rng.ts";
import { phiSize, type LstmShape } from "../src/kernels/types.ts";
import { createWasmEngine, wasmEngineAvailable } from "../src/kernels/wasm.ts";
import { kernelSourceGeneration, setKernelSource } from "../src/kernels/source.ts";
import { ruleKernels } from "../src/kernels/rules.ts";
import { engineFactory } from "../src/kernels/select.ts";
import { runTrace } from "./lstm_trace.ts";

const skip = wasmEngineAvailable("simd", true) && wasmEngineAvailable("simd", false) ? false : "build/ lacks lstm.wasm or web/lstm.wasm (npm run build:wasm)";
const build = (file: string): Uint8Array => readFileSync(new URL(`../build/${file}`, import.meta.url));

const paper: LstmShape = { inputs: 2, hidden: 20, layers: 2 };
for (const { shape, n, threads } of [
  { shape: paper, n: 2, threads: 1 },
  { shape: paper, n: 131, threads: 2 },
  { shape: { inputs: 3, hidden: 6, layers: 3 }, n: 70, threads: 1 },
]) {
  test(`the unshared single-thread build gives the threaded build's bits (n ${n}, hidden ${shape.hidden}, against ${threads} thread(s))`, { skip }, () => {
    const shared = createWasmEngine({ shape, n, capacity: 3, threads, variant: "simd", sharedMemory: true });
    const single = createWasmEngine({ shape, n, capacity: 3, threads: 1, variant: "simd", sharedMemory: false });
    try {
      assert.equal(shared.sharedMemory, true);
      assert.equal(single.sharedMemory, false);
      const a = runTrace(shared, 7 + n, 3, 0.5);
      const b = runTrace(single, 7 + n, 3, 0.5);
      for (const what of ["phi", "outs", "states", "dxs", "dphi"] as const) assert.deepEqual(b[what], a[what], `${what} differ`);
    } finally {
      shared.dispose();
      single.dispose();
    }
  });
}

test("an unshared engine refuses more than one thread", { skip }, () => {
  assert.throws(() => createWasmEngine({ shape: paper, n: 64, capacity: 1, threads: 2, sharedMemory: false }), /threads need a shared memory/);
});

test("kernels handed over as bytes run; a source without them makes them unavailable", { skip }, () => {
  const g0 = kernelSourceGeneration();
  const g = new Float32Array(64).map((_, i) => Math.sin(i));
  try {
    setKernelSource({});
    assert.ok(kernelSourceGeneration() > g0);
    assert.equal(wasmEngineAvailable("simd", false), false);
    assert.equal(ruleKernels().engine, "ts", "without rules.wasm the default rules are the TypeScript loops");
    assert.throws(() => engineFactory("wasm-simd"), /not built/);

    setKernelSource({ "web/lstm.wasm": build("web/lstm.wasm"), "rules.wasm": build("rules.wasm") });
    assert.equal(wasmEngineAvailable("simd", false), true);
    assert.equal(wasmEngineAvailable("simd", true), false, "the threaded build was not handed over");
    assert.equal(ruleKernels().engine, "wasm");
    assert.deepEqual(ruleKernels().scale(g, 0.5), ruleKernels("ts").scale(g, 0.5));
    const e = createWasmEngine({ shape: paper, n: 2, capacity: 1, sharedMemory: false });
    const out = new Float32Array(2);
    e.setPhi(uniform(key(1), phiSize(paper), -0.3, 0.3));
    e.forward(new Float32Array([0.5, -0.25, 1, 2]), out, false);
    e.dispose();
    assert.ok(out.every(Number.isFinite) && out.some((v) => v !== 0), `forward gave ${out}`);
  } finally {
    setKernelSource(undefined);
  }
  assert.equal(wasmEngineAvailable("simd", true), true, "the default source (build/) is back");
  assert.equal(ruleKernels().engine, "wasm");
});

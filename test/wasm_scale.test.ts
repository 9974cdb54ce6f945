// The WebAssembly engine past one memory: a tape kept in segments (earlier segments
// recomputed from checkpoints in the backward pass) and coordinates split between several
// WebAssembly instances must give the same bits as one instance with the whole tape: outputs,
// states, dx and the weight gradient, over two truncations, on 1 and 2 threads, with and
// without dx (second and first order), across instance boundaries. And what cannot fit is a
// one-line EngineMemoryError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { key, split, uniform } from "../src/core/rng.ts";
import { phiSize, stateSize, type LstmShape } from "../src/kernels/types.ts";
import { backwardChunk, createWasmEngine, EngineMemoryError, GRADIENT_REDUCTIONS, wasmEngineAvailable, type WasmEngineOptions, type WasmLstmEngine, type WasmVariant } from "../src/kernels/wasm.ts";
import { Layout } from "../src/kernels/wasm_layout.ts";
import { planMemory } from "../src/kernels/wasm_plan.ts";
import { L2oError } from "../src/core/errors.ts";
import { engineFactory } from "../src/kernels/select.ts";

const skip = wasmEngineAvailable() ? false : "build/lstm.wasm missing (npm run build:wasm)";
const variants: WasmVariant[] = wasmEngineAvailable("fma") ? ["simd", "fma"] : ["simd"];
const paper: LstmShape = { inputs: 2, hidden: 20, layers: 2 };

interface Trace {
  outs: Float32Array[];
  states: Float32Array[];
  dxs: Float32Array[];
  dphi: Float32Array;
  snapshot: Float32Array;
}

/** Two truncations of T steps (the second from the first's final state); dx only if `withDx`. */
function trace(e: WasmLstmEngine, T: number, withDx: boolean): Trace {
  const { n, shape } = e;
  const I = shape.inputs;
  const ks = split(key(31), 4);
  e.setPhi(uniform(ks[0]!, phiSize(shape), -0.5, 0.5));
  e.setState(uniform(ks[3]!, n * stateSize(shape), -0.5, 0.5));
  const xs = uniform(ks[1]!, 2 * T * n * I, -1, 1);
  const dOut = uniform(ks[2]!, 2 * T * n, -1, 1);
  const r: Trace = { outs: [], states: [], dxs: [], dphi: new Float32Array(phiSize(shape)), snapshot: new Float32Array(0) };
  for (let cut = 0; cut < 2; cut++) {
    for (let t = 0; t < T; t++) {
      const s = cut * T + t;
      const out = new Float32Array(n);
      e.forward(xs.subarray(s * n * I, (s + 1) * n * I), out, true);
      r.outs.push(out);
      r.states.push(e.getState());
    }
    for (let t = T - 1; t >= 0; t--) {
      const s = cut * T + t;
      const dx = withDx ? new Float32Array(n * I) : undefined;
      e.backwardStep(dOut.subarray(s * n, (s + 1) * n), dx);
      if (dx !== undefined) r.dxs.push(dx);
    }
    e.finishBackward(r.dphi);
  }
  r.snapshot = e.snapshot();
  return r;
}

function run(opts: WasmEngineOptions, T: number, withDx: boolean): { r: Trace; e: { segment: number; instances: number; recomputed: number } } {
  const e = createWasmEngine(opts);
  try {
    const r = trace(e, T, withDx);
    return { r, e: { segment: e.segment, instances: e.instances, recomputed: e.recomputedSteps } };
  } finally {
    e.dispose();
  }
}

// 2,001 coordinates in blocks of 8: 16 chunks of 128 coordinates for the chunks reduction.
const n = 2001;
const T = 5;
const B = 8;
/** Bytes of an instance holding `chunks` chunks of 128 (segments of `segment` steps, P threads). */
const instanceBytes = (chunks: number, segment: number, P: number): number => new Layout(paper, chunks * 128, T, P, B, chunks, segment).bytes;

for (const variant of variants) for (const threads of [1, 2]) for (const withDx of [true, false]) {
  test(`segments and instances give the same bits as one instance with the whole tape (${variant}, ${threads} thread(s), ${withDx ? "with" : "without"} dx)`, { skip }, () => {
    const base = { shape: paper, n, capacity: T, threads, blockSize: B, variant } as const;
    const whole = run(base, T, withDx);
    assert.equal(whole.e.segment, T);
    assert.equal(whole.e.instances, 1);
    assert.equal(whole.e.recomputed, 0);
    // [name, options, instances, steps recomputed per truncation: the segments end at the
    // capacity, so the tape keeps the last `segment` steps and T - segment are recomputed]
    const configs: [string, Partial<WasmEngineOptions>, number, number][] = [
      ["segments of 2 (the first one short)", { segment: 2 }, 1, 3],
      ["segments of 1", { segment: 1 }, 1, 4],
      ["3 chunks per instance (6 instances, the last one short)", { shardBytes: instanceBytes(3, T, threads) }, 6, 0],
      ["5 chunks per instance and segments of 3", { segment: 3, shardBytes: instanceBytes(5, 3, threads) }, 4, 2],
    ];
    for (const [what, o, instances, recomputed] of configs) {
      const got = run({ ...base, ...o }, T, withDx);
      assert.equal(got.e.instances, instances, what);
      assert.equal(got.e.recomputed, 2 * recomputed, `${what}: steps recomputed in two truncations`);
      assert.deepEqual(got.r.outs, whole.r.outs, `${what}: outputs`);
      assert.deepEqual(got.r.states, whole.r.states, `${what}: states`);
      assert.deepEqual(got.r.dxs, whole.r.dxs, `${what}: dx`);
      assert.deepEqual(got.r.dphi, whole.r.dphi, `${what}: dphi`);
      assert.deepEqual(got.r.snapshot, whole.r.snapshot, `${what}: snapshot`);
    }
  });
}

test("the threads reduction keeps segments (the same bits) and refuses to split into instances", { skip }, () => {
  const base = { shape: paper, n, capacity: T, threads: 2, blockSize: B, reduction: "threads" } as const;
  const whole = run(base, T, true);
  const seg = run({ ...base, segment: 2 }, T, true);
  assert.deepEqual(seg.r.dphi, whole.r.dphi);
  assert.deepEqual(seg.r.dxs, whole.r.dxs);
  assert.throws(
    () => createWasmEngine({ ...base, shardBytes: instanceBytes(3, T, 2) }),
    (e: unknown) => e instanceof EngineMemoryError && /'threads' reduction runs on one instance: use --reduction chunks/.test(e.message),
  );
  assert.ok(GRADIENT_REDUCTIONS.includes("threads"));
});

test("a snapshot restores across instances, and unrecorded steps, short truncations and a reset work in segments", { skip }, () => {
  const opts = { shape: paper, n, capacity: T, threads: 2, blockSize: B } as const;
  const a = createWasmEngine(opts);
  const b = createWasmEngine({ ...opts, segment: 2, shardBytes: instanceBytes(4, 2, 2) });
  try {
    assert.equal(b.instances, 4);
    const ks = split(key(8), 3);
    const phi = uniform(ks[0]!, phiSize(paper), -0.4, 0.4);
    const xs = uniform(ks[1]!, 8 * n * 2, -1, 1);
    const res = [a, b].map((e) => {
      e.setPhi(phi);
      e.setState(uniform(ks[2]!, n * stateSize(paper), -0.5, 0.5));
      const out = new Float32Array(n);
      e.forward(xs.subarray(0, 2 * n), out, false);
      e.finishBackward(new Float32Array(phiSize(paper)));
      // 3 of 5 steps recorded: segments 0 (1 step: segments end at the capacity) and 1 (2 steps)
      for (let t = 1; t < 4; t++) e.forward(xs.subarray(t * 2 * n, (t + 1) * 2 * n), out, true);
      for (let t = 0; t < 3; t++) e.backwardStep(xs.subarray(t * n, (t + 1) * n));
      const dphi = new Float32Array(phiSize(paper));
      e.finishBackward(dphi);
      return { dphi, snap: e.snapshot(), out: out.slice() };
    });
    assert.deepEqual(res[1]!.dphi, res[0]!.dphi);
    assert.deepEqual(res[1]!.out, res[0]!.out);
    assert.deepEqual(res[1]!.snap, res[0]!.snap);
    // a snapshot written into a larger array at an offset, then restored into the other engine
    const into = new Float32Array(b.snapshotLength + 7);
    b.snapshot(into, 7);
    a.restore(into.subarray(7), b.stateLayout);
    assert.deepEqual(a.getState(), b.getState());
    b.resetState();
    assert.ok(b.getState().every((v) => v === 0));
  } finally {
    a.dispose();
    b.dispose();
  }
});

test("past the memory budget the tape is cut into segments: the longest that fits, else the least memory", () => {
  const req = { shape: paper, n: 100_000, capacity: 20, P: 2, B: 64, chunk: 6272, shardBytes: 2 ** 32 };
  const whole = planMemory({ ...req, budget: Infinity });
  assert.equal(whole.segment, 20);
  // about 17 KB per coordinate with the whole tape; 8 KB each is enough for segments of 7
  const cut = planMemory({ ...req, budget: 8000 * req.n });
  assert.ok(cut.segment < 20 && cut.bytes <= 8000 * req.n, `segment ${cut.segment}, ${cut.bytes} bytes`);
  const longer = planMemory({ ...req, segment: cut.segment + 1, budget: Infinity });
  assert.ok(longer.bytes > 8000 * req.n, "a longer segment would have fitted");
  const least = planMemory({ ...req, budget: 1 });
  for (let k = 1; k <= 20; k++) assert.ok(planMemory({ ...req, segment: k, budget: Infinity }).bytes >= least.bytes, `segment ${k}`);
  assert.ok(least.bytes < 0.4 * whole.bytes, `${least.bytes} of ${whole.bytes}`);
  // whole chunks per instance, spread evenly, each within the limit
  const split4 = planMemory({ ...req, budget: Infinity, shardBytes: 500e6 });
  assert.ok(split4.shards.length > 1);
  let c = 0;
  for (const s of split4.shards) {
    assert.equal(s.c0, c);
    assert.equal(s.c0 % req.chunk, 0);
    assert.ok(s.lay.bytes <= 500e6);
    c += s.n;
  }
  assert.equal(c, req.n);
});

test("what cannot fit is a one-line EngineMemoryError (an L2oError) saying what to shorten", { skip }, () => {
  for (const o of [
    { n: 2_000_000_000, capacity: 20 },
    { n: 15_910, capacity: 2_000_000 },
  ]) {
    assert.throws(
      () => createWasmEngine({ shape: paper, threads: 1, ...o }),
      (e: unknown) => e instanceof EngineMemoryError && e instanceof L2oError && !e.message.includes("\n") && /GiB.*--unroll.*fewer coordinates/.test(e.message),
    );
  }
  assert.throws(() => createWasmEngine({ shape: paper, n: 4, capacity: 2, segment: 0 }), /segment must be a positive integer/);
});

test("engineFactory passes memoryBudget to the engine: a budget below the whole tape cuts it into segments", { skip }, () => {
  const opts = { shape: paper, n: 256, capacity: 10 };
  const whole = engineFactory("wasm-simd", 1)(opts) as WasmLstmEngine;
  const budget = planMemory({ shape: paper, n: 256, capacity: 10, P: 1, B: 64, chunk: backwardChunk(256, 64), segment: 4, budget: Infinity, shardBytes: 2 ** 32 }).bytes;
  const cut = engineFactory("wasm-simd", 1, "chunks", "f32", budget)(opts) as WasmLstmEngine;
  try {
    assert.equal(whole.segment, 10);
    assert.equal(cut.segment, 4, "the longest segment within the budget");
  } finally {
    whole.dispose();
    cut.dispose();
  }
});

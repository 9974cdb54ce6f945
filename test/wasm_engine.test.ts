// The WebAssembly SIMD engine against the plain-TypeScript reference engine (which computes in
// float64): outputs, states, dx and dphi over several steps and across a truncation cut, for
// coordinate counts that are not multiples of the pair or block size, on 1 and 2 threads;
// the activation approximations; the PyTorch fixtures; errors and worker shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { key, split, uniform } from "../src/core/rng.ts";
import { phiSize, stateSize, type LstmShape } from "../src/kernels/types.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { createWasmEngine, EngineMemoryError, defaultWasmVariant, GRADIENT_REDUCTIONS, wasmActivations, wasmEngineAvailable, type WasmVariant } from "../src/kernels/wasm.ts";
import { engineFactory, resolveEngineKind, type EngineKind } from "../src/kernels/select.ts";
import { loadCase } from "./fixture_tasks.ts";
import { runTrace } from "./lstm_trace.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { unrollMetaGrad } from "../src/meta/unroll.ts";

const skip = wasmEngineAvailable() ? false : "build/lstm.wasm missing (npm run build:wasm)";
/** Both builds where this runtime takes them: every check below runs on each. */
const fmaOk = wasmEngineAvailable("fma");
const variants: WasmVariant[] = fmaOk ? ["simd", "fma"] : ["simd"];

/** Relative L2 error of a against b. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

const TOL = 1e-6;
const paper: LstmShape = { inputs: 2, hidden: 20, layers: 2 };

/**
 * Relative error of the outputs, with a floor on the denominator: an output is a sum of H
 * products that may cancel, so single small outputs are compared against the scale
 * ||Wout|| (that of an output whose hidden state has unit entries).
 */
function outErr(a: Float32Array, b: Float32Array, phi: Float32Array, H: number): number {
  const head = phi.subarray(phi.length - H - 1, phi.length - 1);
  const scale = Math.sqrt(head.reduce((s, w) => s + w * w, 0));
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += Math.max(b[i]! ** 2, 0.01 * scale * scale);
  }
  return Math.sqrt(num / den);
}

const cases: { shape: LstmShape; n: number; threads: number; T: number }[] = [
  { shape: paper, n: 1, threads: 1, T: 4 },
  { shape: paper, n: 7, threads: 1, T: 4 },
  { shape: paper, n: 7, threads: 2, T: 4 },
  { shape: paper, n: 130, threads: 1, T: 5 },
  { shape: paper, n: 130, threads: 2, T: 5 },
  { shape: paper, n: 333, threads: 3, T: 3 },
  { shape: { inputs: 1, hidden: 3, layers: 1 }, n: 9, threads: 2, T: 3 },
  { shape: { inputs: 3, hidden: 6, layers: 3 }, n: 70, threads: 2, T: 3 },
  { shape: { inputs: 2, hidden: 8, layers: 2 }, n: 67, threads: 1, T: 3 },
];

for (const variant of variants) for (const reduction of GRADIENT_REDUCTIONS) for (const { shape, n, threads, T } of cases) {
  const name = `inputs ${shape.inputs}, hidden ${shape.hidden}, layers ${shape.layers}; n ${n}, ${threads} thread(s); ${variant}, ${reduction}`;
  test(`matches the reference engine (${name})`, { skip }, (t) => {
    const ref = createReferenceEngine({ shape, n, capacity: T });
    const w = createWasmEngine({ shape, n, capacity: T, threads, blockSize: 8, variant, reduction });
    try {
      assert.equal(w.threads, threads);
      assert.equal(w.variant, variant);
      assert.equal(w.reduction, reduction);
      const a = runTrace(ref, 100 + n, T, 0.5);
      const b = runTrace(w, 100 + n, T, 0.5);
      const errs = {
        out: outErr(b.outs, a.outs, a.phi, shape.hidden),
        state: relErr(b.states, a.states),
        dx: relErr(b.dxs, a.dxs),
        dphi: relErr(b.dphi, a.dphi),
      };
      t.diagnostic(Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", "));
      for (const [k, v] of Object.entries(errs)) assert.ok(v <= TOL, `${k}: relative error ${v}`);
    } finally {
      w.dispose();
    }
  });
}

test("the default block size, many blocks per thread, unrecorded steps and dx omitted", { skip }, () => {
  const n = 3001;
  const T = 4;
  const ks = split(key(5), 5);
  const phi = uniform(ks[0]!, phiSize(paper), -0.3, 0.3);
  const xs = uniform(ks[1]!, (T + 2) * n * 2, -1, 1);
  const dOut = uniform(ks[2]!, T * n, -1, 1);
  const engines = [createReferenceEngine({ shape: paper, n, capacity: T }), createWasmEngine({ shape: paper, n, capacity: T, threads: 2 })];
  const res = engines.map((e) => {
    e.setPhi(phi);
    const out = new Float32Array(n);
    for (let t = 0; t < 2; t++) e.forward(xs.subarray(t * n * 2, (t + 1) * n * 2), out, false);
    for (let t = 2; t < T + 2; t++) e.forward(xs.subarray(t * n * 2, (t + 1) * n * 2), out, true);
    for (let t = T - 1; t >= 0; t--) e.backwardStep(dOut.subarray(t * n, (t + 1) * n));
    const dphi = new Float32Array(phiSize(paper));
    e.finishBackward(dphi);
    return { out, state: e.getState(), dphi };
  });
  engines[1]!.dispose();
  const [a, b] = res as [(typeof res)[0], (typeof res)[0]];
  assert.ok(relErr(b.out, a.out) <= TOL, `out ${relErr(b.out, a.out)}`);
  assert.ok(relErr(b.state, a.state) <= TOL, `state ${relErr(b.state, a.state)}`);
  assert.ok(relErr(b.dphi, a.dphi) <= TOL, `dphi ${relErr(b.dphi, a.dphi)}`);
});

for (const variant of variants) test(`tanh and sigmoid approximations: within a few float32 ulps (${variant})`, { skip }, (t) => {
  const xs: number[] = [0, -0, 1e-30, 1e-8, -3e-5, 100, -100, 1e30, -1e30, Infinity, -Infinity];
  for (let k = 0; k <= 400000; k++) xs.push(-20 + (40 * k) / 400000);
  const x = Float32Array.from(xs);
  const { tanh, sigmoid } = wasmActivations(x, variant);
  let tRel = 0;
  let tMean = 0;
  let sAbs = 0;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    const et = Math.tanh(v);
    const es = 1 / (1 + Math.exp(-v));
    assert.ok(Math.abs(tanh[k]!) <= 1 && sigmoid[k]! >= 0 && sigmoid[k]! <= 1, `range at ${v}`);
    const r = et === 0 ? Math.abs(tanh[k]!) : Math.abs(tanh[k]! - et) / Math.abs(et);
    tRel = Math.max(tRel, r);
    tMean += r / x.length;
    sAbs = Math.max(sAbs, Math.abs(sigmoid[k]! - es));
  }
  t.diagnostic(`tanh max rel ${tRel.toExponential(2)}, mean rel ${tMean.toExponential(2)}; sigmoid max abs ${sAbs.toExponential(2)}`);
  assert.ok(tRel < 5e-7, `tanh relative error ${tRel}`);
  assert.ok(tMean < 1e-7, `tanh mean relative error ${tMean}`);
  assert.ok(sAbs < 2.5e-7, `sigmoid absolute error ${sAbs}`);
  assert.equal(tanh[0], 0);
  assert.equal(tanh[3], Math.fround(1e-8));
});

for (const variant of variants) test(`tanh never reaches 1 and saturates at the largest float32 under 1: every input in [7, 9] (${variant})`, { skip }, () => {
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  f[0] = 7;
  const lo = bits[0]!;
  f[0] = 9;
  const hi = bits[0]!;
  const x = new Float32Array(hi - lo + 1);
  for (let i = 0; i < x.length; i++) {
    bits[0] = lo + i;
    x[i] = f[0]!;
  }
  const { tanh } = wasmActivations(x, variant);
  const top = Math.fround(1 - 2 ** -24);
  let saturatedFrom = -1;
  for (let i = 0; i < x.length; i++) {
    assert.ok(tanh[i]! < 1 && tanh[i]! > 0.9999, `tanh(${x[i]}) = ${tanh[i]}`);
    if (saturatedFrom < 0 && tanh[i] === top) saturatedFrom = i;
    if (saturatedFrom >= 0) assert.equal(tanh[i], top, `tanh(${x[i]}) after saturation at ${x[saturatedFrom]}`);
  }
  assert.ok(saturatedFrom >= 0 && x[saturatedFrom]! < 7.9, `saturates at ${x[saturatedFrom]}`);
});

test("set/getState round trip, errors, and the contract's guards", { skip }, () => {
  const shape: LstmShape = { inputs: 2, hidden: 3, layers: 2 };
  const n = 5;
  const e = createWasmEngine({ shape, n, capacity: 2, threads: 2 });
  const ks = split(key(9), 3);
  const s0 = uniform(ks[0]!, n * stateSize(shape), -1, 1);
  e.setPhi(uniform(ks[1]!, phiSize(shape), -0.5, 0.5));
  e.setState(s0);
  assert.deepEqual(e.getState(), s0);
  const got = e.getState();
  got[0] = 99;
  assert.deepEqual(e.getState(), s0, "getState returns a copy");
  const x = uniform(ks[2]!, n * 2, -1, 1);
  const out = new Float32Array(n);
  assert.throws(() => e.setState(new Float32Array(3)), /expected/);
  assert.throws(() => e.setPhi(new Float32Array(3)), /expected/);
  assert.throws(() => e.forward(new Float32Array(3), out, false), /n \* inputs/);
  assert.throws(() => e.forward(x, new Float32Array(2), false), /expected 5/);
  assert.throws(() => e.backwardStep(new Float32Array(n)), /no recorded step/);
  e.forward(x, out, true);
  assert.throws(() => e.setPhi(new Float32Array(phiSize(shape))), /tape/);
  assert.throws(() => e.backwardStep(new Float32Array(2)), /dOut/);
  assert.throws(() => e.backwardStep(new Float32Array(n), new Float32Array(1)), /dx/);
  assert.throws(() => e.finishBackward(new Float32Array(1)), /dphi/);
  e.forward(x, out, true);
  assert.throws(() => e.forward(x, out, true), /tape is full/);
  e.backwardStep(new Float32Array(n));
  assert.throws(() => e.forward(x, out, true), /finishBackward/);
  e.finishBackward(new Float32Array(phiSize(shape)));
  assert.equal(e.recorded, 0);
  e.resetState();
  assert.ok(e.getState().every((v) => v === 0));
  assert.throws(() => createWasmEngine({ shape, n, capacity: 1, threads: 0 }), /threads/);
  assert.throws(() => createWasmEngine({ shape: { inputs: 0, hidden: 3, layers: 1 }, n, capacity: 1 }), /inputs/);
  e.dispose();
  assert.throws(() => e.getState(), /dispose/);
  assert.throws(() => e.forward(x, out, false), /dispose/);
  e.dispose(); // twice is harmless
});

test("a tape past WebAssembly's 4 GiB goes to several instances (test/wasm_scale.test.ts checks their bits)", { skip }, () => {
  const e = createWasmEngine({ shape: paper, n: 15910, capacity: 400, threads: 1, memoryBudget: 2 ** 40 });
  try {
    assert.equal(e.segment, 400);
    assert.equal(e.instances, 2);
    assert.ok(e.memoryBytes > 2 ** 32, `${e.memoryBytes} bytes`);
  } finally {
    e.dispose();
  }
  assert.throws(() => createWasmEngine({ shape: paper, n: 2_000_000_000, capacity: 20 }), EngineMemoryError);
});

test("n = 0 and capacity 0 are valid", { skip }, () => {
  const e = createWasmEngine({ shape: paper, n: 0, capacity: 0 });
  e.setPhi(new Float32Array(phiSize(paper)));
  e.forward(new Float32Array(0), new Float32Array(0), false);
  assert.equal(e.getState().length, 0);
  e.dispose();
});

test("a process that never calls dispose still exits", { skip }, () => {
  const engine = fileURLToPath(new URL("../src/kernels/wasm.ts", import.meta.url));
  const script = [
    `import { createWasmEngine } from ${JSON.stringify(engine)};`,
    "const e = createWasmEngine({ shape: { inputs: 2, hidden: 4, layers: 1 }, n: 100, capacity: 1, threads: 2 });",
    "e.forward(new Float32Array(200), new Float32Array(100), true);",
  ].join("\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { timeout: 20_000, encoding: "utf8" });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, r.stderr);
});

test("dispose stops the worker threads", { skip }, async () => {
  const e = createWasmEngine({ shape: paper, n: 64, capacity: 1, threads: 3 });
  assert.equal(e.threads, 3);
  e.setPhi(new Float32Array(phiSize(paper)).fill(0.01));
  e.forward(new Float32Array(128).fill(0.5), new Float32Array(64), true);
  e.dispose();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 5000);
  });
  const r = await Promise.race([e.stopped().then(() => "stopped"), timeout]);
  clearTimeout(timer);
  assert.equal(r, "stopped");
});

// ---- The PyTorch fixtures through the whole meta-gradient (as test/lstm_fixtures.test.ts). ----



for (const variant of variants) for (const name of ["W", "Q"] as const) {
  for (const threads of [1, 2]) {
    test(`meta-gradient matches PyTorch (${name}, ${threads} thread(s), ${variant})`, { skip }, (t) => {
      const { task, fx, L, grad } = loadCase(name);
      const ref = { L, grad };
      const opt = lstmOptimizer(
        { hidden: 20, layers: 2, preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 },
        (o) => createWasmEngine({ ...o, threads, variant }),
      );
      const inst = opt.differentiable(Float32Array.from(fx.phi.flat()), task.layout, fx.T);
      try {
        const r = unrollMetaGrad({ task, step: inst, theta: Float32Array.from(fx.theta0), T: fx.T, weights: "before", keys: () => key(0) });
        const eL = Math.abs(r.metaLoss - ref.L) / Math.abs(ref.L);
        const eG = relErr(r.dphi, ref.grad);
        t.diagnostic(`${name}: meta-loss rel ${eL.toExponential(2)}, meta-gradient rel L2 ${eG.toExponential(2)}`);
        assert.ok(eL < 1e-6, `meta-loss relative error ${eL}`);
        assert.ok(eG < 1e-6, `meta-gradient relative L2 error ${eG}`);
      } finally {
        inst.dispose();
      }
    });
  }
}

// ---- The two builds ----

test("builds: the default is fma where the runtime takes it; kinds resolve to what runs", { skip }, () => {
  assert.equal(defaultWasmVariant(), fmaOk ? "fma" : "simd");
  assert.equal(resolveEngineKind("wasm"), fmaOk ? "wasm-fma" : "wasm-simd");
  assert.equal(resolveEngineKind("wasm-simd"), "wasm-simd");
  assert.equal(resolveEngineKind("ref"), "ref");
  const shape: LstmShape = { inputs: 2, hidden: 4, layers: 1 };
  const pairs: [EngineKind, WasmVariant][] = [["wasm-simd", "simd"], ["wasm", defaultWasmVariant()]];
  if (fmaOk) pairs.push(["wasm-fma", "fma"]);
  for (const [kind, variant] of pairs) {
    const e = engineFactory(kind, 1)({ shape, n: 4, capacity: 1 }) as ReturnType<typeof createWasmEngine>;
    assert.equal(e.variant, variant, kind);
    e.dispose();
  }
  assert.throws(() => createWasmEngine({ shape, n: 4, capacity: 1, variant: "avx" as WasmVariant }), /variant must be 'simd' or 'fma', got 'avx'/);
  assert.throws(() => engineFactory("wasm-avx" as EngineKind, 1), /unknown LSTM engine 'wasm-avx'/);
});

test("builds: fma rounds differently from simd (so it is really fused), both within the reference's tolerance", { skip: fmaOk ? skip : "relaxed SIMD not available" }, () => {
  const n = 500;
  const T = 3;
  const run = (variant: WasmVariant) => {
    const e = createWasmEngine({ shape: paper, n, capacity: T, threads: 1, variant });
    try {
      return runTrace(e, 7, T, 0.5);
    } finally {
      e.dispose();
    }
  };
  const a = run("simd");
  const b = run("fma");
  let differ = 0;
  for (let i = 0; i < a.outs.length; i++) if (a.outs[i] !== b.outs[i]) differ++;
  assert.ok(differ > a.outs.length / 10, `only ${differ} of ${a.outs.length} outputs differ between the builds`);
  assert.ok(relErr(b.dphi, a.dphi) <= TOL, `dphi ${relErr(b.dphi, a.dphi)}`);
});

// The forward pass hands chunks of coordinates to whichever thread claims them first: each
// coordinate's outputs, state and tape must still be the same bits on any number of threads
// (the backward pass, which reads the tape, gives the same dx on each as well).
for (const variant of variants) test(`with the chunks reduction (the default) the weight gradient is the same bits on 1, 2 and 3 threads (${variant})`, { skip }, () => {
  // 2,001 coordinates in chunks of 128 (blocks of 64): 16 chunks, the last one short.
  const grads = [1, 2, 3].map((threads) => {
    const e = createWasmEngine({ shape: paper, n: 2001, capacity: 3, threads, variant });
    try {
      assert.equal(e.reduction, "chunks");
      return runTrace(e, 12, 3, 0.4).dphi;
    } finally {
      e.dispose();
    }
  });
  for (const g of grads.slice(1)) assert.deepEqual(g, grads[0]);
  // Per thread, the sums are grouped by thread: the same gradient to float rounding, and
  // (for this case) not the same bits on 1 and 3 threads, which is why `chunks` exists.
  const perThread = [1, 3].map((threads) => {
    const e = createWasmEngine({ shape: paper, n: 2001, capacity: 3, threads, variant, reduction: "threads" });
    try {
      return runTrace(e, 12, 3, 0.4).dphi;
    } finally {
      e.dispose();
    }
  });
  assert.ok(relErr(perThread[1]!, grads[0]!) <= TOL);
  assert.notDeepEqual(perThread[1], perThread[0]);
  assert.throws(() => createWasmEngine({ shape: paper, n: 8, capacity: 1, reduction: "rows" as never }), /reduction must be 'chunks' or 'threads', got 'rows'/);
});

for (const variant of variants) test(`forward outputs, states and dx are the same bits on 1, 2 and 3 threads (${variant})`, { skip }, () => {
  const runs = [1, 2, 3].map((threads) => {
    const e = createWasmEngine({ shape: paper, n: 2001, capacity: 3, threads, variant });
    try {
      return runTrace(e, 11, 3, 0.4);
    } finally {
      e.dispose();
    }
  });
  for (const r of runs.slice(1)) {
    assert.deepEqual(r.outs, runs[0]!.outs);
    assert.deepEqual(r.states, runs[0]!.states);
    assert.deepEqual(r.dxs, runs[0]!.dxs);
  }
});

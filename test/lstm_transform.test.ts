// The LSTM optimizer's transform (`optFn`) and the engines' snapshots: snapshot/restore round
// trips, snapshots refused across engine kinds, the transform's purity when states branch
// (an older state used again after the engines have moved on), agreement bit for bit with the
// plain setState/forward/getState path, several LSTM groups, states in the contract's layout,
// and engines without snapshots. For the reference engine and the WebAssembly engine on 1 and
// 2 threads (the latter only when build/lstm.wasm is present).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ParamLayout } from "../src/core/layout.ts";
import { key, split, uniform } from "../src/core/rng.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { hasSnapshots, phiSize, stateSize, type LstmEngine, type LstmEngineOptions, type SnapshotLstmEngine } from "../src/kernels/types.ts";
import { createWasmEngine, wasmEngineAvailable, WASM_STATE_LAYOUT } from "../src/kernels/wasm.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { lstmGroupIndices, type LstmOptimizerConfig } from "../src/learned/lstm/config.ts";
import { widenInputs } from "../src/learned/lstm/widen.ts";
import type { LstmEngineFactory } from "../src/learned/lstm/types.ts";
import { preprocessor } from "../src/learned/lstm/preprocess.ts";
import type { OptState } from "../src/optimizers/transform.ts";

const wasmOk = wasmEngineAvailable();

interface Kind {
  readonly name: string;
  readonly factory: LstmEngineFactory & ((o: LstmEngineOptions) => SnapshotLstmEngine);
  readonly skip: string | false;
}

const KINDS: Kind[] = [
  { name: "reference", factory: (o) => createReferenceEngine(o), skip: false },
  ...[1, 2].map((threads) => ({
    name: `wasm ${threads}T`,
    factory: (o: LstmEngineOptions) => createWasmEngine({ ...o, threads }),
    skip: wasmOk ? (false as const) : "build/lstm.wasm missing (npm run build:wasm)",
  })),
];

/** Bytes of a float array, for bit-for-bit comparisons (-0 and NaN payloads included). */
const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  assert.ok(bytesOf(a).equals(bytesOf(b)), `${what}: not bit-identical`);
}

function assertSameState(a: OptState, b: OptState, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: fields`);
  assert.equal(a.layout, b.layout, `${what}: layout`);
  assertSameBits(a.lstm as Float32Array, b.lstm as Float32Array, `${what}: lstm`);
}

// 7 + 12 + 4 + 9 = 32 coordinates in two layout groups; 5 units (padded to 8 in the
// WebAssembly engine), 2 layers, LogAndSign.
const layout = new ParamLayout([
  { name: "a", shape: [7], group: "conv" },
  { name: "b", shape: [3, 4], group: "fc" },
  { name: "c", shape: [4], group: "conv" },
  { name: "d", shape: [9], group: "fc" },
]);
const n = layout.size;
const CFG: LstmOptimizerConfig = { hidden: 5, layers: 2, preprocess: { kind: "logSign", p: 7 }, outputScale: 0.1 };
const GROUPED: LstmOptimizerConfig = { ...CFG, groups: [["conv"], ["fc"]] };
const MOM: LstmOptimizerConfig = { ...GROUPED, preprocess: { kind: "logSignMomentum", p: 7, betas: [0.5, 0.9] } };

/** Gradients with a wide spread of magnitudes (both LogAndSign branches) and some zeros. */
function grads(seed: number, count: number): Float32Array[] {
  return split(key(seed), count).map((k) => {
    const [ka, kb] = split(k, 2);
    const g = uniform(ka!, n, -1, 1);
    const e = uniform(kb!, n, -8, 1);
    for (let i = 0; i < n; i++) g[i] = i % 11 === 3 ? 0 : g[i]! * 10 ** e[i]!;
    return g;
  });
}

/** Weights large enough that the state moves visibly from step to step. */
function phiFor(size: number, seed: number): Float32Array {
  return uniform(key(seed), size, -0.6, 0.6);
}

/**
 * The transform as it was before snapshots: per step and LSTM, setState (contract layout,
 * gathered), forward, getState (scattered). Returns the updates and the contract-layout states.
 */
function slowPath(cfg: LstmOptimizerConfig, factory: LstmEngineFactory, phi: Float32Array, gs: Float32Array[]): { updates: Float32Array[]; states: Float32Array[] } {
  const opt = lstmOptimizer(cfg, factory);
  const S = stateSize(opt.shape);
  const pre = preprocessor(opt.config.preprocess);
  const idxs = lstmGroupIndices(layout, opt.config.groups);
  const P = phi.length / idxs.length;
  const engines = idxs.map((idx, k) => {
    const e = factory({ shape: opt.shape, n: idx.length, capacity: 1 });
    e.setPhi(phi.subarray(k * P, (k + 1) * P));
    return e;
  });
  let st = new Float32Array(n * S);
  const updates: Float32Array[] = [];
  const states: Float32Array[] = [];
  for (const g of gs) {
    const u = new Float32Array(n);
    const next = new Float32Array(n * S);
    idxs.forEach((idx, k) => {
      const e = engines[k]!;
      const s = new Float32Array(idx.length * S);
      idx.forEach((i, j) => s.set(st.subarray(i * S, (i + 1) * S), j * S));
      e.setState(s);
      const x = new Float32Array(idx.length * pre.inputs);
      pre.apply(Float32Array.from(idx, (i) => g[i]!), x);
      const out = new Float32Array(idx.length);
      e.forward(x, out, false);
      idx.forEach((i, j) => (u[i] = opt.config.outputScale * out[j]!));
      const after = e.getState();
      idx.forEach((i, j) => next.set(after.subarray(j * S, (j + 1) * S), i * S));
    });
    updates.push(u);
    states.push(next);
    st = next;
  }
  for (const e of engines) e.dispose();
  return { updates, states };
}

/** A transform state converted to the contract's layout (through fresh engines of `factory`). */
function contractState(cfg: LstmOptimizerConfig, factory: LstmEngineFactory, state: OptState): Float32Array {
  const opt = lstmOptimizer(cfg, factory);
  const S = stateSize(opt.shape);
  const st = state.lstm as Float32Array;
  if ((state.layout ?? 0) === 0) return st;
  const out = new Float32Array(n * S);
  let o = 0;
  for (const idx of lstmGroupIndices(layout, opt.config.groups)) {
    if (idx.length === 0) continue;
    const e = factory({ shape: opt.shape, n: idx.length, capacity: 0 });
    assert.ok(hasSnapshots(e));
    e.restore(st.subarray(o, o + e.snapshotLength));
    o += e.snapshotLength;
    const s = e.getState();
    idx.forEach((i, j) => out.set(s.subarray(j * S, (j + 1) * S), i * S));
    e.dispose();
  }
  assert.equal(o, st.length, "the snapshots fill state.lstm");
  return out;
}

describe("engine snapshots", () => {
  for (const kind of KINDS) {
    it(`${kind.name}: snapshot/restore round trip, into an array, errors`, { skip: kind.skip }, () => {
      const shape = { inputs: 2, hidden: 5, layers: 2 };
      const m = 13;
      const e = kind.factory({ shape, n: m, capacity: 2 });
      try {
        assert.ok(hasSnapshots(e));
        assert.equal(e.stateLayout, kind.name === "reference" ? "ref" : WASM_STATE_LAYOUT);
        e.setPhi(phiFor(phiSize(shape), 3));
        const s0 = uniform(key(4), m * stateSize(shape), -1, 1);
        e.setState(s0);
        const snap0 = e.snapshot();
        assert.equal(snap0.length, e.snapshotLength);
        const x = uniform(key(5), 2 * m, -1, 1);
        const out1 = new Float32Array(m);
        e.forward(x, out1, false);
        const after1 = e.getState();
        const snap1 = e.snapshot();
        // Back to the start: the same step gives the same result, bit for bit.
        e.restore(snap0, e.stateLayout);
        assertSameBits(e.getState(), s0, "getState after restore");
        assertSameBits(e.snapshot(), snap0, "snapshot after restore");
        const out1b = new Float32Array(m);
        e.forward(x, out1b, false);
        assertSameBits(out1b, out1, "output after restore");
        assertSameBits(e.getState(), after1, "state after restore + forward");
        // Into an array at an offset; the copy does not alias the engine's memory.
        const into = new Float32Array(e.snapshotLength + 7).fill(9);
        assert.equal(e.snapshot(into, 3), into);
        assertSameBits(into.subarray(3, 3 + e.snapshotLength), snap1, "snapshot(into, 3)");
        assert.ok(into.subarray(0, 3).every((v) => v === 9) && into.subarray(3 + e.snapshotLength).every((v) => v === 9));
        e.forward(x, out1b, false);
        assertSameBits(into.subarray(3, 3 + e.snapshotLength), snap1, "a snapshot is a copy");
        assert.throws(() => e.snapshot(into, 8), /does not fit/);
        // restore clears the tape, like setState.
        e.forward(x, out1b, true);
        assert.equal(e.recorded, 1);
        e.restore(snap1);
        assert.equal(e.recorded, 0);
        assertSameBits(e.getState(), after1, "state after restore");
        e.forward(x, out1b, true); // recording may start again right away
        assert.throws(() => e.restore(snap1.subarray(1)), /snapshot is \d+ floats, expected \d+ floats/);
        assert.throws(() => e.restore(snap1, "some-other-layout"), /state layout 'some-other-layout'/);
      } finally {
        e.dispose();
      }
      assert.throws(() => e.snapshot(), /after dispose/);
    });
  }

  it("a snapshot of one engine kind is refused by another", { skip: wasmOk ? false : "build/lstm.wasm missing" }, () => {
    const shape = { inputs: 2, hidden: 4, layers: 2 };
    const ref = createReferenceEngine({ shape, n: 10, capacity: 0 });
    const wasm = createWasmEngine({ shape, n: 10, capacity: 0, threads: 1 });
    try {
      assert.notEqual(ref.stateLayout, wasm.stateLayout);
      assert.throws(() => wasm.restore(ref.snapshot(), ref.stateLayout), /cannot restore a snapshot in state layout 'ref' into the WebAssembly engine \(state layout 'wasm-v1'\)/);
      assert.throws(() => ref.restore(wasm.snapshot(), wasm.stateLayout), /cannot restore a snapshot in state layout 'wasm-v1' into the reference engine/);
      // Without the tag, the length still tells these two apart (the WebAssembly rows are padded).
      assert.throws(() => wasm.restore(ref.snapshot()), /expected \d+ floats/);
      assert.throws(() => ref.restore(wasm.snapshot()), /expected \d+ floats/);
    } finally {
      ref.dispose();
      wasm.dispose();
    }
  });
});

describe("lstm transform", () => {
  for (const kind of KINDS) {
    for (const [label, cfg] of [["one LSTM", CFG], ["two groups", GROUPED], ["moving averages", MOM]] as const) {
      it(`${kind.name}, ${label}: with copyState false, handles give the same updates as copies, and only the next update takes one`, { skip: kind.skip }, () => {
        const opt = lstmOptimizer(cfg, kind.factory);
        const phi = phiFor(opt.phiSize, 31);
        const copying = opt.optFn(phi, layout);
        const handing = opt.optFn(phi, layout, { copyState: false });
        const other = opt.optFn(phi, layout, { copyState: false });
        try {
          const params = uniform(key(32), n, -1, 1);
          let sc = copying.init(params);
          let sh = handing.init(params);
          let first: OptState | undefined;
          for (const [t, g] of grads(33, 5).entries()) {
            const [uc, nc] = copying.update(g, sc, params);
            const [uh, nh] = handing.update(g, sh, params);
            assertSameBits(uh, uc, `step ${t}`);
            assert.deepEqual(Object.keys(nh), ["handle"]);
            first ??= nh;
            sc = nc;
            sh = nh;
          }
          const g = grads(34, 1)[0]!;
          assert.throws(() => handing.update(g, first!, params), /this state is a handle .* copyState: true/, "an old handle");
          const [, oh] = other.update(g, other.init(params), params);
          assert.throws(() => handing.update(g, oh, params), /this state is a handle/, "another transform's handle");
          // A copy from the copying transform is restored, and the two go on together.
          const [uc, nc] = copying.update(g, sc, params);
          const [uh] = handing.update(g, sc, params);
          assertSameBits(uh, uc, "from a copied state");
          assert.ok(nc.lstm instanceof Float32Array);
        } finally {
          copying.dispose();
          handing.dispose();
          other.dispose();
        }
      });
    }

    for (const [label, cfg] of [["one LSTM", CFG], ["two groups", GROUPED]] as const) {
      it(`${kind.name}, ${label}: pure when states branch (an older state used again)`, { skip: kind.skip }, () => {
        const opt = lstmOptimizer(cfg, kind.factory);
        const tx = opt.optFn(phiFor(opt.phiSize, 7), layout);
        try {
          const params = uniform(key(8), n, -1, 1);
          const [g1, g2] = grads(9, 2) as [Float32Array, Float32Array];
          const s0 = tx.init(params);
          assert.equal(s0.layout, 0, "init is in the contract layout");
          const copies = { params: params.slice(), g1: g1.slice(), s0: (s0.lstm as Float32Array).slice() };
          const [u1, s1] = tx.update(g1, s0, params);
          const s1copy = (s1.lstm as Float32Array).slice();
          const [u2, s2] = tx.update(g2, s1, params);
          assert.notEqual(s1.lstm, s2.lstm);
          assert.ok(!bytesOf(s1.lstm as Float32Array).equals(bytesOf(s2.lstm as Float32Array)), "the state moves");
          // The engines hold s2 now: using s0 and s1 again must restore them.
          const [u1b, s1b] = tx.update(g1, s0, params);
          assertSameBits(u1b, u1, "updates from s0 again");
          assertSameState(s1b, s1, "state from s0 again");
          assert.notEqual(s1b, s1, "a fresh state object");
          assert.notEqual(s1b.lstm, s1.lstm, "a fresh array");
          const [u2b, s2b] = tx.update(g2, s1, params);
          assertSameBits(u2b, u2, "updates from s1 again");
          assertSameState(s2b, s2, "state from s1 again");
          // The usual loop (the state just returned) and a branch off it agree too.
          const [u3, s3] = tx.update(g1, s2b, params);
          const [u3b, s3b] = tx.update(g1, s2, params);
          assertSameBits(u3b, u3, "updates from equal states");
          assertSameState(s3b, s3, "states from equal states");
          // Nothing handed in was changed.
          assertSameBits(params, copies.params, "params");
          assertSameBits(g1, copies.g1, "grads");
          assertSameBits(s0.lstm as Float32Array, copies.s0, "s0");
          assertSameBits(s1.lstm as Float32Array, s1copy, "s1");
        } finally {
          tx.dispose();
        }
      });

      it(`${kind.name}, ${label}: bit-identical to setState/forward/getState over 5 steps`, { skip: kind.skip }, () => {
        const opt = lstmOptimizer(cfg, kind.factory);
        const phi = phiFor(opt.phiSize, 11);
        const gs = grads(12, 5);
        const slow = slowPath(cfg, kind.factory, phi, gs);
        const tx = opt.optFn(phi, layout);
        try {
          const params = new Float32Array(n);
          let s = tx.init(params);
          gs.forEach((g, t) => {
            const [u, next] = tx.update(g, s, params);
            assertSameBits(u, slow.updates[t]!, `updates, step ${t}`);
            assert.notEqual(next.layout, 0, "returned states hold snapshots");
            assertSameBits(contractState(cfg, kind.factory, next), slow.states[t]!, `state, step ${t}`);
            s = next;
          });
          // A state in the contract's layout (written by hand, or by an older version) is accepted.
          const [u, next] = tx.update(gs[0]!, { lstm: slow.states[2]! }, params);
          const [uw, nextw] = tx.update(gs[0]!, { lstm: slow.states[2]!, layout: 0 }, params);
          assertSameBits(uw, u, "layout 0 is the default");
          assertSameState(nextw, next, "layout 0 is the default");
          const ref = slowPath(cfg, kind.factory, phi, [...gs.slice(0, 3), gs[0]!]);
          assertSameBits(u, ref.updates[3]!, "from a contract-layout state");
          assertSameBits(contractState(cfg, kind.factory, next), ref.states[3]!, "state from a contract-layout state");
        } finally {
          tx.dispose();
        }
      });
    }
  }

  it("without an engine, lstmOptimizer runs the WebAssembly kernel on one thread where it is built", { skip: wasmOk ? false : "build/lstm.wasm missing" }, () => {
    const phi = phiFor(lstmOptimizer(CFG, createReferenceEngine).phiSize, 21);
    const run = (factory?: LstmEngineFactory): Float32Array[] => {
      const opt = factory === undefined ? lstmOptimizer(CFG) : lstmOptimizer(CFG, factory);
      const tx = opt.optFn(phi, layout);
      try {
        let params = new Float32Array(n);
        let state = tx.init(params);
        const out: Float32Array[] = [];
        for (const g of grads(22, 3)) {
          const [u, s] = tx.update(g, state, params);
          out.push(u);
          state = s;
          params = params.map((v, i) => v + u[i]!);
        }
        return out;
      } finally {
        tx.dispose();
      }
    };
    const byDefault = run();
    run((o) => createWasmEngine({ ...o, threads: 1 })).forEach((u, t) => assertSameBits(byDefault[t]!, u, `step ${t}`));
    // The reference computes in float64 within a step, so its bits differ somewhere.
    assert.ok(run(createReferenceEngine).some((u, t) => u.some((v, i) => v !== byDefault[t]![i])), "the default is not the reference");
  });

  it("two groups: the state is the parts' snapshots, concatenated", () => {
    const opt = lstmOptimizer(GROUPED, createReferenceEngine);
    const tx = opt.optFn(phiFor(opt.phiSize, 13), layout);
    const params = new Float32Array(n);
    const [, s1] = tx.update(grads(14, 1)[0]!, tx.init(params), params);
    // The reference engine's snapshot is its contract-layout state, so the concatenation is
    // the conv coordinates' states and then the fc coordinates'.
    const S = stateSize(opt.shape);
    const full = contractState(GROUPED, createReferenceEngine, s1);
    const [conv, fc] = lstmGroupIndices(layout, GROUPED.groups) as [Int32Array, Int32Array];
    const expected = new Float32Array(n * S);
    [...conv, ...fc].forEach((i, j) => expected.set(full.subarray(i * S, (i + 1) * S), j * S));
    assertSameBits(s1.lstm as Float32Array, expected, "concatenated snapshots");
    assert.ok(Number.isInteger(s1.layout) && (s1.layout as number) > 0);
    tx.dispose();
  });

  it("a state from another engine kind is refused with a clear error", { skip: wasmOk ? false : "build/lstm.wasm missing" }, () => {
    const ref = lstmOptimizer(CFG, createReferenceEngine);
    const phi = phiFor(ref.phiSize, 15);
    const wasm = lstmOptimizer(CFG, (o) => createWasmEngine({ ...o, threads: 1 }));
    const a = ref.optFn(phi, layout);
    const b = wasm.optFn(phi, layout);
    try {
      const params = new Float32Array(n);
      const g = grads(16, 1)[0]!;
      const [, sa] = a.update(g, a.init(params), params);
      const [, sb] = b.update(g, b.init(params), params);
      assert.notEqual(sa.layout, sb.layout);
      assert.throws(() => b.update(g, sa, params), /state layout .*another engine kind/);
      assert.throws(() => a.update(g, sb, params), /state layout .*another engine kind/);
      // So is a state of another shape with the same engine kind.
      const wideOpt = lstmOptimizer({ ...CFG, hidden: 6 }, createReferenceEngine);
      const wide = wideOpt.optFn(phiFor(wideOpt.phiSize, 1), layout);
      const [, sw] = wide.update(g, wide.init(params), params);
      assert.throws(() => a.update(g, sw, params), /another engine kind or shape/);
      wide.dispose();
      // The zero state of init is accepted by both, and the contract-layout length is checked.
      assert.doesNotThrow(() => b.update(g, a.init(params), params));
      assert.throws(() => a.update(g, { lstm: new Float32Array(3) }, params), /state\.lstm/);
      assert.throws(() => a.update(g, { lstm: sa.lstm as Float32Array, layout: "x" as unknown as number }, params), /state\.layout/);
      // Refused states leave the transform working.
      const [u1] = a.update(g, sa, params);
      const [u1b] = a.update(g, sa, params);
      assertSameBits(u1b, u1, "after errors");
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("the usual loop copies no state into the engines; branching does", () => {
    const calls = { setState: 0, restore: 0, snapshot: 0, getState: 0 };
    const counting = (o: LstmEngineOptions): SnapshotLstmEngine => {
      const e = createReferenceEngine(o);
      return new Proxy(e, {
        get(t, prop) {
          const v = Reflect.get(t, prop, t) as unknown;
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            if (prop in calls) calls[prop as keyof typeof calls]++;
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          };
        },
      });
    };
    const opt = lstmOptimizer(GROUPED, counting);
    const tx = opt.optFn(phiFor(opt.phiSize, 19), layout);
    const params = new Float32Array(n);
    const gs = grads(20, 4);
    const s0 = tx.init(params);
    let s = s0;
    const states: OptState[] = [];
    for (const g of gs) {
      s = tx.update(g, s, params)[1];
      states.push(s);
    }
    // Two LSTMs: the zero state of init is set once per LSTM, then only snapshots are taken.
    assert.deepEqual(calls, { setState: 2, restore: 0, snapshot: 8, getState: 0 });
    tx.update(gs[0]!, states[1]!, params);
    assert.deepEqual(calls, { setState: 2, restore: 2, snapshot: 10, getState: 0 });
    tx.update(gs[0]!, s0, params);
    assert.deepEqual(calls, { setState: 4, restore: 2, snapshot: 12, getState: 0 });
    tx.dispose();
  });

  it("engines without snapshots: states stay in the contract's layout, results unchanged", () => {
    // The reference engine with its snapshot methods hidden.
    const plain = (o: LstmEngineOptions): LstmEngine => {
      const e = createReferenceEngine(o);
      return {
        get shape() { return e.shape; },
        get n() { return e.n; },
        get capacity() { return e.capacity; },
        get recorded() { return e.recorded; },
        setPhi: (p) => e.setPhi(p),
        resetState: () => e.resetState(),
        forward: (x, out, rec) => e.forward(x, out, rec),
        backwardStep: (d, dx) => e.backwardStep(d, dx),
        finishBackward: (d) => e.finishBackward(d),
        getState: () => e.getState(),
        setState: (s) => e.setState(s),
        dispose: () => e.dispose(),
      };
    };
    assert.equal(hasSnapshots(plain({ shape: { inputs: 1, hidden: 2, layers: 1 }, n: 1, capacity: 0 })), false);
    const opt = lstmOptimizer(GROUPED, plain);
    const phi = phiFor(opt.phiSize, 17);
    const gs = grads(18, 4);
    const slow = slowPath(GROUPED, createReferenceEngine, phi, gs);
    const tx = opt.optFn(phi, layout);
    const params = new Float32Array(n);
    const s0 = tx.init(params);
    let s = s0;
    gs.forEach((g, t) => {
      const [u, next] = tx.update(g, s, params);
      assert.equal(next.layout, 0);
      assertSameBits(u, slow.updates[t]!, `updates, step ${t}`);
      assertSameBits(next.lstm as Float32Array, slow.states[t]!, `state, step ${t}`);
      s = next;
    });
    const [u0] = tx.update(gs[0]!, s0, params);
    assertSameBits(u0, slow.updates[0]!, "an older state again");
    tx.dispose();
  });
});

// The moving-average preprocessing (`logSignMomentum`): its state travels in the transform's
// state (`pre`), and an optimizer widened from LogAndSign with zero weights on the new inputs
// (`widenInputs`) is, step for step, the optimizer it was widened from.
describe("logSignMomentum in the transform", () => {
  for (const kind of KINDS) {
    it(`widened from LogAndSign it gives the same updates, bit for bit (${kind.name})`, { skip: kind.skip }, () => {
      const narrow = lstmOptimizer(GROUPED, kind.factory);
      const wide = lstmOptimizer(MOM, kind.factory);
      assert.equal(wide.shape.inputs, 6);
      const phi = phiFor(narrow.phiSize, 21);
      const widePhi = widenInputs(phi, narrow.shape, 6, narrow.lstms);
      assert.equal(widePhi.length, wide.phiSize);
      const a = narrow.optFn(phi, layout);
      const b = wide.optFn(widePhi, layout);
      const params = new Float32Array(n);
      let sa = a.init(params);
      let sb = b.init(params);
      assert.deepEqual(sb.pre, new Float32Array(n * 4));
      grads(22, 5).forEach((g, t) => {
        const [ua, na] = a.update(g, sa, params);
        const [ub, nb] = b.update(g, sb, params);
        assertSameBits(ub, ua, `updates, step ${t}`);
        sa = na;
        sb = nb;
      });
      // Nonzero weights on the averages change the updates.
      const moved = widePhi.slice();
      moved[2 * 20] = 0.5; // W_0 row 2 (the first average's log-magnitude), first gate lane
      const c = wide.optFn(moved, layout);
      let sc = c.init(params);
      let differs = false;
      for (const g of grads(22, 3)) {
        const [uc, nc] = c.update(g, sc, params);
        const [ub] = b.update(g, sb, params);
        differs ||= !bytesOf(uc).equals(bytesOf(ub));
        sc = nc;
        sb = b.init(params);
      }
      assert.ok(differs, "a weight on the moving average must change the updates");
      a.dispose();
      b.dispose();
      c.dispose();
    });
  }

  it("the state holds the bias-corrected averages; update is pure and branches replay", () => {
    const opt = lstmOptimizer(MOM, createReferenceEngine);
    const phi = phiFor(opt.phiSize, 23);
    const tx = opt.optFn(phi, layout);
    const params = new Float32Array(n);
    const gs = grads(24, 3);
    const s0 = tx.init(params);
    const [u1, s1] = tx.update(gs[0]!, s0, params);
    assert.deepEqual(s0.pre, new Float32Array(n * 4), "init's state is not written into");
    const [, s2] = tx.update(gs[1]!, s1, params);
    // The parts' states concatenated: conv's coordinates (a, then c), then fc's (b, then d).
    const order = [...lstmGroupIndices(layout, MOM.groups).flatMap((idx) => [...idx])];
    const pre2 = s2.pre as Float32Array;
    order.forEach((i, j) => {
      const [g0, g1] = [gs[0]![i]!, gs[1]![i]!];
      [0.5, 0.9].forEach((beta, k) => {
        const m = beta * (1 - beta) * g0 + (1 - beta) * g1;
        const b = 1 - beta * beta;
        assert.ok(Math.abs(pre2[4 * j + 2 * k]! - m) <= 1e-6 * (Math.abs(m) + 1e-30), `m, coordinate ${i}, beta ${beta}`);
        assert.ok(Math.abs(pre2[4 * j + 2 * k + 1]! - b) < 1e-6, `b, coordinate ${i}, beta ${beta}`);
      });
    });
    // Going back to s1 (the engines have moved on to s2) gives the second step again, bit for bit.
    const [, s2again] = tx.update(gs[1]!, s1, params);
    assertSameBits(s2again.pre as Float32Array, pre2, "state.pre from an older state");
    const [u1again] = tx.update(gs[0]!, s0, params);
    assertSameBits(u1again, u1, "the first step from init's state");
    assert.throws(() => tx.update(gs[0]!, { lstm: s0.lstm!, layout: 0 }, params), /state.pre must be a Float32Array of 128 floats/);
    tx.dispose();
  });
});

// The coordinatewise LSTM optimizer and its meta-gradient: the PyTorch fixtures, finite
// differences in float64 (engine alone, and the full non-detached meta-loss for second order),
// the truncation cut, and the optimizer transform.
import { test } from "node:test";
import assert from "node:assert/strict";
import { key, normal, uniform, split } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { f32, loadCase, quad64, quadTask, relErr } from "./fixture_tasks.ts";
import type { LossAndGrad, Task } from "../src/tasks/base.ts";
import { phiSize, stateSize, type LstmShape } from "../src/kernels/types.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { preprocessor, parsePreprocessConfig, type PreprocessConfig } from "../src/learned/lstm/preprocess.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { lstmGroupIndices, resolveLstmOptimizerConfig } from "../src/learned/lstm/config.ts";
import { handFromConfig } from "../src/learned/hand.ts";
import { ConfigError } from "../src/core/errors.ts";
import { advanceUnroll, unrollMetaGrad, type MetaLossWeights } from "../src/meta/unroll.ts";

const paperOpt = lstmOptimizer({ hidden: 20, layers: 2, preprocess: { kind: "logSign", p: 10 }, outputScale: 0.1 }, createReferenceEngine);

function fixtureUnroll(name: "W" | "Q", secondOrder: boolean) {
  const { task, fx, L, grad } = loadCase(name);
  const phi = f32(fx.phi.flat());
  const inst = paperOpt.differentiable(phi, task.layout, fx.T);
  const r = unrollMetaGrad({ task, step: inst, theta: f32(fx.theta0), T: fx.T, weights: "before", keys: () => key(0), secondOrder });
  return { r, L, grad };
}

for (const name of ["W", "Q"] as const) {
  test(`meta-loss and first-order meta-gradient match PyTorch (${name})`, (t) => {
    const { r, L, grad } = fixtureUnroll(name, false);
    const eL = Math.abs(r.metaLoss - L) / Math.abs(L);
    const eG = relErr(r.dphi, grad);
    t.diagnostic(`${name}: metaLoss ${r.metaLoss} vs ${L} (rel ${eL.toExponential(2)}), grad rel L2 ${eG.toExponential(2)}`);
    assert.ok(eL < 1e-6, `meta-loss relative error ${eL}`);
    assert.ok(eG < 1e-6, `meta-gradient relative L2 error ${eG}`);
  });
}

test("second-order meta-gradient departs from the detached one by the README's margin", (t) => {
  // README: keeping second-order terms moves the gradient by about 5e-6 (W) and 2e-4 (Q).
  for (const [name, expected] of [["W", 5e-6], ["Q", 2e-4]] as const) {
    const { r, grad } = fixtureUnroll(name, true);
    const e = relErr(r.dphi, grad);
    t.diagnostic(`${name}: second order vs PyTorch first order, rel L2 ${e.toExponential(2)}`);
    assert.ok(e > expected / 3 && e < expected * 3, `${name}: ${e}`);
  }
});

// ---- A float64 LSTM written independently of the engine, for finite differences. ----

function lstmStep64(s: LstmShape, phi: ArrayLike<number>, x: ArrayLike<number>, state: Float64Array, n: number): Float64Array {
  const { inputs: I, hidden: H, layers: L } = s;
  const G = 4 * H;
  const S = 2 * L * H;
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let inp: number[] = Array.from({ length: I }, (_, r) => x[i * I + r]!);
    let o = 0;
    for (let l = 0; l < L; l++) {
      const rows = inp.length + H;
      const h = state.subarray(i * S + l * 2 * H, i * S + l * 2 * H + H);
      const c = state.subarray(i * S + l * 2 * H + H, i * S + (l + 1) * 2 * H);
      const z = [...inp, ...h];
      const pre = Array.from({ length: G }, (_, j) => phi[o + rows * G + j]! + z.reduce((a, v, r) => a + v * phi[o + r * G + j]!, 0));
      o += rows * G + G;
      for (let u = 0; u < H; u++) {
        c[u] = sig(pre[H + u]!) * c[u]! + sig(pre[u]!) * Math.tanh(pre[2 * H + u]!);
        h[u] = sig(pre[3 * H + u]!) * Math.tanh(c[u]!);
      }
      inp = Array.from(h);
    }
    out[i] = phi[o + H]! + inp.reduce((a, v, r) => a + v * phi[o + r]!, 0);
  }
  return out;
}

function centralDiff(f: (p: Float64Array) => number, p0: Float64Array, eps: number): Float64Array {
  const g = new Float64Array(p0.length);
  const p = Float64Array.from(p0);
  for (let k = 0; k < p.length; k++) {
    p[k] = p0[k]! + eps;
    const a = f(p);
    p[k] = p0[k]! - eps;
    const b = f(p);
    p[k] = p0[k]!;
    g[k] = (a - b) / (2 * eps);
  }
  return g;
}

for (const shape of [
  { inputs: 2, hidden: 3, layers: 2 },
  { inputs: 1, hidden: 4, layers: 1 },
  { inputs: 2, hidden: 3, layers: 3 },
]) {
  test(`engine BPTT matches finite differences (inputs ${shape.inputs}, hidden ${shape.hidden}, layers ${shape.layers})`, () => {
    const n = 3;
    const T = 4;
    const I = shape.inputs;
    const ks = split(key(7 + shape.layers), 5);
    const phi = uniform(ks[0]!, phiSize(shape), -0.8, 0.8);
    const s0 = uniform(ks[1]!, n * stateSize(shape), -0.5, 0.5);
    const xs = uniform(ks[2]!, T * n * I, -1, 1);
    const dOut = uniform(ks[3]!, T * n, -1, 1);
    const objective = (p: ArrayLike<number>, x: ArrayLike<number>): number => {
      const st = Float64Array.from(s0);
      let L = 0;
      for (let t = 0; t < T; t++) {
        const out = lstmStep64(shape, p, Array.from({ length: n * I }, (_, j) => x[t * n * I + j]!), st, n);
        for (let i = 0; i < n; i++) L += dOut[t * n + i]! * out[i]!;
      }
      return L;
    };
    const e = createReferenceEngine({ shape, n, capacity: T });
    e.setPhi(phi);
    e.setState(s0);
    const out = new Float32Array(n);
    let L32 = 0;
    for (let t = 0; t < T; t++) {
      e.forward(xs.subarray(t * n * I, (t + 1) * n * I), out, true);
      for (let i = 0; i < n; i++) L32 += dOut[t * n + i]! * out[i]!;
    }
    const L64 = objective(phi, xs);
    assert.ok(Math.abs(L32 - L64) < 1e-5 * (1 + Math.abs(L64)), `forward ${L32} vs ${L64}`);
    assert.equal(e.recorded, T);
    const dx = new Float32Array(T * n * I);
    for (let t = T - 1; t >= 0; t--) e.backwardStep(dOut.subarray(t * n, (t + 1) * n), dx.subarray(t * n * I, (t + 1) * n * I));
    assert.equal(e.recorded, 0);
    const dphi = new Float32Array(phi.length);
    e.finishBackward(dphi);
    const phi64 = Float64Array.from(phi);
    const x64 = Float64Array.from(xs);
    const fdPhi = centralDiff((p) => objective(p, x64), phi64, 1e-6);
    const fdX = centralDiff((x) => objective(phi64, x), x64, 1e-6);
    assert.ok(relErr(dphi, fdPhi) < 1e-5, `dphi rel err ${relErr(dphi, fdPhi)}`);
    assert.ok(relErr(dx, fdX) < 1e-5, `dx rel err ${relErr(dx, fdX)}`);
  });
}

// ---- Second order against finite differences of the full (non-detached) meta-loss. ----

function logSign64(p: number, g: number): number[] {
  return Math.abs(g) >= Math.exp(-p) ? [Math.log(Math.abs(g)) / p, Math.sign(g)] : [-1, Math.exp(p) * g];
}

/** The features of g in float64; `mom` holds (m, b) per moving average and advances. */
function preprocess64(c: PreprocessConfig, g: number, mom?: Float64Array): number[] {
  if (c.kind === "none") return [g];
  if (c.kind === "scale") return [c.scale * g];
  if (c.kind === "logSign") return logSign64(c.p, g);
  const x = logSign64(c.p, g);
  c.betas.forEach((beta, j) => {
    mom![2 * j] = beta * mom![2 * j]! + (1 - beta) * g;
    mom![2 * j + 1] = beta * mom![2 * j + 1]! + (1 - beta);
    x.push(...logSign64(c.p, mom![2 * j]! / mom![2 * j + 1]!));
  });
  return x;
}

for (const [pre, weights] of [
  [{ kind: "scale", scale: 0.5 }, "after"],
  [{ kind: "logSign", p: 10 }, "after"],
  [{ kind: "logSign", p: 10 }, "log"],
  [{ kind: "logSignMomentum", p: 10, betas: [0.5, 0.9] }, "after"],
] as const) {
  test(`second-order meta-gradient matches finite differences of the full meta-loss (${pre.kind}, ${weights})`, (t) => {
    const d = 3;
    const B = 2;
    const T = 4;
    const n = B * d;
    const ks = split(key(11), 4);
    const W = normal(ks[0]!, B * d * d, 0.5);
    const y = normal(ks[1]!, B * d);
    const theta0 = normal(ks[2]!, n);
    const q = quad64(d, B, W, y);
    const task = quadTask(d, B, W, y);
    const opt = lstmOptimizer({ hidden: 4, layers: 2, preprocess: pre, outputScale: 0.3 }, createReferenceEngine);
    const phi = uniform(ks[3]!, opt.phiSize, -0.5, 0.5);
    const run = (secondOrder: boolean, secondOrderScale?: number) =>
      unrollMetaGrad({
        task,
        step: opt.differentiable(phi, task.layout, T),
        theta: theta0,
        T,
        weights,
        keys: () => key(0),
        secondOrder,
        ...(secondOrderScale !== undefined ? { secondOrderScale } : {}),
      });
    const first = run(false);
    const second = run(true);
    // sum_{s=1..T} f(theta_s) (or log f(theta_s)) with theta_{t+1} = theta_t + scale * LSTM(pre(grad f(theta_t))), all float64.
    // With `damp`, the LSTM reads gamma grad f(theta_t) + (1 - gamma) grad f(base_t), base_t the
    // trajectory at phi itself: the same values there, and a derivative through the gradient
    // scaled by gamma, which is what secondOrderScale = gamma computes.
    const base: Float64Array[] = [];
    const metaLoss64 = (p: Float64Array, damp?: { gamma: number }): number => {
      const th = Float64Array.from(theta0);
      const st = new Float64Array(n * stateSize(opt.shape));
      const moms = Array.from({ length: n }, () => new Float64Array(4));
      let L = 0;
      for (let s = 0; s < T; s++) {
        const g = q.grad(th);
        if (damp === undefined && base.length < T) base.push(Float64Array.from(th));
        if (damp !== undefined) {
          const gb = q.grad(base[s]!);
          for (let i = 0; i < n; i++) g[i] = damp.gamma * g[i]! + (1 - damp.gamma) * gb[i]!;
        }
        const x = Array.from(g, (v, i) => preprocess64(pre, v, moms[i])).flat();
        const out = lstmStep64(opt.shape, p, x, st, n);
        for (let i = 0; i < n; i++) th[i]! += 0.3 * out[i]!;
        L += weights === "log" ? Math.log(q.loss(th)) : q.loss(th);
      }
      return L;
    };
    const phi64 = Float64Array.from(phi);
    const L64 = metaLoss64(phi64);
    assert.ok(Math.abs(first.metaLoss - L64) < 1e-5 * Math.abs(L64), `meta-loss ${first.metaLoss} vs ${L64}`);
    assert.equal(first.metaLoss, second.metaLoss);
    const fd = centralDiff(metaLoss64, phi64, 1e-6);
    const e2 = relErr(second.dphi, fd);
    const e1 = relErr(first.dphi, fd);
    t.diagnostic(`${pre.kind}, ${weights}: second order vs FD ${e2.toExponential(2)}, first order vs FD ${e1.toExponential(2)}`);
    assert.ok(e2 < 1e-4, `second order vs FD: ${e2}`);
    assert.ok(e1 > 30 * e2, `first order should differ clearly: ${e1} vs ${e2}`);
    // secondOrderScale: 1 is the exact meta-gradient, 0 the first-order one, and 0.4 the
    // gradient of the damped meta-loss above.
    const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    assert.equal(maxDiff(run(true, 1).dphi, second.dphi), 0);
    assert.equal(maxDiff(run(true, 0).dphi, first.dphi), 0);
    const damped = run(true, 0.4);
    const fdDamped = centralDiff((p) => metaLoss64(p, { gamma: 0.4 }), phi64, 1e-6);
    const eD = relErr(damped.dphi, fdDamped);
    t.diagnostic(`${pre.kind}, ${weights}: damped (0.4) vs its FD ${eD.toExponential(2)}`);
    assert.ok(eD < 1e-4, `damped second order vs FD: ${eD}`);
    assert.ok(relErr(damped.dphi, fd) > 30 * eD, "the damped gradient is not the exact one");
    assert.throws(() => run(true, 1.5), /secondOrderScale must be in \[0, 1\], got 1.5/);
  });
}

// ---- State, tape and the truncation cut. ----

const small: LstmShape = { inputs: 2, hidden: 3, layers: 2 };

test("getState/setState round trip, and a recorded step advances the state like an unrecorded one", () => {
  const n = 4;
  const ks = split(key(3), 3);
  const phi = uniform(ks[0]!, phiSize(small), -0.5, 0.5);
  const s0 = uniform(ks[1]!, n * stateSize(small), -1, 1);
  const x = uniform(ks[2]!, n * 2, -1, 1);
  const a = createReferenceEngine({ shape: small, n, capacity: 2 });
  const b = createReferenceEngine({ shape: small, n, capacity: 0 });
  a.setPhi(phi);
  b.setPhi(phi);
  a.setState(s0);
  assert.deepEqual(a.getState(), s0);
  const got = a.getState();
  got[0] = 99; // a copy
  assert.deepEqual(a.getState(), s0);
  b.setState(s0);
  const oa = new Float32Array(n);
  const ob = new Float32Array(n);
  a.forward(x, oa, true);
  b.forward(x, ob, false);
  assert.deepEqual(oa, ob);
  assert.deepEqual(a.getState(), b.getState());
  assert.equal(a.recorded, 1);
  a.setState(s0);
  assert.equal(a.recorded, 0, "setState clears the tape");
  assert.throws(() => a.backwardStep(new Float32Array(n)), /no recorded step/);
  a.resetState();
  assert.ok(a.getState().every((v) => v === 0));
  assert.throws(() => a.setState(new Float32Array(3)), /expected/);
  assert.throws(() => a.setPhi(new Float32Array(3)), /expected/);
  assert.throws(() => a.forward(new Float32Array(3), oa, false), /n \* inputs/);
  assert.throws(() => b.forward(x, ob, true), /tape is full/);
  a.dispose();
  assert.throws(() => a.getState(), /dispose/);
});

test("truncation cut: state carried, tape cleared, no gradient across the cut", () => {
  const n = 3;
  const ks = split(key(4), 5);
  const phi = uniform(ks[0]!, phiSize(small), -0.6, 0.6);
  const xs = uniform(ks[1]!, 5 * n * 2, -1, 1);
  const dOut = uniform(ks[2]!, 5 * n, -1, 1);
  const step = (t: number) => xs.subarray(t * n * 2, (t + 1) * n * 2);
  const out = new Float32Array(n);
  const a = createReferenceEngine({ shape: small, n, capacity: 3 });
  a.setPhi(phi);
  for (let t = 0; t < 3; t++) a.forward(step(t), out, true);
  assert.throws(() => a.setPhi(phi), /tape/);
  for (let t = 2; t >= 0; t--) a.backwardStep(dOut.subarray(t * n, (t + 1) * n));
  assert.throws(() => a.forward(step(0), out, true), /finishBackward/);
  a.finishBackward(new Float32Array(phiSize(small)));
  assert.equal(a.recorded, 0);
  const b = createReferenceEngine({ shape: small, n, capacity: 2 });
  b.setPhi(phi);
  for (let t = 0; t < 3; t++) b.forward(step(t), out, false);
  assert.deepEqual(a.getState(), b.getState(), "the state at the cut");
  // The second truncation's gradient is that of an engine started fresh at the cut's state.
  const c = createReferenceEngine({ shape: small, n, capacity: 2 });
  c.setPhi(phi);
  c.setState(b.getState());
  const grads = [a, c].map((e) => {
    for (let t = 3; t < 5; t++) e.forward(step(t), out, true);
    for (let t = 4; t >= 3; t--) e.backwardStep(dOut.subarray(t * n, (t + 1) * n));
    const g = new Float32Array(phiSize(small));
    e.finishBackward(g);
    return g;
  });
  assert.deepEqual(grads[0], grads[1]);
  assert.ok(grads[0]!.some((v) => v !== 0));
});

// ---- Preprocessing. ----

test("preprocessing: values, vector-Jacobian products and config parsing", () => {
  const g = f32([3, -0.5, 1e-6, -2e-5, 0]);
  const ls = preprocessor({ kind: "logSign", p: 10 });
  const x = new Float32Array(10);
  ls.apply(g, x);
  const want = [Math.log(3) / 10, 1, Math.log(0.5) / 10, -1, -1, 1e-6 * Math.exp(10), -1, -2e-5 * Math.exp(10), -1, 0];
  assert.ok(relErr(x, want) < 1e-7);
  const dx = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const v = ls.vjp(g, dx);
  const wantV = [1 / (10 * 3), 3 / (10 * -0.5), 6 * Math.exp(10), 8 * Math.exp(10), 10 * Math.exp(10)];
  assert.ok(relErr(v, wantV) < 1e-6);
  const sc = preprocessor({ kind: "scale", scale: 2 });
  assert.deepEqual(sc.vjp(g, f32([1, 1, 1, 1, 1])), f32([2, 2, 2, 2, 2]));
  assert.equal(preprocessor({ kind: "none" }).inputs, 1);
  assert.throws(() => ls.apply(g, new Float32Array(5)), /features/);
  assert.deepEqual(parsePreprocessConfig(JSON.parse('{"kind":"logSign","p":10}')), { kind: "logSign", p: 10 });
  assert.throws(() => parsePreprocessConfig({ kind: "logSign" }), /'p'/);
  // Config mistakes are ConfigErrors; a misspelt field is named with the fields the kind knows.
  const refused = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);
  assert.throws(() => parsePreprocessConfig({ kind: "scale", scale: 1, p: 2 }), refused(/^preprocess config 'scale': unknown field\(s\) p \(known: kind, scale\)$/));
  assert.throws(() => parsePreprocessConfig({ kind: "adam" }), refused(/unknown kind/));
  assert.throws(() => parsePreprocessConfig({ kind: "logSign" }), refused(/'p'/));
  assert.throws(() => resolveLstmOptimizerConfig({ hiden: 20 }), refused(/^lstm optimizer config: unknown field\(s\) hiden \(known: hidden, layers, preprocess, outputScale, groups\)$/));
  assert.throws(() => handFromConfig({ optimizer: "adam", lr: 0.1, lrr: 1 }), refused(/^hand-designed optimizer config: unknown field\(s\) lrr \(known: optimizer, lr, options\)$/));
});

test("logSignMomentum: LogAndSign of g and of each bias-corrected moving average; its vjp carries back through the state", () => {
  const pre = preprocessor({ kind: "logSignMomentum", p: 10, betas: [0.5, 0.9] });
  assert.equal(pre.inputs, 6);
  assert.equal(pre.stateSize, 4);
  const gs = [f32([3, -0.5, 1e-6]), f32([1, 0.25, -3e-6]), f32([-2, 0.5, 2e-6])];
  const state = new Float32Array(3 * 4);
  const xs = gs.map((g) => {
    const x = new Float32Array(3 * 6);
    pre.apply(g, x, state);
    return x;
  });
  const ls = (v: number) => (Math.abs(v) >= Math.exp(-10) ? [Math.log(Math.abs(v)) / 10, Math.sign(v)] : [-1, Math.exp(10) * v]);
  for (let i = 0; i < 3; i++) {
    const m = [0, 0];
    const b = [0, 0];
    gs.forEach((g, t) => {
      const want = [...ls(g[i]!)];
      [0.5, 0.9].forEach((beta, j) => {
        m[j] = beta * m[j]! + (1 - beta) * g[i]!;
        b[j] = beta * b[j]! + (1 - beta);
        want.push(...ls(m[j]! / b[j]!));
      });
      // The first step's averages are g itself (bias correction).
      if (t === 0) assert.deepEqual(want.slice(2, 4), want.slice(0, 2));
      assert.ok(relErr(xs[t]!.subarray(6 * i, 6 * i + 6), want) < 1e-6, `features of coordinate ${i}, step ${t}`);
    });
  }
  // vjp over the three steps against central differences of a float64 function of the gradients.
  const dxs = [0, 1, 2].map((t) => uniform(key(40 + t), 18, -1, 1));
  const L = (g: Float64Array[]): number => {
    const st = new Float64Array(12);
    let s = 0;
    g.forEach((gt, t) => {
      for (let i = 0; i < 3; i++) {
        const f = [...ls(gt[i]!)];
        [0.5, 0.9].forEach((beta, j) => {
          st[4 * i + 2 * j] = beta * st[4 * i + 2 * j]! + (1 - beta) * gt[i]!;
          st[4 * i + 2 * j + 1] = beta * st[4 * i + 2 * j + 1]! + (1 - beta);
          f.push(...ls(st[4 * i + 2 * j]! / st[4 * i + 2 * j + 1]!));
        });
        f.forEach((v, k) => (s += v * dxs[t]![6 * i + k]!));
      }
    });
    return s;
  };
  // States after each step, then the backward pass from the last step.
  const st = new Float32Array(12);
  const states = gs.map((g) => {
    pre.apply(g, new Float32Array(18), st);
    return st.slice();
  });
  const carry = new Float32Array(3 * 2);
  const vs = [2, 1, 0].map((t) => pre.vjp(gs[t]!, dxs[t]!, undefined, { state: states[t]!, carry })).reverse();
  const g64 = gs.map((g) => Float64Array.from(g));
  for (let t = 0; t < 3; t++) {
    for (let i = 0; i < 3; i++) {
      const h = 1e-4 * Math.abs(g64[t]![i]!);
      const up = g64.map((g) => g.slice());
      const dn = g64.map((g) => g.slice());
      up[t]![i]! += h;
      dn[t]![i]! -= h;
      const fd = (L(up) - L(dn)) / (2 * h);
      assert.ok(Math.abs(vs[t]![i]! - fd) <= 1e-4 * Math.abs(fd) + 1e-6, `dL/dg[${t}][${i}] = ${vs[t]![i]}, central difference ${fd}`);
    }
  }
  assert.throws(() => pre.apply(gs[0]!, new Float32Array(18)), /stateful and needs its state/);
  assert.throws(() => pre.vjp(gs[0]!, dxs[0]!), /needs the step's state and carry/);
  assert.throws(() => pre.apply(gs[0]!, new Float32Array(18), new Float32Array(4)), /state has 4 floats, expected 12/);
  assert.deepEqual(parsePreprocessConfig({ kind: "logSignMomentum", p: 10, betas: [0.9] }), { kind: "logSignMomentum", p: 10, betas: [0.9] });
  assert.throws(() => parsePreprocessConfig({ kind: "logSignMomentum", p: 10, betas: [] }), /'betas' must be a list of 1 to 4 numbers/);
  assert.throws(() => parsePreprocessConfig({ kind: "logSignMomentum", p: 10 }), /'betas'/);
});

test("an LSTM instance's state includes the preprocessing's: getState/setState replays the steps after it", () => {
  const d = 3;
  const B = 2;
  const ks = split(key(12), 4);
  const task = quadTask(d, B, normal(ks[0]!, B * d * d, 0.5), normal(ks[1]!, B * d));
  const opt = lstmOptimizer({ hidden: 4, layers: 2, preprocess: { kind: "logSignMomentum", p: 10, betas: [0.9] }, outputScale: 0.3 }, createReferenceEngine);
  const inst = opt.differentiable(uniform(ks[3]!, opt.phiSize, -0.5, 0.5), task.layout, 3);
  const n = B * d;
  const run = (theta: Float32Array) => advanceUnroll({ task, step: inst, theta, T: 3, keys: () => key(0) });
  const a = run(normal(ks[2]!, n));
  const saved = inst.getState();
  assert.equal(saved.length, n * (stateSize(opt.shape) + 2));
  assert.ok(saved.subarray(n * stateSize(opt.shape)).some((v) => v !== 0), "the averages are in the state");
  const b1 = run(a.theta);
  inst.setState(saved);
  const b2 = run(a.theta);
  assert.deepEqual(b2.losses, b1.losses);
  inst.resetState();
  assert.ok(inst.getState().every((v) => v === 0));
  const c = run(a.theta);
  assert.notDeepEqual(c.losses.slice(1), b1.losses.slice(1), "without the saved averages the steps differ");
  inst.dispose();
});

// ---- The optimizer transform and LSTM groups. ----

const mixed = new ParamLayout([
  { name: "a", shape: [3], group: "conv" },
  { name: "b", shape: [2], group: "fc" },
  { name: "c", shape: [2], group: "conv" },
]);

test("lstmGroupIndices splits coordinates by layout group", () => {
  assert.deepEqual(lstmGroupIndices(mixed), [Int32Array.from([0, 1, 2, 3, 4, 5, 6])]);
  assert.deepEqual(lstmGroupIndices(mixed, [["conv"], ["fc"]]), [Int32Array.from([0, 1, 2, 5, 6]), Int32Array.from([3, 4])]);
  assert.deepEqual(lstmGroupIndices(mixed, [["fc", "conv"], ["other"]]), [Int32Array.from([0, 1, 2, 3, 4, 5, 6]), new Int32Array(0)]);
  assert.throws(() => lstmGroupIndices(mixed, [["conv"]]), /'fc'/);
});

test("lstm transform: pure, update = outputScale * output, groups are independent LSTMs", () => {
  const opt = lstmOptimizer({ hidden: 4, groups: [["conv"], ["fc"]] }, createReferenceEngine);
  const shape = opt.shape;
  const P = phiSize(shape);
  assert.equal(opt.phiSize, 2 * P);
  assert.equal(opt.lstms, 2);
  const phi = opt.init(key(5)).flat;
  assert.deepEqual(phi, opt.init(key(5)).flat);
  assert.ok(phi.every((v) => Math.abs(v) < 0.1));
  const b0 = (shape.inputs + shape.hidden) * 4 * shape.hidden; // offset of layer 0's bias
  assert.ok(phi.subarray(b0, b0 + 4 * shape.hidden).every((v) => v === 0), "biases start at zero");
  const ks = split(key(6), 3);
  const params = normal(ks[0]!, 7);
  const grads = [normal(ks[1]!, 7), normal(ks[2]!, 7)];
  const tx = opt.optFn(phi, mixed);
  const s0 = tx.init(params);
  const copies = [params.slice(), grads[0]!.slice(), (s0.lstm as Float32Array).slice()];
  const [u1, s1] = tx.update(grads[0]!, s0, params);
  assert.deepEqual([params, grads[0], s0.lstm], copies, "update changes none of its arguments");
  const [u1b, s1b] = tx.update(grads[0]!, s0, params);
  assert.deepEqual([u1b, s1b], [u1, s1], "same inputs, same outputs");
  const [u2] = tx.update(grads[1]!, s1, params);
  // Each group by hand: an engine over its coordinates with its slice of phi.
  const pre = preprocessor(opt.config.preprocess);
  const idxs = lstmGroupIndices(mixed, opt.config.groups);
  idxs.forEach((idx, k) => {
    const e = createReferenceEngine({ shape, n: idx.length, capacity: 0 });
    e.setPhi(phi.subarray(k * P, (k + 1) * P));
    [u1, u2].forEach((u, t) => {
      const g = Float32Array.from(idx, (i) => grads[t]![i]!);
      const x = new Float32Array(idx.length * 2);
      pre.apply(g, x);
      const out = new Float32Array(idx.length);
      e.forward(x, out, false);
      idx.forEach((i, j) => assert.equal(u[i], Math.fround(0.1 * out[j]!)));
    });
  });
  // Changing the fc LSTM's weights leaves the conv coordinates' updates alone.
  const phi2 = phi.slice();
  for (let k = P; k < 2 * P; k++) phi2[k] = phi2[k]! + 0.05;
  const [v1] = opt.optFn(phi2, mixed).update(grads[0]!, s0, params);
  for (const i of idxs[0]!) assert.equal(v1[i], u1[i]);
  for (const i of idxs[1]!) assert.notEqual(v1[i], u1[i]);
  assert.throws(() => tx.update(grads[0]!, { step: new Float32Array(3) }, params), /state\.lstm/);
  tx.dispose();
});

test("unroll: groups with equal weights equal one LSTM; truncations continue the horizon; weights", () => {
  const d = 7;
  const ks = split(key(8), 4);
  const W = normal(ks[0]!, d * d, 0.4);
  const y = normal(ks[1]!, d);
  const theta0 = normal(ks[2]!, d);
  const task = quadTask(d, 1, W, y, mixed);
  const one = lstmOptimizer({ hidden: 4 }, createReferenceEngine);
  const two = lstmOptimizer({ hidden: 4, groups: [["conv"], ["fc"]] }, createReferenceEngine);
  const phi = uniform(ks[3]!, one.phiSize, -0.5, 0.5);
  const phi2 = new Float32Array(2 * phi.length);
  phi2.set(phi);
  phi2.set(phi, phi.length);
  const T = 4;
  const keys = () => key(0);
  const r1 = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: "after", keys });
  const r2 = unrollMetaGrad({ task, step: two.differentiable(phi2, mixed, T), theta: theta0, T, weights: "after", keys });
  assert.equal(r2.metaLoss, r1.metaLoss);
  assert.deepEqual(r2.theta, r1.theta);
  const P = phi.length;
  const sum = Float32Array.from(phi, (_, k) => r2.dphi[k]! + r2.dphi[P + k]!);
  assert.ok(relErr(sum, r1.dphi) < 1e-6, `${relErr(sum, r1.dphi)}`);
  // Explicit weights equal the named ones.
  const r3 = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: [0, 1, 1, 1, 1], keys });
  assert.equal(r3.metaLoss, r1.metaLoss);
  assert.deepEqual(r3.dphi, r1.dphi);
  assert.equal(r1.metaLoss, r1.losses.slice(1).reduce((a, b) => a + b, 0));
  // The log meta-loss: sum of log f_s, with the gradient of the weights 1 / f_s.
  const rl = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: "log", keys });
  const rw = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: [0, ...Array.from(r1.losses.slice(1), (f) => 1 / f)], keys });
  assert.ok(Math.abs(rl.metaLoss - r1.losses.slice(1).reduce((a, f) => a + Math.log(f), 0)) < 1e-12);
  assert.deepEqual(rl.dphi, rw.dphi);
  // `from` zeroes the weights of the points before it, for named and log weights alike.
  const rf = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: "after", keys, from: 3 });
  const re = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: [0, 0, 0, 1, 1], keys });
  assert.equal(rf.metaLoss, re.metaLoss);
  assert.equal(rf.metaLoss, r1.losses[3]! + r1.losses[4]!);
  assert.deepEqual(rf.dphi, re.dphi);
  assert.notDeepEqual(rf.dphi, r1.dphi);
  const rlf = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: "log", keys, from: 3 });
  const rwf = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: [0, 0, 0, 1 / r1.losses[3]!, 1 / r1.losses[4]!], keys });
  assert.ok(Math.abs(rlf.metaLoss - (Math.log(r1.losses[3]!) + Math.log(r1.losses[4]!))) < 1e-12);
  assert.deepEqual(rlf.dphi, rwf.dphi);
  assert.throws(() => unrollMetaGrad({ task, step: one.differentiable(phi, mixed, T), theta: theta0, T, weights: "after", keys, from: -1 }), /from must be an integer >= 0/);
  // advanceUnroll runs the same steps without recording: same theta, losses and last gradient,
  // and it leaves the engines in the same state.
  const ia = one.differentiable(phi, mixed, T);
  const ib = one.differentiable(phi, mixed, T);
  const adv = advanceUnroll({ task, step: ia, theta: theta0, T, keys });
  const ref = unrollMetaGrad({ task, step: ib, theta: theta0, T, weights: "after", keys });
  assert.deepEqual(adv.theta, ref.theta);
  assert.deepEqual(adv.losses, ref.losses);
  assert.deepEqual(adv.last.grad, ref.last.grad);
  assert.deepEqual(ia.getState(), ib.getState());
  assert.equal(ia.recorded, 0);
  // Two truncations of 2 steps follow the same trajectory as one of 4.
  const inst = one.differentiable(phi, mixed, 2);
  const h1 = unrollMetaGrad({ task, step: inst, theta: theta0, T: 2, weights: "before", keys });
  const h2 = unrollMetaGrad({ task, step: inst, theta: h1.theta, T: 2, weights: "before", keys, first: h1.last });
  const full = unrollMetaGrad({ task, step: one.differentiable(phi, mixed, 4), theta: theta0, T: 4, weights: "before", keys });
  assert.deepEqual(h2.theta, full.theta);
  assert.ok(Math.abs(h1.metaLoss + h2.metaLoss - full.metaLoss) < 1e-9 * Math.abs(full.metaLoss));
  assert.throws(() => unrollMetaGrad({ task, step: inst, theta: theta0, T: 3, weights: "before", keys }), /tape holds 2/);
  assert.throws(() => unrollMetaGrad({ task, step: inst, theta: theta0, T: 2, weights: [1, 1], keys }), /T \+ 1/);
  const { hvp: _unused, ...noHvp } = task;
  assert.throws(() => unrollMetaGrad({ task: noHvp, step: inst, theta: theta0, T: 2, weights: "after", keys, secondOrder: true }), /hvp/);
});

test("second order through the moving averages with two LSTM groups: two copies of one phi give the one-group meta-gradient, split", () => {
  const d = 7;
  const ks = split(key(13), 4);
  const task = quadTask(d, 1, normal(ks[0]!, d * d, 0.5), normal(ks[1]!, d), mixed);
  const cfg = { hidden: 4, layers: 2, preprocess: { kind: "logSignMomentum", p: 10, betas: [0.5, 0.9] }, outputScale: 0.3 } as const;
  const one = lstmOptimizer(cfg, createReferenceEngine);
  const two = lstmOptimizer({ ...cfg, groups: [["conv"], ["fc"]] }, createReferenceEngine);
  const phi = uniform(ks[3]!, one.phiSize, -0.5, 0.5);
  const phi2 = new Float32Array(2 * one.phiSize);
  phi2.set(phi);
  phi2.set(phi, one.phiSize);
  const theta = normal(ks[2]!, d);
  const run = (opt: typeof one, p: Float32Array) =>
    unrollMetaGrad({ task, step: opt.differentiable(p, mixed, 4), theta, T: 4, weights: "after", keys: () => key(0), secondOrder: true });
  const a = run(one, phi);
  const b = run(two, phi2);
  assert.ok(Math.abs(a.metaLoss - b.metaLoss) <= 1e-6 * Math.abs(a.metaLoss), `meta-loss ${a.metaLoss} vs ${b.metaLoss}`);
  const sum = b.dphi.subarray(0, one.phiSize).map((v, i) => v + b.dphi[one.phiSize + i]!);
  assert.ok(relErr(sum, a.dphi) < 1e-5, `summed group gradients vs one group: ${relErr(sum, a.dphi)}`);
  // Both groups get a share: the split is not all on one side.
  assert.ok(b.dphi.subarray(0, one.phiSize).some((v) => v !== 0) && b.dphi.subarray(one.phiSize).some((v) => v !== 0));
});

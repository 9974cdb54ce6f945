/**
 * The per-coordinate MLP optimizer (`mlp` kind; small_fc_lopt of Metz et al. 2022): its
 * meta-gradients against finite differences (first order with the optimizee's gradients
 * detached, as Andrychowicz et al. 2016 train; second order through the task's Hessian), the
 * backward's paths to theta (the parameter feature) and to the gradient (through the
 * momenta), the transform against the differentiable step, files, configs, and a short
 * meta-training run.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../src/core/errors.ts";
import { key, normal, uniform, type Key } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { quadraticFamily, type QuadraticTask } from "../src/tasks/quadratic.ts";
import { applyUpdates } from "../src/optimizers/transform.ts";
import { mlpOptimizer, type MlpOptimizer } from "../src/learned/mlp/optimizer.ts";
import { MLP_DEFAULTS, resolveMlpOptimizerConfig } from "../src/learned/mlp/config.ts";
import { MLP_KIND } from "../src/learned/mlp/kind.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "../src/learned/registry.ts";
import { loadLearnedOptimizer, saveLearnedOptimizer } from "../src/learned/file.ts";
import { advanceUnroll, unrollMetaGrad, type UnrollResult } from "../src/meta/unroll.ts";
import { metaTrain } from "../src/meta/train.ts";
import { resolveMetaTrainConfig } from "../src/meta/config.ts";
import { initMetaTrainState } from "../src/meta/state.ts";
import { validationInstances, validationScore } from "../src/meta/validation.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-mlp-optimizer-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A small optimizer with a large step (so phi's effect on theta stands far above float32 rounding). */
const smallOpt = (): MlpOptimizer => mlpOptimizer({ hidden: 8, hiddenLayers: 2, decays: [0.5, 0.9], stepMult: 0.1, expMult: 0.5 });

/** phi from init, with every bias made non-zero too, so that each tensor takes part. */
function somePhi(opt: MlpOptimizer, seed: number): Float32Array {
  const phi = opt.init(key(seed)).flat;
  const noise = uniform(key(seed + 1000), phi.length, -0.3, 0.3);
  for (let i = 0; i < phi.length; i++) if (phi[i] === 0) phi[i] = noise[i]!;
  return phi;
}

/** A small quadratic task (dim 4, 2 instances: 8 coordinates), its theta_0 and initial momenta. */
function setup(opt: MlpOptimizer, seed = 0): { task: QuadraticTask; theta0: Float32Array; m0: Float32Array; keys: Key[] } {
  const task = quadraticFamily({ dim: 4, instances: 2 }).sample(key(11 + seed)) as QuadraticTask;
  const theta0 = task.init(key(12 + seed));
  const m0 = normal(key(13 + seed), task.layout.size * opt.config.decays.length, 0.5);
  return { task, theta0, m0, keys: Array.from({ length: 8 }, () => key(0)) };
}

/** Steps of the float32 central differences: the first that agrees counts (see `fdAgrees`). */
const FD_STEPS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5];

/** Central difference of `f` at x along coordinate j, divided by the float32 step actually taken. */
function centralDiff(f: (x: Float32Array) => number, x: Float32Array, j: number, h: number): number {
  const plus = new Float32Array(x);
  const minus = new Float32Array(x);
  plus[j] = x[j]! + h;
  minus[j] = x[j]! - h;
  return (f(plus) - f(minus)) / (plus[j]! - minus[j]!);
}

/**
 * Asserts that a float32 central difference of `f` along coordinate j agrees with `an` within
 * rel (of the larger) + abs, for at least one step of FD_STEPS. One step size does not fit
 * all: a large one crosses a ReLU's kink, which lies within 1e-2 of some of the thousand
 * pre-activations of a truncation for a good share of random phi, and a small one drowns in
 * the float32 rounding of theta. A wrong derivative agrees at no step; the float64 check below
 * is the tight one.
 */
function assertFd(an: number, f: (x: Float32Array) => number, x: Float32Array, j: number, rel: number, abs: number, what: string): void {
  const fds: number[] = [];
  for (const h of FD_STEPS) {
    const fd = centralDiff(f, x, j, h);
    if (Math.abs(an - fd) <= rel * Math.max(Math.abs(an), Math.abs(fd)) + abs) return;
    fds.push(fd);
  }
  assert.fail(`${what}: analytic ${an}, central differences ${fds.join(", ")} at steps ${FD_STEPS.join(", ")}`);
}

/** For each phi tensor, the coordinate where |g| is largest (a well-conditioned finite-difference check). */
function largestPerTensor(opt: MlpOptimizer, g: Float32Array): number[] {
  const out: number[] = [];
  let o = 0;
  for (const e of opt.phiEntries) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    let best = o;
    for (let i = o; i < o + size; i++) if (Math.abs(g[i]!) > Math.abs(g[best]!)) best = i;
    out.push(best);
    o += size;
  }
  return out;
}

/** Checks dphi against float32 central differences of `loss` on the largest coordinate of each tensor. */
function checkAgainstFd(opt: MlpOptimizer, phi: Float32Array, dphi: Float32Array, loss: (p: Float32Array) => number): void {
  const scale = Math.max(...Array.from(dphi, Math.abs));
  assert.ok(scale > 1e-2, `the meta-gradient is too small to check (${scale})`);
  for (const j of largestPerTensor(opt, dphi)) assertFd(dphi[j]!, loss, phi, j, 1e-2, 1e-3 * scale, `dL/dphi[${j}]`);
}

// ---- A float64 transcription of small_fc_lopt's step (Metz et al. 2022), for tight checks ----

/** ||W theta - y||^2 summed over the instances, and its gradient, in float64. */
function quadratic64(task: QuadraticTask, th: Float64Array): { loss: number; grad: Float64Array } {
  const d = task.dim;
  let loss = 0;
  const grad = new Float64Array(th.length);
  for (let b = 0; b < task.instances; b++) {
    const r = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = -task.y[b * d + i]!;
      for (let j = 0; j < d; j++) s += task.W[b * d * d + i * d + j]! * th[b * d + j]!;
      r[i] = s;
      loss += s * s;
    }
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += task.W[b * d * d + i * d + j]! * r[i]!;
      grad[b * d + j] = 2 * s;
    }
  }
  return { loss, grad };
}

/** One step over a layout of one tensor, written out from the definition (m is updated in place). */
function step64(opt: MlpOptimizer, phi: Float64Array, th: Float64Array, g: Float64Array, m: Float64Array): Float64Array {
  const { decays, stepMult, expMult } = opt.config;
  const D = decays.length;
  const n = th.length;
  for (let i = 0; i < n; i++) for (let b = 0; b < D; b++) m[i * D + b] = decays[b]! * m[i * D + b]! + (1 - decays[b]!) * g[i]!;
  const raw = [Array.from(th), Array.from(g), ...decays.map((_, b) => Array.from({ length: n }, (_, i) => m[i * D + b]!))];
  const feats = raw.map((f) => {
    const meanSq = f.reduce((a, v) => a + v * v, 0) / n;
    return f.map((v) => v / Math.sqrt(meanSq + 1e-5));
  });
  const dims = opt.dims;
  const next = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = feats.map((f) => f[i]!);
    let o = 0;
    for (let l = 0; l + 1 < dims.length; l++) {
      const [din, dout] = [dims[l]!, dims[l + 1]!];
      const z = Array.from({ length: dout }, (_, k) => h.reduce((a, v, j) => a + v * phi[o + j * dout + k]!, phi[o + din * dout + k]!));
      h = l + 2 < dims.length ? z.map((v) => Math.max(0, v)) : z;
      o += din * dout + dout;
    }
    next[i] = th[i]! - h[0]! * Math.exp(h[1]! * expMult) * stepMult;
  }
  return next;
}

/**
 * sum_{t=1..T} f(theta_t) in float64 from theta_0 and momenta m0; the optimizer reads `fixed`
 * gradients when given (the first-order meta-loss), else the true ones. `seen` collects those.
 */
function metaLoss64(
  opt: MlpOptimizer, task: QuadraticTask, phi: Float64Array, theta0: Float32Array, m0: Float32Array, T: number,
  fixed: Float64Array[] | null, seen: Float64Array[] = [],
): number {
  let th: Float64Array = Float64Array.from(theta0);
  const m = Float64Array.from(m0);
  let L = 0;
  for (let t = 0; t < T; t++) {
    const g = fixed?.[t] ?? quadratic64(task, th).grad;
    seen.push(g);
    th = step64(opt, phi, th, g, m);
    L += quadratic64(task, th).loss;
  }
  return L;
}

/** Float64 central differences of `f` on every coordinate of phi (step 1e-6). */
function fd64(f: (p: Float64Array) => number, phi: Float32Array): Float64Array {
  const out = new Float64Array(phi.length);
  for (let j = 0; j < phi.length; j++) {
    const plus = Float64Array.from(phi);
    const minus = Float64Array.from(phi);
    plus[j] = plus[j]! + 1e-6;
    minus[j] = minus[j]! - 1e-6;
    out[j] = (f(plus) - f(minus)) / 2e-6;
  }
  return out;
}

/** The largest |a - b| / (|b| + 1e-3 max|b|). */
function relErr(a: ArrayLike<number>, b: Float64Array): number {
  const scale = Math.max(...Array.from(b, Math.abs));
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + 1e-3 * scale));
  return worst;
}

describe("mlp optimizer: meta-gradients against finite differences", () => {
  it("first order: unrollMetaGrad's dL/dphi is the derivative of the meta-loss with the optimizee's gradients held fixed", () => {
    const opt = smallOpt();
    const phi = somePhi(opt, 1);
    const { task, theta0, m0, keys } = setup(opt);
    const T = 3;
    const step = opt.differentiable(phi, task.layout, T);
    step.setState(m0);
    const r = unrollMetaGrad({ task, step, theta: theta0, T, weights: "after", keys });
    // The gradients the optimizer saw, g_0 .. g_{T-1} (the quadratic is deterministic).
    const gs: Float32Array[] = [];
    let th = theta0;
    const probe = opt.differentiable(phi, task.layout, T);
    probe.setState(m0);
    for (let t = 0; t < T; t++) {
      gs.push(task.lossAndGrad(th, keys[t]!).grad);
      th = probe.step(th, gs[t]!, {}, false);
    }
    assert.deepEqual(bits(th), bits(r.theta), "the forward of unrollMetaGrad and a plain rollout agree");
    assert.deepEqual(bits(step.getState()), bits(probe.getState()), "the step is left at the state after T steps");
    assert.equal(step.recorded, 0);
    // L(phi) = sum_{t=1..T} f(theta_t), theta_{t+1} = step_phi(theta_t, g_t) with g_t fixed:
    // theta_t still enters each step through the parameter feature, which this checks too.
    const detached = (p: Float32Array): number => {
      const s = opt.differentiable(p, task.layout, T);
      s.setState(m0);
      let x = theta0;
      let L = 0;
      for (let t = 0; t < T; t++) {
        x = s.step(x, gs[t]!, {}, false);
        L += task.lossAndGrad(x, keys[t + 1]!).loss;
      }
      return L;
    };
    assert.equal(detached(phi), r.metaLoss);
    checkAgainstFd(opt, phi, r.dphi, detached);
  });

  it("second order: unrollMetaGrad with secondOrder is the derivative of the true meta-loss (a forward-only rollout)", () => {
    const opt = smallOpt();
    const phi = somePhi(opt, 2);
    const { task, theta0, m0, keys } = setup(opt);
    const T = 3;
    const step = opt.differentiable(phi, task.layout, T);
    step.setState(m0);
    const r = unrollMetaGrad({ task, step, theta: theta0, T, weights: "after", keys, secondOrder: true });
    const trueLoss = (p: Float32Array): number => {
      const s = opt.differentiable(p, task.layout, T);
      s.setState(m0);
      const { losses } = advanceUnroll({ task, step: s, theta: theta0, T, keys });
      let L = 0;
      for (let t = 1; t <= T; t++) L += losses[t]!;
      return L;
    };
    assert.equal(trueLoss(phi), r.metaLoss);
    checkAgainstFd(opt, phi, r.dphi, trueLoss);
    // The next truncation on the same step starts clean (no adjoint carried across the cut):
    // the bits of a fresh step set to the same state.
    const state = step.getState();
    const again = unrollMetaGrad({ task, step, theta: r.theta, T, weights: "after", keys, first: r.last, secondOrder: true });
    const fresh = opt.differentiable(phi, task.layout, T);
    fresh.setState(state);
    const ref = unrollMetaGrad({ task, step: fresh, theta: r.theta, T, weights: "after", keys, secondOrder: true });
    assert.deepEqual(bits(again.dphi), bits(ref.dphi));
    assert.deepEqual(bits(again.theta), bits(ref.theta));
  });

  it("both orders match float64 central differences of a float64 transcription of the step, on every coordinate of phi", () => {
    const opt = smallOpt();
    const T = 3;
    for (const seed of [1, 2, 3]) {
      const phi = somePhi(opt, seed);
      const { task, theta0, m0, keys } = setup(opt, seed);
      const grads = (secondOrder: boolean): UnrollResult => {
        const step = opt.differentiable(phi, task.layout, T);
        step.setState(m0);
        return unrollMetaGrad({ task, step, theta: theta0, T, weights: "after", keys, secondOrder });
      };
      const first = grads(false);
      const second = grads(true);
      const seen: Float64Array[] = [];
      const L0 = metaLoss64(opt, task, Float64Array.from(phi), theta0, m0, T, null, seen);
      // The forward is the definition (up to float32 roundings of theta and the momenta).
      assert.ok(Math.abs(L0 - second.metaLoss) <= 1e-5 * L0, `meta-loss ${second.metaLoss} vs float64 ${L0}`);
      const fdFirst = fd64((p) => metaLoss64(opt, task, p, theta0, m0, T, seen), phi);
      const fdSecond = fd64((p) => metaLoss64(opt, task, p, theta0, m0, T, null), phi);
      assert.ok(relErr(first.dphi, fdFirst) < 1e-4, `first order (seed ${seed}): relative error ${relErr(first.dphi, fdFirst)}`);
      assert.ok(relErr(second.dphi, fdSecond) < 1e-4, `second order (seed ${seed}): relative error ${relErr(second.dphi, fdSecond)}`);
      // The check discriminates: the first-order gradient is not the second-order one.
      assert.ok(relErr(first.dphi, fdSecond) > 1e-2, `first order should differ from second (seed ${seed})`);
    }
  });

  it("each tensor of the layout is normalised on its own: a two-tensor layout steps and backpropagates as its tensors apart", () => {
    const opt = smallOpt();
    const phi = somePhi(opt, 9);
    const D = opt.config.decays.length;
    const both = new ParamLayout([{ name: "w", shape: [2, 3] }, { name: "b", shape: [4], group: "bias" }]);
    const parts = [new ParamLayout([{ name: "w", shape: [2, 3] }]), new ParamLayout([{ name: "b", shape: [4] }])];
    const cut = [0, 6, 10];
    const piece = (a: Float32Array, k: number, w = 1): Float32Array => a.slice(cut[k]! * w, cut[k + 1]! * w);
    const theta = normal(key(91), 10);
    const grad = normal(key(92), 10, 2);
    const m0 = normal(key(93), 10 * D);
    const c = Float64Array.from(normal(key(94), 10));
    const run = (layout: ParamLayout, th: Float32Array, g: Float32Array, m: Float32Array, adj: Float64Array) => {
      const s = opt.differentiable(phi, layout, 1);
      s.setState(m);
      const next = s.step(th, g, {}, "inputs");
      const dGrad = new Float32Array(th.length);
      const dphi = new Float32Array(opt.phiSize);
      s.backward(adj, dGrad);
      s.finishBackward(dphi);
      return { next, adj, dGrad, dphi, state: s.getState() };
    };
    const whole = run(both, theta, grad, m0, c.slice());
    const apart = [0, 1].map((k) => run(parts[k]!, piece(theta, k), piece(grad, k), piece(m0, k, D), c.slice(cut[k], cut[k + 1])));
    for (const k of [0, 1]) {
      assert.deepEqual(bits(piece(whole.next, k)), bits(apart[k]!.next));
      assert.deepEqual(bits(piece(whole.state, k, D)), bits(apart[k]!.state));
      assert.deepEqual(bits(piece(whole.dGrad, k)), bits(apart[k]!.dGrad));
      assert.deepEqual(Array.from(whole.adj.slice(cut[k], cut[k + 1])), Array.from(apart[k]!.adj));
    }
    whole.dphi.forEach((v, i) => assert.ok(Math.abs(v - apart[0]!.dphi[i]! - apart[1]!.dphi[i]!) <= 1e-5 * (Math.abs(v) + 1e-3), `dphi[${i}]`));
  });

  it("backward adds the parameter feature's path to the adjoint (the tensor's normalisation couples coordinates)", () => {
    const opt = smallOpt();
    const phi = somePhi(opt, 3);
    const { task, theta0, m0 } = setup(opt);
    const n = task.layout.size;
    const g = task.lossAndGrad(theta0, key(0)).grad;
    const c = normal(key(31), n);
    const L = (theta: Float32Array): number => {
      const s = opt.differentiable(phi, task.layout, 1);
      s.setState(m0);
      const next = s.step(theta, g, {}, false);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += c[i]! * next[i]!;
      return sum;
    };
    const s = opt.differentiable(phi, task.layout, 1);
    s.setState(m0);
    s.step(theta0, g, {}, "phi");
    const adj = Float64Array.from(c);
    s.backward(adj);
    s.finishBackward(new Float32Array(opt.phiSize));
    let path = 0;
    for (let j = 0; j < n; j++) {
      // The caller adds the identity path c_j; backward adds the rest.
      assertFd(adj[j]!, L, theta0, j, 1e-2, 1e-4, `dL/dtheta_0[${j}]`);
      path = Math.max(path, Math.abs(adj[j]! - c[j]!));
    }
    assert.ok(path > 1e-2, "the parameter path is not negligible here");
  });

  it("backward with dGrad gives dL/dgrad_t, through the momenta to later steps of the truncation", () => {
    const opt = smallOpt();
    const phi = somePhi(opt, 4);
    const { task, theta0, m0 } = setup(opt);
    const n = task.layout.size;
    const T = 3;
    const gs = [0, 1, 2].map((t) => normal(key(40 + t), n, 3));
    const cs = [0, 1, 2].map((t) => normal(key(50 + t), n));
    // L = sum_t c_t . theta_{t+1}, the gradients g_t free inputs.
    const L = (grads: Float32Array[]): number => {
      const s = opt.differentiable(phi, task.layout, T);
      s.setState(m0);
      let x = theta0;
      let sum = 0;
      for (let t = 0; t < T; t++) {
        x = s.step(x, grads[t]!, {}, false);
        for (let i = 0; i < n; i++) sum += cs[t]![i]! * x[i]!;
      }
      return sum;
    };
    const s = opt.differentiable(phi, task.layout, T);
    s.setState(m0);
    let x = theta0;
    for (let t = 0; t < T; t++) x = s.step(x, gs[t]!, {}, "inputs");
    const A = new Float64Array(n);
    const dG: Float32Array[] = [];
    for (let t = T - 1; t >= 0; t--) {
      for (let i = 0; i < n; i++) A[i] = A[i]! + cs[t]![i]!;
      const d = new Float32Array(n);
      s.backward(A, d);
      dG[t] = d;
    }
    s.finishBackward(new Float32Array(opt.phiSize));
    for (let t = 0; t < T; t++) {
      for (const j of [0, 3, 6]) {
        const f = (gj: Float32Array): number => L(gs.map((g, u) => (u === t ? gj : g)));
        assertFd(dG[t]![j]!, f, gs[t]!, j, 1e-2, 1e-4, `dL/dgrad_${t}[${j}]`);
      }
    }
    assert.throws(() => {
      const p = opt.differentiable(phi, task.layout, 1);
      p.step(theta0, gs[0]!, {}, "phi");
      p.backward(new Float64Array(n), new Float32Array(n));
    }, /recorded with "inputs"/);
  });
});

describe("mlp optimizer: the transform", () => {
  const run = (opt: MlpOptimizer, phi: Float32Array, steps: number): { exact: number; total: number } => {
    const task = quadraticFamily({ dim: 10, instances: 3 }).sample(key(61));
    const layout: ParamLayout = task.layout;
    const step = opt.differentiable(phi, layout, steps);
    const tx = opt.optFn(phi, layout);
    let theta = task.init(key(62));
    let state = tx.init(theta);
    step.resetState();
    let exact = 0;
    let total = 0;
    for (let t = 0; t < steps; t++) {
      const { grad, loss } = task.lossAndGrad(theta, key(0));
      const copies = [new Float32Array(grad), new Float32Array(state.m as Float32Array), new Float32Array(theta)];
      const viaStep = step.step(theta, grad, { loss, step: t }, t % 2 === 0 ? false : "phi");
      const [u, next] = tx.update(grad, state, theta, { loss, step: t });
      assert.deepEqual([bits(grad), bits(state.m as Float32Array), bits(theta)], copies.map(bits), "update modifies none of its arguments");
      const viaTx = applyUpdates(theta, u);
      for (let i = 0; i < viaTx.length; i++) {
        // Exact when theta_{t+1} is within a factor 2 of theta_t; else as close as a float32
        // update allows: half an ulp of |update| (<= |theta_t| + |theta_{t+1}|), then the sum's rounding.
        const tol = 2 ** -23 * (Math.abs(theta[i]!) + Math.abs(viaStep[i]!));
        assert.ok(Math.abs(viaTx[i]! - viaStep[i]!) <= tol, `step ${t}, coordinate ${i}: ${viaTx[i]} vs ${viaStep[i]} from ${theta[i]}`);
        const ratio = viaStep[i]! / theta[i]!;
        if (ratio >= 0.5 && ratio <= 2) assert.equal(viaTx[i], viaStep[i], `step ${t}, coordinate ${i}: exact within a factor 2`);
        if (viaTx[i] === viaStep[i]) exact++;
        total++;
      }
      assert.deepEqual(bits(next.m as Float32Array), bits(step.getState()), "the transform's state is the step's");
      state = next;
      theta = viaStep;
    }
    return { exact, total };
  };

  it("applyUpdates(theta, update) is the differentiable step's theta_{t+1} (default and large steps)", () => {
    const def = mlpOptimizer();
    const a = run(def, somePhi(def, 5), 8);
    const big = mlpOptimizer({ stepMult: 0.3, expMult: 0.2 });
    const b = run(big, somePhi(big, 6), 8);
    // Nearly every coordinate agrees exactly (the update is the difference of two floats).
    assert.ok(a.exact >= 0.95 * a.total, `${a.exact} of ${a.total} exact`);
    assert.ok(b.exact >= 0.9 * b.total, `${b.exact} of ${b.total} exact`);
  });

  it("init gives zero momenta; a wrong state is refused", () => {
    const opt = smallOpt();
    const task = quadraticFamily({ dim: 3 }).sample(key(1));
    const tx = opt.optFn(opt.init(key(2)).flat, task.layout);
    const st = tx.init(new Float32Array(3));
    assert.deepEqual(Array.from(st.m as Float32Array), new Array(6).fill(0));
    assert.throws(() => tx.update(new Float32Array(3), { m: new Float32Array(5) }, new Float32Array(3)), /state\.m/);
    tx.dispose();
  });
});

describe("mlp optimizer: phi, files and the registry", () => {
  it("phi is named layer{l}.weight [in, out] and layer{l}.bias [out]; weights scaled by fan-in, biases zero", () => {
    const opt = mlpOptimizer();
    assert.deepEqual(
      opt.phiEntries.map((e) => [e.name, [...e.shape]]),
      [
        ["layer0.weight", [5, 32]], ["layer0.bias", [32]],
        ["layer1.weight", [32, 32]], ["layer1.bias", [32]],
        ["layer2.weight", [32, 2]], ["layer2.bias", [2]],
      ],
    );
    const phi = opt.init(key(7));
    assert.equal(phi.flat.length, opt.phiSize);
    assert.ok(phi.tensor("layer1.bias").every((v) => v === 0));
    const w = phi.tensor("layer1.weight");
    const rms = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    assert.ok(Math.abs(rms - 1 / Math.sqrt(32)) < 0.03, `rms ${rms}`);
    assert.deepEqual(bits(opt.init(key(7)).flat), bits(phi.flat), "init is a function of the key");
  });

  it("saves and loads with the generic file functions: same kind, config and phi bits", () => {
    assert.ok(LEARNED_KIND_NAMES.includes("mlp"));
    assert.equal(learnedKind("mlp"), MLP_KIND);
    const opt = mlpOptimizer({ hidden: 6, hiddenLayers: 3, decays: [0.9], stepMult: 0.02 });
    const phi = somePhi(opt, 8);
    phi[1] = -0;
    const path = join(dir, "mlp.safetensors");
    saveLearnedOptimizer(path, opt, phi);
    const loaded = loadLearnedOptimizer(path);
    assert.equal(loaded.optimizer.kind, "mlp");
    assert.deepEqual(loaded.optimizer.config, opt.config);
    assert.deepEqual(bits(loaded.phi), bits(phi));
    assert.deepEqual(loaded.optimizer.phiEntries, opt.phiEntries);
  });
});

describe("resolveMlpOptimizerConfig", () => {
  it("fills in small_fc_lopt's defaults", () => {
    assert.deepEqual(resolveMlpOptimizerConfig({}), { ...MLP_DEFAULTS, decays: [...MLP_DEFAULTS.decays] });
    assert.deepEqual(resolveMlpOptimizerConfig({ hidden: 4, decays: [0, 0.999] }).decays, [0, 0.999]);
  });

  it("rejects bad configs with ConfigError", () => {
    const bad: unknown[] = [
      null, [], "mlp", 3,
      { hidden: 0 }, { hidden: 1025 }, { hidden: 2.5 }, { hidden: "32" },
      { hiddenLayers: 0 }, { hiddenLayers: 9 },
      { decays: [] }, { decays: [1] }, { decays: [-0.1] }, { decays: [NaN] }, { decays: 0.9 }, { decays: new Array(9).fill(0.5) }, { decays: ["0.9"] },
      { stepMult: 0 }, { stepMult: -1 }, { stepMult: Infinity }, { expMult: NaN }, { expMult: "1" },
      { hidden: 8, layers: 2 },
    ];
    for (const c of bad) {
      assert.throws(() => resolveMlpOptimizerConfig(c), ConfigError, JSON.stringify(c));
      assert.throws(() => MLP_KIND.build(c), ConfigError, JSON.stringify(c));
    }
  });
});

describe("mlp optimizer: meta-training", () => {
  const family = quadraticFamily({ dim: 10, instances: 8 });
  const cfg = resolveMetaTrainConfig({ unroll: 10, horizon: 20, epochs: 4, horizonsPerEpoch: 4, validationTasks: 3, metaLr: 0.01, seed: 5 });
  const opt = mlpOptimizer({ hidden: 16, stepMult: 0.02 });

  it("a short run lowers the validation score below the initial phi's, and the same seed gives the same phi bits", () => {
    const s0 = initMetaTrainState(opt, cfg);
    const valid = validationInstances(family, s0.validKey, cfg.validationTasks);
    const before = validationScore(opt, s0.phi, valid, cfg.horizon);
    const a = metaTrain(opt, family, cfg, s0);
    const after1 = validationScore(opt, a.state.phi, valid, cfg.horizon);
    assert.ok(after1 < 0.5 * before, `validation score ${before} -> ${after1}`);
    assert.ok(a.state.bestScore <= after1);
    const b = metaTrain(opt, family, cfg, initMetaTrainState(opt, cfg));
    assert.deepEqual(bits(b.state.phi), bits(a.state.phi));
  });
});

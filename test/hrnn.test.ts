/**
 * The hierarchical RNN optimizer (`hrnn` kind; Wichrowska et al. 2017): the learned-optimizer
 * contract (registry, configs, phi, files, the transform against the differentiable step), its
 * backward against finite differences (dL/dphi, dL/dgrad, dL/dtheta; with and without the
 * look-ahead point; second order through the task), the WebAssembly per-parameter GRU against
 * the TypeScript reference (forward and backward), the look-ahead point honoured by evaluation (`paramsAt`), and the
 * state carried across truncations giving the bits of an uncut run.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../src/core/errors.ts";
import { foldIn, key, normal, uniform } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { quadraticFamily, type QuadraticTask } from "../src/tasks/quadratic.ts";
import { applyUpdates, type GradientTransformation, type OptState } from "../src/optimizers/transform.ts";
import { drawInstances, runCandidate, runOptimizer } from "../src/eval/evaluate.ts";
import { candidateFor } from "../src/eval/candidates.ts";
import { hrnnOptimizer, type HrnnOptimizer } from "../src/learned/hrnn/optimizer.ts";
import { gruBackward, gruForward, gruTape } from "../src/learned/hrnn/gru.ts";
import { hrnnPhiLayout } from "../src/learned/hrnn/weights.ts";
import { resolveHrnnOptimizerConfig } from "../src/learned/hrnn/config.ts";
import { hrnnKernelAvailable, hrnnParamGruBackwardKernel, hrnnParamGruKernel } from "../src/kernels/hrnn.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "../src/learned/registry.ts";
import { loadLearnedOptimizer, saveLearnedOptimizer } from "../src/learned/file.ts";
import { advanceUnroll, unrollMetaGrad } from "../src/meta/unroll.ts";
import { runL2o } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-hrnn-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Small widths, a large initial rate (so phi's effect on theta stands far above float32 rounding). */
const SMALL = { paramHidden: 4, tensorHidden: 3, globalHidden: 2, decays: [0.5, 0.9], initLr: 0.3 };
const small = (lookAhead = false, engine: "ref" | "wasm" = "ref"): HrnnOptimizer => hrnnOptimizer({ ...SMALL, lookAhead }, engine);

/** phi from init with every zero made small noise, so that each tensor takes part. */
function somePhi(opt: HrnnOptimizer, seed: number): Float32Array {
  const phi = opt.init(key(seed)).flat;
  const noise = uniform(key(seed + 1000), phi.length, -0.3, 0.3);
  for (let i = 0; i < phi.length; i++) if (phi[i] === 0) phi[i] = noise[i]!;
  // The log learning rate's momentum at 0.5 rather than 0.96, so its path through the steps weighs.
  phi[opt.phiEntries.slice(0, opt.phiEntries.findIndex((e) => e.name === "out.lrMomentum")).reduce((a, e) => a + e.shape.reduce((p, q) => p * q, 1), 0)] = 0;
  return phi;
}

/** Two tensors in two groups: 6 + 4 coordinates. */
const twoTensors = new ParamLayout([{ name: "w", shape: [2, 3] }, { name: "b", shape: [4], group: "bias" }]);

const FD_STEPS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4];

/** A float32 central difference of f along j agrees with `an` (rel + abs) at one of FD_STEPS; a wrong derivative agrees at none. */
function assertFd(an: number, f: (x: Float32Array) => number, x: Float32Array, j: number, rel: number, abs: number, what: string): void {
  const fds: number[] = [];
  for (const h of FD_STEPS) {
    const plus = new Float32Array(x);
    const minus = new Float32Array(x);
    plus[j] = x[j]! + h;
    minus[j] = x[j]! - h;
    const fd = (f(plus) - f(minus)) / (plus[j]! - minus[j]!);
    if (Math.abs(an - fd) <= rel * Math.max(Math.abs(an), Math.abs(fd)) + abs) return;
    fds.push(fd);
  }
  assert.fail(`${what}: analytic ${an}, central differences ${fds.join(", ")}`);
}

/** For each phi tensor, the coordinate where |g| is largest. */
function largestPerTensor(opt: HrnnOptimizer, g: Float32Array): [string, number][] {
  const out: [string, number][] = [];
  let o = 0;
  for (const e of opt.phiEntries) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    let best = o;
    for (let i = o; i < o + size; i++) if (Math.abs(g[i]!) > Math.abs(g[best]!)) best = i;
    out.push([e.name, best]);
    o += size;
  }
  return out;
}

describe("hrnn: the learned-optimizer contract", () => {
  it("is registered; builds from a config, fills in the paper's widths, and refuses a bad config with ConfigError", () => {
    assert.ok(LEARNED_KIND_NAMES.includes("hrnn"));
    const k = learnedKind("hrnn");
    const opt = k.build({}, { engine: "ref" });
    assert.equal(opt.kind, "hrnn");
    const c = opt.config as { paramHidden: number; tensorHidden: number; globalHidden: number };
    assert.deepEqual([c.paramHidden, c.tensorHidden, c.globalHidden], [10, 30, 20]);
    assert.match(k.describe({}).architecture, /10 units per parameter, 30 per tensor, 20 global/);
    for (const bad of [{ paramHidden: 0 }, { tensorHidden: 1e6 }, { decays: [] }, { decays: [1] }, { rmsDecay: NaN }, { initLr: 0 }, { lookAhead: "yes" }, { colour: "red" }, [], null]) {
      assert.throws(() => k.build(bad), (e: unknown) => e instanceof ConfigError && !e.message.includes("\n"), JSON.stringify(bad));
    }
  });

  it("phi: named tensors that add up to phiSize, deterministic per key, different across keys", () => {
    const opt = small(true);
    const total = opt.phiEntries.reduce((a, e) => a + e.shape.reduce((p, q) => p * q, 1), 0);
    assert.equal(total, opt.phiSize);
    assert.deepEqual(bits(opt.init(key(1)).flat), bits(opt.init(key(1)).flat));
    assert.notDeepEqual(bits(opt.init(key(1)).flat), bits(opt.init(key(2)).flat));
    assert.equal(opt.init(key(1)).tensor("out.attention").length, SMALL.paramHidden);
    assert.equal(small(false).phiSize, opt.phiSize - SMALL.paramHidden, "look-ahead adds its readout alone");
  });

  it("saved and loaded: the same config, phi bit for bit, the same updates", () => {
    const opt = small(true);
    const phi = somePhi(opt, 3);
    const path = join(dir, "h.safetensors");
    saveLearnedOptimizer(path, opt, phi);
    const loaded = loadLearnedOptimizer(path, { engine: "ref" });
    assert.equal(loaded.optimizer.kind, "hrnn");
    assert.deepEqual(loaded.optimizer.config, opt.config);
    assert.deepEqual(bits(loaded.phi), bits(phi));
    const theta = normal(key(4), twoTensors.size);
    const g = normal(key(5), twoTensors.size);
    const a = opt.optFn(phi, twoTensors);
    const b = loaded.optimizer.optFn(loaded.phi, twoTensors);
    assert.deepEqual(bits(a.update(g, a.init(theta), theta)[0]), bits(b.update(g, b.init(theta), theta)[0]));
  });

  for (const lookAhead of [false, true]) {
    it(`the transform takes the differentiable step's path bit for bit and leaves its inputs alone (look-ahead ${lookAhead})`, () => {
      const opt = small(lookAhead);
      const phi = somePhi(opt, 6);
      const tx = opt.optFn(phi, twoTensors);
      const step = opt.differentiable(phi, twoTensors, 1);
      // Values near 1 and steps well below it: x + fl32(x' - x) is x' exactly.
      let theta = uniform(key(7), twoTensors.size, 1, 2);
      let x = theta;
      let state = tx.init(theta);
      for (let t = 0; t < 6; t++) {
        const g = normal(key(10 + t), twoTensors.size, 0.1);
        const [gc, tc, sc] = [g.slice(), theta.slice(), Object.fromEntries(Object.entries(state).map(([k, v]) => [k, (v as Float32Array).slice()]))];
        const [u, next] = tx.update(g, state, theta);
        assert.deepEqual(bits(g), bits(gc));
        assert.deepEqual(bits(theta), bits(tc));
        for (const k of Object.keys(sc)) assert.deepEqual(bits(state[k] as Float32Array), bits(sc[k]!), `state.${k} untouched`);
        theta = applyUpdates(theta, u);
        state = next;
        x = step.step(x, g, {}, false);
        assert.deepEqual(bits(theta), bits(x), `step ${t}`);
      }
      const flat = step.getState();
      let o = 0;
      for (const k of ["h", "tensor", "global", "eta", "m", "v", ...(lookAhead ? ["o"] : [])]) {
        const part = state[k] as Float32Array;
        assert.deepEqual(bits(part), bits(flat.subarray(o, o + part.length)), `state.${k} is its slice of getState`);
        o += part.length;
      }
      assert.equal(o, flat.length);
      assert.equal(tx.paramsAt !== undefined, lookAhead);
      tx.dispose();
    });
  }
});

/**
 * L = sum_t c_t . x_{t+1} over T steps from x_0 with free gradients g_t, from a state s0 of
 * the step; x_0 = 0 so that float32 holds x_t to the precision of the steps themselves.
 */
function freeRun(opt: HrnnOptimizer, phi: Float32Array, s0: Float32Array, x0: Float32Array, gs: Float32Array[], cs: Float64Array[]): number {
  const s = opt.differentiable(phi, twoTensors, gs.length);
  s.setState(s0);
  let x = x0;
  let sum = 0;
  for (let t = 0; t < gs.length; t++) {
    x = s.step(x, gs[t]!, {}, false);
    for (let i = 0; i < x.length; i++) sum += cs[t]![i]! * x[i]!;
  }
  return sum;
}

describe("hrnn: the backward against finite differences", () => {
  for (const lookAhead of [false, true]) {
    it(`dL/dphi, dL/dgrad_t and dL/dtheta_0 over a truncation of 3 steps on two tensors (look-ahead ${lookAhead})`, () => {
      const opt = small(lookAhead);
      const phi = somePhi(opt, 20);
      const n = twoTensors.size;
      const T = 3;
      // A state some steps in (momenta, RNN states, rates and offset not at their start).
      const warm = opt.differentiable(phi, twoTensors, 1);
      let w: Float32Array = new Float32Array(n);
      for (let t = 0; t < 4; t++) w = warm.step(w, normal(key(30 + t), n), {}, false);
      const s0 = warm.getState();
      const x0 = new Float32Array(n);
      const gs = [0, 1, 2].map((t) => normal(key(40 + t), n));
      const cs = [0, 1, 2].map((t) => Float64Array.from(normal(key(50 + t), n)));
      const s = opt.differentiable(phi, twoTensors, T);
      s.setState(s0);
      let x: Float32Array = x0;
      for (let t = 0; t < T; t++) x = s.step(x, gs[t]!, {}, "inputs");
      const A = new Float64Array(n);
      const dG: Float32Array[] = [];
      for (let t = T - 1; t >= 0; t--) {
        for (let i = 0; i < n; i++) A[i] = A[i]! + cs[t]![i]!;
        dG[t] = new Float32Array(n);
        s.backward(A, dG[t]);
      }
      const dphi = new Float32Array(opt.phiSize);
      s.finishBackward(dphi);
      assert.equal(s.recorded, 0);
      const scale = Math.max(...Array.from(dphi, Math.abs));
      assert.ok(scale > 1e-2, `dphi too small to check (${scale})`);
      for (const [name, j] of largestPerTensor(opt, dphi)) {
        assertFd(dphi[j]!, (p) => freeRun(opt, p, s0, x0, gs, cs), phi, j, 1e-3, 1e-5 * scale, `dL/d${name}[${j}]`);
      }
      for (let t = 0; t < T; t++) {
        for (const j of [0, 4, 7]) {
          assertFd(dG[t]![j]!, (g) => freeRun(opt, phi, s0, x0, gs.map((h, u) => (u === t ? g : h)), cs), gs[t]!, j, 1e-3, 1e-5, `dL/dgrad_${t}[${j}]`);
        }
      }
      for (const j of [0, 5, 9]) assertFd(A[j]!, (th) => freeRun(opt, phi, s0, th, gs, cs), x0, j, 1e-3, 1e-5, `dL/dtheta_0[${j}]`);
    });
  }

  it("second order: unrollMetaGrad's dL/dphi is the derivative of the true meta-loss on a quadratic", () => {
    const opt = small(false);
    const phi = somePhi(opt, 60);
    const task = quadraticFamily({ dim: 4, instances: 2 }).sample(key(61)) as QuadraticTask;
    const theta0 = new Float32Array(task.layout.size);
    const T = 3;
    const keys = Array.from({ length: T + 1 }, () => key(0));
    const step = opt.differentiable(phi, task.layout, T);
    const r = unrollMetaGrad({ task, step, theta: theta0, T, weights: "after", keys, secondOrder: true });
    const trueLoss = (p: Float32Array): number => {
      const s = opt.differentiable(p, task.layout, T);
      const { losses } = advanceUnroll({ task, step: s, theta: theta0, T, keys });
      return losses[1]! + losses[2]! + losses[3]!;
    };
    assert.equal(trueLoss(phi), r.metaLoss);
    const scale = Math.max(...Array.from(r.dphi, Math.abs));
    for (const [name, j] of largestPerTensor(opt, r.dphi)) assertFd(r.dphi[j]!, trueLoss, phi, j, 1e-3, 1e-5 * scale, `dL/d${name}[${j}]`);
    // The first-order gradient differs here: the check tells them apart.
    const first = unrollMetaGrad({ task, step: opt.differentiable(phi, task.layout, T), theta: theta0, T, weights: "after", keys });
    const diff = Math.max(...Array.from(first.dphi, (v, i) => Math.abs(v - r.dphi[i]!)));
    assert.ok(diff > 1e-2 * scale, `first and second order agree (${diff})`);
  });

  it("backward refuses dL/dgrad for steps recorded for phi alone", () => {
    const opt = small();
    const s = opt.differentiable(opt.init(key(1)).flat, twoTensors, 1);
    s.step(new Float32Array(10), normal(key(2), 10), {}, "phi");
    assert.throws(() => s.backward(new Float64Array(10), new Float32Array(10)), /recorded with "inputs"/);
  });
});

describe("hrnn: the WebAssembly per-parameter GRU", { skip: hrnnKernelAvailable() ? false : "build/hrnn.wasm missing (npm run build:wasm)" }, () => {
  it("agrees with the float64 reference to float32 precision (37 rows, 10 units padded to 12, 3 groups)", () => {
    const cfg = resolveHrnnOptimizerConfig({ paramHidden: 10, decays: [0.5, 0.9, 0.99] });
    const lay = hrnnPhiLayout(cfg);
    const phi = normal(key(70), lay.size, 0.5);
    const rows = 37;
    const I = lay.param.inputs;
    const H = lay.param.units;
    const x = Float64Array.from(normal(key(71), rows * I, 2));
    const h = Float64Array.from(uniform(key(72), rows * H, -1, 1));
    const bias = Float64Array.from(normal(key(73), 3 * 3 * H));
    const groupOf = (i: number): number => i % 3;
    const ref = gruTape(rows, H);
    gruForward(Float64Array.from(phi), lay.param, rows, x, h, bias, groupOf, ref, new Float64Array(3 * H));
    const kern = hrnnParamGruKernel(phi, lay.param, true)!;
    const got = gruTape(rows, H);
    kern(rows, x, h, bias, groupOf, got, new Float64Array(3 * H));
    for (const k of ["z", "r", "c", "h"] as const) {
      let worst = 0;
      for (let i = 0; i < rows * H; i++) worst = Math.max(worst, Math.abs(got[k][i]! - ref[k][i]!));
      assert.ok(worst < 2e-5, `${k}: largest difference ${worst}`);
    }
    // A wrong weight shows: the check is not blind.
    const off = Float32Array.from(phi);
    off[lay.param.u + 1] = off[lay.param.u + 1]! + 0.5;
    hrnnParamGruKernel(off, lay.param, true)!(rows, x, h, bias, groupOf, got, new Float64Array(3 * H));
    assert.ok(Math.max(...Array.from(got.h, (v, i) => Math.abs(v - ref.h[i]!))) > 1e-3);
  });

  it("its backward agrees with the float64 reference: dL/dW, dL/dU, dL/db, dL/dbias per group, dL/dx, dL/dhPrev", () => {
    const cfg = resolveHrnnOptimizerConfig({ paramHidden: 6, decays: [0.5, 0.9, 0.99] });
    const lay = hrnnPhiLayout(cfg);
    const phi = normal(key(74), lay.size, 0.5);
    const phi64 = Float64Array.from(phi);
    const [rows, I, H] = [29, lay.param.inputs, lay.param.units];
    const x = Float64Array.from(normal(key(75), rows * I, 2));
    const h = Float64Array.from(uniform(key(76), rows * H, -1, 1));
    const bias = Float64Array.from(normal(key(77), 2 * 3 * H));
    const groupOf = (i: number): number => (i < 11 ? 0 : 1);
    const tape = gruTape(rows, H);
    gruForward(phi64, lay.param, rows, x, h, bias, groupOf, tape, new Float64Array(3 * H));
    const dh = Float64Array.from(normal(key(78), rows * H));
    const out = () => ({ acc: new Float64Array(lay.size), dBias: new Float64Array(2 * 3 * H), dx: new Float64Array(rows * I), dhPrev: new Float64Array(rows * H) });
    const ref = out();
    gruBackward(phi64, lay.param, rows, x, h, tape, dh.slice(), ref.acc, ref.dBias, groupOf, ref.dx, ref.dhPrev, new Float64Array(3 * H));
    const got = out();
    got.acc.fill(0.5);
    hrnnParamGruBackwardKernel(phi, lay.param, true)!(rows, x, h, tape, dh.slice(), got.acc, got.dBias, groupOf, got.dx, got.dhPrev);
    for (let i = 0; i < lay.size; i++) got.acc[i] = got.acc[i]! - 0.5;
    for (const k of ["acc", "dBias", "dx", "dhPrev"] as const) {
      const scale = Math.max(...Array.from(ref[k], Math.abs));
      assert.ok(scale > 0.1, `${k} is not trivial`);
      let worst = 0;
      for (let i = 0; i < ref[k].length; i++) worst = Math.max(worst, Math.abs(got[k][i]! - ref[k][i]!));
      assert.ok(worst < 1e-5 * scale, `${k}: largest difference ${worst} (scale ${scale})`);
    }
  });

  it("the differentiable step on the kernel gives the reference's meta-gradient to float32 precision", () => {
    const opt = (engine: "ref" | "wasm") => hrnnOptimizer({ ...SMALL, lookAhead: true }, engine);
    const phi = somePhi(opt("ref"), 79);
    const task = quadraticFamily({ dim: 4, instances: 3 }).sample(key(84)) as QuadraticTask;
    const grads = (engine: "ref" | "wasm") => {
      const o = opt(engine);
      const step = o.differentiable(phi, task.layout, 4);
      return unrollMetaGrad({ task, step, theta: task.init(key(85)), T: 4, weights: "after", keys: (t) => foldIn(key(86), t), secondOrder: true });
    };
    const [a, b] = [grads("wasm"), grads("ref")];
    const scale = Math.max(...Array.from(b.dphi, Math.abs));
    const worst = Math.max(...Array.from(a.dphi, (v, i) => Math.abs(v - b.dphi[i]!)));
    assert.ok(worst < 1e-3 * scale, `largest difference ${worst} (scale ${scale})`);
    assert.ok(Math.abs(a.metaLoss - b.metaLoss) < 1e-5 * b.metaLoss);
  });

  it("the optimizer on the kernel follows the reference over 30 steps of a quadratic", () => {
    const cfg = { decays: [0.5, 0.9, 0.99] };
    const [a, b] = [hrnnOptimizer(cfg, "wasm"), hrnnOptimizer(cfg, "ref")];
    const phi = somePhi(a, 80);
    const task = quadraticFamily({ dim: 10, instances: 2 }).sample(key(81));
    const theta0 = task.init(key(82));
    const ra = runOptimizer(task, a.optFn(phi, task.layout), theta0, 30, key(83));
    const rb = runOptimizer(task, b.optFn(phi, task.layout), theta0, 30, key(83));
    for (let t = 0; t <= 30; t++) assert.ok(Math.abs(ra.losses[t]! - rb.losses[t]!) <= 1e-4 * rb.losses[t]!, `step ${t}: ${ra.losses[t]} vs ${rb.losses[t]}`);
  });
});

describe("hrnn: the look-ahead point in evaluation", () => {
  it("runOptimizer reports the loss at paramsAt and ends there: a transform that stands still while probing away", () => {
    const task = quadraticFamily({ dim: 3 }).sample(key(90));
    const theta0 = task.init(key(91));
    // Gradients are asked for ever further out (params + k), the parameters stay at theta0.
    const probe: GradientTransformation = {
      init: () => ({ k: new Float32Array([0]) }),
      update: (_g, s) => [new Float32Array(3).fill(1), { k: new Float32Array([(s.k as Float32Array)[0]! + 1]) }],
      paramsAt: (p, s) => p.map((v) => v - (s.k as Float32Array)[0]!),
    };
    const r = runOptimizer(task, probe, theta0, 4, key(92));
    const l0 = task.lossAndGrad(theta0, foldIn(key(92), 0)).loss / task.instances;
    for (let t = 0; t <= 4; t++) assert.ok(Math.abs(r.losses[t]! - l0) <= 1e-6 * l0, `step ${t}: ${r.losses[t]} vs ${l0}`);
    const { paramsAt: _p, ...plain } = probe;
    const moved = runOptimizer(task, plain, theta0, 4, key(92));
    assert.notEqual(moved.losses[4], r.losses[4], "without paramsAt the loss is the probe's");
  });

  it("with look-ahead, the losses runOptimizer reports are those at theta = x + o, not at the gradient's point x", () => {
    const opt = small(true);
    const phi = somePhi(opt, 93);
    const task = quadraticFamily({ dim: 4, instances: 2 }).sample(key(94));
    const theta0 = task.init(key(95));
    const bk = key(96);
    const r = runOptimizer(task, opt.optFn(phi, task.layout), theta0, 5, bk);
    const tx = opt.optFn(phi, task.layout);
    let x = theta0;
    let state: OptState = tx.init(x);
    let apart = 0;
    for (let t = 0; t <= 5; t++) {
      const theta = t === 0 ? x : tx.paramsAt!(x, state);
      const at = task.lossAndGrad(theta, foldIn(bk, t)).loss / task.instances;
      assert.equal(r.losses[t], at, `step ${t}`);
      apart = Math.max(apart, Math.abs(task.lossAndGrad(x, foldIn(bk, t)).loss / task.instances - at));
      const [u, next] = tx.update(task.lossAndGrad(x, foldIn(bk, t)).grad, state, x);
      x = applyUpdates(x, u);
      state = next;
    }
    assert.ok(apart > 0, "the look-ahead point differs from the parameters");
  });

  it("evaluating a look-ahead file by name (candidateFor, as l2o eval does) reports those same losses", () => {
    const opt = small(true);
    const phi = somePhi(opt, 93);
    const path = join(dir, "look-ahead.safetensors");
    saveLearnedOptimizer(path, opt, phi);
    const inst = drawInstances(quadraticFamily({ dim: 4, instances: 2 }), key(97), 1)[0]!;
    const direct = runOptimizer(inst.task, opt.optFn(phi, inst.task.layout), inst.theta0, 5, inst.batchKey);
    const cand = candidateFor(path, { engine: "ref" });
    try {
      assert.deepEqual(runCandidate(cand, undefined, inst, 5).losses, direct.losses);
    } finally {
      cand.close?.();
    }
  });
});

describe("hrnn: state across truncations", () => {
  for (const lookAhead of [false, true]) {
    it(`getState/setState between truncations gives the bits of an uncut run, and the next truncation's meta-gradient starts clean (look-ahead ${lookAhead})`, () => {
      const opt = small(lookAhead);
      const phi = somePhi(opt, 100);
      const task = quadraticFamily({ dim: 4, instances: 2 }).sample(key(101)) as QuadraticTask;
      const theta0 = task.init(key(102));
      const keys = (t: number) => foldIn(key(103), t);
      const T = 4;
      const whole = opt.differentiable(phi, task.layout, 2 * T);
      const uncut = advanceUnroll({ task, step: whole, theta: theta0, T: 2 * T, keys });
      const a = opt.differentiable(phi, task.layout, T);
      const r1 = unrollMetaGrad({ task, step: a, theta: theta0, T, weights: "after", keys });
      const b = opt.differentiable(phi, task.layout, T);
      b.setState(a.getState());
      const later = (t: number) => keys(T + t);
      const r2 = unrollMetaGrad({ task, step: b, theta: r1.theta, T, weights: "after", keys: later, first: r1.last });
      assert.deepEqual(bits(r2.theta), bits(uncut.theta));
      assert.deepEqual(bits(b.getState()), bits(whole.getState()));
      // The same truncation on the step that ran the first one (no adjoint carried across the cut).
      const again = unrollMetaGrad({ task, step: a, theta: r1.theta, T, weights: "after", keys: later, first: r1.last });
      assert.deepEqual(bits(again.dphi), bits(r2.dphi));
    });
  }
});

describe("hrnn: the command line", () => {
  it("l2o train --optimizer hrnn with the paper's recipe saves a file that l2o info describes and l2o eval runs beside a tuned baseline", async () => {
    const out = join(dir, "cli.safetensors");
    const train = await runL2o(["train", "--task", "quadratic", "--task-config", '{"instances":2,"dim":3}', "--optimizer", "hrnn",
      "--optimizer-config", '{"paramHidden":3,"tensorHidden":4,"globalHidden":2}', "--epochs", "1", "--horizons-per-epoch", "2",
      "--horizon", "8", "--unroll", "4", "--validation-tasks", "1", "--meta-loss", "logRatio", "--horizon-sampling", "logUniform", "--quiet", "--out", out]);
    assert.equal(train.code, 0, train.stderr);
    const info = await runL2o(["info", out]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /kind\s+hrnn: hierarchical RNN/);
    assert.match(info.stdout, /GRUs of 3 units per parameter, 4 per tensor, 2 global/);
    assert.match(info.stdout, /meta-loss logRatio/);
    assert.match(info.stdout, /horizons logUniform/);
    const ev = await runL2o(["eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--optimizers", `${out},adam`, "--steps", "5", "--instances", "2", "--tune-instances", "1", "--quiet"]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /cli\.safetensors\s+-\s+[\d.]+/);
    assert.match(ev.stdout, /vs adam: lower on \d\/2/);
  });
});

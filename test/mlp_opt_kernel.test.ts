/**
 * The per-coordinate MLP optimizer's WebAssembly kernel (assembly/mlp_opt.ts, the `wasm`
 * engine of src/learned/mlp/engine_wasm.ts) against its plain-TypeScript reference (the `ref`
 * engine, float64): the forward's bits against a float32 transcription in the kernel's order,
 * forward and backward (dL/dphi, dL/dx) against the float64 reference within float32
 * rounding, the backward against central differences of the kernel's own forward, the
 * meta-gradients of both engines, the adafac features' first-order meta-gradient against
 * finite differences, the kernel's own adafac features (the transform's path) against the
 * TypeScript ones to the bit, and a file written before the feature sets and the kernel existed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../src/core/errors.ts";
import { key, normal, uniform } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { mlpOptKernelAvailable } from "../src/kernels/mlp_opt.ts";
import { makeMlpEngine, referenceMlpEngine, type MlpEngine } from "../src/learned/mlp/engine.ts";
import { mlpDims } from "../src/learned/mlp/network.ts";
import { featureMap, stepBuffers } from "../src/learned/mlp/step.ts";
import { adafacStateLayout, adafacTime } from "../src/learned/mlp/features_adafac.ts";
import { mlpOptimizer, type MlpOptimizer } from "../src/learned/mlp/optimizer.ts";
import { resolveMlpOptimizerConfig } from "../src/learned/mlp/config.ts";
import { learnedKind } from "../src/learned/registry.ts";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { quadraticFamily, type QuadraticTask } from "../src/tasks/quadratic.ts";
import { unrollMetaGrad } from "../src/meta/unroll.ts";

const FIXTURES = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures");
const HAVE_KERNEL = mlpOptKernelAvailable();
const skip = HAVE_KERNEL ? false : "build/mlp_opt.wasm is not built";
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const f = Math.fround;

/** Shapes the kernel is checked on: [F normalised inputs, T time inputs, hidden, hidden layers]. */
const SHAPES: readonly (readonly [number, number, number, number])[] = [
  [5, 0, 4, 1],
  [6, 0, 8, 2],
  [7, 3, 4, 1],
  [4, 2, 5, 3],
];

/** phi of the widths `dims`, every entry non-zero (biases too), about 1 / sqrt(fan-in). */
function randomPhi(dims: readonly number[], seed: number): Float32Array {
  let size = 0;
  for (let l = 0; l + 1 < dims.length; l++) size += dims[l]! * dims[l + 1]! + dims[l + 1]!;
  return uniform(key(seed), size, -0.8, 0.8);
}

/** F columns of n normal features (about a fifth exactly 0; column k at k * n) and T time columns, each one value. */
function features(n: number, F: number, T: number, seed: number): Float64Array {
  const z = normal(key(seed), n * F, 1);
  const drop = uniform(key(seed + 1), n * F, 0, 1);
  const tau = uniform(key(seed + 2), T, -1, 1);
  const x = new Float64Array(n * (F + T));
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < F; k++) x[k * n + i] = drop[i * F + k]! < 0.2 ? 0 : z[i * F + k]!;
    for (let t = 0; t < T; t++) x[(F + t) * n + i] = tau[t]!;
  }
  return x;
}

/**
 * The kernel's forward transcribed in float32 (Math.fround after each operation), in its
 * order: bias first (layer 0's with the time columns folded in, in float64, then rounded),
 * then one product and one sum per input; ReLU; the head alike.
 */
function forward32(dims: readonly number[], T: number, phi: Float32Array, x: Float64Array, n: number): Float64Array {
  const L = dims.length - 2;
  const F = dims[0]! - T;
  const H = dims[1]!;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    let h = Array.from({ length: F }, (_, k) => f(x[k * n + i]!));
    let o = 0;
    for (let l = 0; l <= L; l++) {
      const din = dims[l]!;
      const dout = dims[l + 1]!;
      const z: number[] = [];
      for (let k = 0; k < dout; k++) {
        let b = phi[o + din * dout + k]!;
        if (l === 0) for (let t = 0; t < T; t++) b += x[(F + t) * n]! * phi[(F + t) * H + k]!;
        let acc = f(b);
        for (let j = 0; j < (l === 0 ? F : din); j++) acc = f(acc + f(h[j]! * phi[o + j * dout + k]!));
        z.push(l < L ? Math.max(acc, 0) : acc);
      }
      o += din * dout + dout;
      h = z;
    }
    out[2 * i] = h[0]!;
    out[2 * i + 1] = h[1]!;
  }
  return out;
}

/** max |a - b| over max |b|. */
function scaledErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return worst / scale;
}

/** The engine's forward (recorded in tape slot 0) then its backward of dout: outputs, dL/dphi, dL/dx. */
function run(e: MlpEngine, x: Float64Array, n: number, dout: Float64Array, width: number): { out: Float64Array; dphi: Float64Array; dx: Float64Array } {
  const out = new Float64Array(2 * n);
  e.forward(x, n, out, 0);
  const dphi = new Float64Array(e.phiSize);
  const dx = new Float64Array(n * width);
  e.backward(0, x, n, dout, dphi, dx, width);
  return { out, dphi, dx };
}

/** sum_i dout . out_i of the engine's (unrecorded) forward at phi, in float64. */
function linearLoss(e: MlpEngine, phi: Float32Array, x: Float64Array, n: number, dout: Float64Array): number {
  e.setPhi(phi);
  const out = new Float64Array(2 * n);
  e.forward(x, n, out, -1);
  let s = 0;
  for (let i = 0; i < 2 * n; i++) s += dout[i]! * out[i]!;
  return s;
}

describe("mlp optimizer kernel: against the plain-TypeScript reference", { skip }, () => {
  it("the forward gives the bits of a float32 transcription in the kernel's order (n not a multiple of 4)", () => {
    for (const [F, T, H, L] of SHAPES) {
      const dims = mlpDims(F + T, H, L);
      const phi = randomPhi(dims, F * 10 + H);
      const n = 13;
      const x = features(n, F, T, 100 + F);
      const e = makeMlpEngine("wasm", dims, T, phi);
      const out = new Float64Array(2 * n);
      e.forward(x, n, out, -1);
      assert.deepEqual(Array.from(out), Array.from(forward32(dims, T, phi, x, n)), `widths ${dims.join(", ")}`);
      // A float32 sum is not a float64 one: the transcription is the kernel's, not the reference's.
      const ref = new Float64Array(2 * n);
      referenceMlpEngine(dims, phi).forward(x, n, ref, -1);
      assert.notDeepEqual(Array.from(out), Array.from(ref));
    }
  });

  it("forward, dL/dphi and dL/dx agree with the float64 reference within float32 rounding (1e-5 of the largest)", () => {
    for (const [F, T, H, L] of SHAPES) {
      const dims = mlpDims(F + T, H, L);
      const phi = randomPhi(dims, 7 * F + H);
      // Over 64 blocks of 4, so that the float32 partial sums are flushed more than once.
      const n = 301;
      const x = features(n, F, T, 200 + H);
      const dout = Float64Array.from(normal(key(300 + L), 2 * n, 1));
      const w = run(makeMlpEngine("wasm", dims, T, phi), x, n, dout, F + T);
      const r = run(referenceMlpEngine(dims, phi), x, n, dout, F + T);
      const what = `widths ${dims.join(", ")}`;
      assert.ok(scaledErr(w.out, r.out) < 1e-5, `${what}: outputs ${scaledErr(w.out, r.out)}`);
      assert.ok(scaledErr(w.dphi, r.dphi) < 1e-5, `${what}: dL/dphi ${scaledErr(w.dphi, r.dphi)}`);
      // dL/dx of the F normalised columns (the time columns' gradient is not the engine's to give).
      const cols = (d: Float64Array) => Array.from(d.subarray(0, F * n));
      assert.ok(scaledErr(cols(w.dx), cols(r.dx)) < 1e-5, `${what}: dL/dx ${scaledErr(cols(w.dx), cols(r.dx))}`);
      // The time rows of layer 0's weight get tau_t dL/db0 (they are folded into the bias).
      for (let t = 0; t < T; t++) for (let k = 0; k < H; k++) assert.notEqual(w.dphi[(F + t) * H + k], 0);
    }
  });

  it("dL/dphi and dL/dx are the derivatives of the kernel's own forward (central differences along random directions)", () => {
    for (const [F, T, H, L] of SHAPES) {
      const dims = mlpDims(F + T, H, L);
      const phi = randomPhi(dims, 3 * F + H);
      const n = 37;
      const x = features(n, F, T, 400 + F);
      const dout = Float64Array.from(normal(key(500 + H), 2 * n, 1));
      const e = makeMlpEngine("wasm", dims, T, phi);
      const g = run(e, x, n, dout, F + T);
      for (let r = 0; r < 3; r++) {
        const v = normal(key(600 + r), phi.length, 1);
        const an = v.reduce((s, vi, i) => s + vi * g.dphi[i]!, 0);
        // A step that crosses a ReLU's kink is off by O(h); the first of three that agrees counts.
        const fds = [3e-3, 1e-3, 3e-4].map((h) => {
          const plus = phi.map((p, i) => p + h * v[i]!);
          const minus = phi.map((p, i) => p - h * v[i]!);
          return (linearLoss(e, plus, x, n, dout) - linearLoss(e, minus, x, n, dout)) / (2 * h);
        });
        assert.ok(fds.some((fd) => Math.abs(fd - an) <= 2e-3 * Math.abs(an) + 1e-3), `widths ${dims.join(", ")}: dphi.v ${an}, differences ${fds.join(", ")}`);
      }
      e.setPhi(phi);
      const v = normal(key(700), n * (F + T), 1);
      v.fill(0, F * n);
      const an = v.reduce((s, vi, i) => s + vi * g.dx[i]!, 0);
      const fds = [3e-3, 1e-3, 3e-4].map((h) => {
        const plus = x.map((p, i) => p + h * v[i]!);
        const minus = x.map((p, i) => p - h * v[i]!);
        return (linearLoss(e, phi, plus, n, dout) - linearLoss(e, phi, minus, n, dout)) / (2 * h);
      });
      assert.ok(fds.some((fd) => Math.abs(fd - an) <= 2e-3 * Math.abs(an) + 1e-3), `widths ${dims.join(", ")}: dx.v ${an}, differences ${fds.join(", ")}`);
    }
  });
});

/** A quadratic task of dim 6, 3 instances (18 coordinates), and a phi with every entry non-zero. */
function quad(seed: number): QuadraticTask {
  return quadraticFamily({ dim: 6, instances: 3 }).sample(key(seed)) as QuadraticTask;
}
function somePhi(opt: MlpOptimizer, seed: number): Float32Array {
  const phi = opt.init(key(seed)).flat;
  const noise = uniform(key(seed + 1000), phi.length, -0.3, 0.3);
  for (let i = 0; i < phi.length; i++) if (phi[i] === 0) phi[i] = noise[i]!;
  return phi;
}
const CONFIGS = [
  { hidden: 8, hiddenLayers: 2, decays: [0.5, 0.9], stepMult: 0.1, expMult: 0.5 },
  { features: "adafac", hidden: 4, decays: [0.5, 0.9], stepMult: 0.1, expMult: 0.5, timescales: [3, 30] },
] as const;

describe("mlp optimizer kernel: the step on each engine", { skip }, () => {
  it("the meta-gradient and the rollout of the wasm engine agree with the reference's (basic first and second order; adafac first order)", () => {
    for (const cfg of CONFIGS) {
      const orders = "features" in cfg ? [false] : [false, true];
      for (const secondOrder of orders) {
        const res = (["ref", "wasm"] as const).map((engine) => {
          const opt = mlpOptimizer(cfg, engine);
          const task = quad(21);
          const step = opt.differentiable(somePhi(opt, 4), task.layout, 5);
          const keys = Array.from({ length: 6 }, () => key(0));
          return unrollMetaGrad({ task, step, theta: task.init(key(22)), T: 5, weights: "after", keys, secondOrder, horizon: 20 });
        });
        const what = `${JSON.stringify(cfg)} ${secondOrder ? "second" : "first"} order`;
        assert.ok(Math.abs(res[0]!.metaLoss - res[1]!.metaLoss) <= 1e-4 * res[0]!.metaLoss, `${what}: meta-loss ${res[0]!.metaLoss} vs ${res[1]!.metaLoss}`);
        assert.ok(scaledErr(res[1]!.dphi, res[0]!.dphi) < 1e-3, `${what}: dL/dphi ${scaledErr(res[1]!.dphi, res[0]!.dphi)}`);
        assert.notDeepEqual(bits(res[1]!.theta), bits(res[0]!.theta), `${what}: two engines, not one`);
      }
    }
  });

  it("the registry builds the kernel engine by default and the reference with engine ref; the transform runs on it", () => {
    const kind = learnedKind("mlp");
    assert.equal((kind.build({}) as MlpOptimizer).engine, "wasm");
    assert.equal((kind.build({}, { engine: "ref" }) as MlpOptimizer).engine, "ref");
    assert.equal((kind.build({}, { engine: "wasm-fma" }) as MlpOptimizer).engine, "wasm");
    assert.deepEqual(kind.kernelRecord!({ engine: "wasm-fma" }), { engine: "wasm-simd" });
    assert.deepEqual(kind.kernelRecord!({ engine: "ref" }), { engine: "ref" });
  });
});

describe("mlp optimizer: the adafac features", () => {
  it("first order: dL/dphi (reference engine) matches central differences of the meta-loss, time rows included", () => {
    const opt = mlpOptimizer(CONFIGS[1]);
    const task = quad(31);
    const theta0 = task.init(key(32));
    const phi = somePhi(opt, 5);
    const T = 4;
    const keys = Array.from({ length: T + 1 }, () => key(0));
    const step = opt.differentiable(phi, task.layout, T);
    const r = unrollMetaGrad({ task, step, theta: theta0, T, weights: "after", keys, horizon: 10 });
    // The gradients the optimizer saw, held fixed (first order), and the loss of the rollout on them.
    const gs: Float32Array[] = [];
    const probe = opt.differentiable(phi, task.layout, T);
    let th = theta0;
    for (let t = 0; t < T; t++) {
      gs.push(task.lossAndGrad(th, keys[t]!).grad);
      th = probe.step(th, gs[t]!, { step: t, horizon: 10 }, false);
    }
    assert.deepEqual(bits(th), bits(r.theta));
    const detached = (p: Float32Array): number => {
      const s = opt.differentiable(p, task.layout, T);
      let x = theta0;
      let L = 0;
      for (let t = 0; t < T; t++) {
        x = s.step(x, gs[t]!, { step: t, horizon: 10 }, false);
        L += task.lossAndGrad(x, keys[t + 1]!).loss;
      }
      return L;
    };
    assert.equal(detached(phi), r.metaLoss);
    const F = opt.inputs - 3;
    const H = opt.dims[1]!;
    // Each tensor's largest entry, and each time row of layer 0's weight.
    const check = [0, F * H, (F + 1) * H, (F + 2) * H, opt.inputs * H, opt.inputs * H + H, opt.inputs * H + H + 2 * H, opt.phiSize - 1];
    const scale = Math.max(...Array.from(r.dphi, Math.abs));
    for (const j0 of check) {
      let j = j0;
      for (let i = j0; i < Math.min(j0 + H, opt.phiSize); i++) if (Math.abs(r.dphi[i]!) > Math.abs(r.dphi[j]!)) j = i;
      const fds = [1e-2, 3e-3, 1e-3].map((h) => {
        const plus = new Float32Array(phi);
        const minus = new Float32Array(phi);
        plus[j] = phi[j]! + h;
        minus[j] = phi[j]! - h;
        return (detached(plus) - detached(minus)) / (plus[j]! - minus[j]!);
      });
      assert.ok(fds.some((fd) => Math.abs(fd - r.dphi[j]!) <= 1e-2 * Math.abs(fd) + 1e-3 * scale), `dL/dphi[${j}] ${r.dphi[j]}, differences ${fds.join(", ")}`);
    }
  });

  it("the transform's updates are the differentiable step's; second order is refused in one line", () => {
    const opt = mlpOptimizer(CONFIGS[1]);
    const layout = new ParamLayout([{ name: "w", shape: [3, 4] }, { name: "b", shape: [4] }]);
    const phi = somePhi(opt, 6);
    const tx = opt.optFn(phi, layout);
    const step = opt.differentiable(phi, layout, 2);
    let theta = normal(key(41), layout.size, 1);
    let st = tx.init(theta);
    for (let t = 0; t < 3; t++) {
      const g = normal(key(50 + t), layout.size, 1);
      const [u, s] = tx.update(g, st, theta, { step: t });
      st = s;
      const next = step.step(theta, g, { step: t }, false);
      assert.deepEqual(bits(theta.map((p, i) => p + u[i]!)), bits(next));
      theta = next;
    }
    assert.deepEqual(bits(st.state as Float32Array), bits(step.getState()));
    assert.throws(() => step.step(theta, theta, {}, "inputs"), /second order .* needs features 'basic'/);
  });

  it("the transform's adafac features, computed inside the kernel, give the differentiable step's bits (odd sizes, 3-d and 1-element tensors, the state's own step count)", { skip }, () => {
    // The transform on the kernel computes the features in WebAssembly fused with the forward;
    // the differentiable step computes them in TypeScript (features_adafac.ts) and copies them in.
    for (const engine of ["wasm", "ref"] as const) {
    const opt = mlpOptimizer({ ...CONFIGS[1], decays: [0.5, 0.9, 0.99] }, engine);
    assert.equal(opt.engine, engine);
    const layout = new ParamLayout([{ name: "w", shape: [2, 3, 5] }, { name: "b", shape: [5] }, { name: "s", shape: [1] }, { name: "v", shape: [7, 3] }]);
    const phi = somePhi(opt, 8);
    const tx = opt.optFn(phi, layout);
    const step = opt.differentiable(phi, layout, 2);
    let theta = normal(key(43), layout.size, 1);
    let st = tx.init(theta);
    for (let t = 0; t < 4; t++) {
      const g = normal(key(60 + t), layout.size, t === 2 ? 1e-3 : 1);
      const ctx = { horizon: 20 };
      const [u, s] = tx.update(g, st, theta, ctx);
      st = s;
      const next = step.step(theta, g, ctx, false);
      // The update is fl32(theta_{t+1} - theta_t) of the same theta_{t+1} (transform.ts).
      assert.deepEqual(bits(u), bits(next.map((p, i) => p - theta[i]!)), `${engine}, step ${t}`);
      assert.deepEqual(bits(st.state as Float32Array), bits(step.getState()), `${engine}, step ${t}: the state`);
      assert.ok(next.some((p, i) => p !== theta[i]), "the step moves theta");
      theta = next;
    }
    }
  });

  it("the kernel's fused adafac step gives the outputs and state of the TypeScript features then its forward", { skip }, () => {
    const cfg = resolveMlpOptimizerConfig({ ...CONFIGS[1], decays: [0.5, 0.9, 0.99] });
    const layout = new ParamLayout([{ name: "w", shape: [5, 3] }, { name: "b", shape: [3] }]);
    const n = layout.size;
    const fm = featureMap(cfg, layout.entries, n);
    const dims = mlpDims(fm.F + fm.T, cfg.hidden, cfg.hiddenLayers);
    const phi = uniform(key(71), dims.slice(0, -1).reduce((a, d, l) => a + (d + 1) * dims[l + 1]!, 0), -0.5, 0.5);
    const e = makeMlpEngine("wasm", dims, fm.T, phi);
    const sl = adafacStateLayout(layout.entries, n, 3);
    const fused = e.fusedAdafac!({ n, decays: cfg.decays, rmsDecay: cfg.rmsDecay!, factoredDecay: cfg.factoredDecay!, tensors: layout.entries.map((en, i) => ({ offset: en.offset, size: en.size, ...sl.slices[i]! })), stateSize: fm.stateSize });
    let st = new Float32Array(fm.stateSize);
    const buf = stepBuffers(n, layout.entries.length, fm);
    for (let t = 0; t < 3; t++) {
      const theta = normal(key(72 + t), n, 1);
      const grad = normal(key(82 + t), n, 1);
      const tau = new Float64Array(fm.T);
      adafacTime(cfg.timescales!, t, undefined, tau);
      const r = fused(theta, grad, st, tau);
      const mine = new Float32Array(st);
      fm.compute(theta, grad, mine, { step: t }, buf.x, buf.s);
      e.forward(buf.x, n, buf.out, -1);
      const viaTs = Float32Array.from(buf.out);
      const viaFused = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) [viaFused[2 * i], viaFused[2 * i + 1]] = [r.out[i]!, r.out[r.np + i]!];
      assert.deepEqual(bits(viaFused), bits(viaTs), `step ${t}: the outputs`);
      mine[sl.tAt] = r.state[sl.tAt]!; // the fused step leaves the count to its caller
      assert.deepEqual(bits(r.state), bits(mine), `step ${t}: the state`);
      assert.ok(viaTs.some((v) => v !== 0));
      st = mine;
    }
  });

  it("configs: adafac's own defaults; its fields refused on basic; bad values are ConfigError", () => {
    const c = resolveMlpOptimizerConfig({ features: "adafac" });
    assert.deepEqual([c.hidden, c.hiddenLayers, c.rmsDecay, c.factoredDecay, c.timescales], [4, 1, 0.999, 0.999, [10, 100, 1000, 10000]]);
    assert.equal(mlpOptimizer({ features: "adafac" }).inputs, 7 + 3 * 3 + 5);
    const basic = resolveMlpOptimizerConfig({});
    assert.equal(basic.features, "basic");
    assert.equal("rmsDecay" in basic, false, "a basic config saves as before");
    for (const bad of [{ features: "velo" }, { rmsDecay: 0.9 }, { features: "adafac", rmsDecay: 1 }, { features: "adafac", timescales: [0] }]) {
      assert.throws(() => resolveMlpOptimizerConfig(bad), ConfigError, JSON.stringify(bad));
    }
  });
});

describe("mlp optimizer: files written before the feature sets", () => {
  it("load as the basic features and give the updates they gave (the same bits on the reference; within 1e-4 on the kernel)", () => {
    const path = join(FIXTURES, "mlp_v1.safetensors");
    const want = JSON.parse(readFileSync(join(FIXTURES, "mlp_v1_updates.json"), "utf8")) as { updates: number[][] };
    const layout = new ParamLayout([{ name: "w", shape: [3, 5], group: "fc" }, { name: "b", shape: [5], group: "fc" }]);
    for (const engine of HAVE_KERNEL ? (["ref", "wasm"] as const) : (["ref"] as const)) {
      const loaded = loadLearnedOptimizer(path, { engine });
      assert.equal((loaded.optimizer.config as { features: string }).features, "basic");
      const tx = loaded.optimizer.optFn(loaded.phi, layout);
      let theta = normal(key(7), layout.size, 1);
      let st = tx.init(theta);
      for (let t = 0; t < want.updates.length; t++) {
        const [u, s] = tx.update(normal(key(100 + t), layout.size, 1), st, theta, { step: t });
        st = s;
        const w = new Float32Array(Uint32Array.from(want.updates[t]!).buffer);
        if (engine === "ref") assert.deepEqual(bits(u), want.updates[t], `step ${t}`);
        else assert.ok(scaledErr(u, w) < 1e-4, `${engine} step ${t}: ${scaledErr(u, w)}`);
        theta = theta.map((p, i) => p + w[i]!);
      }
    }
  });
});

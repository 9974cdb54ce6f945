/**
 * The learned-optimizer registry, the one name rule, hand-designed optimizers as learned ones
 * with an empty phi, and the step context that every update receives.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { key } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { ConfigError, L2oError } from "../src/core/errors.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { runOptimizer } from "../src/eval/evaluate.ts";
import { candidateFor } from "../src/eval/candidates.ts";
import { adam } from "../src/optimizers/alias.ts";
import type { GradientTransformation, StepContext } from "../src/optimizers/transform.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "../src/learned/registry.ts";
import { handFromConfig } from "../src/learned/hand.ts";
import { loadLearnedOptimizer, PRETRAINED_DIR, saveLearnedOptimizer } from "../src/learned/file.ts";
import { pretrainedNames, resolveOptimizer, UnknownOptimizerError } from "../src/learned/resolve.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import type { KernelOptions } from "../src/learned/kernel_options.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-registry-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("the learned-optimizer registry", () => {
  it("holds lstm, mlp, hrnn, rl-policy and hand, each building from a config and refusing a bad one with ConfigError", () => {
    assert.deepEqual(LEARNED_KIND_NAMES, ["lstm", "mlp", "hrnn", "rl-policy", "hand"]);
    for (const name of LEARNED_KIND_NAMES) {
      const kind = learnedKind(name);
      assert.throws(() => kind.build({ nonsense: 1 }), ConfigError, name);
    }
    assert.equal(learnedKind("lstm").build({}).phiSize, learnedKind("lstm").build({ hidden: 20, layers: 2 }).phiSize);
    assert.throws(() => learnedKind("metasgd"), /unknown learned-optimizer kind 'metasgd'; known kinds: lstm, mlp, hrnn, rl-policy, hand/);
  });

  it("a hand-designed optimizer saved to a file is a learned one with an empty phi and runs as adam@0.1 does", () => {
    const path = join(dir, "adam.safetensors");
    const hand = handFromConfig({ optimizer: "adam", lr: 0.1 });
    assert.equal(hand.phiSize, 0);
    saveLearnedOptimizer(path, hand, new Float32Array(0), { training: { note: "hand-designed" } });
    const loaded = loadLearnedOptimizer(path);
    assert.equal(loaded.optimizer.kind, "hand");
    assert.deepEqual(loaded.optimizer.config, { optimizer: "adam", lr: 0.1 });
    const task = quadraticFamily({ dim: 4 }).sample(key(1));
    const theta0 = task.init(key(2));
    const fromFile = runOptimizer(task, loaded.optimizer.optFn(loaded.phi, task.layout), theta0, 30, key(3));
    const direct = runOptimizer(task, adam(0.1), theta0, 30, key(3));
    assert.deepEqual(fromFile.losses, direct.losses);
    // By name it is a file like any other: one rule for every kind.
    const c = candidateFor(path);
    assert.equal(c.tune, false);
    assert.deepEqual(runOptimizer(task, c.make(undefined, task.layout), theta0, 30, key(3)).losses, direct.losses);
  });
});

describe("the name rule", () => {
  it("a hand-designed name first (tuned, or @rate fixed), then a pretrained name, then a path", () => {
    const a = resolveOptimizer("adam");
    assert.ok(a.source === "hand" && a.spec.name === "adam" && a.lr === undefined);
    const n = resolveOptimizer("nag@0.3");
    assert.ok(n.source === "hand" && n.spec.name === "nesterov" && n.lr === 0.3);
    assert.ok(pretrainedNames().includes("quadratic"));
    for (const spec of ["quadratic", "pretrained/quadratic", "lstm:quadratic", "lstm:pretrained/quadratic", join(PRETRAINED_DIR, "quadratic.safetensors")]) {
      const r = resolveOptimizer(spec, { engine: "ref" });
      assert.ok(r.source === "file", spec);
      assert.equal(r.loaded.path, join(PRETRAINED_DIR, "quadratic.safetensors"), spec);
      assert.equal(r.loaded.optimizer.kind, "lstm", spec);
    }
  });

  it("refuses what names nothing, a kind that is not the file's, and a bad rate, each as an L2oError", () => {
    assert.throws(() => resolveOptimizer("adamz"), (e: unknown) => e instanceof UnknownOptimizerError && /unknown optimizer 'adamz'.*sgd.*quadratic/.test((e as Error).message));
    assert.throws(() => resolveOptimizer("mlp:quadratic"), (e: unknown) => e instanceof FileFormatError && /holds a 'lstm' optimizer; expected kind 'mlp'/.test((e as Error).message));
    assert.throws(() => resolveOptimizer("adam@-1"), /must be greater than 0/);
    assert.throws(() => resolveOptimizer("adam@fast"), /expects a decimal number/);
    assert.throws(() => resolveOptimizer("adam@0x10"), /expects a decimal number/);
    const r = resolveOptimizer("adam@3e-3");
    assert.ok(r.source === "hand" && r.lr === 0.003);
    assert.throws(() => resolveOptimizer("lstm:"), L2oError);
    assert.throws(() => resolveOptimizer(join(dir, "missing.safetensors")), L2oError);
    assert.throws(() => resolveOptimizer(5 as unknown as string), (e: unknown) => e instanceof UnknownOptimizerError && e.message === "an optimizer name must be a string, got number 5");
  });

  it("refuses a misspelt or ill-typed kernel option and an unknown expected kind where the optimizer is loaded, as ConfigErrors", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ engine: "gpu" }, /^kernel option 'engine' must be one of wasm, wasm-simd, wasm-fma, ref, got "gpu"$/],
      [{ engine: "ref", thread: 2 }, /^unknown kernel option 'thread' \(known options: engine, threads, reduction, tape, memoryBudget\)$/],
      [{ threads: "2" }, /^kernel option 'threads' must be a positive integer or 'auto', got string "2"$/],
      [{ threads: 0 }, /got 0$/],
      [{ reduction: "sum" }, /^kernel option 'reduction' must be one of chunks, threads, got "sum"$/],
      [{ tape: "f16" }, /^kernel option 'tape' must be one of f32, bf16, got "f16"$/],
      [{ memoryBudget: NaN }, /^kernel option 'memoryBudget' must be a finite number of bytes > 0, got NaN$/],
      [null, /^kernel options must be an object, got null$/],
    ];
    for (const [kernel, re] of cases) {
      for (const load of [() => loadLearnedOptimizer("pretrained/quadratic", kernel as KernelOptions), () => resolveOptimizer("quadratic", kernel as KernelOptions)]) {
        assert.throws(load, (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));
      }
    }
    assert.throws(() => loadLearnedOptimizer("pretrained/quadratic", {}, "lstn"), (e: unknown) => e instanceof ConfigError && /^unknown learned-optimizer kind 'lstn'; known kinds: lstm, mlp/.test(e.message));
    // The options it accepts still load.
    assert.equal(loadLearnedOptimizer("pretrained/quadratic", { engine: "ref", threads: 1, reduction: "chunks", tape: "f32", memoryBudget: 2 ** 30 }).optimizer.kind, "lstm");
  });
});

describe("the step context", () => {
  it("runOptimizer hands every update the loss at params, the step's index and the horizon", () => {
    const seen: StepContext[] = [];
    const spy: GradientTransformation = {
      init: () => ({}),
      update(grads, state, _params, ctx) {
        seen.push(ctx ?? {});
        return [grads.map((g) => -0.01 * g), state];
      },
    };
    const task = quadraticFamily({ dim: 3 }).sample(key(4));
    const r = runOptimizer(task, spy, task.init(key(5)), 5, key(6));
    assert.deepEqual(seen.map((c) => c.step), [0, 1, 2, 3, 4]);
    assert.ok(seen.every((c) => c.horizon === 5));
    seen.forEach((c, t) => assert.equal(c.loss! / task.instances, r.losses[t]));
  });
});

describe("every kind's transform answers bad input alike", () => {
  const configs: Record<string, unknown> = { hand: { optimizer: "adam", lr: 0.1 } };
  const layout = new ParamLayout([{ name: "w", shape: [3] }]);
  const p = new Float32Array([0.5, -1, 2]);
  const g = new Float32Array([0.1, -0.2, 0.3]);
  const ctx: StepContext = { loss: 1.5, step: 0, horizon: 10 };

  it("refuses a NaN or infinite gradient, or a non-finite loss, before its state is touched, naming the optimizer", () => {
    for (const name of LEARNED_KIND_NAMES) {
      const opt = learnedKind(name).build(configs[name] ?? {});
      const tx = opt.optFn(opt.init(key(1)).flat, layout);
      const [u0, s0] = tx.update(g, tx.init(p), p, ctx);
      for (const bad of [NaN, Infinity, -Infinity]) {
        assert.throws(() => tx.update(new Float32Array([0.1, bad, 0.3]), s0, p, ctx), { name: "NonFiniteGradientError", message: new RegExp(`^\\S.*: gradients contained NaN/Inf \\(${bad} at index 1 of 3\\)`) }, `${name} ${bad}`);
      }
      assert.throws(() => tx.update(g, s0, p, { ...ctx, loss: NaN }), (e: unknown) => e instanceof L2oError && /the step context's loss is NaN/.test(e.message), name);
      // The refused steps left nothing behind: the next step is the one a fresh transform takes.
      const [u1] = tx.update(g, s0, p, ctx);
      const fresh = opt.optFn(opt.init(key(1)).flat, layout);
      const [f0, fs0] = fresh.update(g, fresh.init(p), p, ctx);
      assert.deepEqual(u0, f0, name);
      assert.deepEqual(u1, fresh.update(g, fs0, p, ctx)[0], name);
      tx.dispose();
      fresh.dispose();
    }
  });

  it("throws on init or update after dispose (which may be called twice), rather than run on freed engines", () => {
    for (const name of LEARNED_KIND_NAMES) {
      const opt = learnedKind(name).build(configs[name] ?? {});
      const tx = opt.optFn(opt.init(key(1)).flat, layout);
      const [, s] = tx.update(g, tx.init(p), p, ctx);
      tx.dispose();
      tx.dispose();
      assert.throws(() => tx.update(g, s, p, ctx), /: update after dispose\(\)/, name);
      assert.throws(() => tx.init(p), /: init after dispose\(\)/, name);
    }
  });
});

describe("a learned initial theta", () => {
  it("evaluation and validation start from initialParams; meta-training refuses the kind until an estimator trains it", async () => {
    const { lstmOptimizer } = await import("../src/learned/lstm/optimizer.ts");
    const { validationScore } = await import("../src/meta/validation.ts");
    const { metaTrain } = await import("../src/meta/train.ts");
    const { resolveMetaTrainConfig } = await import("../src/meta/config.ts");
    const { initMetaTrainState } = await import("../src/meta/state.ts");
    const { runCandidate } = await import("../src/eval/evaluate.ts");
    const { createReferenceEngine } = await import("../src/kernels/lstm_ref.ts");
    const base = lstmOptimizer({ hidden: 3, layers: 1, preprocess: { kind: "none" } }, createReferenceEngine);
    // A toy kind that starts every task at the origin.
    const atZero = { ...base, initialParams: (_phi: Float32Array, _layout: unknown, theta0: Float32Array) => new Float32Array(theta0.length) };
    const phi = base.init(key(7)).flat;
    const family = quadraticFamily({ dim: 3 });
    const task = family.sample(key(8));
    const inst = { task, theta0: task.init(key(9)), batchKey: key(10) };
    const zeroLoss = task.lossAndGrad(new Float32Array(3), key(0)).loss;
    const cand = { label: "toy", tune: false, make: (_lr: number | undefined, layout: Parameters<typeof base.optFn>[1]) => base.optFn(phi, layout), start: (layout: Parameters<typeof base.optFn>[1], th: Float32Array) => atZero.initialParams(phi, layout, th) };
    assert.equal(runCandidate(cand, undefined, inst, 3).losses[0], zeroLoss);
    assert.notEqual(validationScore(atZero, phi, [inst], 3), validationScore(base, phi, [inst], 3));
    const cfg = resolveMetaTrainConfig({ unroll: 2, horizon: 4, epochs: 1, horizonsPerEpoch: 1, validationTasks: 1 });
    assert.throws(() => metaTrain(atZero, family, cfg, initMetaTrainState(atZero, cfg)), /learns its initial parameters/);
  });
});

// The mixture task family and its synthetic sub-families (src/tasks/mixture*.ts,
// least_squares.ts, valleys.ts): every sub-family with a weight is drawn, draws are pure
// functions of the key, configs come from the stated ranges, bad configs are ConfigErrors
// naming the problem, and the new tasks pass the conformance checks (gradient and
// Hessian-vector product against finite differences).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { foldIn, key } from "../src/core/rng.ts";
import { ConfigError } from "../src/core/errors.ts";
import { taskFamily, TASK_NAMES } from "../src/tasks/registry.ts";
import { mixtureDraw, resolveMixtureConfig, type MixtureFamily } from "../src/tasks/mixture.ts";
import { leastSquaresFamily } from "../src/tasks/least_squares.ts";
import { valleyFamily } from "../src/tasks/valleys.ts";
import { smoketestTask } from "./conformance.ts";

const cfg = resolveMixtureConfig({}, TASK_NAMES);
const keys = Array.from({ length: 400 }, (_, i) => foldIn(key(3), i));

describe("mixture", () => {
  it("draws every sub-family with a weight, about in proportion, and none without", () => {
    const counts: Record<string, number> = {};
    for (const k of keys) {
      const d = mixtureDraw(cfg, k);
      counts[d.name] = (counts[d.name] ?? 0) + 1;
    }
    const total = Object.values(cfg.weights).reduce((a, b) => a + b, 0);
    for (const [name, w] of Object.entries(cfg.weights)) {
      const n = counts[name] ?? 0;
      if (w === 0) assert.equal(n, 0, `${name} has weight 0 but was drawn ${n} times`);
      else assert.ok(Math.abs(n / keys.length - w / total) < 0.08, `${name}: drawn ${n}/400, weight ${w}/${total}`);
    }
    const only = resolveMixtureConfig({ weights: { cnn: 1 } }, TASK_NAMES);
    assert.ok(keys.slice(0, 20).every((k) => mixtureDraw(only, k).name === "cnn"));
  });

  it("draws configs within the ranges: dimensions, conditioning, scales, MLP shapes", () => {
    const dims = new Set<number>();
    const depths = new Set<number>();
    const acts = new Set<unknown>();
    for (const k of keys) {
      const { name, config: c } = mixtureDraw(cfg, k);
      if (name === "least-squares") {
        dims.add(c.dim as number);
        assert.ok((c.condition as number) >= 1 && (c.condition as number) <= 1e4);
        assert.ok((c.scale as number) >= 1e-3 && (c.scale as number) <= 1e3);
      }
      if (name === "mnist-mlp") {
        const h = c.hidden as number[];
        depths.add(h.length);
        acts.add(c.activation);
        assert.ok(h.every((w) => cfg.widths.includes(w)) && cfg.batchSizes.includes(c.batchSize as number));
      }
    }
    assert.ok(Math.min(...dims) >= 2 && Math.max(...dims) <= 100 && Math.max(...dims) > 10 * Math.min(...dims), `dims ${[...dims]}`);
    assert.deepEqual([...depths].sort(), [1, 2, 3]);
    assert.equal(acts.size, 3);
  });

  it("is deterministic per key: the same task, theta_0 and loss; another key differs", () => {
    const f = taskFamily("mixture", { weights: { quadratic: 1, "least-squares": 1, valley: 1 } }) as MixtureFamily;
    const g = taskFamily("mixture", { weights: { quadratic: 1, "least-squares": 1, valley: 1 } }) as MixtureFamily;
    const losses = keys.slice(0, 12).map((k) => {
      const a = f.sample(k);
      const b = g.sample(k);
      assert.deepEqual(f.describe(k), g.describe(k));
      const ta = a.init(k);
      assert.deepEqual(ta, b.init(k));
      const la = a.lossAndGrad(ta, k);
      assert.equal(la.loss, b.lossAndGrad(ta, k).loss);
      return la.loss;
    });
    assert.ok(new Set(losses).size === losses.length, "different keys gave the same loss");
  });

  it("rejects bad configs with a ConfigError naming the problem", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ weights: { nope: 1 } }, /unknown task 'nope'/],
      [{ weights: { mixture: 1 } }, /mixture itself/],
      [{ weights: { quadratic: -1 } }, /weight of 'quadratic'/],
      [{ weights: { quadratic: 0 } }, /at least one task/],
      [{ dim: [50, 10] }, /'dim' must be \[lo, hi\]/],
      [{ dim: [1.5, 10] }, /'dim'/],
      [{ condition: [0.5, 10] }, /'condition'/],
      [{ activations: ["swish"] }, /'activations'/],
      [{ widths: [] }, /'widths'/],
      [{ batchSizes: [0] }, /'batchSizes'/],
      [{ configs: { cnn: 3 } }, /'configs'/],
      [{ weights: { cnn: 1 }, configs: { cnn: { fc: -1 } } }, /fc/],
    ];
    for (const [c, re] of bad) assert.throws(() => taskFamily("mixture", c), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(c));
    assert.throws(() => taskFamily("mixture", { weights: 3 }), /weights/);
  });
});

describe("least squares and valleys", () => {
  it("least squares: conformance, and its condition number near the one asked", () => {
    const f = leastSquaresFamily({ dim: 8, rows: 400, condition: 1000, scale: 5 });
    const t = f.sample(key(1));
    smoketestTask(t, { atol: 1e-6 });
    // Column norms^2 / rows span about the condition number (G^T G / rows is near I).
    const norms = Array.from({ length: 8 }, (_, j) => {
      let s = 0;
      for (let i = 0; i < 400; i++) s += t.A[i * 8 + j]! ** 2;
      return s / 400;
    });
    const ratio = Math.max(...norms) / Math.min(...norms);
    assert.ok(ratio > 500 && ratio < 2000, `column scale ratio ${ratio}`);
    assert.throws(() => leastSquaresFamily({ condition: 0.5 }), ConfigError);
    assert.throws(() => leastSquaresFamily({ dim: 4096, rows: 4096 }), /floats of A/);
  });

  it("valleys: conformance, and the minimum scale * floor at (m, m^2)", () => {
    const f = valleyFamily({ pairs: 3, curvature: 50, scale: 2, floor: 0.01 });
    const t = f.sample(key(2));
    smoketestTask(t, { atol: 1e-6 });
    const at = new Float32Array(6);
    for (let i = 0; i < 3; i++) {
      at[2 * i] = t.minimisers[i]!;
      at[2 * i + 1] = t.minimisers[i]! ** 2;
    }
    const r = t.lossAndGrad(at, key(0));
    assert.ok(Math.abs(r.loss - 0.02) < 1e-5, `loss at the minimum ${r.loss}`);
    assert.ok(r.grad.every((g) => Math.abs(g) < 1e-3));
    assert.throws(() => valleyFamily({ pairs: 0 }), /'pairs'/);
    assert.throws(() => taskFamily("valley", { curvature: "steep" }), /curvature/);
  });
});

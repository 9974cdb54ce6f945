import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { foldIn, key, randint, split, type Key } from "../src/core/rng.ts";
import { gatherImages, imageRows, loadMnist } from "../src/data/mnist.ts";
import { ConfigError } from "../src/core/errors.ts";
import { MNIST_MLP_LIMITS, mlpTaskFrom, mnistMlpFamily } from "../src/tasks/mnist_mlp.ts";
import { QUADRATIC_LIMITS, quadraticFamily, quadraticTaskFrom, type QuadraticTask } from "../src/tasks/quadratic.ts";
import { TASKS, taskFamily } from "../src/tasks/registry.ts";
import { smoketestTask } from "./conformance.ts";
import { FIXTURES } from "./fixture_tasks.ts";

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(FIXTURES + name, "utf8")) as Record<string, unknown>;
const checkW = fixture("check_W.json");
const checkQ = fixture("check_Q.json");

describe("quadratic", () => {
  for (const [dim, instances] of [[2, 1], [10, 1], [5, 10], [10, 128]] as const) {
    it(`passes the task conformance checks (dim ${dim}, ${instances} instances)`, () => {
      const task = quadraticFamily({ dim, instances }).sample(key(dim * 1000 + instances));
      assert.equal(task.layout.size, dim * instances);
      assert.deepEqual(task.layout.entries.map((e) => [e.name, e.shape, e.group]), [["theta", [instances, dim], "quadratic"]]);
      assert.equal(task.instances, instances);
      // The loop sums in float64, so only float32 storage of theta and the gradient limits the check.
      smoketestTask(task, { rtol: 1e-5, atol: 1e-9, hvpTol: 1e-3 });
    });
  }

  it("matches a hand-computed loss, gradient and Hessian-vector product on two 2-d instances", () => {
    // Instance 1: W = [[1, 2], [3, 4]], y = [1, -1], theta = [0.5, -1]:
    //   W theta = [-1.5, -2.5], r = [-2.5, -1.5], loss 6.25 + 2.25 = 8.5,
    //   grad = 2 W^T r = 2 [1(-2.5) + 3(-1.5), 2(-2.5) + 4(-1.5)] = [-14, -22].
    //   v = [1, 0]: W v = [1, 3], 2 W^T W v = 2 [1 + 9, 2 + 12] = [20, 28].
    // Instance 2: W = I, y = 0, theta = [1, 2]: loss 5, grad [2, 4]; v = [0, 1]: [0, 2].
    const task = quadraticTaskFrom({
      W: new Float32Array([1, 2, 3, 4, 1, 0, 0, 1]),
      y: new Float32Array([1, -1, 0, 0]),
      dim: 2,
      instances: 2,
    });
    const theta = new Float32Array([0.5, -1, 1, 2]);
    const { loss, grad } = task.lossAndGrad(theta, key(0));
    assert.equal(loss, 13.5);
    assert.deepEqual([...grad], [-14, -22, 2, 4]);
    assert.deepEqual([...task.hvp(theta, new Float32Array([1, 0, 0, 1]))], [20, 28, 0, 2]);
  });

  it("draws W and y from the sample key, and theta_0 with standard deviation initStd", () => {
    const fam = quadraticFamily({ dim: 10, instances: 128, initStd: 3 });
    const a = fam.sample(key(1)) as QuadraticTask;
    const b = fam.sample(key(1)) as QuadraticTask;
    const c = fam.sample(key(2)) as QuadraticTask;
    assert.deepEqual(a.W, b.W);
    assert.deepEqual(a.y, b.y);
    assert.notDeepEqual(a.W, c.W);
    assert.notDeepEqual(a.y, c.y);
    const w = a.W;
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.05 && Math.abs(std - 1) < 0.05, `W mean ${mean}, std ${std}`);
    const t0 = a.init(key(3));
    const s0 = Math.sqrt(t0.reduce((s, x) => s + x * x, 0) / t0.length);
    assert.ok(Math.abs(s0 - 3) < 0.3, `theta_0 std ${s0}, expected about 3`);
  });

  it("rejects bad configs and mismatched data", () => {
    assert.throws(() => quadraticFamily({ dim: 0 }), /'dim' must be a positive integer/);
    assert.throws(() => quadraticFamily({ instances: 1.5 }), /'instances' must be a positive integer/);
    assert.throws(() => quadraticFamily({ initStd: -1 }), /'initStd' must be a finite number >= 0/);
    // Sizes are bounded before anything is allocated (QUADRATIC_LIMITS), as ConfigErrors.
    assert.throws(() => quadraticFamily({ dim: 1e9 }), (e: unknown) => e instanceof ConfigError && /'dim' must be at most 4096, got 1000000000/.test(e.message));
    assert.throws(() => quadraticFamily({ instances: 1e12 }), /'instances' must be at most 1000000/);
    assert.throws(() => quadraticFamily({ dim: 1000, instances: 17 }), /instances \* dim \* dim \(the floats of W\) must be at most 16777216, got 17 \* 1000 \* 1000/);
    assert.equal(quadraticFamily({ dim: 4096 }).config.dim, QUADRATIC_LIMITS.dim);
    assert.equal(quadraticFamily({ dim: 10, instances: 128 }).instanceBytes, 4 * (128 * 100 + 2 * 128 * 10));
    assert.throws(
      () => quadraticTaskFrom({ W: new Float32Array(7), y: new Float32Array(4), dim: 2, instances: 2 }),
      /W needs instances \* dim \* dim = 8 values, got 7/,
    );
    const t = quadraticFamily({ dim: 3 }).sample(key(0));
    assert.throws(() => t.lossAndGrad(new Float32Array(4), key(0)), /expected 3 coordinates, got 4/);
  });

  it("reproduces the check_Q fixture's loss at theta_0", () => {
    const f = checkQ!;
    const { d, B } = f["dims"] as { d: number; B: number };
    const W = Float32Array.from(f["W"] as number[]);
    const y = Float32Array.from(f["y"] as number[]);
    const theta0 = Float32Array.from(f["theta0"] as number[]);
    const task = quadraticTaskFrom({ W, y, dim: d, instances: B });
    // Reference: the PyTorch definition (bmm of W [B, d, d] with theta [B, d, 1]) in float64.
    let ref = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < d; i++) {
        let r = -y[b * d + i]!;
        for (let j = 0; j < d; j++) r += W[b * d * d + i * d + j]! * theta0[b * d + j]!;
        ref += r * r;
      }
    }
    assert.ok(Math.abs(task.lossAndGrad(theta0, key(0)).loss - ref) < 1e-9 * ref);
    smoketestTask(task);
  });
});

describe("mnist-mlp", () => {
  it("lays out w1, b1, w2, b2 (15,910 coordinates for 784-20-10)", () => {
    const task = mnistMlpFamily().sample(key(0));
    assert.equal(task.layout.size, 15910);
    assert.deepEqual(
      task.layout.entries.map((e) => [e.name, e.shape, e.group, e.offset]),
      [["w1", [784, 20], "fc", 0], ["b1", [20], "fc", 15680], ["w2", [20, 10], "fc", 15700], ["b2", [10], "fc", 15900]],
    );
    assert.equal(task.instances, 1);
  });

  const configs = [
    { hidden: [20], activation: "sigmoid" },
    { hidden: [20], activation: "relu" },
    { hidden: [20], activation: "tanh" },
    { hidden: [16, 8], activation: "sigmoid", batchSize: 32 },
  ] as const;
  for (const cfg of configs) {
    it(`passes the task conformance checks (${JSON.stringify(cfg)})`, () => {
      const task = mnistMlpFamily(cfg).sample(key(5));
      // Steps across ReLU kinks spoil finite differences of the gradient: take a smaller one.
      smoketestTask(task, cfg.activation === "relu" ? { eps: 3e-3 } : {});
    });
  }

  it("draws minibatches deterministically from the key", () => {
    const fam = mnistMlpFamily();
    const task = fam.sample(key(0));
    const theta = task.init(key(1));
    const [k1, k2] = split(key(2)) as [Key, Key];
    const a = task.lossAndGrad(theta, k1);
    assert.deepEqual(task.lossAndGrad(theta, k1), a);
    assert.notEqual(task.lossAndGrad(theta, k2).loss, a.loss);
    // The image buffer a task refills per minibatch leaves nothing of one call in the next.
    assert.deepEqual(task.lossAndGrad(theta, k1), a);
    assert.deepEqual(task.hvp!(theta, a.grad, k1), task.hvp!(theta, a.grad, k1));
    // The same step key on a task sampled with another key gives another minibatch.
    assert.notEqual(fam.sample(key(9)).lossAndGrad(theta, k1).loss, a.loss);
    // ... and on a task sampled with the same key, the same one.
    assert.equal(fam.sample(key(0)).lossAndGrad(theta, k1).loss, a.loss);
  });

  it("evaluates on the test set, and a few hundred SGD steps learn", () => {
    const task = mnistMlpFamily().sample(key(0));
    const theta = task.init(key(1));
    const before = task.evaluate!(theta);
    // Small weights give nearly uniform predictions: loss close to ln 10 = 2.303.
    assert.ok(Math.abs(before["testLoss"]! - Math.log(10)) < 0.2, `initial test loss ${before["testLoss"]}`);
    for (let t = 0; t < 300; t++) {
      const { grad } = task.lossAndGrad(theta, key(100 + t));
      for (let i = 0; i < theta.length; i++) theta[i]! -= 1.0 * grad[i]!;
    }
    const after = task.evaluate!(theta);
    assert.ok(after["testLoss"]! < 0.6, `test loss after SGD ${after["testLoss"]}`);
    assert.ok(after["testAccuracy"]! > 0.85, `test accuracy after SGD ${after["testAccuracy"]}`);
  });

  it("feeds minibatches and test chunks of images scaled to [0, 1] from the raw pixels", () => {
    const { train, test } = loadMnist();
    const sampleKey = key(3);
    const task = mnistMlpFamily().sample(sampleKey);
    const theta = task.init(key(1));
    // The minibatch for step key k: 128 training images drawn from the task's and the step's keys.
    const k = key(42);
    const idx = randint(foldIn(foldIn(k, sampleKey[0]), sampleKey[1]), 128, 0, train.n);
    const same = mlpTaskFrom({ x: gatherImages(train, idx), labels: Array.from(idx, (j) => train.labels[j]!), dims: [784, 20, 10] });
    assert.deepEqual(task.lossAndGrad(theta, k), same.lossAndGrad(theta, k));
    // evaluate covers the whole test split, chunk by chunk.
    const whole = mlpTaskFrom({ x: imageRows(test, 0, test.n), labels: test.labels, dims: [784, 20, 10] });
    const want = whole.lossAndGrad(theta, k).loss;
    const got = task.evaluate!(theta)["testLoss"]!;
    assert.ok(Math.abs(got - want) < 1e-5 * want, `test loss ${got} vs ${want}`);
  });

  it("rejects bad configs", () => {
    assert.throws(() => mnistMlpFamily({ hidden: [20, 0] }), /'hidden' must be a list of positive integer/);
    assert.throws(() => mnistMlpFamily({ activation: "gelu" as "relu" }), /'activation' must be one of sigmoid, relu, tanh/);
    assert.throws(() => mnistMlpFamily({ batchSize: 0 }), /'batchSize' must be a positive integer/);
    assert.throws(() => mnistMlpFamily({ initStd: Number.NaN }), /'initStd' must be a finite number/);
    // Sizes are bounded before anything is allocated (MNIST_MLP_LIMITS), as ConfigErrors.
    assert.throws(() => mnistMlpFamily({ hidden: [1e9] }), (e: unknown) => e instanceof ConfigError && /'hidden' layer widths must be at most 1024/.test(e.message));
    assert.throws(() => mnistMlpFamily({ hidden: Array(MNIST_MLP_LIMITS.depth + 1).fill(2) }), /'hidden' may list at most 8 layers/);
    assert.throws(() => mnistMlpFamily({ batchSize: 1e9 }), /'batchSize' must be at most 10000, got 1000000000/);
    const deep: unknown[] = [];
    let inner = deep;
    for (let i = 0; i < 100_000; i++) inner.push((inner = []));
    assert.throws(() => mnistMlpFamily({ hidden: deep as number[] }), /'hidden' must be a list of positive integer layer widths, got a value too deeply nested to show/);
    assert.equal(mnistMlpFamily({ hidden: [1024, 1024], batchSize: 10_000 }).config.batchSize, 10_000);
    assert.equal(mnistMlpFamily({ hidden: [20] }).instanceBytes, 4 * (784 * 20 + 20 + 20 * 10 + 10) + 128);
  });
});

describe("mlp on given data", () => {
  it("reproduces the check_W fixture's loss at theta_0", () => {
    const f = checkW!;
    const { din, dh, dout } = f["dims"] as Record<string, number>;
    const task = mlpTaskFrom({ x: Float32Array.from(f["X"] as number[]), labels: f["labels"] as number[], dims: [din!, dh!, dout!] });
    assert.equal(task.layout.size, 51);
    // Computed in float64 with NumPy from the fixture's X, labels and theta0 (W1 8x4, b1, W2 4x3, b2).
    const expected = 1.3940307035989608;
    const { loss } = task.lossAndGrad(Float32Array.from(f["theta0"] as number[]), key(0));
    assert.ok(Math.abs(loss - expected) < 1e-5, `loss ${loss}, expected ${expected}`);
    smoketestTask(task);
  });

  it("uses the whole batch whatever the key", () => {
    const task = mlpTaskFrom({ x: new Float32Array([0, 1, 1, 0, 1, 1]), labels: [0, 1, 1], dims: [2, 3, 2], activation: "tanh" });
    const theta = task.init(key(0));
    assert.deepEqual(task.lossAndGrad(theta, key(1)), task.lossAndGrad(theta, key(2)));
    // All-zero parameters predict uniformly: loss ln 2 on every example.
    assert.ok(Math.abs(task.lossAndGrad(new Float32Array(task.layout.size), key(0)).loss - Math.log(2)) < 1e-6);
    smoketestTask(task);
  });

  it("rejects mismatched data", () => {
    assert.throws(() => mlpTaskFrom({ x: new Float32Array(5), labels: [0, 1, 1], dims: [2, 3, 2] }), /x needs 3 x 2 = 6 values, got 5/);
    assert.throws(() => mlpTaskFrom({ x: new Float32Array(6), labels: [0, 2, 1], dims: [2, 3, 2] }), /label 2 at index 1 is not in \[0, 2\)/);
    assert.throws(() => mlpTaskFrom({ x: new Float32Array(6), labels: [0, 1, 1], dims: [6] }), /'dims' must list at least two/);
  });
});

describe("task registry", () => {
  it("lists quadratic, mnist-mlp, cnn and art, with their defaults", () => {
    // The paper's four first; later families (Li & Malik's and others) follow them.
    assert.deepEqual(TASKS.map((t) => t.name).slice(0, 4), ["quadratic", "mnist-mlp", "cnn", "art"]);
    assert.deepEqual(taskFamily("quadratic").config, { dim: 10, instances: 1, initStd: 1 });
    assert.deepEqual(taskFamily("mnist-mlp").config, { hidden: [20], activation: "sigmoid", batchSize: 128, initStd: 0.1, backend: "wasm" });
  });

  it("applies a config over the defaults, and configs round-trip through JSON", () => {
    const fam = taskFamily("quadratic", { dim: 3, instances: 4 });
    assert.deepEqual(fam.config, { dim: 3, instances: 4, initStd: 1 });
    assert.equal(fam.sample(key(0)).layout.size, 12);
    const mlp = taskFamily("mnist-mlp", { hidden: [8, 4], activation: "relu" });
    assert.deepEqual(taskFamily("mnist-mlp", JSON.parse(JSON.stringify(mlp.config))).config, mlp.config);
  });

  it("rejects unknown names, unknown keys and malformed values", () => {
    assert.throws(() => taskFamily("cifar"), /unknown task 'cifar'; known tasks: quadratic, mnist-mlp/);
    assert.throws(() => taskFamily("quadratic", { dims: 3 }), /unknown config key 'dims' \(known keys: dim, instances, initStd\)/);
    assert.throws(() => taskFamily("quadratic", { dim: "3" }), /'dim' must be a number, got "3"/);
    assert.throws(() => taskFamily("mnist-mlp", { hidden: 20 }), /'hidden' must be a list, got 20/);
    assert.throws(() => taskFamily("mnist-mlp", { activation: "gelu" }), /'activation' must be one of/);
    assert.throws(() => taskFamily("quadratic", { dim: -2 }), /'dim' must be a positive integer/);
  });
});

describe("mlp numerics", () => {
  it("keeps gradients finite when sigmoid pre-activations are far below -88", () => {
    // One input of 1 and a first-layer weight of -200: the hidden pre-activation is -200,
    // where exp(-x) overflows float32. The exact gradient there is tiny but finite.
    const task = mlpTaskFrom({ x: new Float32Array([1, 1]), labels: [0], dims: [2, 1, 2], activation: "sigmoid" });
    const theta = new Float32Array(task.layout.size);
    theta.set([-100, -100], 0); // w1 (2 x 1): pre-activation -200
    theta[4] = 1; // w2[0][1]
    const { loss, grad } = task.lossAndGrad(theta, key(0));
    assert.ok(Number.isFinite(loss));
    assert.ok(grad.every(Number.isFinite), `gradient has non-finite entries: ${Array.from(grad)}`);
    // d loss / d b2 = softmax(z) - onehot(0) with z = [0, sigmoid(-200)] ~ [0, 0]: [-0.5, 0.5].
    const b2 = task.layout.view(grad, "b2");
    assert.ok(Math.abs(b2[0]! + 0.5) < 1e-6 && Math.abs(b2[1]! - 0.5) < 1e-6, `b2 gradient ${Array.from(b2)}`);
  });
});

describe("jax-js loading", () => {
  it("is loaded at the first Hessian-vector product, not when l2o is imported or the wasm backend runs", () => {
    // A fresh process: this file's other tests have loaded jax-js already.
    const script = `
      import { createRequire } from "node:module";
      const l2o = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes("@jax-js"));
      const seen = [loaded()];
      const task = l2o.mnistMlpFamily({}).sample(l2o.key(1));
      const theta = task.init(l2o.key(2));
      task.lossAndGrad(theta, l2o.key(3));
      seen.push(loaded());
      const hv = task.hvp(theta, new Float32Array(theta.length).fill(1e-3), l2o.key(3));
      seen.push(loaded(), hv.length === theta.length && hv.every(Number.isFinite));
      console.log(JSON.stringify(seen));
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), [false, false, true, true]);
  });
});

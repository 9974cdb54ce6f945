/**
 * The TensorFlow.js adapter's optimizer (`l2o/tfjs`'s `learned`) on tfjs's pure-JS cpu
 * backend: model.fit with it lowers a real model's loss; its step is the core transform's
 * bit for bit; a model saved with its optimizer and reloaded continues exactly as one never
 * stopped; bad input is refused in one clear line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { L2oOptimizer, learned, layoutOfShapes, NonFiniteGradientError, TfjsAdapterError, DEFAULT_OPTIMIZER } from "../src/adapters/tfjs/index.ts";
import { L2oError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { saveLearnedOptimizer } from "../src/learned/file.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { resolveOptimizer } from "../src/learned/resolve.ts";
import { applyUpdates, type OptState } from "../src/optimizers/transform.ts";
import { mnistMlp, mnistTensors, saveInMemory, weightBits } from "./adapter_tfjs_util.ts";

await tf.setBackend("cpu");
const { x, y } = mnistTensors(512);
const fit = (m: tf.LayersModel, epochs: number, n = 512): Promise<tf.History> =>
  m.fit(x.slice([0, 0], [n, -1]), y.slice([0, 0], [n, -1]), { epochs, batchSize: 128, shuffle: false, verbose: 0 });
const compiled = (seed: number, name: string): tf.Sequential => {
  const m = mnistMlp(seed);
  m.compile({ optimizer: learned(name), loss: "categoricalCrossentropy" });
  return m;
};
const flat = (ts: readonly tf.Tensor[]): Float32Array => {
  const out = new Float32Array(ts.reduce((a, t) => a + t.size, 0));
  let o = 0;
  for (const t of ts) {
    out.set(t.dataSync() as Float32Array, o);
    o += t.size;
  }
  return out;
};
/** The gradients of the mean cross-entropy on examples [from, from + n). */
const gradsAt = (model: tf.LayersModel, vars: tf.Variable[], from: number, n: number): tf.NamedTensorMap =>
  tf.tidy(() => {
    const xb = x.slice([from, 0], [n, -1]);
    const yb = y.slice([from, 0], [n, -1]);
    return tf.variableGrads(() => tf.metrics.categoricalCrossentropy(yb, model.apply(xb) as tf.Tensor).mean() as tf.Scalar, vars).grads;
  });
const varsOf = (m: tf.LayersModel): tf.Variable[] => m.trainableWeights.map((w) => w.read() as tf.Variable);

describe("l2o/tfjs learned optimizer", () => {
  test("the main entry (l2o) does not load tfjs: it is an optional peer of l2o/tfjs alone", () => {
    const probe = (entry: string): string =>
      spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", `await import(${JSON.stringify(entry)}); console.log(globalThis._tfengine !== undefined)`], {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        encoding: "utf8",
        timeout: 60_000,
      }).stdout.trim();
    assert.equal(probe("./src/index.ts"), "false", "importing l2o created no tfjs engine");
    assert.equal(probe("./src/adapters/tfjs/index.ts"), "true", "importing l2o/tfjs does (the probe can tell)");
  });

  test("model.fit with the default learned optimizer lowers a real tfjs-layers MNIST MLP's loss", async () => {
    assert.equal(DEFAULT_OPTIMIZER, "general");
    const m = mnistMlp(1);
    const opt = learned();
    m.compile({ optimizer: opt, loss: "categoricalCrossentropy" });
    const losses = (await fit(m, 3)).history.loss as number[];
    assert.equal(opt.iterations, 12);
    assert.ok(losses[1]! < losses[0]! && losses[2]! < losses[1]!, `losses ${losses.join(", ")} should fall epoch by epoch`);
    assert.ok(losses[2]! < 0.75 * losses[0]!, `losses ${losses.join(", ")}: the third epoch should be well below the first`);
  });

  for (const name of ["mnist", "adam@0.01"]) {
    test(`the step of '${name}' equals the core transform's update on the same flattened gradients, bit for bit`, () => {
      const r = resolveOptimizer(name);
      const model = mnistMlp(3);
      const vars = varsOf(model);
      const opt = learned(name);
      const core =
        r.source === "file"
          ? r.loaded.optimizer.optFn(r.loaded.phi, layoutOfShapes(vars.map((v) => v.shape)))
          : { ...r.spec.make(r.lr!), dispose: () => {} };
      let theta = flat(vars);
      let state: OptState = core.init(theta);
      for (let step = 0; step < 3; step++) {
        const grads = gradsAt(model, vars, 64 * step, 64);
        let updates: Float32Array;
        [updates, state] = core.update(flat(vars.map((v) => grads[v.name]!)), state, theta, { step });
        theta = applyUpdates(theta, updates);
        opt.applyGradients(grads);
        tf.dispose(grads);
        assert.deepEqual(new Uint32Array(flat(vars).buffer), new Uint32Array(theta.buffer), `step ${step}`);
      }
      core.dispose();
      opt.dispose();
    });

    test(`'${name}': save with the optimizer's state and load, then training continues as one never stopped, bit for bit`, async () => {
      const straight = compiled(5, name);
      await fit(straight, 2, 256);
      const tail = (await fit(straight, 2, 256)).history.loss;

      const first = compiled(5, name);
      await fit(first, 2, 256);
      const artifacts = await saveInMemory(first, true);
      assert.ok(artifacts.weightSpecs!.some((s) => s.group === "optimizer" && s.name.startsWith("l2o/state/")), "the optimizer's state is saved");
      const resumed = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      assert.ok(resumed.optimizer instanceof L2oOptimizer);
      assert.equal(resumed.optimizer.iterations, 4);
      assert.deepEqual((await fit(resumed, 2, 256)).history.loss, tail);
      assert.deepEqual(weightBits(resumed), weightBits(straight));

      // Without the state (a fresh optimizer on the saved weights) the run differs: the state matters.
      const fresh = await tf.loadLayersModel(tf.io.fromMemory(await saveInMemory(first, false)));
      fresh.compile({ optimizer: learned(name), loss: "categoricalCrossentropy" });
      await fit(fresh, 2, 256);
      assert.notDeepEqual(weightBits(fresh), weightBits(straight));
    });
  }

  test("a convolutional model trains; its kernels form the conv group of the layout", async () => {
    const imgs = x.slice([0, 0], [64, -1]).reshape([64, 28, 28, 1]);
    const labels = y.slice([0, 0], [64, -1]);
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 5, strides: 3, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }),
      ],
    });
    assert.deepEqual(layoutOfShapes(m.trainableWeights.map((w) => w.shape as number[])).entries.map((e) => e.group), ["conv", "fc", "fc", "fc"]);
    m.compile({ optimizer: learned("mnist"), loss: "categoricalCrossentropy" });
    const losses = (await m.fit(imgs, labels, { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 })).history.loss as number[];
    assert.ok(losses[2]! < losses[0]!, `conv losses ${losses.join(", ")} should fall`);
  });

  test("getConfig names the optimizer so that it resolves again, and fromConfig refuses other weights", () => {
    const dir = mkdtempSync(join(tmpdir(), "l2o-tfjs-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const lstm = lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 });
    const file = join(dir, "mine.safetensors");
    saveLearnedOptimizer(file, lstm, lstm.init(key(1)).flat);
    const opt = learned(file);
    const config = opt.getConfig();
    assert.equal(config.name, `lstm:${file}`);
    const again = L2oOptimizer.fromConfig(L2oOptimizer, config);
    assert.deepEqual(again.getConfig(), config);
    assert.equal(learned("mnist").getConfig().name, "mnist");
    assert.equal(learned("quadratic").kind, "lstm", "shipped optimizers by their plain names");
    saveLearnedOptimizer(file, lstm, lstm.init(key(2)).flat);
    assert.throws(() => L2oOptimizer.fromConfig(L2oOptimizer, config), (e: Error) => e instanceof TfjsAdapterError && /SHA-256/.test(e.message) && !e.message.includes("\n"));
  });

  test("bad input is refused in one line: an unknown name, NaN gradients, weights of other shapes or of another optimizer", async () => {
    const oneLine = (re: RegExp, cls: new (...a: never[]) => Error = L2oError) => (e: Error) => e instanceof cls && re.test(e.message) && !e.message.includes("\n");
    assert.throws(() => learned("no-such-optimizer"), oneLine(/no-such-optimizer/));
    assert.throws(() => learned("mnist").applyGradients({}), oneLine(/no gradients/, TfjsAdapterError));
    // Options of the wrong kind: named, with what is accepted, rather than a TypeError later.
    assert.throws(() => learned("adam@0.1", { sha256: 5 as unknown as string }), oneLine(/^l2o\/tfjs: option 'sha256' must be a hex string, got number 5$/, TfjsAdapterError));
    assert.throws(() => learned("mnist", { engine: "gpu" as "ref" }), oneLine(/^kernel option 'engine' must be one of wasm, wasm-simd, wasm-fma, ref, got "gpu"$/));

    const small = mnistMlp(9);
    const vars = varsOf(small);
    const opt = learned("mnist");
    const grads = gradsAt(small, vars, 0, 32);
    opt.applyGradients(grads);
    const before = flat(vars);
    const bad: tf.NamedTensorMap = { ...grads, [vars[2]!.name]: tf.fill(vars[2]!.shape, NaN) };
    assert.throws(() => opt.applyGradients(bad as Parameters<L2oOptimizer["applyGradients"]>[0]), oneLine(new RegExp(`gradient of '${vars[2]!.name}'.*NaN`), NonFiniteGradientError));
    assert.deepEqual(flat(vars), before, "a refused step changes nothing");
    assert.equal(opt.iterations, 1);
    const saved = await opt.getWeights();
    assert.deepEqual([saved[0]!.name, saved[0]!.tensor.dtype, Array.from(saved[0]!.tensor.dataSync())], ["iter", "int32", [1]], "the iteration count comes first");

    // An optimizer stepping a model of other shapes refuses them at once; a fresh one at its first step.
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 16, activation: "sigmoid" }), tf.layers.dense({ units: 10, activation: "softmax" })] });
    const otherVars = varsOf(other);
    const otherGrads = gradsAt(other, otherVars, 0, 32);
    const stepped = learned("mnist");
    stepped.applyGradients(otherGrads);
    await assert.rejects(stepped.setWeights(saved), oneLine(/saved for variables of shapes \[784, 20\]/, TfjsAdapterError));
    const fresh = learned("mnist");
    await fresh.setWeights(saved);
    assert.throws(() => fresh.applyGradients(otherGrads), oneLine(/saved for variables of shapes \[784, 20\].*\[784, 16\]/, TfjsAdapterError));

    // Weights of tfjs's Adam, or of a hand-designed l2o optimizer, are not this optimizer's.
    const adam = tf.train.adam(0.01);
    adam.applyGradients(otherGrads as Parameters<typeof adam.applyGradients>[0]);
    await assert.rejects(learned("mnist").setWeights(await adam.getWeights()), oneLine(/not an l2o optimizer's weights/, TfjsAdapterError));
    const hand = learned("adam@0.01");
    hand.applyGradients(gradsAt(small, vars, 0, 32));
    await assert.rejects(learned("mnist").setWeights(await hand.getWeights()), oneLine(/another optimizer/, TfjsAdapterError));

    // A state of the right fields but the wrong size is refused at the first step, by name.
    const cut = saved.map((w) => (w.name === "l2o/state/lstm" ? { name: w.name, tensor: w.tensor.slice(0, 10) } : w));
    const damaged = learned("mnist");
    await damaged.setWeights(cut);
    assert.throws(() => damaged.applyGradients(grads), oneLine(/state given to setWeights does not fit/, TfjsAdapterError));

    opt.dispose();
    assert.throws(() => opt.applyGradients(grads), oneLine(/disposed/, TfjsAdapterError));
  });
});

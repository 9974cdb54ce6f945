import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { key, uniform } from "../src/core/rng.ts";
import { ParamLayout } from "../src/core/layout.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { engineFactory } from "../src/kernels/select.ts";
import type { EngineKind } from "../src/kernels/select.ts";
import { lstmOptimizer, type LstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { PRETRAINED_DIR, loadLearnedOptimizer, resolveOptimizerPath, saveLearnedOptimizer } from "../src/learned/file.ts";
import { FileFormatError, decodeSafetensors } from "../src/io/safetensors.ts";
import { MissingFileError } from "../src/io/files.ts";
import { OutputPathError } from "../src/io/paths.ts";
import { ConfigError } from "../src/core/errors.ts";
import { saveOptimizerFile } from "../src/io/optimizer_file.ts";
import { pretrainedNames } from "../src/learned/pretrained.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-learned-file-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmpPath = (name = "opt.safetensors"): string => join(dir, `${fileNo++}`, name);

const bytesOf = (a: Float32Array): number[] => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

/** Two LSTMs (conv, fc), LogAndSign p = 7, 5 units, 2 layers, output scale 0.05. */
const CONFIG = { hidden: 5, layers: 2, preprocess: { kind: "logSign", p: 7 }, outputScale: 0.05, groups: [["conv"], ["fc"]] } as const;

function makeOpt(): LstmOptimizer {
  return lstmOptimizer(CONFIG, createReferenceEngine);
}

/** Initial phi, biases filled in too (so every tensor is non-trivial), with a -0 and a denormal. */
function somePhi(opt: LstmOptimizer): Float32Array {
  const phi = opt.init(key(3)).flat;
  const noise = uniform(key(4), phi.length, -0.05, 0.05);
  for (let i = 0; i < phi.length; i++) if (phi[i] === 0) phi[i] = noise[i]!;
  phi[1] = -0;
  phi[2] = 1e-45; // the smallest float32 denormal
  return phi;
}

const layout = new ParamLayout([
  { name: "c1", shape: [2, 3], group: "conv" },
  { name: "f1", shape: [4], group: "fc" },
  { name: "c2", shape: [2], group: "conv" },
]);

function assertFormatError(f: () => unknown, problem: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${String(e)}`);
    assert.match(e.message, problem);
    return true;
  });
}

describe("saveLearnedOptimizer / loadLearnedOptimizer (an LSTM)", () => {
  it("round-trips phi bit for bit, with the configuration and the info given", () => {
    const opt = makeOpt();
    const phi = somePhi(opt);
    const path = tmpPath();
    const meta = saveLearnedOptimizer(path, opt, phi, { training: { task: "quadratic", epochs: 3 }, validation: { score: 1.25 } });
    assert.equal(meta.kind, "lstm");
    const loaded = loadLearnedOptimizer(path, { engine: "ref" });
    assert.equal(loaded.path, resolve(path));
    assert.equal(loaded.phi.length, opt.phiSize);
    assert.deepEqual(bytesOf(loaded.phi), bytesOf(phi));
    assert.ok(Object.is(loaded.phi[1], -0));
    assert.equal(loaded.phi[2], Math.fround(1e-45));
    assert.ok(loaded.phi[2]! > 0);
    // The configuration survives as resolved (every field), and rebuilds the same shape.
    assert.deepEqual(loaded.optimizer.config, opt.config);
    assert.deepEqual(loaded.optimizer.config, {
      hidden: 5,
      layers: 2,
      preprocess: { kind: "logSign", p: 7 },
      outputScale: 0.05,
      groups: [["conv"], ["fc"]],
    });
    const lstm = loaded.optimizer as LstmOptimizer;
    assert.equal(lstm.kind, "lstm");
    assert.equal(lstm.lstms, 2);
    assert.deepEqual(lstm.shape, { inputs: 2, hidden: 5, layers: 2 });
    assert.equal(loaded.optimizer.phiSize, opt.phiSize);
    assert.deepEqual(loaded.meta.training, { task: "quadratic", epochs: 3 });
    assert.deepEqual(loaded.meta.validation, { score: 1.25 });
    assert.equal(loaded.meta.config.outputScale, 0.05);
  });

  it("the loaded optimizer makes the same updates as the one saved", () => {
    const opt = makeOpt();
    const phi = somePhi(opt);
    const path = tmpPath();
    saveLearnedOptimizer(path, opt, phi);
    const loaded = loadLearnedOptimizer(path, { engine: "ref" });
    const a = opt.optFn(phi, layout);
    const b = loaded.optimizer.optFn(loaded.phi, layout);
    const theta = uniform(key(5), layout.size, -1, 1);
    let sa = a.init(theta);
    let sb = b.init(theta);
    let nonzero = false;
    for (let t = 0; t < 3; t++) {
      const g = uniform(key(10 + t), layout.size, -2, 2);
      const [ua, na] = a.update(g, sa, theta);
      const [ub, nb] = b.update(g, sb, theta);
      assert.deepEqual(bytesOf(ub), bytesOf(ua), `step ${t}`);
      nonzero ||= ua.some((x) => x !== 0);
      sa = na;
      sb = nb;
    }
    assert.ok(nonzero);
    // A different phi would not: the check above can tell optimizers apart.
    const other = opt.optFn(opt.init(key(99)).flat, layout);
    const g = uniform(key(10), layout.size, -2, 2);
    assert.notDeepEqual(bytesOf(other.update(g, other.init(theta), theta)[0]), bytesOf(a.update(g, a.init(theta), theta)[0]));
    a.dispose();
    b.dispose();
    other.dispose();
  });

  it("stores phi as tensors named by role, readable by any safetensors reader", () => {
    const opt = makeOpt();
    const phi = somePhi(opt);
    const path = tmpPath();
    saveLearnedOptimizer(path, opt, phi);
    const { tensors, metadata } = decodeSafetensors(readFileSync(path));
    const H = 5;
    const expected: Record<string, number[]> = {};
    for (const k of [0, 1]) {
      expected[`lstm${k}.layer0.weight`] = [2 + H, 4 * H];
      expected[`lstm${k}.layer0.bias`] = [4 * H];
      expected[`lstm${k}.layer1.weight`] = [H + H, 4 * H];
      expected[`lstm${k}.layer1.bias`] = [4 * H];
      expected[`lstm${k}.head.weight`] = [H, 1];
      expected[`lstm${k}.head.bias`] = [1];
    }
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(expected).sort());
    for (const [name, shape] of Object.entries(expected)) {
      assert.equal(tensors[name]!.dtype, "F32", name);
      assert.deepEqual(tensors[name]!.shape, shape, name);
    }
    // Names map to phi's slices in order: lstm0's tensors, then lstm1's.
    let o = 0;
    for (const e of opt.phiEntries) {
      const size = e.shape.reduce((x, y) => x * y, 1);
      assert.deepEqual(bytesOf(tensors[e.name]!.data as Float32Array), bytesOf(phi.subarray(o, o + size)), e.name);
      o += size;
    }
    assert.equal(o, phi.length);
    const l2o = JSON.parse(metadata.l2o!) as Record<string, unknown>;
    assert.equal(l2o.format, "l2o-optimizer");
    assert.equal(l2o.kind, "lstm");
  });

  it("refuses to save a phi of the wrong size", () => {
    const opt = makeOpt();
    assert.throws(() => saveLearnedOptimizer(tmpPath(), opt, new Float32Array(opt.phiSize - 1)), (e: unknown) => e instanceof ConfigError && /phi has/.test(e.message));
  });

  it("a path it cannot write (a folder, under a file) is an OutputPathError naming it and why, and leaves nothing behind", () => {
    const opt = makeOpt();
    const phi = somePhi(opt);
    const folder = tmpPath("a-folder.safetensors");
    mkdirSync(folder, { recursive: true });
    assert.throws(() => saveLearnedOptimizer(folder, opt, phi), (e: unknown) => e instanceof OutputPathError && e.message.startsWith(`cannot write ${folder}: EISDIR: `));
    assert.deepEqual(readdirSync(join(folder, "..")), ["a-folder.safetensors"]);
    const file = tmpPath("plain.txt");
    saveLearnedOptimizer(file, opt, phi);
    const under = join(file, "opt.safetensors");
    assert.throws(() => saveLearnedOptimizer(under, opt, phi), (e: unknown) => e instanceof OutputPathError && e.message.startsWith(`cannot write ${under}: EEXIST: `) && e.message.includes(file));
  });

  it("a truncated file, a damaged header or a file that is not safetensors is a FileFormatError", () => {
    const opt = makeOpt();
    const path = tmpPath();
    saveLearnedOptimizer(path, opt, somePhi(opt));
    const good = readFileSync(path);

    const truncated = tmpPath();
    mkdirSync(join(truncated, ".."), { recursive: true });
    writeFileSync(truncated, good.subarray(0, good.length - 4));
    assert.throws(() => loadLearnedOptimizer(truncated, { engine: "ref" }), FileFormatError);

    const flipped = tmpPath();
    mkdirSync(join(flipped, ".."), { recursive: true });
    const bad = Uint8Array.from(good);
    bad[8] = 0x58; // the header's opening '{' becomes 'X': not JSON
    writeFileSync(flipped, bad);
    assert.throws(() => loadLearnedOptimizer(flipped, { engine: "ref" }), FileFormatError);

    const hugeHeader = tmpPath();
    mkdirSync(join(hugeHeader, ".."), { recursive: true });
    const h = Uint8Array.from(good);
    h[5] = 0x7f; // the header length claims far more bytes than the file has
    writeFileSync(hugeHeader, h);
    assert.throws(() => loadLearnedOptimizer(hugeHeader, { engine: "ref" }), FileFormatError);

    const text = tmpPath("notes.safetensors");
    mkdirSync(join(text, ".."), { recursive: true });
    writeFileSync(text, "this is not an optimizer\n");
    assert.throws(() => loadLearnedOptimizer(text, { engine: "ref" }), FileFormatError);

    const empty = tmpPath("empty.safetensors");
    mkdirSync(join(empty, ".."), { recursive: true });
    writeFileSync(empty, "");
    assert.throws(() => loadLearnedOptimizer(empty, { engine: "ref" }), FileFormatError);
  });

  it("a missing file is a MissingFileError naming the path", () => {
    const path = join(dir, "nope", "missing.safetensors");
    assert.throws(
      () => loadLearnedOptimizer(path, { engine: "ref" }),
      (e: unknown) => e instanceof MissingFileError && e.message.includes(path),
    );
  });

  it("a file whose LSTM configuration is invalid is a FileFormatError", () => {
    const opt = makeOpt();
    const entries = opt.phiEntries;
    const phi = { flat: somePhi(opt), entries };
    // Sizes past the kind's limits are refused before anything is allocated (1e7 layers once took 4.7 GB).
    const huge = [{ layers: 1e7 }, { hidden: 1e6 }, { groups: Array.from({ length: 100 }, (_, i) => [`g${i}`]) }, { preprocess: { kind: "logSign", p: 1000 } }];
    for (const config of [{ hidden: -1 }, { hidden: 5, layers: 2, outputScale: 0 }, { hidden: 5, colour: "red" }, { preprocess: { kind: "magic" } }, ...huge]) {
      const path = tmpPath();
      saveOptimizerFile(path, { phi, meta: { kind: "lstm", config } });
      assertFormatError(() => loadLearnedOptimizer(path, { engine: "ref" }), /invalid lstm configuration/);
    }
  });

  it("weights that do not fit the configuration, or of another optimizer kind, are a FileFormatError", () => {
    const opt = makeOpt();
    const phi = { flat: somePhi(opt), entries: opt.phiEntries };
    // The weights of 5-unit LSTMs under a 6-unit configuration.
    const p1 = tmpPath();
    saveOptimizerFile(p1, { phi, meta: { kind: "lstm", config: { ...CONFIG, hidden: 6, groups: [["conv"], ["fc"]] } } });
    assertFormatError(() => loadLearnedOptimizer(p1, { engine: "ref" }), /do not fit/);
    // Two LSTMs' weights under a one-LSTM configuration: lstm1.* left over is fine, but a
    // configuration with three groups lacks lstm2.*.
    const p2 = tmpPath();
    saveOptimizerFile(p2, { phi, meta: { kind: "lstm", config: { ...CONFIG, groups: [["conv"], ["fc"], ["other"]] } } });
    assertFormatError(() => loadLearnedOptimizer(p2, { engine: "ref" }), /lstm2/);
    const p3 = tmpPath();
    saveOptimizerFile(p3, { phi, meta: { kind: "metasgd", config: {} } });
    assertFormatError(() => loadLearnedOptimizer(p3, { engine: "ref" }), /'metasgd' optimizer, a kind this version of l2o does not know/);
  });

  it("NaN or infinite weights are a FileFormatError, and saveLearnedOptimizer never writes them", () => {
    const opt = makeOpt();
    for (const v of [NaN, Infinity]) {
      const phi = somePhi(opt);
      phi[7] = v;
      const path = tmpPath();
      assert.throws(() => saveLearnedOptimizer(path, opt, phi), /refusing to write weights with a non-finite value/);
      // Such a file, written by another program, is refused on load.
      saveOptimizerFile(path, { phi: { flat: phi, entries: opt.phiEntries }, meta: { kind: opt.kind, config: JSON.parse(JSON.stringify(opt.config)) as Record<string, unknown> } });
      assertFormatError(() => loadLearnedOptimizer(path, { engine: "ref" }), /NaN or infinite/);
    }
  });
});

describe("the shipped optimizers", () => {
  const names = pretrainedNames();
  it("are one per task under its plain name (general: the task mixture), and the six they descend from under lineage/", () => {
    assert.deepEqual(names, ["general", "mnist", "quadratic", "lineage/mnist-damped", "lineage/mnist-late", "lineage/mnist-momentum", "lineage/mnist-paper", "lineage/quadratic-100steps", "lineage/quadratic-200steps"]);
    assert.deepEqual(readdirSync(PRETRAINED_DIR).filter((f) => f.endsWith(".safetensors")).sort(), ["general.safetensors", "mnist.safetensors", "quadratic.safetensors"]);
  });
  for (const name of names) {
    it(`pretrained/${name} loads, with finite weights, its training recorded and the validation it was kept for`, () => {
      const { phi, meta, optimizer } = loadLearnedOptimizer(`pretrained/${name}`, { engine: "ref" });
      assert.equal(phi.length, optimizer.phiSize);
      assert.ok(phi.every(Number.isFinite));
      const training = meta.training as Record<string, unknown>;
      const plain = name.replace("lineage/", "");
      assert.equal(training.task, plain === "general" ? "mixture" : plain.startsWith("mnist") ? "mnist-mlp" : "quadratic");
      assert.equal(typeof training.seed, "number");
      const validation = meta.validation as Record<string, unknown>;
      assert.ok(Number.isFinite(validation.score) && Number.isInteger(validation.epoch), JSON.stringify(validation));
    });
  }
});

describe("loadLearnedOptimizer's default engine", () => {
  /** Three updates of pretrained/lineage/mnist-momentum on 37 coordinates, concatenated. */
  function updates(engine?: EngineKind): Float32Array {
    const { optimizer, phi } = engine === undefined ? loadLearnedOptimizer("pretrained/lineage/mnist-momentum") : loadLearnedOptimizer("pretrained/lineage/mnist-momentum", { engine });
    const lay = new ParamLayout([{ name: "w", shape: [37] }]);
    const tx = optimizer.optFn(phi, lay);
    const out = new Float32Array(3 * 37);
    let theta = uniform(key(11), 37, -1, 1);
    let state = tx.init(theta);
    for (let t = 0; t < 3; t++) {
      const grad = uniform(key(12 + t), 37, -0.3, 0.3);
      const [u, next] = tx.update(grad, state, theta);
      out.set(u, t * 37);
      state = next;
      theta = theta.map((x, i) => x + u[i]!);
    }
    tx.dispose();
    return out;
  }

  it("is the WebAssembly kernel on one thread (a trained optimizer is for use, not for checking the kernel)", () => {
    const byDefault = updates();
    assert.deepEqual(bytesOf(byDefault), bytesOf(updates("wasm")));
    // The reference computes in float64 inside a step: close, but not the same bits.
    const ref = updates("ref");
    assert.notDeepEqual(bytesOf(byDefault), bytesOf(ref));
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(byDefault[i]! - ref[i]!) <= 1e-5 * (1e-3 + Math.abs(ref[i]!)), `update ${i}: ${byDefault[i]} against ${ref[i]}`);
  });
});

describe("resolveOptimizerPath", () => {
  it("maps pretrained/NAME to the shipped folder, with or without the extension", () => {
    assert.equal(resolveOptimizerPath("pretrained/quadratic"), join(PRETRAINED_DIR, "quadratic.safetensors"));
    assert.equal(resolveOptimizerPath("pretrained/mnist-mlp.safetensors"), join(PRETRAINED_DIR, "mnist-mlp.safetensors"));
    // The shipped folder is the package's, not the working directory's.
    assert.equal(PRETRAINED_DIR, resolve(new URL("..", import.meta.url).pathname, "pretrained"));
  });

  it("does not treat other paths as pretrained names", () => {
    assert.equal(resolveOptimizerPath("pretrained/../x.safetensors"), resolve("x.safetensors"));
    assert.equal(resolveOptimizerPath("runs/pretrained/quadratic"), resolve("runs/pretrained/quadratic"));
  });

  it("adds .safetensors only when the bare path does not exist and the suffixed one does", () => {
    const sub = join(dir, "resolve");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "a.safetensors"), "");
    writeFileSync(join(sub, "b"), "");
    writeFileSync(join(sub, "b.safetensors"), "");
    assert.equal(resolveOptimizerPath(join(sub, "a")), join(sub, "a.safetensors"));
    assert.equal(resolveOptimizerPath(join(sub, "b")), join(sub, "b"));
    assert.equal(resolveOptimizerPath(join(sub, "c")), join(sub, "c"));
  });

  it("loadLearnedOptimizer finds a file given without its extension", () => {
    const opt = makeOpt();
    const path = tmpPath("short.safetensors");
    saveLearnedOptimizer(path, opt, somePhi(opt));
    const loaded = loadLearnedOptimizer(path.slice(0, -".safetensors".length), { engine: "ref" });
    assert.equal(loaded.path, path);
  });
});

describe("a few-shot learner's file given where an optimizer is expected", () => {
  it("is refused in one line that says how to evaluate it", () => {
    const path = join(dir, "fewshot.safetensors");
    saveOptimizerFile(path, { phi: { w: new Float32Array([1, 2]) }, meta: { kind: "fewshot", config: { learner: {}, task: {} } } });
    assert.throws(
      () => loadLearnedOptimizer(path, { engine: "ref" }),
      (e: unknown) => e instanceof FileFormatError && /holds a few-shot learner \(kind 'fewshot'\), not an optimizer of a task: evaluate it with l2o fewshot eval /.test(e.message) && !e.message.includes("\n"),
    );
  });

  it("and a black-box LSTM's file (l2o blackbox train) likewise, not as 'a kind this version of l2o does not know'", () => {
    const path = join(dir, "blackbox.safetensors");
    saveOptimizerFile(path, { phi: { w: new Float32Array([1, 2]) }, meta: { kind: "blackbox-lstm", config: { dim: 2, hidden: 4, loss: "sum" } } });
    assert.throws(
      () => loadLearnedOptimizer(path, { engine: "ref" }),
      (e: unknown) =>
        e instanceof FileFormatError &&
        /holds a black-box query-proposing LSTM \(kind 'blackbox-lstm'\), .* not an optimizer of a task: evaluate it with l2o blackbox eval --methods .*blackbox\.safetensors$/.test(e.message),
    );
  });
});

/**
 * `l2o train|eval|run --task ./module.ts`: a task family from the user's own module, trained,
 * resumed (and refused once the module changed), evaluated and run; a module that is missing,
 * fails to import or exports no TaskFamily is one error line and exit code 2.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { key } from "../src/core/rng.ts";
import { UsageError } from "../src/cli/errors.ts";
import { resolveTaskFamily } from "../src/cli/resolve.ts";
import { isTaskModulePath, loadTaskModule } from "../src/cli/user_task.ts";
import { l2o, assertInputError, type Result } from "./cli_run.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
const FIXTURE = "test/fixtures/user_task.ts";
const dir = mkdtempSync(join(tmpdir(), "l2o-user-task-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A short training's flags (the reference engine: no build needed). */
const SHORT = ["--horizon", "10", "--unroll", "5", "--horizons-per-epoch", "2", "--validation-tasks", "2", "--engine", "ref", "--quiet"];
const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A copy of the fixture outside the repository (importing l2o by its file URL), which a test may change. */
function moduleCopy(name: string): string {
  const path = join(dir, name);
  const index = pathToFileURL(join(REPO, "src", "index.ts")).href;
  writeFileSync(path, readFileSync(join(REPO, FIXTURE), "utf8").replace(/from "l2o"/, `from ${JSON.stringify(index)}`));
  return path;
}

describe("l2o --task MODULE", () => {
  it("trains on a module's family with its training defaults, resumes, evals and runs the result, and refuses to resume once the module changed", async () => {
    // .mts: an ES module wherever it lies (a .ts outside a "type": "module" package is read as CommonJS).
    const mod = moduleCopy("task.mts");
    const out = join(dir, "ls.safetensors");
    const ck = join(dir, "ls.ckpt");
    const first = await l2o("train", "--task", mod, "--out", out, "--checkpoint", ck, "--epochs", "1", ...SHORT);
    assert.equal(first.code, 0, first.stderr);
    const again = await l2o("train", "--task", mod, "--out", out, "--checkpoint", ck, "--epochs", "2", ...SHORT);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /after 2 epochs/, "the run went on from its checkpoint");
    const meta = loadLearnedOptimizer(out).meta;
    const training = meta.training as Record<string, unknown>;
    assert.equal(training.task, mod, "the file names the module by its absolute path");
    assert.equal(training.taskModuleSha256, sha256(mod));
    assert.deepEqual(training.taskConfig, { dim: 4, rows: 12 }, "the module's training.taskConfig over its factory's defaults");
    assert.deepEqual((meta.config as Record<string, unknown>).preprocess, { kind: "none" }, "the module's training.optimizer.lstm");

    const [ev, run] = await Promise.all([
      l2o("eval", "--task", `./${FIXTURE}`, "--optimizers", `adam,${out}`, "--steps", "10", "--instances", "3", "--tune-instances", "2", "--lr-grid", "0.01,0.1", "--engine", "ref", "--quiet"),
      l2o("run", "--task", FIXTURE, "--task-config", '{"dim":6}', "--optimizer", out, "--steps", "10", "--instances", "2", "--engine", "ref", "--quiet"),
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /^least-squares: 3 fresh instances, 10 steps/m);
    assert.match(ev.stdout, /^adam\s/m);
    assert.equal(run.code, 0, run.stderr);
    const losses = [...run.stdout.matchAll(/^\s+(\d+)\s+([\d.]+)\s/gm)].map((m) => Number(m[2]));
    assert.ok(losses.length >= 2 && losses.every(Number.isFinite), run.stdout);

    writeFileSync(mod, `${readFileSync(mod, "utf8")}\n// changed\n`);
    const changed = await l2o("train", "--task", mod, "--out", out, "--checkpoint", ck, "--epochs", "3", ...SHORT);
    assertInputError(changed, /was made with another version of the task module: its file's SHA-256 was "[0-9a-f]{64}", it is now "[0-9a-f]{64}"/, "a changed module");
  });

  it("takes a named export 'family' that is a TaskFamily itself; a bad module is one line and exit 2", async () => {
    const cases: Array<[string[], RegExp, string]> = [
      [["run", "--task", "./no-such-task.ts", "--optimizer", "adam"], /task module \.\/no-such-task\.ts does not exist/, "missing"],
      [["run", "--task", "test/fixtures/user_task_throws.ts", "--optimizer", "adam"], /failed to load: Error: this module fails on import \(at .*user_task_throws\.ts:\d+:\d+\)/, "throws on import"],
      [["train", "--task", "test/fixtures/user_task_bad.ts", "--out", join(dir, "x.safetensors"), ...SHORT], /its default export is not a TaskFamily \{name, config, sample\(key\)\}: it has no 'sample\(key\)' function/, "no family"],
      [["eval", "--task", "test/fixtures/user_task_wrong.ts", "--optimizers", "adam@0.1", "--steps", "3", "--instances", "2", "--quiet"], /sample\(key\) returned a task that gives a gradient that is not a Float32Array of its layout's 3 numbers/, "a wrong gradient"],
    ];
    const [ok, ...results] = await Promise.all([
      l2o("run", "--task", "test/fixtures/user_task_family.ts", "--optimizer", "sgd@0.1", "--steps", "5", "--instances", "2", "--quiet"),
      ...cases.map(([args]) => l2o(...args)),
    ]);
    assert.equal(ok!.code, 0, ok!.stderr);
    assert.match(ok!.stdout, /^sphere, sgd/m);
    results.forEach((r, i) => assertInputError(r, cases[i]![1], cases[i]![2]));
  });
});

describe("examples/my_task.ts", () => {
  it("trains for an epoch and is evaluated against Adam, as its comment shows", async () => {
    const out = join(dir, "my-optimizer.safetensors");
    const train = await l2o("train", "--task", "./examples/my_task.ts", "--out", out, "--epochs", "1", ...SHORT);
    assert.equal(train.code, 0, train.stderr);
    assert.ok(existsSync(out));
    const ev = await l2o("eval", "--task", "./examples/my_task.ts", "--optimizers", `adam,${out}`, "--steps", "10", "--instances", "2", "--tune-instances", "2", "--lr-grid", "0.1,1", "--engine", "ref", "--quiet");
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /^logistic-regression: 2 fresh instances, 10 steps/m);
  });
});

describe("task modules, loaded in process", () => {
  it("tells paths from names, and refuses a folder, a missing file, a config for a plain family, a refused config", async () => {
    for (const p of ["./t", "../t", "/t", "t.ts", "t.mts", "t.js", "t.mjs"]) assert.ok(isTaskModulePath(p), p);
    for (const n of ["quadratic", "mnist-mlp", "t.json"]) assert.ok(!isTaskModulePath(n), n);
    await assert.rejects(loadTaskModule("./test/fixtures"), (e: Error) => e instanceof UsageError && /is not a file/.test(e.message));
    await assert.rejects(loadTaskModule("no-such-task.mjs"), /task module no-such-task\.mjs does not exist/);
    const plain = await loadTaskModule("test/fixtures/user_task_family.ts");
    assert.throws(() => plain.family({ a: 1 }), /--task-config: task module .* exports a TaskFamily, not a factory/);
    const factory = await loadTaskModule(FIXTURE);
    assert.equal(factory.sha256, sha256(join(REPO, FIXTURE)));
    assert.throws(() => factory.family({ dim: 0 }), /--task-config: task module .* refused \{"dim":0\}: dim must be an integer from 1 to 1000, got 0/);
    assert.throws(() => resolveTaskFamily("no-such-task", {}), /unknown task 'no-such-task'; known tasks: .*; or a task module of your own/);
    assert.equal(resolveTaskFamily(FIXTURE, { dim: 3 }).sample(key(0)).layout.size, 3, "resolveTaskFamily serves a loaded module");
  });
});

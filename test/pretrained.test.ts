/**
 * The shipped optimizers' names and lineage: one file per task under its plain name, the
 * earlier ones under lineage/, every file stating its real parent and the commands that made
 * it; `l2o info` describing a file, `l2o --version`, and the hints for a name that is not
 * there but means a shipped file.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOptimizerFile } from "../src/io/optimizer_file.ts";
import { PRETRAINED_DIR } from "../src/learned/file.ts";
import { isPretrainedName, lineageOf, pretrainedHint, pretrainedNames } from "../src/learned/pretrained.ts";
import { resolveOptimizer, UnknownOptimizerError } from "../src/learned/resolve.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "l2o.js"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });

describe("the shipped optimizers' lineage", () => {
  for (const name of pretrainedNames()) {
    it(`${name} records its name, its real parent and the commands that made it`, () => {
      const meta = loadOptimizerFile(join(PRETRAINED_DIR, `${name}.safetensors`)).meta;
      const l = lineageOf(meta.training);
      assert.ok(l !== undefined, "no training.lineage");
      assert.equal(l.name, name);
      // The parent is a shipped file, or none with a note of what it was.
      if (l.parent !== null && l.parent !== undefined) {
        assert.ok(isPretrainedName(l.parent.replace(/^pretrained\//, "")), `parent ${l.parent} is not shipped`);
      }
      assert.ok(l.recipe !== undefined && l.recipe.length > 0);
      // The last command writes this very file, and a stage that starts from a shipped file
      // names that file by its current name.
      assert.match(l.recipe.at(-1)!, new RegExp(`--out pretrained/${name}\\.safetensors( |$)`));
      for (const cmd of l.recipe) {
        const init = / --init (\S+)/.exec(cmd)?.[1];
        if (init?.startsWith("pretrained/") === true) assert.ok(isPretrainedName(init.slice("pretrained/".length)), `${cmd}: --init ${init} is not shipped`);
      }
      if (l.parent) assert.ok(l.recipe.some((c) => c.includes(`--init ${l.parent}`)), "the recipe does not start from the parent");
      assert.ok(typeof l.chosen === "string" && l.chosen.length > 0);
    });
  }

  it("no file names an old name as its parent", () => {
    for (const name of pretrainedNames()) {
      const l = lineageOf(loadOptimizerFile(join(PRETRAINED_DIR, `${name}.safetensors`)).meta.training)!;
      assert.doesNotMatch(JSON.stringify(l.recipe), /-h100|-h200|momentum-scratch/);
    }
  });
});

describe("names that mean a shipped file", () => {
  it("resolve lineage/NAME and pretrained/lineage/NAME to the earlier files", () => {
    for (const n of ["lineage/mnist-paper", "pretrained/lineage/mnist-paper", "lstm:lineage/mnist-paper"]) {
      const r = resolveOptimizer(n, { engine: "ref" });
      assert.equal(r.source, "file");
      if (r.source === "file") assert.equal(r.loaded.path, join(PRETRAINED_DIR, "lineage", "mnist-paper.safetensors"));
    }
  });

  it("a former name says what it is called now", () => {
    assert.match(pretrainedHint("quadratic-h100")!, /now 'lineage\/quadratic-100steps'/);
    assert.match(pretrainedHint("pretrained/mnist-momentum-scratch")!, /now 'mnist'/);
    assert.throws(() => resolveOptimizer("lstm:quadratic-h200"), (e: unknown) => e instanceof UnknownOptimizerError && /renamed: the shipped optimizer is now 'lineage\/quadratic-200steps'/.test(e.message));
  });

  it("a missing path whose file name is a shipped name says so; other missing names do not", () => {
    assert.match(pretrainedHint("runs/quadratic.safetensors")!, /named 'quadratic'/);
    assert.match(pretrainedHint("mnist-paper")!, /named 'lineage\/mnist-paper'/);
    assert.equal(pretrainedHint("runs/mine.safetensors"), undefined);
    assert.equal(pretrainedHint("nonesuch"), undefined);
  });
});

describe("l2o info and --version", () => {
  it("--version prints the package's version", () => {
    const r = cli("--version");
    assert.equal(r.status, 0);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it("info describes a shipped file: kind, architecture, inputs, training, validation, lineage", () => {
    const r = cli("info", "mnist");
    assert.equal(r.status, 0, r.stderr);
    const field = (k: string) => new RegExp(`^${k} +(.*)$`, "m").exec(r.stdout)?.[1] ?? "";
    assert.match(field("kind"), /^lstm: /);
    assert.match(field("architecture"), /^2 layers x 20 units, output scale 0\.1.*5,461 weights in 6 tensors$/);
    assert.match(field("inputs"), /moving averages at 0\.9, 0\.99/);
    assert.match(field("trained on"), /^mnist-mlp /);
    assert.match(field("training"), /second order, second-order scale 0\.2.*seed 72/);
    assert.match(field("validation"), /^0\.28512 at epoch 6/);
    assert.match(field("formerly"), /pretrained\/mnist-momentum-scratch/);
    assert.match(field("recipe"), /^1\. npx l2o train /);
    assert.match(field("integrity"), /checked/);
  });

  it("info names the parent of a fine-tuned file, and --json gives the metadata", () => {
    assert.match(cli("info", "lineage/mnist-momentum").stdout, /^parent +pretrained\/lineage\/mnist-damped /m);
    const j = JSON.parse(cli("info", "quadratic", "--json").stdout) as { kind: string; training: { lineage: { parent: string } } };
    assert.equal(j.kind, "lstm");
    assert.equal(j.training.lineage.parent, "pretrained/lineage/quadratic-200steps");
  });

  it("info of a hand-designed name, an old name or a missing file is a one-line error, exit 2", () => {
    for (const [name, re] of [
      ["adam", /hand-designed optimizer .* no file/],
      ["quadratic-h100", /renamed: the shipped optimizer is now 'lineage\/quadratic-100steps'/],
      ["runs/nothing-here.safetensors", /not found/],
    ] as const) {
      const r = cli("info", name);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
  });
});

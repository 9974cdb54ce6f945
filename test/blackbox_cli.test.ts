/**
 * `l2o blackbox train|eval` and the network's files: a trained file loads back with its
 * parameters (float32), eval reads it per dimension, and bad names, sizes and files are refused
 * with one `l2o: error:` line and exit code 2.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { registerBlackboxCommand } from "../src/cli/blackbox.ts";
import { L2oError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { loadBlackboxFile, saveBlackboxFile } from "../src/blackbox/file.ts";
import { evaluate } from "../src/blackbox/eval.ts";
import { initParameters } from "../src/blackbox/lstm.ts";
import { Rand } from "../src/blackbox/random.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import { saveOptimizerFile } from "../src/io/optimizer_file.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "l2o-blackbox-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const l2o = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [join(REPO, "bin", "l2o.js"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test("a blackbox file saves and loads back its shape, loss and parameters", () => {
  const shape = { dim: 3, hidden: 6 };
  const params = initParameters(shape, new Rand(key(1)));
  const path = join(dir, "net.safetensors");
  saveBlackboxFile(path, { shape, loss: "oi", params, training: { note: "test" } });
  const back = loadBlackboxFile(path);
  assert.deepEqual(back.shape, shape);
  assert.equal(back.loss, "oi");
  assert.deepEqual(Array.from(back.params), Array.from(Float32Array.from(params)));
  assert.equal(back.training.note, "test");
  // An optimizer file of another kind is refused by name.
  const other = join(dir, "other.safetensors");
  saveOptimizerFile(other, { phi: { w: new Float32Array(3) }, meta: { kind: "lstm", config: {} } });
  assert.throws(() => loadBlackboxFile(other), (e: unknown) => e instanceof FileFormatError && /of kind 'lstm', not 'blackbox-lstm'/.test(e.message));
  // A damaged file fails its hash check.
  const damaged = join(dir, "damaged.safetensors");
  saveBlackboxFile(damaged, { shape, loss: "sum", params, training: {} });
  const bytes = new Uint8Array(readFileSync(damaged));
  bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
  writeFileSync(damaged, bytes);
  assert.throws(() => loadBlackboxFile(damaged), FileFormatError);
});

test("l2o blackbox train writes a file that l2o blackbox eval reads for each dimension", () => {
  for (const d of [1, 2]) {
    const r = l2o("blackbox", "train", "--dim", String(d), "--loss", "oi", "--hidden", "4", "--horizon", "5", "--iterations", "2", "--batch", "2", "--out", join(dir, `oi-${d}d.safetensors`), "--quiet");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${d}-D, oi loss\\): 2 meta-iterations`));
  }
  const out = join(dir, "report.json");
  const r = l2o("blackbox", "eval", "--functions", "gp1,branin", "--methods", `random,${join(dir, "oi-{dim}d.safetensors")}`, "--runs", "2", "--evaluations", "4", "--out", out, "--quiet");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gp1 \(1-D\)/);
  assert.match(r.stdout, /branin \(2-D, known minimum 0.397887\)/);
  assert.match(r.stdout, /lstm-oi/);
});

test("l2o blackbox refuses an unknown test function with one line and exit code 2", () => {
  const r = l2o("blackbox", "eval", "--functions", "gp2,rosen");
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^l2o: error: unknown test function 'rosen'/);
});

// The other refusals in process (a spawned CLI costs seconds each): each is an L2oError, which
// the CLI prints as one `l2o: error:` line with exit code 2, thrown before any work.
for (const [what, args, message] of [
  ["GP sample of dimension 0", ["eval", "--functions", "gp0"], /unknown test function 'gp0'/],
  ["unknown method", ["eval", "--methods", "random,cma"], /unknown method 'cma'/],
  ["missing network file", ["eval", "--methods", "/nonexistent/x-{dim}d.safetensors"], /not found/],
  ["zero runs", ["eval", "--runs", "0"], /--runs must be from 1/],
  ["one evaluation", ["eval", "--evaluations", "1"], /--evaluations must be from 2/],
  ["runs in hexadecimal", ["eval", "--runs", "0x10"], /--runs expects an integer/],
  ["dimension 0", ["train", "--dim", "0", "--out", "/tmp/never.safetensors"], /--dim must be from 1 to 20/],
  ["huge hidden size", ["train", "--dim", "2", "--hidden", "100000", "--out", "/tmp/never.safetensors"], /--hidden must be from 1 to 1,024/],
  ["huge horizon", ["train", "--dim", "2", "--horizon", "5000", "--out", "/tmp/never.safetensors"], /--horizon must be from 2 to 1,000/],
  ["unknown loss", ["train", "--dim", "2", "--loss", "mse", "--out", "/tmp/never.safetensors"], /--loss must be one of sum, oi/],
] as const) {
  test(`l2o blackbox refuses a ${what} with a one-line L2oError`, async () => {
    const program = new Command().exitOverride();
    registerBlackboxCommand(program);
    await assert.rejects(program.parseAsync(["node", "l2o", "blackbox", ...args]), (e: unknown) => {
      assert.ok(e instanceof L2oError, String(e));
      assert.equal(e.message.split("\n").length, 1);
      assert.match(e.message, message);
      return true;
    });
  });
}

test("every method of an evaluation starts from the same first query and its curve never rises", () => {
  const methods = [
    { kind: "random" as const, label: "random" },
    { kind: "bo" as const, label: "gp-bo", options: { initial: 2, fit: { restarts: 1, iterations: 10 }, search: { candidates: 50, restarts: 1, iterations: 5 } } },
    { kind: "lstm" as const, label: "lstm", network: (d: number) => ({ shape: { dim: d, hidden: 4 }, params: initParameters({ dim: d, hidden: 4 }, new Rand(key(d))) }) },
  ];
  const [gp, branin] = evaluate({ functions: ["gp2", "branin"], methods, runs: 3, evaluations: 6, seed: 5 });
  for (const f of [gp!, branin!]) {
    assert.equal(f.methods.length, 3);
    for (let r = 0; r < 3; r++) {
      const firsts = f.methods.map((m) => m.best[r]![0]);
      assert.ok(firsts.every((v) => v === firsts[0]), `${f.name} run ${r}: first values ${firsts}`);
      for (const m of f.methods) {
        assert.equal(m.best[r]!.length, 6);
        for (let t = 1; t < 6; t++) assert.ok(m.best[r]![t]! <= m.best[r]![t - 1]!, `${m.method} rises`);
      }
    }
    // different runs are different functions or first queries
    assert.notEqual(f.methods[0]!.best[0]![0], f.methods[0]!.best[1]![0]);
  }
  assert.equal(branin!.knownMin, 0.397887);
  for (const m of branin!.methods) assert.ok(m.best.every((c) => c[5]! >= 0.397887 - 1e-6), "nothing below Branin's minimum");
});

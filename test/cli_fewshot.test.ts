/**
 * `l2o fewshot train|eval` through the CLI: a learner file that loads back and evaluates with a
 * 95% interval over test episodes, the training lowering the query error of a fresh
 * initialisation; one-line errors (exit 2) for an unknown method, a size out of range, a file
 * of another kind and a missing file.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { saveOptimizerFile } from "../src/io/optimizer_file.ts";
import { runL2oSync, type Result } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-cli-fewshot-"));

const l2o = (...args: string[]): Result => runL2oSync(args, 120_000);

describe("l2o fewshot", () => {
  it("trains a Meta-SGD learner on the sinusoid, saves it, and evaluates it below an untrained one", () => {
    const trained = join(dir, "metasgd.safetensors");
    const fresh = join(dir, "fresh.safetensors");
    const common = ["fewshot", "train", "--method", "metasgd", "--shots", "5", "--meta-batch", "10", "--meta-lr", "0.01", "--quiet"];
    assert.equal(l2o(...common, "--iterations", "150", "--out", trained).code, 0);
    assert.equal(l2o(...common, "--iterations", "1", "--meta-lr", "1e-9", "--out", fresh).code, 0);
    const evalOf = (file: string) => {
      const r = l2o("fewshot", "eval", file, "--episodes", "100", "--json");
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { metric: string; mean: number; ci95: number; episodes: number; task: { query: number } };
    };
    const a = evalOf(trained);
    const b = evalOf(fresh);
    assert.equal(a.metric, "mse");
    assert.equal(a.episodes, 100);
    assert.equal(a.task.query, 100);
    assert.ok(a.ci95 > 0 && a.ci95 < a.mean, `interval ${a.ci95} around ${a.mean}`);
    assert.ok(a.mean < b.mean - b.ci95, `trained ${a.mean} should beat untrained ${b.mean} ± ${b.ci95}`);
  });

  it("refuses bad input with one line and exit code 2", () => {
    const other = join(dir, "lstm.safetensors");
    saveOptimizerFile(other, { phi: { w: new Float32Array(2) }, meta: { kind: "lstm", config: {} } });
    const cases: Array<[string[], RegExp]> = [
      [["fewshot", "train", "--method", "reptile", "--out", join(dir, "x.safetensors")], /--method must be one of maml, metasgd, lslr, metacurvature, metalstm/],
      [["fewshot", "train", "--method", "maml", "--meta-batch", "5000", "--out", join(dir, "x.safetensors")], /--meta-batch must be from 1 to/],
      [["fewshot", "train", "--method", "maml", "--task", "glyphs", "--hidden", "8", "--out", join(dir, "x.safetensors")], /--hidden sizes the sinusoid network/],
      // Classification's flags on the sinusoid: refused, not ignored (nor recorded in the file).
      [["fewshot", "train", "--method", "maml", "--ways", "3", "--out", join(dir, "x.safetensors")], /--ways .*classification; the sinusoid/],
      [["fewshot", "train", "--method", "maml", "--image-size", "16", "--out", join(dir, "x.safetensors")], /--image-size .*classification; the sinusoid/],
      [["fewshot", "train", "--method", "maml", "--per-step-bn", "--out", join(dir, "x.safetensors")], /--per-step-bn .*classification; the sinusoid/],
      [["fewshot", "eval", other], /not a few-shot learner/],
      [["fewshot", "eval", join(dir, "missing.safetensors")], /missing\.safetensors/],
    ];
    for (const [args, message] of cases) {
      const r = l2o(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});

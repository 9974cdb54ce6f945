/**
 * `l2o rl train|eval` through the CLI: policies trained by policy gradient and by guided policy
 * search load back and evaluate beside the baselines on the same instances (the same curve
 * for the same file twice; CG's curve never rises); one-line errors (exit 2) for an unknown
 * trainer or task, a size out of range, a file of another kind and a missing file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/l2o.js", import.meta.url));
const QUADRATIC = fileURLToPath(new URL("../pretrained/quadratic.safetensors", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "l2o-cli-rl-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function l2o(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Report {
  task: string;
  evals: number;
  curves: { optimizer: string; lr: number | null; mean: number[]; ci95: number[] }[];
  training: { trainer: string; task: string };
}

describe("l2o rl", () => {
  it("trains a policy by pg and by gps and evaluates both beside the baselines on the same instances", () => {
    const pg = join(dir, "pg.safetensors");
    const gps = join(dir, "gps.safetensors");
    const common = ["rl", "train", "--task", "logistic-regression", "--task-config", '{"dim":2,"points":40}', "--steps", "10", "--history", "3", "--hidden", "4", "--quiet"];
    let r = l2o(...common, "--iterations", "5", "--batch", "4", "--out", pg);
    assert.equal(r.code, 0, r.stderr);
    r = l2o(...common, "--trainer", "gps", "--iterations", "2", "--batch", "2", "--samples", "3", "--out", gps);
    assert.equal(r.code, 0, r.stderr);
    r = l2o("rl", "eval", pg, "--evals", "15", "--instances", "4", "--tune-instances", "2", "--baselines", `sgd,cg,lbfgs,rl:${pg},rl:${gps}`, "--json");
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.equal(rep.task, "logistic-regression");
    assert.equal(rep.training.trainer, "pg");
    const names = rep.curves.map((c) => c.optimizer);
    assert.deepEqual(names, ["rl-policy (pg)", "sgd", "rl-policy (pg: pg.safetensors)", "rl-policy (gps: gps.safetensors)", "cg", "lbfgs"]);
    for (const c of rep.curves) assert.equal(c.mean.length, 15);
    // Same file, same instances: the same curve; every curve starts at the same objective.
    assert.deepEqual(rep.curves[0]!.mean, rep.curves[2]!.mean);
    for (const c of rep.curves) assert.ok(Math.abs(c.mean[0]! - rep.curves[0]!.mean[0]!) < 1e-9);
    const cg = rep.curves[4]!.mean;
    for (let k = 1; k < cg.length; k++) assert.ok(cg[k]! <= cg[k - 1]! + 1e-12);
    assert.ok(typeof rep.curves[1]!.lr === "number", "sgd's rate is tuned");
    // The report written with --out draws with l2o rl plot, one line per optimizer.
    const report = join(dir, "report.json");
    assert.equal(l2o("rl", "eval", pg, "--evals", "5", "--instances", "2", "--baselines", "cg", "--out", report, "--quiet").code, 0);
    const fig = join(dir, "fig.svg");
    r = l2o("rl", "plot", report, fig);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(fig, "utf8"), /rl-policy \(pg\)/);
    // --task-config defaults to the training's, also when --task names the training's task; another task starts from its own defaults.
    const configOf = (...args: string[]): unknown => {
      const x = l2o("rl", "eval", pg, ...args, "--evals", "5", "--instances", "2", "--baselines", "cg", "--json");
      assert.equal(x.code, 0, x.stderr);
      return (JSON.parse(x.stdout) as { taskConfig: unknown }).taskConfig;
    };
    assert.deepEqual(configOf(), { dim: 2, points: 40 });
    assert.deepEqual(configOf("--task", "logistic-regression"), { dim: 2, points: 40 });
    assert.deepEqual(configOf("--task", "robust-regression"), {});
  });

  it("a policy file is an optimizer like any other: l2o eval --optimizers rl:FILE gives rl eval's curve, l2o info describes its training", () => {
    const pg = join(dir, "named.safetensors");
    const common = ["--task", "logistic-regression", "--task-config", '{"dim":2,"points":40}'];
    let r = l2o("rl", "train", ...common, "--steps", "10", "--history", "3", "--hidden", "4", "--iterations", "3", "--batch", "3", "--lr", "0.02", "--seed", "4", "--out", pg, "--quiet");
    assert.equal(r.code, 0, r.stderr);
    r = l2o("rl", "eval", pg, "--evals", "12", "--instances", "3", "--seed", "2", "--baselines", "cg", "--json");
    assert.equal(r.code, 0, r.stderr);
    const viaRl = (JSON.parse(r.stdout) as Report).curves[0]!;
    const json = join(dir, "eval.json");
    r = l2o("eval", ...common, "--optimizers", `rl:${pg},sgd@0.1`, "--steps", "11", "--instances", "3", "--seed", "2", "--json", json, "--quiet");
    assert.equal(r.code, 0, r.stderr);
    const viaEval = (JSON.parse(readFileSync(json, "utf8")) as { results: { optimizer: string; meanLoss: number[] }[] }).results;
    assert.deepEqual(viaEval.map((x) => x.optimizer), [`rl:${pg}`, "sgd@0.1"]);
    // Same instances, same policy: the same curve to the bit, whichever command ran it.
    assert.deepEqual(viaEval[0]!.meanLoss, viaRl.mean);
    r = l2o("info", pg);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kind\s+rl-policy: Li & Malik's optimizer as a policy/);
    assert.match(r.stdout, /architecture\s+history 3, 9 features per coordinate; one hidden layer of 4 tanh units plus a linear path; .*; 55 weights in 6 tensors/);
    assert.match(r.stdout, /trained on\s+logistic-regression \{"dim":2,"points":40\}/);
    assert.match(r.stdout, /training\s+seed 4/);
    assert.match(r.stdout, /trainer\s+policy gradient \(REINFORCE with a baseline\), 3 iterations of 3 fresh runs, horizon 10 steps, Adam 0\.02, /);
    assert.match(r.stdout, /training cost\s+mean relative objective per step [0-9.e-]+ in the first iteration, [0-9.e-]+ over the last ones/);
    // A damaged file, a file of another kind, a name without a file: one line, exit code 2.
    const bytes = readFileSync(pg);
    const bad = join(dir, "damaged.safetensors");
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x40;
    writeFileSync(bad, bytes);
    const cases: [string[], RegExp][] = [
      [["eval", ...common, "--optimizers", `rl:${bad}`], /damaged\.safetensors/],
      [["info", bad], /damaged\.safetensors/],
      [["eval", ...common, "--optimizers", `rl:${QUADRATIC}`], /holds a 'lstm' optimizer; expected kind 'rl-policy'/],
      [["eval", ...common, "--optimizers", "rl:"], /give the optimizer file after 'rl:'/],
      [["rl", "eval", bad], /damaged\.safetensors/],
      [["rl", "eval", pg, "--task", "cnn", "--data", join(dir, "no-cifar")], /--data: no folder/],
      [["rl", "eval", pg, "--data", dir], /--data: the task 'logistic-regression' reads no data folder/],
    ];
    for (const [args, re] of cases) {
      const x = l2o(...args);
      assert.equal(x.code, 2, `${args.join(" ")}: ${x.stderr}`);
      assert.match(x.stderr, /^l2o: error: /);
      assert.match(x.stderr, re);
      assert.equal(x.stderr.trim().split("\n").length, 1, x.stderr);
    }
  });

  it("refuses bad input with one line and exit code 2", () => {
    const out = join(dir, "x.safetensors");
    const victim = join(dir, "kept.safetensors");
    const cases: [string[], RegExp][] = [
      [["rl", "train", "--task", "logistic-regression", "--trainer", "ppo", "--out", out], /--trainer must be one of pg, gps/],
      [["rl", "train", "--task", "no-such-task", "--out", out], /unknown task 'no-such-task'/],
      [["rl", "train", "--task", "logistic-regression", "--hidden", "0", "--out", out], /--hidden/],
      [["rl", "train", "--task", "logistic-regression", "--task-config", '{"dim":-1}', "--out", out], /--task-config/],
      [["rl", "train", "--task", "quadratic", "--task-config", '{"dim":300}', "--trainer", "gps", "--out", out], /300 parameters; .* at most 256/],
      [["rl", "train", "--task", "quadratic", "--task-config", '{"dim":4096}', "--batch", "100", "--out", out], /GiB of features/],
      // GPS's settings with the policy-gradient trainer: refused, not ignored.
      [["rl", "train", "--task", "logistic-regression", "--samples", "8", "--out", out], /--samples is for --trainer gps/],
      [["rl", "train", "--task", "logistic-regression", "--trainer", "pg", "--kl-estimate", "samples", "--step-rule", "fixed", "--out", out], /--kl-estimate, --step-rule are for --trainer gps/],
      [["rl", "eval", join(dir, "missing.safetensors")], /not found/],
      [["rl", "eval", QUADRATIC], /holds a 'lstm' optimizer, not an rl-policy/],
      [["rl", "eval", QUADRATIC.replace("quadratic", "nope"), "--evals", "1"], /--evals/],
      [["rl", "plot", join(dir, "bad.json"), join(dir, "f.svg")], /not an l2o rl eval report/],
      [["rl", "plot", join(dir, "none.json"), join(dir, "f.svg")], /report not found/],
      [["rl", "eval", QUADRATIC, "--evals", "100000", "--instances", "10000"], /--evals 100000 with --instances 10000 keeps 1,000,000,000 objective values; evals x instances may be at most 10,000,000/],
      // a report or figure never replaces an optimizer file (here a copy of a shipped one)
      [["rl", "eval", QUADRATIC, "--out", victim], /--out .* is a safetensors file/],
      [["rl", "eval", QUADRATIC, "--plot", victim.replace(".safetensors", ".svg"), "--paths", victim], /--paths .* is a safetensors file/],
      [["rl", "plot", join(dir, "bad.json"), victim], /<figure> .* is a safetensors file/],
    ];
    writeFileSync(victim, readFileSync(QUADRATIC));
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ task: "x", evals: 3, curves: [{ optimizer: "a", mean: [1], ci95: [0] }] }));
    for (const [args, re] of cases) {
      const r = l2o(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^l2o: error: /);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.ok(readFileSync(victim).equals(readFileSync(QUADRATIC)), "the optimizer file is unchanged");
  });
});

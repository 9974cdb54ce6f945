/**
 * The held-out suite: its definition (at least 12 distinct problems, a version, every problem
 * buildable), unknown problem names, the Rosenbrock chain's gradient, and the ratio and summary
 * on a tiny real run and on synthetic entries, and reusing an earlier report's tuned baselines
 * (`--baselines-from`).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../src/core/errors.ts";
import { key } from "../src/core/rng.ts";
import { candidateFor } from "../src/eval/candidates.ts";
import { comparePaired } from "../src/eval/paired.ts";
import { problemFamily, SUITE, SUITE_NAMES, SUITE_VERSION, suiteProblems } from "../src/eval/suite.ts";
import { runSuite, summarizeSuite, type SuiteEntry, type SuiteProblemResult } from "../src/eval/suite_run.ts";
import { rosenbrockChainTask } from "../src/eval/suite_tasks.ts";
import { assertInputError, l2o } from "./cli_run.ts";

describe("suite definition", () => {
  it("has a version and at least 12 distinct problems, each with a buildable family and sane counts", () => {
    assert.match(SUITE_VERSION, /\S/);
    assert.ok(SUITE.length >= 12, `${SUITE.length} problems`);
    assert.equal(new Set(SUITE_NAMES).size, SUITE.length, "names repeat");
    // Distinct problems, not only distinct names.
    assert.equal(new Set(SUITE.map((p) => JSON.stringify([p.task, p.config, p.steps]))).size, SUITE.length, "two problems are the same");
    for (const p of SUITE) {
      assert.equal(typeof problemFamily(p).sample, "function", p.name);
      assert.ok(p.steps > 0 && p.instances >= 2 && p.tuneInstances >= 1, p.name);
    }
  });

  it("selects problems in suite order and refuses an unknown name with a ConfigError naming it", () => {
    assert.deepEqual(suiteProblems(["beale-2d", "quadratic-3d"]).map((p) => p.name), ["quadratic-3d", "beale-2d"]);
    assert.throws(() => suiteProblems(["quadratic-3d", "nope"]), (e: unknown) => e instanceof ConfigError && /'nope'.*quadratic-3d/.test(e.message));
    assert.throws(() => suiteProblems([]), ConfigError);
  });

  it("the Rosenbrock chain is 0 at the ones and its gradient matches finite differences", () => {
    const t = rosenbrockChainTask({ dim: 5, jitter: 0.1 });
    assert.equal(t.lossAndGrad(new Float32Array(5).fill(1), key(0)).loss, 0);
    const x = t.init(key(3));
    const { grad } = t.lossAndGrad(x, key(0));
    for (let i = 0; i < 5; i++) {
      const h = 1e-2;
      const up = Float32Array.from(x);
      const down = Float32Array.from(x);
      up[i]! += h;
      down[i]! -= h;
      const fd = (t.lossAndGrad(up, key(0)).loss - t.lossAndGrad(down, key(0)).loss) / (up[i]! - down[i]!);
      assert.ok(Math.abs(fd - grad[i]!) <= 1e-2 * Math.max(1, Math.abs(fd)), `coordinate ${i}: ${grad[i]} against ${fd}`);
    }
    assert.throws(() => rosenbrockChainTask({ dim: 1, jitter: 0 }), ConfigError);
  });
});

describe("suite run and summary", () => {
  it("an optimizer that is a tuned baseline itself has ratio 1; a fixed tiny rate is behind, by its own mean over the best", () => {
    const problems = suiteProblems(["quadratic-3d", "beale-2d"]);
    const lrGrid = [1, 0.1, 0.01];
    const optimizers = [candidateFor("adam"), candidateFor("sgd@1e-5")];
    const baselines = [candidateFor("adam"), candidateFor("sgd")];
    const saved: number[] = [];
    const r = runSuite(problems, optimizers, baselines, { quick: true, lrGrid, onProblem: (sofar) => saved.push(sofar.problems.length) });
    assert.deepEqual(saved, [1, 2], "the report after every problem");
    assert.deepEqual(r.optimizers, ["adam", "sgd@1e-5"]);
    assert.equal(r.complete, true);
    for (const p of r.problems) {
      assert.equal(p.instances, 4);
      const [adam, slow] = p.entries as [SuiteEntry, SuiteEntry];
      const best = Math.min(...p.baselines.map((b) => b.finalMean));
      assert.equal(p.baselines.find((b) => b.optimizer === adam.best)!.finalMean, best, `${p.problem}: best is the lowest mean`);
      if (adam.best === "adam") {
        assert.equal(adam.ratio, 1, p.problem);
        assert.equal(adam.paired.wins, 0);
        assert.equal(adam.lower, "level");
      }
      assert.ok(adam.ratio <= 1, `${p.problem}: tuned adam's ratio ${adam.ratio}`);
      assert.ok(Math.abs(slow.ratio - slow.learned.finalMean / best) <= 1e-12 * slow.ratio, p.problem);
      assert.ok(slow.ratio > 1, `${p.problem}: sgd at 1e-5 ratio ${slow.ratio}`);
      assert.equal(slow.learned.lr, 1e-5);
    }
    const [sa, ss] = r.summary;
    assert.deepEqual([sa!.atMostOne, sa!.fraction, sa!.meetsTargets], [2, 1, true]);
    assert.deepEqual([ss!.atMostOne, ss!.fraction, ss!.meetsTargets], [0, 0, false]);
    assert.equal(ss!.maxRatio, Math.max(...r.problems.map((p) => p.entries[1]!.ratio)));
  });

  it("summarises fractions, the largest ratio and the targets from the entries", () => {
    const entry = (ratio: number, lower: SuiteEntry["lower"] = "level"): SuiteEntry =>
      ({ ratio, lower, best: "adam", paired: comparePaired([1], [1]), learned: { optimizer: "x", lr: null, finalMean: ratio, finalCi95: 0, finalLosses: [ratio], diverged: 0 } });
    const problems = (ratios: number[], lower?: SuiteEntry["lower"]): SuiteProblemResult[] =>
      ratios.map((r, i) => ({ problem: `p${i}`, shift: "", task: "t", config: {}, steps: 1, instances: 1, tuneInstances: 1, baselines: [], entries: [entry(r, lower)], seconds: 0 }));
    const [a] = summarizeSuite(["x"], problems([0.5, 1, 3], "baseline"));
    assert.deepEqual([a!.atMostOne, a!.problems, a!.maxRatio, a!.worst, a!.lowerBaseline, a!.lowerLearned, a!.meetsTargets], [2, 3, 3, "p2", 3, 0, false]);
    assert.ok(Math.abs(a!.fraction - 2 / 3) < 1e-12);
    assert.equal(summarizeSuite(["x"], problems([0.5, 0.9, 1, 0.8, 1.5]))[0]!.meetsTargets, true, "80% at most 1, max 1.5");
    assert.equal(summarizeSuite(["x"], problems([0.5, 0.5, 0.5, 0.5, 2.5]))[0]!.meetsTargets, false, "a ratio above 2");
    assert.equal(summarizeSuite(["x"], problems([0.5, 0.5, 0.5, 1.5, 1.5]))[0]!.meetsTargets, false, "60% at most 1");
    const nan = summarizeSuite(["x"], problems([0.5, NaN]))[0]!;
    assert.deepEqual([nan.maxRatio, nan.worst, nan.meetsTargets], [Infinity, "p1", false], "NaN counts as the worst");
  });
});

describe("l2o suite", () => {
  const dir = mkdtempSync(join(tmpdir(), "l2o-suite-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const RUN = ["suite", "--problems", "quadratic-3d,beale-2d", "--quick", "--lr-grid", "1,0.1,0.01", "--baselines", "adam,sgd", "--quiet"];
  const read = (path: string): { problems: Array<Record<string, unknown>>; summary: unknown } => JSON.parse(readFileSync(path, "utf8"));

  it("--baselines-from reuses an earlier report's tuned baselines: the same entries, and a report of other settings is refused (exit 2)", async () => {
    const first = join(dir, "first.json");
    const full = await l2o(...RUN, "--optimizers", "sgd@0.01", "--out", first);
    assert.equal(full.code, 0, full.stderr);
    // Another optimizer against the reused baselines, and the same one tuned from scratch beside them.
    const reusedPath = join(dir, "reused.json");
    const freshPath = join(dir, "fresh.json");
    const [reused, fresh] = await Promise.all([
      l2o(...RUN, "--optimizers", "nag@0.1,sgd@0.01", "--baselines-from", first, "--out", reusedPath),
      l2o(...RUN, "--optimizers", "nag@0.1,sgd@0.01", "--out", freshPath),
    ]);
    assert.equal(reused.code, 0, reused.stderr);
    assert.equal(fresh.code, 0, fresh.stderr);
    const [a, b] = [read(reusedPath), read(freshPath)];
    assert.equal(a.problems.length, 2);
    a.problems.forEach((p, i) => {
      assert.deepEqual(p.baselines, b.problems[i]!.baselines, `${String(p.problem)}: baselines`);
      assert.deepEqual(p.entries, b.problems[i]!.entries, `${String(p.problem)}: entries`);
    });
    assert.deepEqual(a.summary, b.summary);
    // The rows really come from the file: doctored ones show up in the report as they are.
    const doctored = join(dir, "doctored.json");
    const doc0 = read(first);
    const row = (doc0.problems[0]!.baselines as Array<{ finalMean: number; finalLosses: number[] }>)[0]!;
    row.finalMean *= 1000;
    row.finalLosses = row.finalLosses.map((x) => x * 1000);
    writeFileSync(doctored, JSON.stringify(doc0));
    const fromDoctored = join(dir, "from-doctored.json");
    const d = await l2o(...RUN, "--problems", "quadratic-3d", "--optimizers", "sgd@0.01", "--baselines-from", doctored, "--out", fromDoctored);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(read(fromDoctored).problems[0]!.baselines, doc0.problems[0]!.baselines);
    // A report tuned on another grid, with other baselines, or damaged is refused before any run.
    assertInputError(
      await l2o(...RUN.map((x) => (x === "1,0.1,0.01" ? "1,0.1" : x)), "--optimizers", "sgd@0.01", "--baselines-from", first),
      /--baselines-from: .*first\.json was made with --lr-grid \[1,0\.1,0\.01\], this run has \[1,0\.1\]/,
      "another grid",
    );
    assertInputError(
      await l2o(...RUN.map((x) => (x === "adam,sgd" ? "adam,nag" : x)), "--optimizers", "sgd@0.01", "--baselines-from", first),
      /was made with --baselines \["adam","sgd"\], this run has \["adam","nesterov"\]/,
      "other baselines",
    );
    const broken = join(dir, "broken.json");
    const doc = read(first);
    (doc.problems[1]!.baselines as Array<{ finalLosses: number[] }>)[0]!.finalLosses.pop();
    writeFileSync(broken, JSON.stringify(doc));
    assertInputError(await l2o(...RUN, "--optimizers", "sgd@0.01", "--baselines-from", broken), /no complete tuned-baseline rows for beale-2d/, "a short row");
    writeFileSync(broken, "{not json");
    assertInputError(await l2o(...RUN, "--optimizers", "sgd@0.01", "--baselines-from", broken), /--baselines-from: .* is not JSON/, "not JSON");
    assertInputError(await l2o(...RUN, "--optimizers", "sgd@0.01", "--baselines-from", join(dir, "missing.json")), /cannot be read \(ENOENT\)/, "missing");
  });

  it("an unknown problem is an input error (exit 2) listing the known ones; --list prints every problem", async () => {
    assertInputError(await l2o("suite", "--problems", "quadratic-3d,nope", "--optimizers", "adam"), /unknown suite problem 'nope'.*quadratic-100d/, "unknown problem");
    assertInputError(await l2o("suite", "--problems", "quadratic-3d"), /--optimizers is missing/, "no optimizer");
    const list = await l2o("suite", "--list");
    assert.equal(list.code, 0, list.stderr);
    for (const n of SUITE_NAMES) assert.match(list.stdout, new RegExp(`^${n} `, "m"), n);
  });
});

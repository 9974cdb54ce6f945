import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../src/core/errors.ts";
import { foldIn, key } from "../src/core/rng.ts";
import { quadraticFamily, type QuadraticTask } from "../src/tasks/quadratic.ts";
import { adam, sgd } from "../src/optimizers/alias.ts";
import type { GradientTransformation } from "../src/optimizers/transform.ts";
import {
  drawInstances,
  evalRoots,
  evaluate,
  runCandidate,
  runOptimizer,
  tuneLearningRate,
  type Candidate,
  type CandidateResult,
  type EvalReport,
  type Instance,
} from "../src/eval/evaluate.ts";
import { poolReports } from "../src/eval/pool.ts";
import { lossFigureSpec, lossPoints } from "../src/viz/eval_figure.ts";
import { withoutRepeats } from "../src/eval/pool.ts";
import { resolveCandidate } from "../src/cli/resolve.ts";

const family = quadraticFamily({ dim: 4, instances: 3 });
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A hand-designed candidate built from `f(lr)`; records every lr it was built with and every theta_0 it started from. */
function spy(label: string, f: (lr: number) => GradientTransformation, extra: Partial<Candidate> = {}) {
  const lrs: Array<number | undefined> = [];
  const starts: number[][] = [];
  let disposed = 0;
  const c: Candidate = {
    label,
    tune: true,
    ...extra,
    make(lr) {
      lrs.push(lr);
      const tx = f(lr ?? 0.01);
      return Object.assign(
        {
          init(p: Float32Array) {
            starts.push(bits(p));
            return tx.init(p);
          },
          update: tx.update.bind(tx),
        },
        { dispose: () => void disposed++ },
      );
    },
  };
  return { c, lrs, starts, disposed: () => disposed };
}

describe("runOptimizer", () => {
  it("records the per-function loss at theta_0 .. theta_steps, as plain SGD computes it", () => {
    const task = family.sample(key(1)) as QuadraticTask;
    const theta0 = task.init(key(2));
    const steps = 6;
    const lr = 0.01;
    const r = runOptimizer(task, sgd(lr), theta0, steps, key(3));
    assert.equal(r.diverged, false);
    assert.equal(r.losses.length, steps + 1);
    assert.equal(r.losses[0], task.lossAndGrad(theta0, key(0)).loss / task.instances);
    // Independently: theta <- theta - lr * g, stored as float32; per-function loss = loss / 3.
    let theta = Float32Array.from(theta0);
    for (let t = 0; t <= steps; t++) {
      const { loss, grad } = task.lossAndGrad(theta, key(0));
      const want = loss / 3;
      assert.ok(Math.abs(r.losses[t]! - want) <= 1e-6 * want, `step ${t}: ${r.losses[t]} vs ${want}`);
      theta = theta.map((x, i) => x - lr * grad[i]!);
    }
    assert.ok(r.losses[steps]! < r.losses[0]!);
    // theta0 was not modified.
    assert.deepEqual(bits(theta0), bits(task.init(key(2))));
    assert.equal(r.metrics, undefined);
  });

  it("passes foldIn(batchKey, t) to the task at step t", () => {
    const base = family.sample(key(1));
    const seen: string[] = [];
    const task = { ...base, lossAndGrad: (th: Float32Array, k: readonly [number, number]) => (seen.push(k.join(",")), base.lossAndGrad(th, k)) };
    runOptimizer(task, sgd(0.01), base.init(key(2)), 3, key(9));
    assert.deepEqual(
      seen,
      [0, 1, 2, 3].map((t) => foldIn(key(9), t).join(",")),
    );
  });

  it("refuses a negative, fractional, non-finite or absurd step count instead of returning a short run", () => {
    const task = family.sample(key(1));
    const theta0 = task.init(key(2));
    for (const steps of [-1, 1.5, NaN, Infinity, 1e12]) {
      assert.throws(
        () => runOptimizer(task, sgd(0.01), theta0, steps, key(3)),
        (e: unknown) => e instanceof ConfigError && e.message === `runOptimizer: steps must be an integer from 0 to 10000000, got ${steps}`,
        `steps ${steps}`,
      );
    }
    assert.equal(runOptimizer(task, sgd(0.01), theta0, 0, key(3)).losses.length, 1, "0 steps: the loss at theta_0 alone");
  });

  it("marks a diverging run and leaves Infinity from the first non-finite loss on", () => {
    const task = family.sample(key(1));
    const steps = 30;
    const r = runOptimizer(task, sgd(1e6), task.init(key(2)), steps, key(3));
    assert.equal(r.diverged, true);
    assert.equal(r.losses.length, steps + 1);
    assert.ok(Number.isFinite(r.losses[0]!));
    const firstBad = r.losses.findIndex((x) => !Number.isFinite(x));
    assert.ok(firstBad > 0 && firstBad <= steps, `first non-finite step ${firstBad}`);
    for (let t = firstBad; t <= steps; t++) assert.equal(r.losses[t], Infinity);
    for (let t = 0; t < firstBad; t++) assert.ok(Number.isFinite(r.losses[t]!));
    // It grew on the way (not a NaN from nowhere).
    assert.ok(r.losses[firstBad - 1]! > 1e6 * r.losses[0]!);
  });

  it("returns the task's metrics at the final point when asked", () => {
    const base = family.sample(key(1));
    let evaluatedAt: Float32Array | undefined;
    const task = {
      ...base,
      evaluate: (th: Float32Array) => {
        evaluatedAt = th;
        return { accuracy: 0.5 };
      },
    };
    const r = runOptimizer(task, sgd(0.01), base.init(key(2)), 2, key(3), true);
    assert.deepEqual(r.metrics, { accuracy: 0.5 });
    assert.equal(base.lossAndGrad(evaluatedAt!, key(0)).loss / 3, r.losses[2]);
    assert.equal(runOptimizer(task, sgd(0.01), base.init(key(2)), 2, key(3), false).metrics, undefined);
  });
});

describe("drawInstances and evalRoots", () => {
  it("the same root gives the same instances; other roots and indices differ", () => {
    const root = key(11);
    const a = drawInstances(family, root, 3);
    const b = drawInstances(family, root, 3);
    assert.equal(a.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(bits(a[i]!.theta0), bits(b[i]!.theta0));
      assert.deepEqual(bits((a[i]!.task as QuadraticTask).W), bits((b[i]!.task as QuadraticTask).W));
      assert.deepEqual(a[i]!.batchKey, b[i]!.batchKey);
    }
    assert.notDeepEqual(bits((a[0]!.task as QuadraticTask).W), bits((a[1]!.task as QuadraticTask).W));
    assert.notDeepEqual(bits(a[0]!.theta0), bits(a[1]!.theta0));
    // A prefix of a longer draw is the shorter draw.
    const c = drawInstances(family, root, 5);
    assert.deepEqual(bits(c[2]!.theta0), bits(a[2]!.theta0));
    const d = drawInstances(family, key(12), 1);
    assert.notDeepEqual(bits(d[0]!.theta0), bits(a[0]!.theta0));
  });

  it("refuses a count that is not an integer from 1 to 10,000 before drawing anything (all are held at once)", () => {
    for (const count of [0, -1, 2.5, NaN, 10_001, 1e9]) {
      assert.throws(
        () => drawInstances(family, key(1), count),
        (e: unknown) => e instanceof ConfigError && e.message === `drawInstances: count must be an integer from 1 to 10000, got ${count}`,
        String(count),
      );
    }
  });

  it("test and tuning roots differ, and are a function of the seed", () => {
    const r0 = evalRoots(0);
    assert.notDeepEqual(r0.test, r0.tune);
    assert.deepEqual(evalRoots(0), r0);
    assert.notDeepEqual(evalRoots(1).test, r0.test);
    assert.notDeepEqual(evalRoots(1).tune, r0.tune);
    const test = drawInstances(family, r0.test, 2);
    const tune = drawInstances(family, r0.tune, 2);
    assert.notDeepEqual(bits((test[0]!.task as QuadraticTask).W), bits((tune[0]!.task as QuadraticTask).W));
    // Evaluation never draws from meta-training's roots ("train", "valid").
    assert.notDeepEqual(r0.test, foldIn(key(0), "valid"));
    assert.notDeepEqual(r0.tune, foldIn(key(0), "train"));
  });
});

describe("tuneLearningRate", () => {
  it("picks the grid value with the lowest mean final loss, scores recomputed independently", () => {
    const insts = drawInstances(family, key(21), 3);
    const grid = [0.3, 0.1, 0.03, 0.01, 0.001];
    const steps = 10;
    const s = spy("sgd", (lr) => sgd(lr));
    const t = tuneLearningRate(s.c, insts, steps, grid);
    assert.deepEqual(
      t.scores.map((x) => x.lr),
      grid,
    );
    assert.equal(s.lrs.length, grid.length * insts.length);
    let best = { lr: NaN, score: Infinity };
    for (const [i, lr] of grid.entries()) {
      let sum = 0;
      for (const inst of insts) {
        const r = runOptimizer(inst.task, sgd(lr), inst.theta0, steps, inst.batchKey);
        sum += r.diverged ? Infinity : r.losses[steps]!;
      }
      const want = sum / insts.length;
      assert.equal(t.scores[i]!.finalMean, want, `lr ${lr}`);
      if (want < best.score) best = { lr, score: want };
    }
    assert.equal(t.lr, best.lr);
    // The grid spans both sides of the optimum: the largest rate blows up, the smallest barely moves.
    assert.ok(t.scores[0]!.finalMean > 1e6 * best.score);
    assert.notEqual(t.lr, grid[0]);
    assert.notEqual(t.lr, grid[grid.length - 1]);
  });

  it("rejects an empty grid and an empty set of instances", () => {
    const s = spy("sgd", (lr) => sgd(lr));
    assert.throws(() => tuneLearningRate(s.c, drawInstances(family, key(1), 1), 3, []), (e: unknown) => e instanceof ConfigError && /grid is empty/.test(e.message));
    assert.throws(() => tuneLearningRate(s.c, [], 3), (e: unknown) => e instanceof ConfigError && /no tuning instances/.test(e.message));
  });

  it("runCandidate disposes of the transform it built", () => {
    const s = spy("sgd", (lr) => sgd(lr));
    const [inst] = drawInstances(family, key(1), 1) as [Instance];
    const r = runCandidate(s.c, 0.01, inst, 3);
    assert.equal(r.losses.length, 4);
    assert.equal(s.disposed(), 1);
    assert.deepEqual(s.lrs, [0.01]);
  });
});

describe("evaluate", () => {
  const opts = { steps: 8, instances: 3, seed: 4, tuneInstances: 2, lrGrid: [0.3, 0.1, 0.01] };

  it("gives identical results to two identical candidates, run on the same test instances", () => {
    const a = spy("adam-a", (lr) => adam(lr));
    const b = spy("adam-b", (lr) => adam(lr));
    const report = evaluate(family, [a.c, b.c], opts);
    assert.equal(report.task, "quadratic");
    assert.equal(report.steps, 8);
    assert.equal(report.instances, 3);
    assert.equal(report.seed, 4);
    assert.equal(report.results.length, 2);
    const [ra, rb] = report.results as [(typeof report.results)[0], (typeof report.results)[0]];
    assert.equal(ra.optimizer, "adam-a");
    assert.equal(rb.optimizer, "adam-b");
    assert.deepEqual({ ...ra, optimizer: "" }, { ...rb, optimizer: "" });
    // Same starting points, in the same order, and they are the documented test instances.
    assert.deepEqual(a.starts, b.starts);
    const test = drawInstances(family, evalRoots(4).test, 3).map((i) => bits(i.theta0));
    const tune = drawInstances(family, evalRoots(4).tune, 2).map((i) => bits(i.theta0));
    // Tuning ran first: 3 rates x 2 tuning instances, then the 3 test instances.
    assert.equal(a.starts.length, 3 * 2 + 3);
    assert.deepEqual(a.starts.slice(6), test);
    assert.deepEqual(a.starts.slice(0, 2), tune);
    for (const t of test) assert.ok(!tune.some((u) => u.join() === t.join()), "a test instance was used for tuning");
  });

  it("reports per-step mean and interval, a tuned lr from the grid, and the tuning scores", () => {
    const s = spy("sgd", (lr) => sgd(lr));
    const report = evaluate(family, [s.c], opts);
    const r = report.results[0]!;
    assert.equal(r.meanLoss.length, opts.steps + 1);
    assert.equal(r.ci95.length, opts.steps + 1);
    assert.equal(r.finalMean, r.meanLoss[opts.steps]);
    assert.ok(Number.isFinite(r.finalCi95) && r.finalCi95 >= 0);
    assert.ok(opts.lrGrid.includes(r.lr!));
    assert.deepEqual(
      r.tuning!.map((x) => x.lr),
      opts.lrGrid,
    );
    const bestTuned = [...r.tuning!].sort((x, y) => x.finalMean - y.finalMean)[0]!;
    assert.equal(r.lr, bestTuned.lr);
    assert.equal(r.diverged, 0);
    assert.ok(r.meanLoss[opts.steps]! < r.meanLoss[0]!);
    // The test runs used the tuned rate.
    assert.deepEqual(s.lrs.slice(-3), [r.lr, r.lr, r.lr]);
    // meanLoss[t] is the mean over the test instances of runOptimizer's losses.
    const test = drawInstances(family, evalRoots(opts.seed).test, opts.instances);
    const runs = test.map((inst) => runOptimizer(inst.task, sgd(r.lr!), inst.theta0, opts.steps, inst.batchKey));
    for (let t = 0; t <= opts.steps; t++) {
      const mean = runs.reduce((acc, x) => acc + x.losses[t]!, 0) / runs.length;
      assert.ok(Math.abs(r.meanLoss[t]! - mean) <= 1e-12 * mean);
    }
    // JSON-shaped: survives a round trip as is.
    const j = JSON.parse(JSON.stringify(report)) as typeof report;
    assert.deepEqual(j.results[0]!.meanLoss, r.meanLoss);
  });

  it("a fixed-lr candidate and a learned one skip tuning; no tuning instances are drawn for them", () => {
    const fixed = spy("sgd@0.05", (lr) => sgd(lr), { lr: 0.05 });
    const learned = spy("lstm:x", () => sgd(0.02), { tune: false });
    const report = evaluate(family, [fixed.c, learned.c], opts);
    const [rf, rl] = report.results as [(typeof report.results)[0], (typeof report.results)[0]];
    assert.equal(rf.lr, 0.05);
    assert.equal(rf.tuning, undefined);
    assert.deepEqual(fixed.lrs, [0.05, 0.05, 0.05]);
    assert.equal(rl.lr, null);
    assert.equal(rl.tuning, undefined);
    assert.deepEqual(learned.lrs, [undefined, undefined, undefined]);
    assert.deepEqual(fixed.starts, learned.starts);
    // Both are sgd at different rates: different curves, same starting losses.
    assert.equal(rf.meanLoss[0], rl.meanLoss[0]);
    assert.notEqual(rf.finalMean, rl.finalMean);
  });

  it("counts diverged runs and reports them as an infinite final loss", () => {
    const s = spy("sgd@1e6", (lr) => sgd(lr), { lr: 1e6 });
    const r = evaluate(family, [s.c], { ...opts, steps: 30 }).results[0]!;
    assert.equal(r.diverged, 3);
    assert.equal(r.finalMean, Infinity);
  });

  it("calls onProgress for tuning and testing", () => {
    const calls: string[] = [];
    const tuned = spy("sgd", (lr) => sgd(lr));
    const fixed = spy("sgd@0.1", (lr) => sgd(lr), { lr: 0.1 });
    evaluate(family, [tuned.c, fixed.c], { ...opts, onProgress: (label, phase, done, total) => calls.push(`${label}:${phase}:${done}/${total}`) });
    assert.deepEqual(calls, ["sgd:tune:0/2", "sgd:test:0/2", "sgd@0.1:test:1/2"]);
  });

  it("rejects a non-positive or fractional number of steps or instances", () => {
    const s = spy("sgd", (lr) => sgd(lr));
    const refused = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);
    assert.throws(() => evaluate(family, [s.c], { ...opts, steps: 0 }), refused(/steps must be an integer from 1 to 10000000, got 0/));
    assert.throws(() => evaluate(family, [s.c], { ...opts, steps: 2.5 }), refused(/steps must be an integer from 1/));
    assert.throws(() => evaluate(family, [s.c], { ...opts, instances: 0 }), refused(/instances must be an integer from 1 to 10000, got 0/));
    assert.throws(() => evaluate(family, [s.c], { ...opts, tuneInstances: -1 }), refused(/tuneInstances must be an integer from 1/));
    assert.throws(() => evaluate(family, [s.c], { ...opts, lrGrid: [0.1, NaN] }), refused(/lrGrid must hold learning rates.*NaN/));
    assert.deepEqual(s.lrs, [], "nothing ran");
  });

  it("refuses an absurd size before any run, instead of allocating gigabytes and running for hours", () => {
    const s = spy("sgd", (lr) => sgd(lr));
    const started = performance.now();
    assert.throws(
      () => evaluate(family, [s.c], { ...opts, steps: 1e9, instances: 1e9 }),
      (e: unknown) => e instanceof ConfigError && /steps must be an integer from 1 to 10000000, got 1000000000/.test(e.message),
    );
    assert.throws(
      () => evaluate(family, [s.c], { ...opts, steps: 100_000, instances: 1_000 }),
      (e: unknown) => e instanceof ConfigError && /100000 steps on 1000 instances keep 100000000 losses; steps x instances may be at most 10000000/.test(e.message),
    );
    assert.deepEqual(s.lrs, [], "no run started");
    assert.ok(performance.now() - started < 1000, "refused at once");
  });
});

describe("poolReports", () => {
  const row = (optimizer: string, lr: number | null, finalLosses: number[]): CandidateResult => ({
    optimizer,
    lr,
    meanLoss: [],
    ci95: [],
    finalMean: finalLosses.reduce((a, b) => a + b, 0) / finalLosses.length,
    finalCi95: 0,
    finalLosses,
    diverged: 0,
  });
  const report = (seed: number, results: CandidateResult[], steps = 10): EvalReport => ({ task: "quadratic", steps, instances: results[0]!.finalLosses.length, seed, results });
  // Set 1 (two instances): the reference beats Nesterov (tuned, at 0.3) on both, by 1 and 2 decades.
  // Set 2 (three instances): Nesterov is spelt nag@1, and wins the second instance by 1 decade.
  const s1 = report(1, [row("lstm:x", null, [0.01, 0.001]), row("nesterov", 0.3, [0.1, 0.1]), row("adam", 0.1, [1, 1])]);
  const s2 = report(2, [row("lstm:x", null, [0.01, 1, 0.1]), row("nag@1", 1, [0.1, 0.1, 1]), row("nag@1", 1, [0.1, 0.1, 1])]);

  it("pairs each set with the reference and summarises all the instances together", () => {
    const p = poolReports([s1, s2]);
    assert.deepEqual(p.seeds, [1, 2]);
    assert.equal(p.instances, 5);
    assert.deepEqual(p.rows.map((r) => r.optimizer), ["lstm:x", "nesterov"]);
    assert.deepEqual(p.missing, ["adam"]);
    const nag = p.rows[1]!;
    assert.deepEqual(nag.lrs, [0.3, 1]);
    assert.equal(nag.paired!.n, 5);
    assert.equal(nag.paired!.wins, 4);
    // Per instance log10(other) - log10(reference): 1, 2, 1, -1, 1.
    assert.ok(Math.abs(nag.paired!.log10Advantage.mean - 0.8) < 1e-12, String(nag.paired!.log10Advantage.mean));
    assert.ok(Math.abs(p.rows[0]!.finalMean - (0.01 + 0.001 + 0.01 + 1 + 0.1) / 5) < 1e-15);
    assert.equal(p.rows[0]!.paired, undefined);
  });

  it("refuses sets of another step count, a seed given twice, and one optimizer twice with other losses", () => {
    assert.throws(() => poolReports([s1, report(2, s2.results, 20)]), /10 steps.*pool only evaluations of one task at one step count/);
    assert.throws(() => poolReports([s1, s1]), /seed 1 given as two sets/);
    const clash = report(3, [row("lstm:x", null, [1]), row("nag@1", 1, [2]), row("nesterov", 0.3, [3])]);
    assert.throws(() => poolReports([s1, clash]), /seed 3 has nesterov twice \(nag@1 and nesterov\)/);
    assert.throws(() => poolReports([s1, report(3, [row("adam", 0.1, [1])])]), /reference lstm:x is missing from the set of seed 3/);
  });
});

describe("the loss figure (l2o plot)", () => {
  const row = (optimizer: string, lr: number | null, meanLoss: number[], ci95: number[], finalLosses = [1, 2]): CandidateResult => ({
    optimizer,
    lr,
    meanLoss,
    ci95,
    finalMean: 1.5,
    finalCi95: 0,
    finalLosses,
    diverged: 0,
  });
  const r: EvalReport = {
    task: "quadratic",
    steps: 2,
    instances: 2,
    seed: 1,
    results: [row("lstm:x", null, [1, 0.5, Infinity], [0.2, 0.6, 0]), row("nesterov", 0.3, [1, 0.9, 0.8], [0, 0, 0]), row("nag@0.3", 0.3, [1, 0.9, 0.8], [0, 0, 0])],
  };

  it("draws each step's mean with its interval, leaves out what a log axis cannot show, and says when a band is cut", () => {
    const log = lossPoints(r);
    const lstm = log.points.filter((p) => p.optimizer === "lstm:x");
    assert.deepEqual(lstm.map((p) => p.step), [0, 1], "the infinite mean at step 2 is left out");
    assert.ok(Math.abs(lstm[0]!.lo - 0.8) < 1e-12 && Math.abs(lstm[0]!.hi - 1.2) < 1e-12);
    assert.equal(lstm[1]!.lo, 0.05, "0.5 - 0.6 cut at a tenth of the mean");
    assert.equal(log.clipped, true);
    const lin = lossPoints(r, true);
    assert.ok(Math.abs(lin.points.find((p) => p.optimizer === "lstm:x" && p.step === 1)!.lo + 0.1) < 1e-12);
    assert.equal(lin.clipped, false);
    assert.match(JSON.stringify(lossFigureSpec(r).title), /cut at a tenth of the mean/);
    assert.doesNotMatch(JSON.stringify(lossFigureSpec(r, { linear: true }).title), /cut/);
  });

  it("draws a baseline once when two rows are the same optimizer at the same rate with the same losses", () => {
    assert.deepEqual(withoutRepeats(r).results.map((x) => x.optimizer), ["lstm:x", "nesterov"]);
    const other = { ...r, results: [...r.results.slice(0, 2), row("nag@0.3", 0.3, [1, 0.9, 0.8], [0, 0, 0], [1, 3])] };
    assert.equal(withoutRepeats(other).results.length, 3, "other final losses: not a repeat");
  });
});

describe("a learned optimizer's candidate", () => {
  it("keeps one transform per layout across runs, each run from the zero state, the same losses as a fresh transform per run", () => {
    const family = quadraticFamily({ dim: 10 });
    const insts = drawInstances(family, foldIn(key(4), "eval/test"), 3);
    const cand = resolveCandidate("lstm:pretrained/quadratic");
    try {
      const kept = insts.map((inst) => runCandidate(cand, undefined, inst, 30));
      const fresh = insts.map((inst) => {
        const tx = cand.loaded!.optimizer.optFn(cand.loaded!.phi, inst.task.layout);
        try {
          return runOptimizer(inst.task, tx, inst.theta0, 30, inst.batchKey);
        } finally {
          tx.dispose();
        }
      });
      kept.forEach((r, i) => assert.deepEqual(r.losses, fresh[i]!.losses, `instance ${i}`));
      // The runs differ (so a state carried from one run into the next would show).
      assert.notDeepEqual(kept[1]!.losses, kept[0]!.losses);
      cand.close!();
      // After close the candidate makes new engines.
      assert.deepEqual(runCandidate(cand, undefined, insts[0]!, 30).losses, fresh[0]!.losses);
    } finally {
      cand.close?.();
    }
  });
});

/**
 * ES over whole horizons and PES: on a small problem with a perturbation small enough that
 * smoothing is negligible, both agree with exact second-order BPTT over the whole horizon
 * within their standard errors (computed from the pairs), where truncated BPTT is far off;
 * the estimators through the interface equal the mean of their pairs' pure work; meta-training
 * with them lowers the validation score for the lstm and mlp kinds; runs replay bit for bit
 * and resume from a checkpoint; the settings are checked.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../src/core/errors.ts";
import { key, normal } from "../src/core/rng.ts";
import { createReferenceEngine } from "../src/kernels/lstm_ref.ts";
import { lstmOptimizer } from "../src/learned/lstm/optimizer.ts";
import { mlpOptimizer } from "../src/learned/mlp/optimizer.ts";
import type { LearnedOptimizer } from "../src/learned/contract.ts";
import { quadraticFamily } from "../src/tasks/quadratic.ts";
import { checkRunRecord, stateFromCheckpoint, stateToCheckpoint } from "../src/meta/checkpoint.ts";
import { resolveMetaTrainConfig, type MetaTrainConfig } from "../src/meta/config.ts";
import { antitheticEs, esPair } from "../src/meta/es.ts";
import type { Truncation } from "../src/meta/estimator.ts";
import { runRecord } from "../src/meta/job.ts";
import { pes, pesPairTruncation, pesStart } from "../src/meta/pes.ts";
import { initMetaTrainState, type MetaTrainState } from "../src/meta/state.ts";
import { metaTrain, metaTrainSteps } from "../src/meta/train.ts";
import { startTrajectories, TrajectorySet } from "../src/meta/trajectory.ts";
import { truncatedBptt } from "../src/meta/truncated_bptt.ts";
import { runSegment } from "../src/meta/perturbed.ts";
import type { Task } from "../src/tasks/base.ts";
import { validationInstances, validationScore } from "../src/meta/validation.ts";

const lstm = () => lstmOptimizer({ hidden: 4, layers: 1, preprocess: { kind: "none" }, outputScale: 0.1 }, createReferenceEngine);
const family = quadraticFamily({ dim: 3, instances: 1 });
const H = 20;
const T = 5;
const trainKey = key(11);
const o = lstm();
const phi = o.init(key(3)).flat;
const n = phi.length;
const instance = () => startTrajectories(family, trainKey, 0, 1)[0]!.instance;
const trunc = (index: number, length = T, p = phi): Truncation => ({ phi: p, index, length, horizon: H, metaLoss: "sum", metaLossFrom: 1, family, optimizer: o });

/** The meta-gradient of the horizon's mean loss by BPTT (second order) in truncations of `length` steps, summed. */
function bptt(length: number): Float64Array {
  const step = o.differentiable(phi, family.sample(key(0)).layout, length);
  step.setPhi(phi);
  const set = new TrajectorySet(step, startTrajectories(family, trainKey, 0, 1));
  const g = new Float64Array(n);
  for (let u = 0; u < H / length; u++) {
    const e = truncatedBptt({ secondOrder: true }).estimate(trunc(u, length), set)!;
    for (let i = 0; i < n; i++) g[i] = g[i]! + (e.grad[i]! * length) / H;
  }
  step.dispose();
  return g;
}

const full = bptt(H);
const truncated = bptt(T);
const dot = (a: ArrayLike<number>, u: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * u[i]!;
  return s;
};
/** Directions to compare along: the exact gradient, two random ones, and truncated BPTT's error. */
const directions: [string, Float64Array][] = [
  ["the exact gradient", full],
  ["random 1", Float64Array.from(normal(key(21), n))],
  ["random 2", Float64Array.from(normal(key(22), n))],
  ["truncated BPTT's error", truncated.map((x, i) => x - full[i]!)],
];

/** Mean and standard error of the pairs' samples projected on u. */
function meanAndSe(samples: readonly Float64Array[], u: Float64Array): [number, number] {
  const v = samples.map((s) => dot(s, u));
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  return [m, sd / Math.sqrt(v.length)];
}

/** Each pair's PES estimate of the whole horizon's gradient (sum over truncations of the mean-per-step estimates, over H / T). */
function pesSamples(pairs: number, sigma: number): Float64Array[] {
  const inst = instance();
  let state = pesStart(inst.theta0, pairs, n);
  const samples = Array.from({ length: pairs }, () => new Float64Array(n));
  for (let u = 0; u < H / T; u++) {
    state = state.map((p, j) => {
      const r = pesPairTruncation(o, inst, phi, sigma, p, j, { ...trunc(u), position: u * T });
      const c = (r.plus - r.minus) / (2 * sigma) / (H / T);
      for (let i = 0; i < n; i++) samples[j]![i] = samples[j]![i]! + c * r.direction[i]!;
      return r.pair;
    });
  }
  return samples;
}

function esSamples(pairs: number, sigma: number): Float64Array[] {
  const inst = instance();
  return Array.from({ length: pairs }, (_, j) => {
    const r = esPair(o, inst, phi, sigma, j, trunc(0));
    const c = (r.plus - r.minus) / (2 * sigma);
    return Float64Array.from(r.direction, (d) => c * d);
  });
}

function checkAgreement(label: string, samples: readonly Float64Array[]): void {
  const lines: string[] = [];
  for (const [name, u] of directions) {
    const [m, se] = meanAndSe(samples, u);
    const exact = dot(full, u);
    lines.push(`${name}: ${label} ${m.toFixed(3)} +- ${se.toFixed(3)}, exact ${exact.toFixed(3)}, truncated BPTT ${dot(truncated, u).toFixed(3)}`);
    assert.ok(Math.abs(m - exact) < 3 * se, `${label} along ${name}: ${m} +- ${se} against the exact ${exact}`);
  }
  // The comparison has the power to see truncation's bias: truncated BPTT lies many standard errors off.
  const [, se] = meanAndSe(samples, full);
  const off = Math.abs(dot(truncated, full) - dot(full, full));
  assert.ok(off > 10 * se, `truncated BPTT is ${off / se} standard errors off along the exact gradient`);
  console.log(lines.join("\n"));
}

describe("ES and PES against exact BPTT over the whole horizon (quadratic, LSTM, horizon 20 = 4 x 5)", () => {
  it("PES over 600 antithetic pairs agrees within 3 standard errors; truncated BPTT (T = 5) does not", () => {
    checkAgreement("PES", pesSamples(600, 1e-3));
  });

  it("ES over whole horizons with 600 antithetic pairs agrees within 3 standard errors", () => {
    checkAgreement("ES", esSamples(600, 1e-3));
  });

  it("through the estimator interface, PES and ES are the mean of their pairs' pure work", () => {
    const close = (got: ArrayLike<number>, want: ArrayLike<number>, what: string): void => {
      const scale = Math.max(...Array.from(want, Math.abs));
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * scale, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
    };
    const mean = (s: readonly Float64Array[]): Float64Array => Float64Array.from({ length: n }, (_, i) => s.reduce((a, x) => a + x[i]!, 0) / s.length);
    const set = new TrajectorySet(null, startTrajectories(family, trainKey, 0, 1));
    const est = pes({ sigma: 1e-3, pairs: 6 });
    const sum = new Float64Array(n);
    for (let u = 0; u < H / T; u++) {
      const e = est.estimate(trunc(u), set)!;
      assert.equal(e.live, 1);
      for (let i = 0; i < n; i++) sum[i] = sum[i]! + e.grad[i]! / (H / T);
    }
    assert.equal(set.items[0]!.position, H);
    close(sum, mean(pesSamples(6, 1e-3)), "PES");
    const esSet = new TrajectorySet(null, startTrajectories(family, trainKey, 0, 1));
    const es = antitheticEs({ sigma: 1e-3, pairs: 4 });
    close(es.estimate(trunc(0), esSet)!.grad, mean(esSamples(4, 1e-3)), "ES");
    assert.equal(es.estimate(trunc(1), esSet), null, "ES updates once per horizon");
  });

  it("PES runs the uncounted truncations (before metaLossFrom) without an estimate, and ES counts from it; the log meta-loss", () => {
    const from = (p: typeof pes | typeof antitheticEs, metaLoss: "sum" | "log") => {
      const set = new TrajectorySet(null, startTrajectories(family, trainKey, 0, 1));
      const est = p({ sigma: 1e-3, pairs: 3 });
      return Array.from({ length: H / T }, (_, u) => est.estimate({ ...trunc(u), metaLossFrom: 11, metaLoss }, set)?.metaLoss ?? null);
    };
    const p = from(pes, "sum");
    assert.deepEqual(p.map((x) => x === null), [true, true, false, false]);
    const e = from(antitheticEs, "sum");
    assert.deepEqual(e.map((x) => x === null), [false, true, true, true]);
    // ES's loss is the mean over steps 11..20 of the same losses as PES's two counted truncations (up to the perturbations).
    assert.ok(Math.abs(e[0]! - (p[2]! + p[3]!) / 2) < 1e-3 * e[0]!, `${e[0]} vs ${p[2]}, ${p[3]}`);
    const log = from(pes, "log");
    assert.ok(Math.abs(log[2]! - Math.log(p[2]!)) < 0.5, `mean log loss ${log[2]} vs log of the mean loss ${Math.log(p[2]!)}`);
  });
});

const noDifferentiable = (opt: LearnedOptimizer): LearnedOptimizer => {
  const { differentiable: _d, ...rest } = opt;
  return rest;
};

function trainCfg(estimator: "es" | "pes", over: Partial<MetaTrainConfig> = {}): MetaTrainConfig {
  return resolveMetaTrainConfig({ unroll: T, horizon: H, epochs: 3, horizonsPerEpoch: 4, validationTasks: 4, metaLr: 0.01, seed: 1, estimator, esPairs: 8, esSigma: 0.01, ...over });
}

describe("a particle whose gradient stops being finite", () => {
  it("ends its segment as diverged (loss NaN), as evaluation does, instead of feeding the gradient to the optimizer", () => {
    const base = family.sample(key(5));
    // The loss stays finite while the gradient overflows from the third point on.
    let calls = 0;
    const task: Task = {
      ...base,
      lossAndGrad(theta, k) {
        const r = base.lossAndGrad(theta, k);
        return calls++ < 2 ? r : { loss: r.loss, grad: r.grad.map(() => Infinity) };
      },
    };
    const theta = task.init(key(6));
    const seg = { task, batchKey: key(7), position: 0, length: T, horizon: H, metaLoss: "sum" as const, from: 1 };
    const r = runSegment(o, phi, { theta, state: null }, seg);
    assert.ok(Number.isNaN(r.loss));
    calls = -1_000;
    assert.ok(Number.isFinite(runSegment(o, phi, { theta, state: null }, seg).loss));
  });
});

describe("meta-training with ES and PES", () => {
  const trained = new Map<string, Float32Array>();
  for (const [name, make] of [
    ["lstm without a differentiable step", () => noDifferentiable(lstm())],
    ["mlp", () => mlpOptimizer({})],
    ["lstm", lstm],
  ] as const) {
    it(`PES lowers the validation score on the quadratic task (${name})`, () => {
      const opt = make();
      const cfg = trainCfg("pes");
      const s0 = initMetaTrainState(opt, cfg);
      const before = validationScore(opt, s0.phi, validationInstances(family, s0.validKey, cfg.validationTasks), H, "sum", 1);
      const scores: number[] = [];
      const { state } = metaTrain(opt, family, cfg, s0, { onEpoch: (_s, score) => scores.push(score) });
      assert.equal(state.metaIteration, 3 * 4 * (H / T));
      assert.ok(state.bestScore < 0.97 * before, `${name}: validation ${before} -> ${scores.join(", ")}`);
      console.log(`${name}: validation ${before.toFixed(4)} -> ${scores.map((s) => s.toFixed(4)).join(", ")}`);
      trained.set(name, state.phi);
      // PES runs the optimizer forward only: with or without a differentiable step, the same bits.
      if (name === "lstm") assert.deepEqual(state.phi, trained.get("lstm without a differentiable step"));
    });
  }

  it("ES makes one update per horizon and lowers the validation score; bptt refuses a kind without a differentiable step", () => {
    const opt = noDifferentiable(lstm());
    const cfg = trainCfg("es");
    const s0 = initMetaTrainState(opt, cfg);
    const before = validationScore(opt, s0.phi, validationInstances(family, s0.validKey, 4), H, "sum", 1);
    const { state } = metaTrain(opt, family, cfg, s0);
    assert.equal(state.metaIteration, 3 * 4);
    assert.ok(state.bestScore < before, `validation ${before} -> ${state.bestScore}`);
    const bpttCfg = resolveMetaTrainConfig({ unroll: T, horizon: H, epochs: 1, horizonsPerEpoch: 1 });
    assert.throws(() => metaTrain(opt, family, bpttCfg, initMetaTrainState(opt, bpttCfg)), (e: Error) => e instanceof ConfigError && /--estimator/.test(e.message));
  });

  it("replays bit for bit, and a run stopped between horizons resumes from its checkpoint into the same bits", () => {
    const cfg = trainCfg("pes", { epochs: 2, horizonsPerEpoch: 2, esPairs: 3 });
    const a = metaTrain(lstm(), family, cfg, initMetaTrainState(lstm(), cfg)).state;
    const b = metaTrain(lstm(), family, cfg, initMetaTrainState(lstm(), cfg)).state;
    assert.deepEqual(b.phi, a.phi);
    const other = metaTrain(lstm(), family, { ...cfg, seed: 2 }, initMetaTrainState(lstm(), { ...cfg, seed: 2 })).state;
    assert.notDeepEqual(other.phi, a.phi);
    // Stop after the first horizon (mid-epoch), checkpoint, resume.
    const steps = metaTrainSteps(lstm(), family, cfg, initMetaTrainState(lstm(), cfg));
    const cut = steps.next().value as MetaTrainState;
    steps.return(undefined as never);
    assert.equal(cut.epochHorizons, 1);
    const resumed = stateFromCheckpoint(stateToCheckpoint(cut), cut.phi.length, cfg);
    const c = metaTrain(lstm(), family, cfg, resumed).state;
    assert.deepEqual(c.phi, a.phi);
    assert.equal(c.metaIteration, a.metaIteration);
  });
});

describe("ES and PES settings", () => {
  it("the run record names the estimator and its settings, and a resume with another sigma is refused", () => {
    const job = (meta: MetaTrainConfig) => ({ optimizer: o, task: "quadratic", family, meta, out: "/tmp/x.safetensors" });
    const bpttRecord = runRecord(job(resolveMetaTrainConfig({})));
    assert.equal(bpttRecord.estimator, "tbptt");
    assert.ok(!("esSigma" in bpttRecord) && !("esPairs" in bpttRecord), "bptt records no ES settings (older checkpoints still match)");
    const a = runRecord(job(trainCfg("pes")));
    assert.equal(a.estimator, "pes");
    assert.equal(checkRunRecord(a, runRecord(job(trainCfg("pes"))), "ck"), undefined);
    assert.throws(() => checkRunRecord(a, runRecord(job(trainCfg("pes", { esSigma: 0.02 }))), "ck"), /esSigma 0\.01.*0\.02/);
    assert.throws(() => checkRunRecord(a, runRecord(job(trainCfg("es"))), "ck"), /estimator "pes".*"es"/);
  });

  it("bad settings are one-line ConfigErrors", () => {
    const bad = (c: Partial<MetaTrainConfig>, re: RegExp): void => assert.throws(() => resolveMetaTrainConfig(c), (e: Error) => e instanceof ConfigError && re.test(e.message));
    bad({ estimator: "sgd" as "es" }, /estimator must be one of bptt, es, pes/);
    bad({ estimator: "pes", esSigma: 0 }, /esSigma must be in \(0, 1\]/);
    bad({ estimator: "pes", esSigma: NaN }, /esSigma/);
    bad({ estimator: "es", esSigma: 2 }, /esSigma/);
    bad({ estimator: "es", esPairs: 0 }, /esPairs must be an integer from 1 to 4096/);
    bad({ estimator: "es", esPairs: 1.5 }, /esPairs/);
    bad({ estimator: "es", esPairs: 5000 }, /esPairs/);
    bad({ esSigma: 0.1 }, /this run's estimator is bptt/);
    bad({ estimator: "pes", secondOrder: true }, /secondOrder belongs to the bptt estimator/);
    const d = resolveMetaTrainConfig({ estimator: "pes" });
    assert.deepEqual([d.esSigma, d.esPairs], [0.01, 16]);
  });
});

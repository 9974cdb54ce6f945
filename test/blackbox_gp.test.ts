import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { key } from "../src/core/rng.ts";
import { runBo, runRandom } from "../src/blackbox/bo.ts";
import { erfc, expectedImprovement, maximiseEi, normalCdf } from "../src/blackbox/ei.ts";
import { fitHyperparameters } from "../src/blackbox/fit.ts";
import { benchmark, BENCHMARK_NAMES, unitMinimisers } from "../src/blackbox/functions.ts";
import { condition, logMarginalLikelihood, predict, type Data } from "../src/blackbox/gp.ts";
import { Rand } from "../src/blackbox/random.ts";
import { gpSample } from "../src/blackbox/rff.ts";

interface Case {
  d: number; n: number; x: number[]; y: number[];
  lengthScales: number[]; signalVariance: number; noiseVariance: number;
  queries: number[]; mean: number[]; stdWithNoise: number[];
  logMarginalLikelihood: number; gradLogSignal: number; gradLogLengthScales: number[]; gradLogNoise: number;
}
// Made once by scripts/gen_gp_fixtures.py with scikit-learn's GaussianProcessRegressor
// (ConstantKernel * Matern(nu=2.5, ARD) + WhiteKernel, optimizer=None).
const CASES = (JSON.parse(readFileSync(new URL("./fixtures/blackbox_gp.json", import.meta.url), "utf8")) as { cases: Case[] }).cases;

const close = (got: number, want: number, tol: number, what: string): void =>
  assert.ok(Math.abs(got - want) <= tol * (1 + Math.abs(want)), `${what}: got ${got}, scikit-learn ${want}`);

const thetaOf = (c: Case): Float64Array => Float64Array.from([...c.lengthScales.map(Math.log), Math.log(c.signalVariance), Math.log(c.noiseVariance)]);
const dataOf = (c: Case): Data => ({ x: Float64Array.from(c.x), y: Float64Array.from(c.y), n: c.n, d: c.d });

test("GP posterior mean and variance match scikit-learn at fixed hyperparameters (d = 1, 2, 3, 6)", () => {
  assert.equal(CASES.length, 4);
  for (const c of CASES) {
    const p = condition(thetaOf(c), dataOf(c));
    const q = Float64Array.from(c.queries);
    for (let i = 0; i < c.mean.length; i++) {
      const { mean, variance } = predict(p, q, i);
      close(mean, c.mean[i]!, 1e-7, `d=${c.d} mean at query ${i}`);
      // scikit-learn's standard deviation includes the WhiteKernel's noise; gp.ts's is the latent function's.
      close(Math.sqrt(variance + c.noiseVariance), c.stdWithNoise[i]!, 1e-6, `d=${c.d} std at query ${i}`);
    }
  }
});

test("GP log marginal likelihood and its gradient match scikit-learn", () => {
  for (const c of CASES) {
    const { value, gradient } = logMarginalLikelihood(thetaOf(c), dataOf(c));
    close(value, c.logMarginalLikelihood, 1e-9, `d=${c.d} log marginal likelihood`);
    for (let k = 0; k < c.d; k++) close(gradient[k]!, c.gradLogLengthScales[k]!, 1e-7, `d=${c.d} d/dlog l_${k}`);
    close(gradient[c.d]!, c.gradLogSignal, 1e-7, `d=${c.d} d/dlog s2`);
    close(gradient[c.d + 1]!, c.gradLogNoise, 1e-7, `d=${c.d} d/dlog noise`);
  }
});

test("expected improvement matches its closed form and a numerical integral", () => {
  close(erfc(1), 0.157299207050285, 2e-7, "erfc(1)");
  close(normalCdf(-1.5), 0.0668072012688581, 2e-7, "Phi(-1.5)");
  // At best = mean, EI = sd * phi(0) = sd / sqrt(2 pi).
  close(expectedImprovement(0.3, 2, 0.3), 2 / Math.sqrt(2 * Math.PI), 1e-7, "EI at the incumbent");
  // E[max(best - Y, 0)] for Y ~ N(mean, sd^2), by the midpoint rule on +-12 sd.
  for (const [mean, sd, best] of [[0, 1, -1], [1, 0.5, 0.2], [-2, 3, 1], [0.4, 0.1, 0.9]] as const) {
    let integral = 0;
    const steps = 200_000, lo = mean - 12 * sd, h = (24 * sd) / steps;
    for (let i = 0; i < steps; i++) {
      const y = lo + (i + 0.5) * h;
      integral += Math.max(best - y, 0) * Math.exp(-0.5 * ((y - mean) / sd) ** 2) / (sd * Math.sqrt(2 * Math.PI)) * h;
    }
    close(expectedImprovement(mean, sd, best), integral, 1e-6, `EI(${mean}, ${sd}, ${best})`);
  }
  assert.equal(expectedImprovement(1, 0, 3), 2, "no uncertainty: the sure improvement");
});

test("EI maximisation with restarts finds the best point of a fine 1-D grid", () => {
  const rand = new Rand(key(5));
  const x = Float64Array.of(0.05, 0.3, 0.5, 0.8, 0.95);
  const data: Data = { x, y: Float64Array.of(0.2, -0.5, 0.4, -0.1, 0.9), n: 5, d: 1 };
  const p = condition(Float64Array.of(Math.log(0.15), 0, Math.log(1e-4)), data);
  const ei = (v: number): number => {
    const { mean, variance } = predict(p, Float64Array.of(v));
    return expectedImprovement(mean, Math.sqrt(variance), -0.5);
  };
  let gridBest = 0;
  for (let i = 0; i <= 10_000; i++) gridBest = Math.max(gridBest, ei(i / 10_000));
  const q = maximiseEi(p, -0.5, rand);
  assert.ok(ei(q[0]!) >= gridBest * (1 - 1e-3), `EI at the proposal ${ei(q[0]!)} vs grid maximum ${gridBest}`);
});

test("benchmark functions take their known minima at their known minimisers", () => {
  const known: Record<string, number> = { branin: 0.397887, "goldstein-price": 3, hartmann3: -3.86278, hartmann6: -3.32237 };
  assert.deepEqual([...BENCHMARK_NAMES].sort(), Object.keys(known).sort());
  for (const name of BENCHMARK_NAMES) {
    const f = benchmark(name);
    for (const u of unitMinimisers(name)) close(f.raw(u), known[name]!, 2e-5, `${name} at a minimiser`);
    // and nothing on a random sample is lower
    const rand = new Rand(key(9));
    for (let i = 0; i < 2000; i++) assert.ok(f.raw(rand.uniforms(f.dim)) >= known[name]! - 1e-5, `${name} below its minimum`);
  }
  assert.throws(() => benchmark("rosenbrok"), /unknown benchmark function 'rosenbrok'/);
});

test("fitting the hyperparameters raises the log marginal likelihood above the starting point's", () => {
  const f = gpSample({ dim: 2, features: 100, lengthScale: 0.3 }, key(21));
  const rand = new Rand(key(22));
  const n = 25;
  const x = rand.uniforms(2 * n);
  const raw = Array.from({ length: n }, (_, i) => f.value(x.subarray(2 * i, 2 * i + 2)));
  const m = raw.reduce((a, v) => a + v, 0) / n, sd = Math.sqrt(raw.reduce((a, v) => a + (v - m) ** 2, 0) / n);
  const data: Data = { x, y: Float64Array.from(raw, (v) => (v - m) / sd), n, d: 2 };
  const start = Float64Array.of(Math.log(2), Math.log(2), 0, Math.log(0.1));
  const before = logMarginalLikelihood(start, data, false).value;
  const fit = fitHyperparameters(data, new Rand(key(23)), { restarts: 3, iterations: 60 }, start);
  assert.ok(fit.lml > before + 1, `fitted ${fit.lml} vs start ${before}`);
  close(logMarginalLikelihood(fit.theta, data, false).value, fit.lml, 1e-12, "the reported likelihood is the fitted theta's");
  // the fitted length scales are short (the function varies on 0.3), not the start's 2
  assert.ok(Math.exp(fit.theta[0]!) < 1.5 && Math.exp(fit.theta[1]!) < 1.5, `length scales ${Math.exp(fit.theta[0]!)}, ${Math.exp(fit.theta[1]!)}`);
});

test("GP-BO finds lower values than random search on 1-D GP samples, on average over seeds", () => {
  const evaluations = 12;
  let bo = 0, random = 0;
  const seeds = 8;
  for (let s = 0; s < seeds; s++) {
    const f = gpSample({ dim: 1, features: 100, lengthScale: 0.15 }, key(100 + s));
    let min = Infinity;
    for (let i = 0; i <= 2000; i++) min = Math.min(min, f.value([i / 2000]));
    let b = Infinity, r = Infinity;
    runBo(f, evaluations, new Rand(key(200 + s)), (_x, y) => { b = Math.min(b, y); }, { initial: 2, fit: { restarts: 2, iterations: 30 }, search: { candidates: 200, restarts: 3, iterations: 20 } });
    runRandom(f, evaluations, new Rand(key(300 + s)), (_x, y) => { r = Math.min(r, y); });
    bo += (b - min) / seeds;
    random += (r - min) / seeds;
  }
  assert.ok(bo < random, `mean regret: GP-BO ${bo}, random search ${random}`);
  assert.ok(bo < 0.05, `GP-BO's mean regret after ${evaluations} evaluations is small: ${bo}`);
});

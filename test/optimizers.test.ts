import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, NonFiniteGradientError } from "../src/core/errors.ts";
import { chain, named } from "../src/optimizers/combine.ts";
import {
  scale,
  scaleByAdagrad,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  traceMomentum,
} from "../src/optimizers/primitives.ts";
import { adagrad, adam, addsign, momentum, nesterov, powersign, rmsprop, sgd } from "../src/optimizers/alias.ts";
import { OPTIMIZERS, OPTIMIZER_NAMES, optimizerByName, optimizerSpec } from "../src/optimizers/registry.ts";
import { scaleBySignRule } from "../src/optimizers/sign.ts";
import { applyUpdates, type GradientTransformation, type OptState } from "../src/optimizers/transform.ts";

type Problem = { readonly x0: readonly number[]; readonly min: readonly number[]; grad(x: Float32Array): Float32Array };

/** f(x) = sum_i (x_i - c_i)^2, gradient 2 (x - c), minimum at c. */
const C = [1, -2, 0.5, 3];
const parabola: Problem = {
  x0: [0, 0, 0, 0],
  min: C,
  grad: (x) => x.map((v, i) => 2 * (v - C[i]!)),
};

/** Rosenbrock, a = 1, b = 100: f = (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1). */
const rosenbrock: Problem = {
  x0: [-1.2, 1],
  min: [1, 1],
  grad: ([x = 0, y = 0]) => new Float32Array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]),
};

function minimize(tx: GradientTransformation, p: Problem, steps: number): Float32Array {
  let x: Float32Array = Float32Array.from(p.x0);
  let state = tx.init(x);
  for (let t = 0; t < steps; t++) {
    const [u, s] = tx.update(p.grad(x), state, x);
    x = applyUpdates(x, u);
    state = s;
  }
  return x;
}

function assertClose(actual: Float32Array, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.ok(Math.abs(a - e) <= 2e-6 * Math.abs(e) + 1e-12, `${what}[${i}]: got ${a}, expected ${e}`);
  });
}

// Learning rates and step counts that converge (to 1e-3 on the parabola, 1e-2 on Rosenbrock)
// with about 1.5x headroom in steps. Rosenbrock's curvature at the start (about 1330) caps the
// plain rates near 1e-3; the adaptive ones are sign-like and need small lr to settle.
type Run = readonly [lr: number, steps: number];
const CONVERGENCE: Record<string, { readonly parabola: Run; readonly rosenbrock: Run }> = {
  sgd: { parabola: [0.1, 100], rosenbrock: [1e-3, 16000] },
  momentum: { parabola: [0.05, 300], rosenbrock: [5e-4, 4000] },
  nesterov: { parabola: [0.05, 200], rosenbrock: [5e-4, 4000] },
  rmsprop: { parabola: [0.03, 300], rosenbrock: [1e-3, 9000] },
  adam: { parabola: [0.1, 300], rosenbrock: [3e-3, 10000] },
  adagrad: { parabola: [1, 100], rosenbrock: [0.5, 9000] },
  powersign: { parabola: [0.1, 100], rosenbrock: [5e-4, 12000] },
  addsign: { parabola: [0.1, 100], rosenbrock: [7e-4, 12000] },
};

test("every registered optimizer reaches the minimum of a parabola and of Rosenbrock", () => {
  assert.deepEqual(Object.keys(CONVERGENCE).sort(), [...OPTIMIZER_NAMES].sort());
  for (const name of OPTIMIZER_NAMES) {
    const row = CONVERGENCE[name]!;
    for (const [problem, [lr, steps], tol] of [
      [parabola, row.parabola, 1e-3],
      [rosenbrock, row.rosenbrock, 1e-2],
    ] as const) {
      const x = minimize(optimizerByName(name, lr), problem, steps);
      const err = Math.max(...problem.min.map((m, i) => Math.abs(x[i]! - m)));
      assert.ok(err < tol, `${name} (lr ${lr}, ${steps} steps) ended at [${x.join(", ")}], error ${err}`);
    }
  }
});

// Steps with lr = 0.1 from g1 = [0.5, -2, 0, 1e-8] then g2 = [-0.1, 1, 1, -1]. The 1e-8
// coordinate makes eps visible; the second step shows the state at work.
const LR = 0.1;
const G1 = [0.5, -2, 0, 1e-8];
const G2 = [-0.1, 1, 1, -1];
const FIRST_STEPS: Record<string, { first: readonly number[]; second?: readonly number[] }> = {
  // -lr g.
  sgd: { first: [-0.05, 0.2, 0, -1e-9] },
  // v1 = g1, step -lr v1. v2 = 0.9 g1 + g2 = [0.45 - 0.1, -1.8 + 1, 1, 9e-9 - 1] = [0.35, -0.8, 1, -1].
  momentum: { first: [-0.05, 0.2, 0, -1e-9], second: [-0.035, 0.08, -0.1, 0.1 - 9e-10] },
  // v1 = g1, step -lr (g1 + 0.9 v1) = -0.19 g1. v2 = [0.35, -0.8, 1, -1 + 9e-9];
  // g2 + 0.9 v2 = [-0.1 + 0.315, 1 - 0.72, 1.9, -1.9 + 8.1e-9] = [0.215, 0.28, 1.9, -1.9].
  nesterov: { first: [-0.095, 0.38, 0, -1.9e-9], second: [-0.0215, -0.028, -0.19, 0.19 - 8.1e-10] },
  // nu1 = 0.1 g^2, step -lr g / (sqrt(0.1)|g| + eps): -lr sign(g) sqrt(10) = -+0.316228 for the
  // large ones; for 1e-8: -0.1 * 1e-8 / (3.16228e-9 + 1e-8) = -0.1 / 1.316228 = -0.0759747
  // (eps inside the root would give -0.1 * 1e-8 / 1e-4 = -1e-5).
  // nu2 = 0.9 nu1 + 0.1 g2^2 = [0.0225 + 0.001, 0.36 + 0.1, 0.1, 0.1]: steps
  // [0.01 / sqrt(0.0235), -0.1 / sqrt(0.46), -0.1 / sqrt(0.1), 0.1 / sqrt(0.1)].
  rmsprop: {
    first: [-0.316227746, 0.316227761, 0, -0.0759746923],
    second: [0.0652328035, -0.147441953, -0.316227756, 0.316227756],
  },
  // mu_hat = g, nu_hat = g^2 on step 1, so -lr g / (|g| + eps): -lr sign(g) for the large
  // ones (1 - 2e-8 and 1 - 5e-9 round to 1 in float32) and -0.1 * 1e-8 / 2e-8 = -0.05.
  // Step 2: m2 = 0.09 g1 + 0.1 g2 = [0.035, -0.08, 0.1, -0.1], v2 = 0.000999 g1^2 + 0.001 g2^2 =
  // [0.00025975, 0.004996, 0.001, 0.001]; step -lr (m2 / 0.19) / sqrt(v2 / 0.001999):
  // [-0.1 * 0.184211 / 0.360472, -0.1 * -0.421053 / 1.580902, -0.1 * 0.526316 / 0.707284, +].
  adam: {
    first: [-0.1, 0.1, 0, -0.05],
    second: [-0.0511026059, 0.0266337042, -0.0744136813, 0.0744136806],
  },
  // s1 = 0.1 + g^2 = [0.35, 4.1, 0.1, 0.1]; step -lr g / (sqrt(s1) + 1e-7):
  // [-0.05 / 0.591608, 0.2 / 2.024846, 0, -1e-9 / 0.316228].
  // s2 = s1 + g2^2 = [0.36, 5.1, 1.1, 1.1]: [0.01 / 0.6, -0.1 / 2.258318, -0.1 / 1.048809, +].
  adagrad: {
    first: [-0.0845154112, 0.0987729548, 0, -3.16227664e-9],
    second: [0.0166666643, -0.0442807427, -0.0953462498, 0.0953462498],
  },
  // m1 = 0.1 g1 agrees in sign with g1: -lr e g1. m2 = 0.9 m1 + 0.1 g2 =
  // [0.045 - 0.01, -0.18 + 0.1, 0.1, -0.1] = [0.035, -0.08, 0.1, -0.1] against g2 = [-, +, +, -]:
  // s = [-1, -1, +1, +1], step -lr e^s g2 = [0.01 / e, -0.1 / e, -0.1 e, 0.1 e].
  powersign: {
    first: [-0.135914091, 0.543656366, 0, -2.71828181e-9],
    second: [0.00367879447, -0.0367879441, -0.271828183, 0.271828183],
  },
  // Same signs; step -lr (1 + s) g: first -0.2 g1, second [0, 0, -0.2, 0.2].
  addsign: { first: [-0.1, 0.4, 0, -2e-9], second: [0, 0, -0.2, 0.2] },
};

test("first and second steps match hand computations", () => {
  assert.deepEqual(Object.keys(FIRST_STEPS).sort(), [...OPTIMIZER_NAMES].sort());
  for (const name of OPTIMIZER_NAMES) {
    const row = FIRST_STEPS[name]!;
    const tx = optimizerByName(name, LR);
    const params = new Float32Array([1, 2, 3, 4]);
    const [u1, s1] = tx.update(Float32Array.from(G1), tx.init(params), params);
    assertClose(u1, row.first, `${name} step 1`);
    const [u2] = tx.update(Float32Array.from(G2), s1, applyUpdates(params, u1));
    if (row.second !== undefined) assertClose(u2, row.second, `${name} step 2`);
  }
});

test("eps sits outside the square root unless epsInSqrt is set", () => {
  const g = new Float32Array([1e-7]);
  const step = (tx: GradientTransformation) => tx.update(g, tx.init(g), g)[0][0]!;
  // sqrt(0 + 1e-14) = 1e-7: 1e-7 / (1e-7 + 1e-7) = 0.5; inside: 1e-7 / sqrt(1e-14 + 1e-7) = 3.1623e-4.
  assert.ok(Math.abs(step(scaleByAdagrad({ initialAccumulator: 0, eps: 1e-7 })) - 0.5) < 1e-6);
  const inside = step(scaleByAdagrad({ initialAccumulator: 0, eps: 1e-7, epsInSqrt: true }));
  assert.ok(Math.abs(inside - 3.16227e-4) < 1e-8, `${inside}`);
  // decay 0: nu = 1e-14, same numbers.
  assert.ok(Math.abs(step(scaleByRms({ decay: 0, eps: 1e-7 })) - 0.5) < 1e-6);
  assert.ok(Math.abs(step(scaleByRms({ decay: 0, eps: 1e-7, epsInSqrt: true })) - 3.16227e-4) < 1e-8);
  // A coordinate that has only seen zeros gets 0, not 0/0, even with eps = 0.
  const z = new Float32Array([0]);
  const zeroEps = [scaleByRms({ eps: 0 }), scaleByAdam({ eps: 0 }), scaleByAdagrad({ initialAccumulator: 0, eps: 0 })];
  for (const tx of zeroEps) {
    assert.equal(tx.update(z, tx.init(z), z)[0][0], 0);
  }
});

function arraysIn(s: OptState): Float32Array[] {
  return Object.values(s).flatMap((v): Float32Array[] => {
    if (v instanceof Float32Array) return [v];
    if (typeof v === "number") return [];
    return Array.isArray(v) ? v.flatMap(arraysIn) : arraysIn(v as OptState);
  });
}

test("update mutates neither grads, params nor state, and returns fresh arrays", () => {
  for (const name of OPTIMIZER_NAMES) {
    const tx = optimizerByName(name, 0.1);
    const params = new Float32Array([1, -2, 3]);
    const grads = new Float32Array([0.5, -1, 2]);
    const [, s1] = tx.update(grads, tx.init(params), params);
    const before = structuredClone(s1);
    const [u2, s2] = tx.update(grads, s1, params);
    assert.deepEqual(s1, before, `${name}: state changed in place`);
    assert.deepEqual(grads, new Float32Array([0.5, -1, 2]), `${name}: grads changed`);
    assert.deepEqual(params, new Float32Array([1, -2, 3]), `${name}: params changed`);
    assert.notEqual(u2, grads, `${name}: updates alias grads`);
    const old = new Set(arraysIn(s1));
    for (const a of arraysIn(s2)) assert.ok(!old.has(a), `${name}: new state reuses an old array`);
    // Pure: the same inputs give the same outputs.
    assert.deepEqual(tx.update(grads, s1, params), [u2, s2], `${name}: not repeatable`);
  }
});

test("chain applies its stages in order and keeps their states by stage", () => {
  const addOne: GradientTransformation = {
    init: () => ({ calls: 0 }),
    update: (g, s) => [g.map((v) => v + 1), { calls: (s["calls"] as number) + 1 }],
  };
  const g = new Float32Array([1, 2]);
  const run = (tx: GradientTransformation) => tx.update(g, tx.init(g), g);
  assert.deepEqual(run(chain(scale(2), addOne))[0], new Float32Array([3, 5])); // 2g + 1
  assert.deepEqual(run(chain(addOne, scale(2)))[0], new Float32Array([4, 6])); // 2(g + 1)
  const [u, s] = run(chain(traceMomentum({ decay: 0.5 }), addOne, scaleByLearningRate(0.5)));
  assert.deepEqual(u, new Float32Array([-1, -1.5])); // -0.5 (g + 1)
  assert.deepEqual(s, { stages: [{ trace: new Float32Array([1, 2]) }, { calls: 1 }, {}] });
  const [id] = run(chain());
  assert.deepEqual(id, g);
  assert.notEqual(id, g);
  assert.throws(() => chain(scale(1), scale(1)).update(g, { stages: [{}] }, g), /chain: state must hold 'stages'/);
  const adam3 = scaleByAdam().init(new Float32Array(3));
  assert.throws(() => scaleByAdam().update(g, adam3, g), /scaleByAdam: 2 gradients but state 'mu' holds 3/);
});

test("gradients of another length than the parameters throw an error naming the optimizer, stateless sgd included", () => {
  for (const name of OPTIMIZER_NAMES) {
    const tx = optimizerByName(name, 0.1);
    const p = new Float32Array(3);
    for (const n of [0, 2, 4]) {
      assert.throws(() => tx.update(new Float32Array(n), tx.init(p), p), { message: `${name}: ${n} gradients for 3 parameters` }, name);
    }
    // Zero parameters are a valid, empty problem.
    assert.deepEqual(tx.update(new Float32Array(0), tx.init(new Float32Array(0)), new Float32Array(0))[0], new Float32Array(0));
  }
});

test("non-finite gradients throw an error naming the optimizer", () => {
  for (const name of [...OPTIMIZER_NAMES, "nag"]) {
    const tx = optimizerByName(name, 0.1);
    const p = new Float32Array(3);
    const canonical = optimizerSpec(name).name;
    for (const bad of [NaN, Infinity, -Infinity]) {
      const g = new Float32Array([1, bad, 0]);
      assert.throws(() => tx.update(g, tx.init(p), p), (e: unknown) => e instanceof NonFiniteGradientError && new RegExp(`^${canonical}: gradients contained NaN/Inf \\(${bad} at index 1 of 3\\)`).test(e.message));
    }
  }
  assert.throws(() => named("mine", scale(1)).update(new Float32Array([NaN]), {}, new Float32Array(1)), {
    message: /^mine: gradients contained NaN\/Inf/,
  });
});

test("bad hyperparameters throw clear errors", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => sgd(0), /^sgd: the learning rate must be a finite number > 0, got 0/],
    [() => sgd(-0.1), /^sgd: the learning rate must be/],
    [() => adam(NaN), /^adam: the learning rate must be a finite number > 0, got NaN/],
    [() => rmsprop(Infinity), /^rmsprop: the learning rate/],
    [() => momentum(0.1, { decay: 1 }), /^momentum: decay must be in \[0, 1\), got 1/],
    [() => nesterov(0.1, { decay: -0.1 }), /^nesterov: decay must be in \[0, 1\)/],
    [() => rmsprop(0.1, { decay: 1.5 }), /^rmsprop: decay must be in \[0, 1\)/],
    [() => rmsprop(0.1, { eps: -1 }), /^rmsprop: eps must be a finite number >= 0, got -1/],
    [() => adam(0.1, { b1: 1 }), /^adam: b1 must be in \[0, 1\)/],
    [() => adam(0.1, { b2: NaN }), /^adam: b2 must be in \[0, 1\), got NaN/],
    [() => adam(0.1, { eps: Infinity }), /^adam: eps must be a finite number >= 0/],
    [() => adagrad(0.1, { initialAccumulator: -1 }), /^adagrad: initialAccumulator must be a finite number >= 0/],
    [() => powersign(0.1, { alpha: 0 }), /^powersign: alpha must be a finite number > 0, got 0/],
    [() => powersign(0.1, { beta: 1 }), /^powersign: beta must be in \[0, 1\)/],
    [() => addsign(0.1, { alpha: -1 }), /^addsign: alpha must be a finite number >= 0, got -1/],
    [() => scale(NaN), /^scale: the factor must be a finite number/],
    [() => scaleByLearningRate(0), /^scaleByLearningRate: the learning rate/],
    [() => scaleBySignRule({ rule: "timessign" as "addsign" }), /rule must be 'powersign' or 'addsign'/],
    [() => optimizerByName("adam", 0.1, { beta1: 0.9 }), /^adam: unknown option 'beta1' \(known options: b1, b2, eps\)/],
    [() => optimizerByName("sgd", 0.1, { decay: 0.9 }), /^sgd: unknown option 'decay' \(known options: none\)/],
    [() => optimizerByName("adam", 0.1, { b1: "0.9" as unknown as number }), /^adam: option 'b1' must be a number, got string "0\.9"$/],
    [() => optimizerByName("adam", 0.1, null as unknown as Record<string, number>), /^adam: options must be an object of numbers by name, got null$/],
    [() => optimizerByName("sgd", 0.1, [0.9] as unknown as Record<string, number>), /^sgd: options must be an object of numbers by name, got \[0\.9\]$/],
    // A value of the wrong type is shown with its type, not as the valid-looking number it spells.
    [() => sgd("0.1" as unknown as number), /^sgd: the learning rate must be a finite number > 0, got string "0\.1"$/],
    [() => adam(0.1, { b1: "0.9" as unknown as number }), /^adam: b1 must be in \[0, 1\), got string "0\.9"$/],
    [() => adagrad(0.1, { eps: [1e-7] as unknown as number }), /^adagrad: eps must be a finite number >= 0, got object \[1e-7\]$/],
    [() => scale(true as unknown as number), /^scale: the factor must be a finite number, got boolean true$/],
    [() => momentum(undefined as unknown as number), /^momentum: the learning rate must be a finite number > 0, got undefined$/],
    [() => adam(0.1, { engine: "gpu" as "ts" }), /^unknown rule engine 'gpu'; known engines: wasm, ts$/],
    [() => traceMomentum({ engine: "TS" as "ts" }), /^unknown rule engine 'TS'; known engines: wasm, ts$/],
  ];
  // Every one is a ConfigError, which a caller tells from a bug with one instanceof.
  for (const [make, message] of cases) assert.throws(make, (e: unknown) => e instanceof ConfigError && message.test(e.message), String(message));
});

test("the registry resolves names and aliases, and its defaults are the factories' defaults", () => {
  const names = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adagrad", "powersign", "addsign"];
  assert.deepEqual(OPTIMIZER_NAMES, names);
  const known = "sgd, momentum, nesterov (nag), rmsprop, adam, adagrad, powersign, addsign";
  assert.throws(() => optimizerByName("adamw", 0.1), {
    message: `unknown optimizer 'adamw'; known optimizers: ${known}`,
  });
  assert.equal(optimizerSpec("nag"), optimizerSpec("nesterov"));
  const g = new Float32Array([0.3, -0.7]);
  const step = (tx: GradientTransformation) => {
    const [, s] = tx.update(g, tx.init(g), g);
    return tx.update(g.map((v) => -2 * v), s, g)[0];
  };
  for (const spec of OPTIMIZERS) {
    assert.ok(spec.defaultLr > 0 && spec.description.length > 0, spec.name);
    // Passing the listed defaults explicitly changes nothing.
    assert.deepEqual(step(spec.make(spec.defaultLr, spec.hyper)), step(spec.make(spec.defaultLr)), spec.name);
  }
  // Options reach the optimizer: momentum with decay 0 is SGD.
  assert.deepEqual(step(optimizerByName("momentum", 0.1, { decay: 0 })), step(sgd(0.1)));
  assert.notDeepEqual(step(optimizerByName("momentum", 0.1)), step(sgd(0.1)));
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { TS_RULES, WASM_RULES_MIN_LENGTH, createWasmRules, ruleKernels, wasmRulesAvailable, type RuleKernels } from "../src/kernels/rules.ts";
import { firstNonFinite } from "../src/core/finite.ts";
import { assertFiniteGrads } from "../src/optimizers/checks.ts";
import { chain } from "../src/optimizers/combine.ts";
import { scale, scaleByAdagrad, scaleByAdam, scaleByRms, traceMomentum } from "../src/optimizers/primitives.ts";
import { OPTIMIZER_NAMES, optimizerSpec } from "../src/optimizers/registry.ts";
import { scaleBySignRule } from "../src/optimizers/sign.ts";
import type { GradientTransformation, OptState } from "../src/optimizers/transform.ts";
import { adagrad, adam, addsign, momentum, nesterov, powersign, rmsprop, sgd } from "../src/optimizers/alias.ts";

const WASM = ruleKernels("wasm");

/** A small deterministic generator (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * n float32 values spread over many scales, with the awkward ones mixed in: zeros of both
 * signs, subnormals, the largest float32, and (with `nonFinite`) infinities and NaN.
 */
function values(n: number, seed: number, nonFinite = false): Float32Array {
  const r = rng(seed);
  const special = [0, -0, 1e-40, -1e-42, 3.4e38, -3.4e38, 1, -1];
  if (nonFinite) special.push(Infinity, -Infinity, NaN);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.15) out[i] = special[Math.floor(r() * special.length)]!;
    else out[i] = (r() < 0.5 ? -1 : 1) * 10 ** (-12 + 14 * r());
  }
  return out;
}

/** Non-negative values (second moments and sums of squares). */
const squares = (n: number, seed: number, nonFinite = false) => values(n, seed, nonFinite).map(Math.abs);

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    // NaN is NaN whatever its payload; every other value must match bit for bit.
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (x[i] !== y[i]) assert.fail(`${what}[${i}]: ${a[i]} (0x${x[i]!.toString(16)}) against ${b[i]} (0x${y[i]!.toString(16)})`);
  }
}

type Call = (k: RuleKernels, n: number, seed: number, post: number | undefined, nonFinite: boolean) => Record<string, Float32Array>;

const CALLS: Record<string, Call> = {
  add: (k, n, seed, _post, nf) => ({ out: k.add(values(n, seed, nf), values(n, seed + 1, nf)) }),
  scale: (k, n, seed, post) => ({ out: k.scale(values(n, seed), post ?? 0.37) }),
  momentum: (k, n, seed, post, nf) => k.momentum(values(n, seed, nf), values(n, seed + 1, nf), 0.9, false, post),
  nesterov: (k, n, seed, post, nf) => k.momentum(values(n, seed, nf), values(n, seed + 1, nf), 0.9, true, post),
  rms: (k, n, seed, post, nf) => k.rms(values(n, seed, nf), squares(n, seed + 1, nf), 0.9, 1e-8, false, post),
  rmsInside: (k, n, seed, post, nf) => k.rms(values(n, seed, nf), squares(n, seed + 1, nf), 0.95, 1e-6, true, post),
  rmsNoEps: (k, n, seed, post, nf) => k.rms(values(n, seed, nf), squares(n, seed + 1, nf), 0.9, 0, false, post),
  adam: (k, n, seed, post, nf) =>
    k.adam(values(n, seed, nf), values(n, seed + 1, nf), squares(n, seed + 2, nf), 0.9, 0.999, 1e-8, 1 - 0.9 ** 3, 1 - 0.999 ** 3, post),
  adamNoEps: (k, n, seed, post, nf) =>
    k.adam(values(n, seed, nf), values(n, seed + 1, nf), squares(n, seed + 2, nf), 0.5, 0.9, 0, 0.5, 0.1, post),
  adagrad: (k, n, seed, post, nf) => k.adagrad(values(n, seed, nf), squares(n, seed + 1, nf), 1e-7, false, post),
  adagradInside: (k, n, seed, post, nf) => k.adagrad(values(n, seed, nf), squares(n, seed + 1, nf), 1e-7, true, post),
  powersign: (k, n, seed, post, nf) => k.signRule(values(n, seed, nf), values(n, seed + 1, nf), 0.9, Math.E, 1 / Math.E, 1, post),
  addsign: (k, n, seed, post, nf) => k.signRule(values(n, seed, nf), values(n, seed + 1, nf), 0.9, 2, 0, 1, post),
};

test("the WebAssembly rules are built, and give the reference's bits on awkward values", () => {
  assert.ok(wasmRulesAvailable(), "build/rules.wasm is missing: run `npm run build:wasm`");
  assert.equal(WASM.engine, "wasm");
  assert.equal(ruleKernels().engine, "wasm");
  // Lengths short enough to run the TypeScript loops, lengths that leave 1, 2 or 3 lanes of
  // the last vector empty, and one that makes the memory grow after smaller calls.
  assert.ok(WASM_RULES_MIN_LENGTH <= 32);
  const lengths = [0, 1, 3, 4, 5, 7, 32, 33, 34, 35, 1001, 70_000, 66];
  for (const [name, call] of Object.entries(CALLS)) {
    for (const n of lengths) {
      for (const post of [undefined, -0.01, 3]) {
        for (const nonFinite of [false, true]) {
          const seed = 17 + n;
          const ref = call(TS_RULES, n, seed, post, nonFinite);
          const got = call(WASM, n, seed, post, nonFinite);
          assert.deepEqual(Object.keys(got).sort(), Object.keys(ref).sort());
          for (const key of Object.keys(ref)) sameBits(got[key]!, ref[key]!, `${name} n=${n} post=${post} nonFinite=${nonFinite} ${key}`);
        }
      }
    }
  }
});

test("the reference rules compute what their formulas say", () => {
  // One coordinate each, by hand, in float64 and rounded once to float32.
  const f = Math.fround;
  const g = new Float32Array([0.5]);
  const m = TS_RULES.momentum(g, new Float32Array([2]), 0.9, true, undefined);
  assert.equal(m.trace[0], f(0.9 * 2 + 0.5));
  assert.equal(m.out[0], f(0.5 + 0.9 * (0.9 * 2 + 0.5)));
  const a = TS_RULES.adam(g, new Float32Array([0.1]), new Float32Array([0.04]), 0.9, 0.999, 1e-8, 0.19, 0.001999, -0.1);
  const mu = 0.9 * f(0.1) + (1 - 0.9) * 0.5;
  const nu = 0.999 * f(0.04) + (1 - 0.999) * 0.5 * 0.5;
  assert.equal(a.mu[0], f(mu));
  assert.equal(a.nu[0], f(nu));
  assert.equal(a.out[0], f(-0.1 * f(mu / 0.19 / (Math.sqrt(nu / 0.001999) + 1e-8))));
  // PowerSign: alpha where the signs agree, 1/alpha where they differ, 1 where m is 0.
  const s = TS_RULES.signRule(new Float32Array([1, 1, 2]), new Float32Array([1, -100, -20]), 0.9, 4, 0.25, 1, undefined);
  assert.deepEqual([...s.mu], [f(0.9 + 0.1), f(-90 + 0.1), f(-18 + 0.2)]);
  assert.deepEqual([...s.out], [4, 0.25, 0.5]);
  // m = 0.5 (-1) + 0.5 (1) = 0 exactly: the factor for s = 0.
  const z = TS_RULES.signRule(new Float32Array([1]), new Float32Array([-1]), 0.5, 4, 0.25, 7, undefined);
  assert.equal(z.mu[0], 0);
  assert.equal(z.out[0], 7);
});

test("a rule followed by scale runs as one pass with the bits and states of two", () => {
  // The reference: each stage run on its own, the rule's updates stored as float32 between them.
  const twoPasses = (rule: GradientTransformation, c: number): GradientTransformation => {
    const sc = scale(c);
    return {
      init: (p) => ({ stages: [rule.init(p), sc.init(p)] }),
      update(g, state, p) {
        const stages = state["stages"] as OptState[];
        const [u1, s1] = rule.update(g, stages[0]!, p);
        const [u2, s2] = sc.update(u1, stages[1]!, p);
        return [u2, { stages: [s1, s2] }];
      },
    };
  };
  const rules: [string, () => GradientTransformation][] = [
    ["traceMomentum", () => traceMomentum({ decay: 0.8, nesterov: true })],
    ["scaleByRms", () => scaleByRms({ decay: 0.7 })],
    ["scaleByAdam", () => scaleByAdam()],
    ["scaleByAdagrad", () => scaleByAdagrad({ epsInSqrt: true })],
    ["powersign", () => scaleBySignRule({ rule: "powersign" })],
  ];
  for (const [name, make] of rules) {
    for (const c of [-0.03, 1.7]) {
      const fused = chain(make(), scale(c));
      const apart = twoPasses(make(), c);
      let p = values(37, 5).map((v) => Math.max(-10, Math.min(10, v)));
      let sf = fused.init(p);
      let sa = apart.init(p);
      for (let t = 0; t < 6; t++) {
        const g = values(37, 100 + t);
        const [uf, nf] = fused.update(g, sf, p);
        const [ua, na] = apart.update(g, sa, p);
        sameBits(uf, ua, `${name} c=${c} step ${t}`);
        assert.deepEqual(nf, na, `${name} c=${c} step ${t}: state`);
        sf = nf;
        sa = na;
        p = p.map((v, i) => v + uf[i]!);
      }
    }
  }
});

test("every named optimizer gives the same updates and states on both rule engines", () => {
  const make: Record<string, (engine: "ts" | "wasm") => GradientTransformation> = {
    sgd: (engine) => sgd(0.1, { engine }),
    momentum: (engine) => momentum(0.1, { engine }),
    nesterov: (engine) => nesterov(0.1, { engine }),
    rmsprop: (engine) => rmsprop(0.01, { engine }),
    adam: (engine) => adam(0.01, { engine }),
    adagrad: (engine) => adagrad(0.1, { engine }),
    powersign: (engine) => powersign(0.01, { engine }),
    addsign: (engine) => addsign(0.01, { engine }),
  };
  assert.deepEqual(Object.keys(make).sort(), [...OPTIMIZER_NAMES].map((n) => optimizerSpec(n).name).sort());
  for (const [name, f] of Object.entries(make)) {
    const a = f("ts");
    const b = f("wasm");
    let p = values(1001, 9).map((v) => Math.max(-1, Math.min(1, v)));
    let sa = a.init(p);
    let sb = b.init(p);
    for (let t = 0; t < 8; t++) {
      const g = values(1001, 200 + t);
      const [ua, na] = a.update(g, sa, p);
      const [ub, nb] = b.update(g, sb, p);
      sameBits(ub, ua, `${name} step ${t}`);
      assert.deepEqual(nb, na, `${name} step ${t}: state`);
      sa = na;
      sb = nb;
      p = p.map((v, i) => v + ua[i]!);
    }
  }
});

test("a call larger than the rules' memory can hold runs the TypeScript loops instead of failing", () => {
  const capped = createWasmRules(2); // 128 KiB
  for (const n of [5_000, 10_000, 40_000, 1_000]) {
    // Adam holds four arrays: 80 kB fits, 160 kB and more do not.
    const ref = CALLS.adam!(TS_RULES, n, 5, -0.01, false);
    const got = CALLS.adam!(capped, n, 5, -0.01, false);
    for (const k of Object.keys(ref)) sameBits(got[k]!, ref[k]!, `adam n=${n} ${k}`);
  }
});

test("an unknown rule engine is refused by name", () => {
  assert.throws(() => ruleKernels("gpu" as never), /unknown rule engine 'gpu' \(expected wasm, ts\)/);
  assert.throws(() => adam(0.1, { engine: "gpu" as never }), /unknown rule engine 'gpu'/);
});

test("the finiteness check finds a non-finite value wherever it sits", () => {
  assert.equal(firstNonFinite(new Float32Array(0)), -1);
  assert.equal(firstNonFinite(new Float64Array([1e308, -1e308, 5e-324, -0])), -1);
  assert.equal(firstNonFinite(new Float64Array([1, 2, 3, 4, 5, 1e308 * 10])), 5);
  for (const n of [1, 4, 5, 11]) {
    assertFiniteGrads("x", values(n, 3).map((v) => (Number.isFinite(v) ? v : 0)));
    for (let at = 0; at < n; at++) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const g = new Float32Array(n).fill(3.4e38);
        g[at] = bad;
        assert.throws(() => assertFiniteGrads("x", g), { message: `x: gradients contained NaN/Inf (${bad} at index ${at} of ${n})` });
        assert.equal(firstNonFinite(g), at);
      }
    }
  }
});

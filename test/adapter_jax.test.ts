/**
 * The jax-js adapter (`l2o/jax`): the transform gives the core optimizer's bits on the same
 * gradients, follows jax-js's reference counting, trains a small jax-js model, and refuses
 * bad input in one clear error.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numpy as np, tree, grad, jit, valueAndGrad, type JsTree } from "@jax-js/jax";
import { applyUpdates, learned, DEFAULT_OPTIMIZER, JaxTreeError, NonFiniteGradientError, type OptState } from "l2o/jax";
import { ParamLayout } from "../src/core/layout.ts";
import { key, normal } from "../src/core/rng.ts";
import { loadLearnedOptimizer, saveLearnedOptimizer } from "../src/learned/file.ts";
import { mlpOptimizer, type MlpOptimizer } from "../src/learned/mlp/optimizer.ts";
import { mlpOptKernelAvailable } from "../src/kernels/mlp_opt.ts";
import { UnknownOptimizerError } from "../src/learned/resolve.ts";
import { optimizerSpec } from "../src/optimizers/registry.ts";
import { applyUpdates as coreApply, type GradientTransformation as CoreTransform } from "../src/optimizers/transform.ts";
import { signatureOf } from "../src/adapters/jax/tree.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-jax-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

type Tree = JsTree<np.Array>;

/** A tree with nested objects and lists, of several shapes: a conv kernel, matrices, biases, a scalar. */
const SHAPES: Record<string, number[]> = { conv: [2, 1, 3, 3], "layers[0].w": [3, 4], "layers[0].b": [4], "layers[1].w": [4, 2], "layers[1].b": [2], scale: [] };
function makeTree(values: (name: string, n: number) => Float32Array): Tree {
  const a = (name: string) => np.array(values(name, SHAPES[name]!.reduce((x, y) => x * y, 1)), { shape: SHAPES[name]! });
  return { conv: a("conv"), layers: [{ w: a("layers[0].w"), b: a("layers[0].b") }, { w: a("layers[1].w"), b: a("layers[1].b") }], scale: a("scale") };
}
/** The layout the adapter should build for `makeTree`: leaves in jax-js's flattening order (object keys as written). */
const LAYOUT = new ParamLayout(Object.entries(SHAPES).map(([name, shape]) => ({ name, shape, group: shape.length === 4 ? "conv" : "fc" })));
const seeded = (seed: number) => (name: string, n: number) => normal(key(seed + name.length * 1000 + name.charCodeAt(name.length - 1)), n, 0.5);
const flatOf = (t: Tree): Float32Array => {
  const parts = tree.leaves(t).map((l) => (l as np.Array).dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
const bitsEqual = (a: Float32Array, b: Float32Array, what: string) => {
  assert.equal(a.length, b.length, what);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const i = ua.findIndex((x, k) => x !== ub[k]);
  assert.equal(i, -1, `${what}: first difference at ${i}: ${a[i]} vs ${b[i]}`);
};

/**
 * Runs `steps` steps of `name` through the adapter (on `engine`) and of `core` on flat arrays, on the same
 * gradients and parameters; asserts the same bits. The parameters are the ones jax-js holds:
 * jax-js may fold a small array's additions in float64 (a scalar leaf can end one float32 ulp
 * away from a float32 sum after a few steps), which is its arithmetic, not the optimizer's.
 */
function assertSameAsCore(name: string, core: CoreTransform, steps: number, engine: "ref" | "wasm" = "ref"): void {
  const opt = learned(name, { engine });
  try {
    let params = makeTree(seeded(1));
    let state = opt.init(tree.ref(params));
    let coreState = core.init(flatOf(tree.ref(params)));
    for (let t = 0; t < steps; t++) {
      const g = makeTree(seeded(100 + t));
      const gFlat = flatOf(tree.ref(g));
      const theta = flatOf(tree.ref(params));
      let u: Tree;
      [u, state] = opt.update(g, state, tree.ref(params));
      const [cu, cs] = core.update(gFlat, coreState, theta, { step: t });
      coreState = cs;
      bitsEqual(flatOf(tree.ref(u)), cu, `${name}: updates of step ${t}`);
      params = applyUpdates(params, u);
      const next = flatOf(tree.ref(params));
      const want = coreApply(theta, cu);
      // Every leaf but the scalar (the last coordinate) adds in float32 exactly.
      bitsEqual(next.subarray(0, -1), want.subarray(0, -1), `${name}: parameters after step ${t}`);
      assert.ok(Math.abs(next.at(-1)! - want.at(-1)!) <= 1e-6 * Math.abs(want.at(-1)!), `${name}: the scalar after step ${t}`);
    }
    tree.dispose(params);
  } finally {
    opt.dispose();
  }
}

describe("l2o/jax: the transform is the core optimizer", () => {
  it("lays a tree out in jax-js's flattening order, named by path, grouped by shape", () => {
    const t = makeTree(seeded(1));
    const sig = signatureOf(t);
    assert.deepEqual(sig.layout.toJSON(), LAYOUT.toJSON());
    tree.dispose(t);
  });

  it("the shipped LSTM (the default): the same bits as optFn(phi, layout) for 6 steps", () => {
    assert.equal(DEFAULT_OPTIMIZER, "general");
    const loaded = loadLearnedOptimizer("pretrained/general", { engine: "ref" });
    const core = loaded.optimizer.optFn(loaded.phi, LAYOUT);
    try {
      assertSameAsCore(DEFAULT_OPTIMIZER, core, 6);
    } finally {
      core.dispose();
    }
  });

  it("an mlp-kind file by its path (an optimizer that reads the parameters): the same bits, on each engine", () => {
    const opt = mlpOptimizer({ hidden: 8, hiddenLayers: 2, decays: [0.5, 0.9], stepMult: 0.1, expMult: 0.5 });
    const path = join(dir, "mlp.safetensors");
    saveLearnedOptimizer(path, opt, opt.init(key(3)).flat);
    const engines = mlpOptKernelAvailable() ? (["ref", "wasm"] as const) : (["ref"] as const);
    for (const engine of engines) {
      const loaded = loadLearnedOptimizer(path, { engine });
      assert.equal((loaded.optimizer as MlpOptimizer).engine, engine);
      const core = loaded.optimizer.optFn(loaded.phi, LAYOUT);
      try {
        assertSameAsCore(path, core, 5, engine);
      } finally {
        core.dispose();
      }
    }
  });

  it("a hand-designed name at a fixed rate: the same bits as the registry's adam", () => {
    assertSameAsCore("adam@0.01", optimizerSpec("adam").make(0.01), 5);
  });
});

describe("l2o/jax: reference counts follow jax-js", () => {
  it("init and update consume what they are given and borrow what is passed by .ref; results belong to the caller", () => {
    const opt = learned("adam@0.1");
    try {
      const params = np.array([1, 2, 3]);
      let state = opt.init(params.ref);
      assert.equal(params.refCount, 1, "init(params.ref) leaves the caller's reference");
      const g = np.array([0.5, -1, 2]);
      let u: np.Array;
      [u, state] = opt.update(g, state, params.ref);
      assert.equal(g.refCount, 0, "the gradient is consumed");
      assert.equal(params.refCount, 1, "update(..., params.ref) leaves the caller's reference");
      assert.equal(u.refCount, 1, "the updates are the caller's");
      assert.deepEqual(tree.leaves(state as JsTree<unknown>).filter((l) => l instanceof np.Array), [], "the state holds no jax-js array");
      const next = applyUpdates(params, u);
      assert.equal(params.refCount, 0, "applyUpdates consumes the parameters");
      assert.equal(u.refCount, 0, "applyUpdates consumes the updates");
      assert.equal(next.refCount, 1);
      const p2 = np.array([1, 2, 3]);
      opt.init(p2);
      assert.equal(p2.refCount, 0, "init(params) without .ref consumes them");
      next.dispose();
    } finally {
      opt.dispose();
    }
  });

  it("a 30-step training loop leaves exactly one reference on each parameter and nothing else alive", () => {
    const opt = learned(DEFAULT_OPTIMIZER, { engine: "ref" });
    try {
      let params = makeTree(seeded(2)) as Record<string, Tree>;
      let state = opt.init(tree.ref(params));
      const seen: np.Array[] = [];
      for (let t = 0; t < 30; t++) {
        const g = makeTree(seeded(200 + t));
        const gLeaves = tree.leaves(g) as np.Array[];
        let u: Tree;
        [u, state] = opt.update(g, state, tree.ref(params));
        assert.ok(gLeaves.every((l) => l.refCount === 0), "every gradient leaf is disposed");
        const old = tree.leaves(params) as np.Array[];
        seen.push(...old, ...(tree.leaves(u) as np.Array[]));
        params = applyUpdates(params, u) as Record<string, Tree>;
        assert.ok(old.every((l) => l.refCount === 0), "the old parameters are disposed");
      }
      assert.ok(seen.every((l) => l.refCount === 0), "no parameter or update array of any step is still alive");
      assert.ok((tree.leaves(params) as np.Array[]).every((l) => l.refCount === 1));
      tree.dispose(params);
    } finally {
      opt.dispose();
    }
  });

  it("a refused update still consumes its arguments, and says so when handed a freed array", () => {
    const opt = learned("sgd@0.1");
    try {
      const params = { w: np.array([1, 2]) };
      const state = opt.init(tree.ref(params));
      const bad = { v: np.array([1, 2]) } as unknown as typeof params;
      assert.throws(() => opt.update(bad, state, tree.ref(params)), JaxTreeError);
      assert.equal((bad as unknown as { v: np.Array }).v.refCount, 0);
      assert.equal(params.w.refCount, 1);
      const freed = np.array([1, 1]);
      freed.dispose();
      assert.throws(() => opt.update({ w: freed }, state, tree.ref(params)), /'w' was already disposed/);
      tree.dispose(params);
    } finally {
      opt.dispose();
    }
  });
});

describe("l2o/jax: training a jax-js model", () => {
  it("logistic regression with grad: the learned optimizer lowers the loss", () => {
    // 64 points in 5 dimensions, labels from a fixed linear rule.
    const n = 64;
    const d = 5;
    const xs = normal(key(11), n * d);
    const wTrue = normal(key(12), d);
    const ys = new Float32Array(n).map((_, i) => (xs.subarray(i * d, i * d + d).reduce((s, x, j) => s + x * wTrue[j]!, 0) > 0 ? 1 : 0));
    const X = np.array(xs, { shape: [n, d] });
    const Y = np.array(ys);
    type P = { w: np.Array; b: np.Array };
    const loss = (p: P): np.Array => {
      const z = np.matmul(X.ref, p.w).add(p.b);
      // Softplus(z) - y z, the logistic loss, averaged.
      return np.log(np.exp(z.ref).add(1)).sub(z.mul(Y.ref)).mean();
    };
    const lossAndGrad = jit(valueAndGrad(loss));
    const opt = learned();
    try {
      let params: P = { w: np.zeros([d]), b: np.zeros([]) };
      let state: OptState = opt.init(tree.ref(params));
      const losses: number[] = [];
      for (let t = 0; t < 60; t++) {
        const [l, g] = lossAndGrad(tree.ref(params));
        losses.push(l.dataSync()[0]!);
        let u: P;
        [u, state] = opt.update(g, state, tree.ref(params));
        params = applyUpdates(params, u);
      }
      assert.ok(losses.every(Number.isFinite));
      assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
      tree.dispose(params);
    } finally {
      opt.dispose();
      X.dispose();
      Y.dispose();
      lossAndGrad.dispose();
    }
  });
});

describe("l2o/jax: bad input is one clear error", () => {
  const sgd = () => learned("sgd@0.1");

  it("names by the one rule: a shipped optimizer by its plain name, a hand-designed one at its default rate", () => {
    for (const [name, kind] of [["quadratic", "lstm"], ["pretrained/quadratic", "lstm"], ["rmsprop", "hand"]] as const) {
      const opt = learned(name, { engine: "ref" });
      assert.equal(opt.kind, kind, name);
      assert.equal(opt.name, name);
      opt.dispose();
    }
  });

  it("an unknown name, a missing file", () => {
    assert.throws(() => learned("no-such-optimizer"), (e: Error) => e instanceof UnknownOptimizerError && /unknown optimizer 'no-such-optimizer'/.test(e.message));
    assert.throws(() => learned("./missing/opt.safetensors"), /missing/);
  });

  it("a tree whose structure or shapes change between init and update", () => {
    const opt = sgd();
    const params = { a: np.array([1, 2]), b: [np.array([3])] };
    const state = opt.init(tree.ref(params));
    const grads = (t: unknown) => t as typeof params;
    assert.throws(() => opt.update(grads({ a: np.array([1, 2]) }), state, tree.ref(params)), (e: Error) => e instanceof JaxTreeError && /has 1 leaves where init had 2 \(no 'b\[0\]'\)/.test(e.message));
    assert.throws(() => opt.update(grads({ a: np.array([1, 2]), c: [np.array([3])] }), state, tree.ref(params)), /leaf 1 is 'c\[0\]' where init had 'b\[0\]'/);
    assert.throws(() => opt.update(grads({ a: np.array([1, 2, 3]), b: [np.array([3])] }), state, tree.ref(params)), /'a' has shape \[3\] where init had \[2\]/);
    assert.throws(() => opt.update(grads({ a: np.array([1, 2]), b: [np.array([3])] }), state, grads({ a: np.array([1, 2]) })), /parameter tree is not the structure/);
    assert.throws(() => opt.update(grads({ a: np.array([1, 2]), b: [np.array([3])] }), state), /needs the parameters/);
    tree.dispose(params);
    opt.dispose();
  });

  it("a NaN or infinite gradient is refused naming its leaf", () => {
    const opt = sgd();
    const params = { w: np.array([1, 2]), b: np.array([0]) };
    const state = opt.init(tree.ref(params));
    assert.throws(() => opt.update({ w: np.array([1, 2]), b: np.array([NaN]) }, state, tree.ref(params)), (e: Error) => e instanceof NonFiniteGradientError && /'b' holds NaN/.test(e.message));
    assert.throws(() => opt.update({ w: np.array([Infinity, 2]), b: np.array([0]) }, state, tree.ref(params)), /'w' holds Infinity/);
    tree.dispose(params);
    opt.dispose();
  });

  it("a leaf that is no float32 array, a state from elsewhere, a disposed optimizer", () => {
    const opt = sgd();
    assert.throws(() => opt.init({ w: np.array([1, 2], { dtype: np.int32 }) }), /'w' has dtype int32/);
    assert.throws(() => opt.init({ w: [1, 2] as unknown as np.Array }), /'w\[0\]' is number, not a jax-js Array/);
    assert.throws(() => opt.init({}), /has no arrays/);
    const params = { w: np.array([1, 2]) };
    const other = sgd();
    const foreign = other.init(tree.ref(params));
    assert.throws(() => opt.update({ w: np.array([1, 1]) }, foreign, tree.ref(params)), /comes from another optimizer/);
    assert.throws(() => opt.update({ w: np.array([1, 1]) }, { mu: np.zeros([2]) }, tree.ref(params)), /not one that this optimizer's init or update returned/);
    opt.dispose();
    assert.throws(() => opt.init(tree.ref(params)), /was disposed/);
    other.dispose();
    tree.dispose(params);
  });

  it("the main entry does not load the adapter", () => {
    const index = readFileSync(new URL("../src/index.ts", import.meta.url), "utf8");
    assert.doesNotMatch(index, /adapters\//);
  });

  it("a learned optimizer runs outside jit: a tracer is refused", () => {
    const opt = sgd();
    const params = np.array([1, 2]);
    const state = opt.init(params.ref);
    const f = (x: np.Array) => {
      const [u] = opt.update(x.ref, state, x);
      return u;
    };
    assert.throws(() => grad((x: np.Array) => f(x).sum())(np.array([1, 2])), /not a jax-js Array/);
    params.dispose();
    opt.dispose();
  });
});

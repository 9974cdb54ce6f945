import assert from "node:assert/strict";
import { test } from "node:test";
import { foldIn, key } from "../src/core/rng.ts";
import { initParameters, lossAndGradient, metaLoss, parameterCount, rollout, type MetaLoss } from "../src/blackbox/lstm.ts";
import { Rand } from "../src/blackbox/random.ts";
import { DEFAULT_GP_SAMPLE, gpSample } from "../src/blackbox/rff.ts";
import { defaultTrainOptions, metaTrain } from "../src/blackbox/train.ts";

// The hand-derived meta-gradient (BPTT through the LSTM, the queries, the GP sample's gradient
// and the values fed back) against central differences of the meta-loss, on both losses.
for (const loss of ["sum", "oi"] as MetaLoss[]) {
  test(`LSTM meta-gradient (${loss} loss) matches finite differences`, () => {
    const s = { dim: 2, hidden: 5 };
    const p = initParameters(s, new Rand(key(3)));
    const rand = new Rand(key(4));
    for (let i = 0; i < p.length; i++) p[i] = p[i]! + 0.3 * rand.normal(); // away from the symmetric start
    const f = gpSample({ dim: 2, features: 50, lengthScale: 0.4 }, key(11));
    // Start at the highest of a 5x5 grid, so that later queries improve on it and the
    // observed-improvement loss (zero, with a zero gradient, when nothing improves) is active.
    let x0 = Float64Array.of(0.5, 0.5);
    for (let i = 0; i < 25; i++) {
      const q = Float64Array.of(0.1 + 0.2 * (i % 5), 0.1 + 0.2 * Math.floor(i / 5));
      if (f.value(q) > f.value(x0)) x0 = q;
    }
    const g = new Float64Array(p.length);
    const value = lossAndGradient(s, p, f, 8, x0, loss, g);
    if (loss === "oi") assert.ok(value < 0, `some query improves on the start (loss ${value})`);
    const at = (q: Float64Array): number => lossAndGradient(s, q, f, 8, x0, loss, new Float64Array(q.length));
    let checked = 0;
    for (let i = 0; i < parameterCount(s); i += 7) {
      const h = 1e-6;
      const a = p.slice(), b = p.slice();
      a[i] = a[i]! + h;
      b[i] = b[i]! - h;
      const fd = (at(a) - at(b)) / (2 * h);
      assert.ok(Math.abs(fd - g[i]!) <= 1e-5 + 1e-4 * Math.abs(fd), `parameter ${i}: analytic ${g[i]}, finite difference ${fd}`);
      checked++;
    }
    assert.ok(checked > 10);
    assert.ok(g.some((v) => Math.abs(v) > 1e-4), "the gradient is not all zero");
  });
}

test("observed-improvement loss counts only improvements over the best so far", () => {
  const { value, dy } = metaLoss("oi", [1, 2, 0.5, 0.7, -1]);
  // improvements: 0.5 − 1 = −0.5 at t=2, −1 − 0.5 = −1.5 at t=4; over T = 5
  assert.ok(Math.abs(value - -2 / 5) < 1e-12);
  assert.deepEqual(Array.from(dy), [-0.2, 0, 0, 0, 0.2]);
});

test("meta-training lowers the summed-values loss on held-out GP samples", () => {
  const o = { ...defaultTrainOptions(1, "sum" as const), shape: { dim: 1, hidden: 8 }, horizon: 10, iterations: 80, batch: 8, lr: 1e-2 };
  const init = initParameters(o.shape, new Rand(foldIn(foldIn(key(o.seed), "train"), "init")));
  const trained = metaTrain(o).params;
  // Held-out functions: keys the training never draws from.
  const heldOut = (p: Float64Array): number => {
    let total = 0;
    for (let i = 0; i < 40; i++) {
      const f = gpSample({ ...DEFAULT_GP_SAMPLE, dim: 1 }, foldIn(key(999), i));
      total += metaLoss("sum", rollout(o.shape, p, f, o.horizon, Float64Array.of(new Rand(foldIn(key(998), i)).uniform()))).value / 40;
    }
    return total;
  };
  const before = heldOut(init), after = heldOut(trained);
  assert.ok(after < before - 0.05, `held-out mean value: ${before} before training, ${after} after`);
});

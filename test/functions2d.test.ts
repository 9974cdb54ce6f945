// The 2-D test functions (src/tasks/functions2d.ts): gradients and Hessians against central
// finite differences in float64 at random points of each function's box, zero loss and
// gradient at the stated minimum, the task conformance checks, and bad configs refused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { key, uniform } from "../src/core/rng.ts";
import { ConfigError } from "../src/core/errors.ts";
import { FUNCTIONS_2D, FUNCTION_2D_NAMES, function2dFamily, function2dTask } from "../src/tasks/functions2d.ts";
import { smoketestTask } from "./conformance.ts";

const H = 1e-6;

describe("2-D functions", () => {
  it("are the four the demo races on", () => {
    assert.deepEqual([...FUNCTION_2D_NAMES], ["quadratic", "rosenbrock", "saddle", "beale"]);
  });

  for (const name of FUNCTION_2D_NAMES) {
    const fn = FUNCTIONS_2D[name]!;
    it(`${name}: gradient and Hessian match central differences`, () => {
      const [x0, x1, y0, y1] = fn.box;
      const u = uniform(key(FUNCTION_2D_NAMES.indexOf(name)), 40, 0, 1);
      for (let i = 0; i < 20; i++) {
        const x = x0 + (x1 - x0) * u[2 * i]!;
        const y = y0 + (y1 - y0) * u[2 * i + 1]!;
        const [gx, gy] = fn.grad(x, y);
        const fdx = (fn.f(x + H, y) - fn.f(x - H, y)) / (2 * H);
        const fdy = (fn.f(x, y + H) - fn.f(x, y - H)) / (2 * H);
        const scale = Math.max(1, Math.abs(gx), Math.abs(gy));
        assert.ok(Math.abs(gx - fdx) < 1e-5 * scale && Math.abs(gy - fdy) < 1e-5 * scale, `${name} at (${x}, ${y}): grad (${gx}, ${gy}), differences (${fdx}, ${fdy})`);
        const [hxx, hxy, hyy] = fn.hessian(x, y);
        const dgx = (a: number, b: number): [number, number] => fn.grad(a, b);
        const hx = dgx(x + H, y).map((v, k) => (v - dgx(x - H, y)[k]!) / (2 * H));
        const hy = dgx(x, y + H).map((v, k) => (v - dgx(x, y - H)[k]!) / (2 * H));
        const hs = Math.max(1, Math.abs(hxx), Math.abs(hxy), Math.abs(hyy));
        for (const [got, want, what] of [[hxx, hx[0]!, "fxx"], [hxy, hx[1]!, "fxy"], [hxy, hy[0]!, "fyx"], [hyy, hy[1]!, "fyy"]] as const) {
          assert.ok(Math.abs(got - want) < 1e-4 * hs, `${name} at (${x}, ${y}): ${what} ${got}, differences ${want}`);
        }
      }
    });

    it(`${name}: 0 with a zero gradient at its minimum, above 0 at its start`, () => {
      const [mx, my] = fn.minimum;
      assert.ok(Math.abs(fn.f(mx, my)) < 1e-12, `f(minimum) = ${fn.f(mx, my)}`);
      assert.ok(fn.grad(mx, my).every((g) => Math.abs(g) < 1e-9), `grad(minimum) = ${fn.grad(mx, my)}`);
      assert.ok(fn.f(fn.start[0], fn.start[1]) > 0.1);
    });

    it(`${name}: passes the task conformance checks`, () => {
      smoketestTask(function2dTask({ name, jitter: 0.3 }), { eps: 1e-3, rtol: 1e-2, atol: 1e-3 });
    });
  }

  it("a family's tasks start at the start point, or near it with jitter", () => {
    const exact = function2dFamily({ name: "beale" }).sample(key(0));
    assert.deepEqual(Array.from(exact.init(key(1))), Array.from(new Float32Array(FUNCTIONS_2D.beale!.start)));
    const near = function2dFamily({ name: "beale", jitter: 0.1 }).sample(key(0));
    const [a, b] = [near.init(key(1)), near.init(key(2))];
    assert.notDeepEqual(Array.from(a), Array.from(b));
    assert.ok(Math.hypot(a[0]! - 1, a[1]! - 1.4) < 0.6);
  });

  it("refuses an unknown function or a bad jitter with a ConfigError", () => {
    assert.throws(() => function2dTask({ name: "himmelblau" }), (e) => e instanceof ConfigError && /unknown 2-D function 'himmelblau'; known: quadratic/.test(e.message));
    assert.throws(() => function2dTask({ name: "saddle", jitter: -1 }), ConfigError);
    assert.throws(() => function2dTask({ name: "saddle", jitter: NaN }), ConfigError);
  });
});

/**
 * Shared conformance checks that every Task must pass: `smoketestTask(task)` asserts the layout,
 * init, determinism and finiteness contracts, and checks the gradient (and the Hessian-vector
 * product, when the task has one) against central finite differences.
 */
import assert from "node:assert/strict";
import { key, normal, randint, split, type Key } from "../src/core/rng.ts";
import type { Task } from "../src/tasks/base.ts";

export interface SmoketestOptions {
  /** Finite-difference step on one coordinate. Default 1e-2. */
  readonly eps?: number;
  /** Relative tolerance of the gradient check. Default 1e-3. */
  readonly rtol?: number;
  /**
   * Absolute tolerance of the gradient check, in units of max(1, |loss|). The default 1e-4 is
   * about ten times float32 roundoff in the loss (6e-8 |loss|) divided by the default eps; a
   * task that sums its loss in float64 can pass a much smaller value.
   */
  readonly atol?: number;
  /** How many random coordinates to check (besides the largest gradients and one per entry). Default 6. */
  readonly coords?: number;
  /** Relative L2 tolerance of the Hessian-vector product check. Default 1e-2. */
  readonly hvpTol?: number;
  /** Seed of the keys the check uses. Default 0. */
  readonly seed?: number;
}

/** The point that float32 storage actually gives for theta[i] + h, and the actual step. */
function bumped(theta: Float32Array, i: number, h: number): [Float32Array, number] {
  const t = theta.slice();
  t[i] = theta[i]! + h;
  return [t, t[i]! - theta[i]!];
}

function finite(a: Float32Array): boolean {
  return a.every((x) => Number.isFinite(x));
}

function axpy(theta: Float32Array, a: number, v: Float32Array): Float32Array {
  const out = new Float32Array(theta.length);
  for (let i = 0; i < theta.length; i++) out[i] = theta[i]! + a * v[i]!;
  return out;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** Runs the shared Task contract checks; throws an assertion error naming what failed. */
export function smoketestTask(task: Task, opts: SmoketestOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 1e-3;
  const atol = opts.atol ?? 1e-4;
  const hvpTol = opts.hvpTol ?? 1e-2;
  const [kInit, kInit2, kBatch, kBatch2, kCoords, kDir] = split(key(opts.seed ?? 0), 6) as Key[] as [Key, Key, Key, Key, Key, Key];
  const n = task.layout.size;
  const what = `task '${task.name}'`;

  assert.ok(Number.isInteger(task.instances) && task.instances >= 1, `${what}: instances must be a positive integer`);
  assert.ok(n > 0, `${what}: empty layout`);

  // init: right size, finite, deterministic per key, different across keys.
  const theta = task.init(kInit);
  assert.ok(theta instanceof Float32Array, `${what}: init must return a Float32Array`);
  assert.equal(theta.length, n, `${what}: init length ${theta.length} does not match layout size ${n}`);
  assert.ok(finite(theta), `${what}: init is not finite`);
  assert.deepEqual(task.init(kInit), theta, `${what}: init is not deterministic for one key`);
  assert.notDeepEqual(task.init(kInit2), theta, `${what}: init gives the same point for different keys`);

  // loss and gradient: finite, right length, deterministic for one key, fresh arrays.
  const { loss, grad } = task.lossAndGrad(theta, kBatch);
  assert.ok(Number.isFinite(loss), `${what}: loss is not finite (${loss})`);
  assert.ok(grad instanceof Float32Array, `${what}: grad must be a Float32Array`);
  assert.equal(grad.length, n, `${what}: grad length ${grad.length} does not match layout size ${n}`);
  assert.ok(finite(grad), `${what}: grad is not finite`);
  assert.ok(norm(grad) > 0, `${what}: gradient is zero at a random point`);
  const again = task.lossAndGrad(theta, kBatch);
  assert.equal(again.loss, loss, `${what}: loss differs between two calls with the same key`);
  assert.deepEqual(again.grad, grad, `${what}: grad differs between two calls with the same key`);
  assert.notEqual(again.grad, grad, `${what}: lossAndGrad must return a fresh gradient array`);
  const other = task.lossAndGrad(theta, kBatch2);
  assert.ok(Number.isFinite(other.loss), `${what}: loss is not finite for a second key`);

  // Finite differences on single coordinates: random ones, the largest gradients, one per entry.
  const lossAt = (t: Float32Array) => task.lossAndGrad(t, kBatch).loss;
  const tol = (g: number, fd: number) => atol * Math.max(1, Math.abs(loss)) + rtol * Math.max(Math.abs(g), Math.abs(fd));
  const coords = new Set<number>(randint(kCoords, opts.coords ?? 6, 0, n));
  const byMagnitude = [...grad.keys()].sort((a, b) => Math.abs(grad[b]!) - Math.abs(grad[a]!));
  for (const i of byMagnitude.slice(0, 2)) coords.add(i);
  task.layout.entries.forEach((e, j) => coords.add(e.offset + ((j * 7919 + 13) % e.size)));
  for (const i of coords) {
    const [tp, hp] = bumped(theta, i, eps);
    const [tm, hm] = bumped(theta, i, -eps);
    const fd = (lossAt(tp) - lossAt(tm)) / (hp - hm);
    const g = grad[i]!;
    assert.ok(
      Math.abs(fd - g) <= tol(g, fd),
      `${what}: gradient at coordinate ${i} is ${g}, finite differences give ${fd} (eps ${eps})`,
    );
  }

  // Directional derivative along a random unit direction (covers every coordinate at once).
  // The expected change uses the displacement float32 storage actually gives.
  const dirRaw = normal(kDir, n);
  const dn = norm(dirRaw);
  const dir = dirRaw.map((x) => x / dn);
  const tp = axpy(theta, eps, dir);
  const tm = axpy(theta, -eps, dir);
  const fdDir = (lossAt(tp) - lossAt(tm)) / (2 * eps);
  const gDir = grad.reduce((s, g, i) => s + g * (tp[i]! - tm[i]!), 0) / (2 * eps);
  assert.ok(
    Math.abs(fdDir - gDir) <= tol(gDir, fdDir) + rtol * 0.1 * norm(grad),
    `${what}: directional derivative is ${gDir}, finite differences give ${fdDir}`,
  );

  // Hessian-vector product against finite differences of the gradient.
  if (task.hvp) {
    const hv = task.hvp(theta, dir, kBatch);
    assert.equal(hv.length, n, `${what}: hvp length ${hv.length} does not match layout size ${n}`);
    assert.ok(finite(hv), `${what}: hvp is not finite`);
    const gp = task.lossAndGrad(axpy(theta, eps, dir), kBatch).grad;
    const gm = task.lossAndGrad(axpy(theta, -eps, dir), kBatch).grad;
    const fd = gp.map((x, i) => (x - gm[i]!) / (2 * eps));
    const err = norm(fd.map((x, i) => x - hv[i]!));
    assert.ok(
      err <= hvpTol * Math.max(norm(hv), norm(fd)) + 1e-7,
      `${what}: Hessian-vector product differs from finite differences of the gradient (relative L2 error ${err / norm(hv)})`,
    );
    assert.deepEqual(task.hvp(theta, dir, kBatch), hv, `${what}: hvp is not deterministic`);
  }

  // Metrics, when offered, are finite numbers.
  if (task.evaluate) {
    const m = task.evaluate(theta);
    assert.ok(Object.keys(m).length > 0, `${what}: evaluate returned no metrics`);
    for (const [k, v] of Object.entries(m)) assert.ok(Number.isFinite(v), `${what}: metric ${k} is not finite (${v})`);
  }
}

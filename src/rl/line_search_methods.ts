/**
 * The line-search baselines of Li & Malik's comparisons: nonlinear conjugate gradient
 * (Polak-Ribiere+, restarted when a direction is not one of descent) and L-BFGS (two-loop
 * recursion, memory m). Both spend objective evaluations in their line searches
 * (`line_search.ts`), so they are run against an evaluation budget, not a step count, and
 * report the objective of their current point after every evaluation: the curve to put beside
 * an optimizer that spends one evaluation per step.
 */
import type { Key } from "../core/rng.ts";
import type { Task } from "../tasks/base.ts";
import { strongWolfe, type LinePoint } from "./line_search.ts";

export interface LineSearchRun {
  /** curve[k]: per-function objective at the current point after k + 1 evaluations (maxEvals values). */
  readonly curve: Float64Array;
  /** Evaluations spent (at most maxEvals; fewer when the gradient vanished). */
  readonly evals: number;
  /** Line searches completed (iterations). */
  readonly iterations: number;
  /** The final point. */
  readonly x: Float64Array;
  /** The accepted points, x_0 first (for drawing a path). */
  readonly path: Float64Array[];
}

export interface MethodOptions {
  /** Curvature constant of the strong Wolfe search (CG default 0.1, L-BFGS 0.9; near 0 is an exact search). */
  readonly c2?: number;
  /** L-BFGS memory. Default 10. */
  readonly memory?: number;
  /** Stop when the gradient's norm falls below this. Default 1e-12. */
  readonly gtol?: number;
  /** Most evaluations one line search may spend. Default 20. */
  readonly searchEvals?: number;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

type Direction = (x: Float64Array, g: Float64Array, iteration: number) => Float64Array;
type Accept = (from: LinePoint, to: LinePoint) => void;

/**
 * Runs a line-search method: `direction` gives p at the current point, the search moves along
 * it, `accept` sees each accepted move. Every evaluation is counted against `maxEvals`; the
 * task's minibatch key is the same for every evaluation (these methods are deterministic).
 */
function run(task: Task, x0: Float32Array, maxEvals: number, batchKey: Key, opts: MethodOptions, c2: number, direction: Direction, accept: Accept, firstStep: (g: Float64Array, it: number, prevAlpha: number, d: number, prevD: number) => number): LineSearchRun {
  const curve = new Float64Array(maxEvals).fill(Number.NaN);
  let evals = 0;
  const theta = new Float32Array(x0.length);
  const at = (x: Float64Array): { f: number; g: Float64Array; x: Float64Array } => {
    for (let i = 0; i < x.length; i++) theta[i] = x[i]!;
    const r = task.lossAndGrad(theta, batchKey);
    evals++;
    // The point as stored in float32, so the method's x is the one evaluated.
    return { f: r.loss / task.instances, g: Float64Array.from(r.grad, (v) => v / task.instances), x: Float64Array.from(theta) };
  };
  const first = at(Float64Array.from(x0));
  let cur: LinePoint = { alpha: 0, f: first.f, d: 0, x: first.x, g: first.g };
  curve[0] = cur.f;
  const path = [cur.x];
  let iterations = 0;
  let prevAlpha = 1;
  let prevD = 0;
  const gtol = opts.gtol ?? 1e-12;
  while (evals < maxEvals && Math.sqrt(dot(cur.g, cur.g)) > gtol && Number.isFinite(cur.f)) {
    let p = direction(cur.x, cur.g, iterations);
    let d0 = dot(cur.g, p);
    if (!(d0 < 0)) {
      p = cur.g.map((v) => -v); // not a descent direction: restart along the gradient
      d0 = -dot(cur.g, cur.g);
    }
    const start = { ...cur, alpha: 0, d: d0 };
    const from = cur;
    const evaluate = (alpha: number): LinePoint => {
      const x = from.x.map((v, i) => v + alpha * p[i]!);
      const r = at(x);
      const pt = { alpha, f: r.f, d: dot(r.g, p), x: r.x, g: r.g };
      // The curve holds the current (accepted) point's objective until the search ends.
      if (evals <= maxEvals) curve[evals - 1] = from.f;
      return pt;
    };
    const alpha1 = firstStep(cur.g, iterations, prevAlpha, d0, prevD);
    const res = strongWolfe(evaluate, start, alpha1, { c2, maxEvals: Math.min(opts.searchEvals ?? 20, maxEvals - evals) });
    if (res.point.alpha === 0) break; // no progress along p within the budget
    accept(from, res.point);
    cur = res.point;
    path.push(cur.x);
    if (evals <= maxEvals) curve[evals - 1] = cur.f;
    prevAlpha = res.point.alpha;
    prevD = d0;
    iterations++;
  }
  // Past the last evaluation the point stays where it is.
  for (let k = 1; k < maxEvals; k++) if (Number.isNaN(curve[k]!)) curve[k] = curve[k - 1]!;
  return { curve, evals, iterations, x: cur.x, path };
}

/** Nocedal & Wright's first trial step: alpha_prev d_prev / d_now, or 1 / |g| at the start. */
const cgFirstStep = (g: Float64Array, it: number, prevAlpha: number, d: number, prevD: number): number =>
  it === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : Math.min(1e6, Math.max(1e-12, (prevAlpha * prevD) / d));

/** Polak-Ribiere+ nonlinear conjugate gradient with a strong Wolfe line search. */
export function runCg(task: Task, x0: Float32Array, maxEvals: number, batchKey: Key, opts: MethodOptions = {}): LineSearchRun {
  let prevG: Float64Array | null = null;
  let prevP: Float64Array | null = null;
  const n = x0.length;
  const direction: Direction = (_x, g, it) => {
    let beta = 0;
    if (prevG !== null && it % Math.max(n, 1) !== 0) {
      let num = 0;
      for (let i = 0; i < n; i++) num += g[i]! * (g[i]! - prevG[i]!);
      beta = Math.max(0, num / dot(prevG, prevG));
    }
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) p[i] = -g[i]! + (prevP === null ? 0 : beta * prevP[i]!);
    prevG = g;
    prevP = p;
    return p;
  };
  return run(task, x0, maxEvals, batchKey, opts, opts.c2 ?? 0.1, direction, () => {}, cgFirstStep);
}

/** L-BFGS (two-loop recursion, initial scaling s.y / y.y) with a strong Wolfe line search. */
export function runLbfgs(task: Task, x0: Float32Array, maxEvals: number, batchKey: Key, opts: MethodOptions = {}): LineSearchRun {
  const m = opts.memory ?? 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const direction: Direction = (_x, g) => {
    const q = g.slice();
    const alphas: number[] = [];
    for (let j = S.length - 1; j >= 0; j--) {
      const a = dot(S[j]!, q) / dot(Y[j]!, S[j]!);
      alphas[j] = a;
      for (let i = 0; i < q.length; i++) q[i] = q[i]! - a * Y[j]![i]!;
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < q.length; i++) q[i] = q[i]! * gamma;
    }
    for (let j = 0; j < S.length; j++) {
      const b = dot(Y[j]!, q) / dot(Y[j]!, S[j]!);
      for (let i = 0; i < q.length; i++) q[i] = q[i]! + S[j]![i]! * (alphas[j]! - b);
    }
    return q.map((v) => -v);
  };
  const accept: Accept = (from, to) => {
    const s = to.x.map((v, i) => v - from.x[i]!);
    const y = to.g.map((v, i) => v - from.g[i]!);
    if (dot(s, y) <= 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) return; // keep the metric positive definite
    S.push(s);
    Y.push(y);
    if (S.length > m) {
      S.shift();
      Y.shift();
    }
  };
  const first = (g: Float64Array, it: number): number => (it === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : 1);
  return run(task, x0, maxEvals, batchKey, opts, opts.c2 ?? 0.9, direction, accept, first);
}

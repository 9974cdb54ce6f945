/**
 * The benchmark functions of the test set (Branin, Goldstein-Price, Hartmann 3 and 6; their
 * usual boxes and known minima), mapped to the unit cube and normalised for the methods: the
 * value a method sees is (f − mean) / std, where mean and std are f's over 10,000 uniform points
 * of its box (a fixed sample, computed once, not counted as evaluations), so that every function
 * is on the scale of the unit-variance GP prior the learned optimizer is trained on.
 * Reports use `raw`, the function's own units.
 */
import { ConfigError } from "../core/errors.ts";
import { key } from "../core/rng.ts";
import type { Objective } from "./objective.ts";
import { Rand } from "./random.ts";

interface Benchmark {
  readonly dim: number;
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  readonly knownMin: number;
  readonly minimisers: readonly (readonly number[])[];
  readonly f: (x: readonly number[]) => number;
}

const H3A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]];
const H3P = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]].map((r) => r.map((v) => v * 1e-4));
const H6A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]];
const H6P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]].map((r) => r.map((v) => v * 1e-4));
const HALPHA = [1, 1.2, 3, 3.2];

function hartmann(a: number[][], p: number[][], x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < x.length; j++) e += a[i]![j]! * (x[j]! - p[i]![j]!) ** 2;
    s -= HALPHA[i]! * Math.exp(-e);
  }
  return s;
}

export const BENCHMARKS: Readonly<Record<string, Benchmark>> = {
  branin: {
    dim: 2, lo: [-5, 0], hi: [10, 15], knownMin: 0.397887,
    minimisers: [[-Math.PI, 12.275], [Math.PI, 2.275], [9.42478, 2.475]],
    f: ([x1, x2]) => (x2! - (5.1 / (4 * Math.PI ** 2)) * x1! ** 2 + (5 / Math.PI) * x1! - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1!) + 10,
  },
  "goldstein-price": {
    dim: 2, lo: [-2, -2], hi: [2, 2], knownMin: 3, minimisers: [[0, -1]],
    f: ([x1, x2]) => {
      const a = 1 + (x1! + x2! + 1) ** 2 * (19 - 14 * x1! + 3 * x1! ** 2 - 14 * x2! + 6 * x1! * x2! + 3 * x2! ** 2);
      const b = 30 + (2 * x1! - 3 * x2!) ** 2 * (18 - 32 * x1! + 12 * x1! ** 2 + 48 * x2! - 36 * x1! * x2! + 27 * x2! ** 2);
      return a * b;
    },
  },
  hartmann3: {
    dim: 3, lo: [0, 0, 0], hi: [1, 1, 1], knownMin: -3.86278, minimisers: [[0.114614, 0.555649, 0.852547]],
    f: (x) => hartmann(H3A, H3P, x),
  },
  hartmann6: {
    dim: 6, lo: [0, 0, 0, 0, 0, 0], hi: [1, 1, 1, 1, 1, 1], knownMin: -3.32237,
    minimisers: [[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]],
    f: (x) => hartmann(H6A, H6P, x),
  },
};

export const BENCHMARK_NAMES: readonly string[] = Object.keys(BENCHMARKS);

const scales = new Map<string, { mean: number; std: number }>();

/** The benchmark `name` as an Objective on the unit cube. */
export function benchmark(name: string): Objective {
  const b = BENCHMARKS[name];
  if (b === undefined) throw new ConfigError(`unknown benchmark function '${name}'; known: ${BENCHMARK_NAMES.join(", ")}`);
  const raw = (u: ArrayLike<number>): number => b.f(Array.from({ length: b.dim }, (_, k) => b.lo[k]! + u[k]! * (b.hi[k]! - b.lo[k]!)));
  let s = scales.get(name);
  if (s === undefined) {
    const rand = new Rand(key(20170000 + name.length));
    const vals = Array.from({ length: 10_000 }, () => raw(rand.uniforms(b.dim)));
    const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
    s = { mean, std: Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length) };
    scales.set(name, s);
  }
  const { mean, std } = s;
  return { name, dim: b.dim, raw, value: (u) => (raw(u) - mean) / std, knownMin: b.knownMin };
}

/** A minimiser of the benchmark in unit-cube coordinates (for tests). */
export function unitMinimisers(name: string): Float64Array[] {
  const b = BENCHMARKS[name]!;
  return b.minimisers.map((m) => Float64Array.from(m, (v, k) => (v - b.lo[k]!) / (b.hi[k]! - b.lo[k]!)));
}

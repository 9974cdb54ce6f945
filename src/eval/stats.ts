/**
 * Summaries for reporting: mean, sample standard deviation and a 95% confidence interval of
 * the mean (Student's t), per step across independent runs.
 */

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `dof` degrees of freedom (normal limit past 30). */
export function tQuantile975(dof: number): number {
  if (dof < 1) return Number.NaN;
  if (dof <= 30) return T975[Math.floor(dof) - 1]!;
  // Cornish-Fisher style correction to the normal quantile; within 1e-3 of the table past 30.
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof * dof);
}

export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly std: number;
  /** Half-width of the 95% confidence interval of the mean (NaN for n < 2). */
  readonly ci95: number;
}

/** Mean, sample standard deviation and 95% CI half-width of `xs`. */
export function summarize(xs: ArrayLike<number>): Summary {
  const n = xs.length;
  if (n === 0) return { n, mean: Number.NaN, std: Number.NaN, ci95: Number.NaN };
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const mean = s / n;
  if (n < 2) return { n, mean, std: Number.NaN, ci95: Number.NaN };
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i]! - mean) ** 2;
  const std = Math.sqrt(v / (n - 1));
  return { n, mean, std, ci95: (tQuantile975(n - 1) * std) / Math.sqrt(n) };
}

/** Per-step summaries of runs: `runs[r][t]` is run r's loss at step t (all runs equally long). */
export function summarizeSteps(runs: readonly ArrayLike<number>[]): Summary[] {
  if (runs.length === 0) return [];
  const steps = runs[0]!.length;
  for (const r of runs) {
    if (r.length !== steps) throw new Error(`summarizeSteps: runs have different lengths (${steps} and ${r.length})`);
  }
  const out: Summary[] = [];
  const col = new Float64Array(runs.length);
  for (let t = 0; t < steps; t++) {
    for (let r = 0; r < runs.length; r++) col[r] = runs[r]![t]!;
    out.push(summarize(col));
  }
  return out;
}

/**
 * The dense linear algebra a small Gaussian process needs: a Cholesky factor with a jitter
 * fallback, triangular solves and the inverse from the factor. Matrices are row-major
 * Float64Arrays of side n; sizes here are the number of evaluations (tens to a few hundred).
 */
import { choleskyOrNull } from "../core/cholesky.ts";
import { ConfigError } from "../core/errors.ts";

/**
 * The lower Cholesky factor L of the symmetric matrix A (A = L Lᵀ). If A is not numerically
 * positive definite, jitter (1e-10, growing tenfold, up to 1e-4 of the mean diagonal) is added
 * to its diagonal and the factorisation retried; beyond that a ConfigError says so.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += a[i * n + i]! / n;
  for (let jitter = 0; ; jitter = jitter === 0 ? 1e-10 * meanDiag : jitter * 10) {
    if (jitter > 1e-4 * meanDiag) throw new ConfigError(`cholesky: a ${n}x${n} covariance is not positive definite even with jitter ${jitter.toExponential(1)} (duplicate points with no noise?)`);
    const l = choleskyOrNull(a, n, jitter);
    if (l !== null) return l;
  }
}

/** Solves L v = b for lower-triangular L. */
export function solveLower(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * v[k]!;
    v[i] = s / l[i * n + i]!;
  }
  return v;
}

/** Solves Lᵀ v = b for lower-triangular L. */
export function solveUpper(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const v = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * v[k]!;
    v[i] = s / l[i * n + i]!;
  }
  return v;
}

/** A⁻¹ from A's Cholesky factor L (A⁻¹ = L⁻ᵀ L⁻¹), column by column. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const col = solveUpper(l, n, solveLower(l, n, e));
    for (let i = 0; i < n; i++) inv[i * n + j] = col[i]!;
  }
  return inv;
}

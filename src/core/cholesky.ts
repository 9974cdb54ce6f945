/**
 * The lower Cholesky factor L (A + jitter I = L Lᵀ) of a symmetric n x n matrix A, row-major
 * Float64Array, or null when it is not numerically positive definite. One factorisation for
 * every layer that needs one (the Gaussian process of `blackbox/`, guided policy search in
 * `rl/`), so they agree to the bit.
 */
export function choleskyOrNull(a: Float64Array, n: number, jitter = 0): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]! + jitter;
    for (let k = 0; k < j; k++) s -= l[j * n + k]! ** 2;
    if (!(s > 0) || !Number.isFinite(s)) return null;
    const d = Math.sqrt(s);
    l[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j]!;
      for (let k = 0; k < j; k++) t -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = t / d;
    }
  }
  return l;
}

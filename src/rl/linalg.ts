/**
 * Small dense linear algebra for guided policy search, over row-major Float64Arrays: products,
 * the Cholesky factor (null when the matrix is not positive definite), solves, inverse and log
 * determinant through it, and ridge regression. The matrices are the size of a task's
 * parameter vector (a few to a few dozen), so plain loops are enough.
 */
import { choleskyOrNull } from "../core/cholesky.ts";

/** C = A B for A (m x k), B (k x n). */
export function matmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p]!;
      if (a === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j] = C[i * n + j]! + a * B[p * n + j]!;
    }
  }
  return C;
}

/** A^T for A (m x n). */
export function transpose(A: Float64Array, m: number, n: number): Float64Array {
  const T = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) T[j * m + i] = A[i * n + j]!;
  return T;
}

/** y = A x for A (m x n). */
export function matvec(A: Float64Array, x: ArrayLike<number>, m: number, n: number): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += A[i * n + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** (A + A^T) / 2 in place, for A (n x n). */
export function symmetrize(A: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (A[i * n + j]! + A[j * n + i]!);
      A[i * n + j] = v;
      A[j * n + i] = v;
    }
  }
  return A;
}

/** The lower Cholesky factor L (A = L L^T) of symmetric A (n x n), or null when A is not positive definite. */
export function cholesky(A: Float64Array, n: number): Float64Array | null {
  return choleskyOrNull(A, n);
}

/** Solves (L L^T) X = B for B (n x m), given the Cholesky factor L. */
export function cholSolve(L: Float64Array, B: Float64Array, n: number, m: number): Float64Array {
  const X = B.slice();
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = X[i * m + c]!;
      for (let k = 0; k < i; k++) s -= L[i * n + k]! * X[k * m + c]!;
      X[i * m + c] = s / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = X[i * m + c]!;
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * X[k * m + c]!;
      X[i * m + c] = s / L[i * n + i]!;
    }
  }
  return X;
}

/** The n x n identity times `s`. */
export function eye(n: number, s = 1): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = s;
  return I;
}

/** log det A from its Cholesky factor. */
export function cholLogDet(L: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += 2 * Math.log(L[i * n + i]!);
  return s;
}

/**
 * Ridge regression toward a prior: the W (d x m) minimising ||Z W - Y||^2 + kappa ||W - W0||^2
 * for rows Z (N x d) and Y (N x m); W0 absent is zero. (Z^T Z + kappa I) W = Z^T Y + kappa W0.
 */
export function ridge(Z: Float64Array, Y: Float64Array, N: number, d: number, m: number, kappa: number, W0?: Float64Array): Float64Array {
  const ZtZ = matmul(transpose(Z, N, d), Z, d, N, d);
  for (let i = 0; i < d; i++) ZtZ[i * d + i] = ZtZ[i * d + i]! + kappa;
  const rhs = matmul(transpose(Z, N, d), Y, d, N, m);
  if (W0 !== undefined) for (let i = 0; i < d * m; i++) rhs[i] = rhs[i]! + kappa * W0[i]!;
  const L = cholesky(symmetrize(ZtZ, d), d);
  if (L === null) throw new Error("ridge: the normal equations are not positive definite (kappa must be > 0)");
  return cholSolve(L, rhs, d, m);
}

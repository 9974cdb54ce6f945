/**
 * A GRU over independent rows, in float64, with an extra bias per group of rows: the cell of
 * each of the hierarchical RNN's three levels (Wichrowska et al. 2017, section 3.1, where the
 * level above feeds the level below through that bias). For row i with input x, state h and
 * extra bias B (of row i's group):
 *
 *   z = sigmoid(x W_z + h U_z + b_z + B_z),  r = sigmoid(x W_r + h U_r + b_r + B_r)
 *   c = tanh(x W_c + (r * h) U_c + b_c + B_c),   h' = z * h + (1 - z) * c
 *
 * W is [in, 3 units], U [units, 3 units], b [3 units], gates in the order z, r, c (row-major:
 * (j, k) at j * 3 units + k). The forward keeps z, r, c and h' for the backward, which adds
 * dL/dW, dL/dU, dL/db into a float64 accumulator and gives dL/dx, dL/dh and dL/dB.
 */

/** Where a GRU's weights lie in phi's flat vector (float64 copy). */
export interface GruWeights {
  readonly inputs: number;
  readonly units: number;
  /** Offsets of W, U and b in the weight vector. */
  readonly w: number;
  readonly u: number;
  readonly b: number;
}

/** What one forward over `rows` rows keeps: gates and new state, rows * units each. */
export interface GruTape {
  readonly z: Float64Array;
  readonly r: Float64Array;
  readonly c: Float64Array;
  readonly h: Float64Array;
}

export function gruTape(rows: number, units: number): GruTape {
  const m = rows * units;
  return { z: new Float64Array(m), r: new Float64Array(m), c: new Float64Array(m), h: new Float64Array(m) };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * Forward of every row: x (rows * inputs), hPrev (rows * units); `bias` (groups * 3 units)
 * with `groupOf(i)`, or null. Writes the gates and h' into `tape`.
 */
export function gruForward(
  phi: Float64Array, g: GruWeights, rows: number, x: ArrayLike<number>, hPrev: ArrayLike<number>,
  bias: Float64Array | null, groupOf: (i: number) => number, tape: GruTape, pre: Float64Array,
): void {
  const { inputs: I, units: H } = g;
  const G = 3 * H;
  for (let i = 0; i < rows; i++) {
    const bo = bias === null ? -1 : groupOf(i) * G;
    for (let k = 0; k < G; k++) pre[k] = phi[g.b + k]! + (bo < 0 ? 0 : bias![bo + k]!);
    for (let j = 0; j < I; j++) {
      const v = x[i * I + j]!;
      if (v === 0) continue;
      const r = g.w + j * G;
      for (let k = 0; k < G; k++) pre[k] = pre[k]! + v * phi[r + k]!;
    }
    const ho = i * H;
    for (let j = 0; j < H; j++) {
      const v = hPrev[ho + j]!;
      if (v === 0) continue;
      const r = g.u + j * G;
      for (let k = 0; k < 2 * H; k++) pre[k] = pre[k]! + v * phi[r + k]!;
    }
    for (let k = 0; k < H; k++) {
      tape.z[ho + k] = sigmoid(pre[k]!);
      tape.r[ho + k] = sigmoid(pre[H + k]!);
    }
    for (let j = 0; j < H; j++) {
      const v = tape.r[ho + j]! * hPrev[ho + j]!;
      if (v === 0) continue;
      const r = g.u + j * G + 2 * H;
      for (let k = 0; k < H; k++) pre[2 * H + k] = pre[2 * H + k]! + v * phi[r + k]!;
    }
    for (let k = 0; k < H; k++) {
      const c = Math.tanh(pre[2 * H + k]!);
      const z = tape.z[ho + k]!;
      tape.c[ho + k] = c;
      tape.h[ho + k] = z * hPrev[ho + k]! + (1 - z) * c;
    }
  }
}

/**
 * Backward of every row, given dL/dh' in `dh` (rows * units; consumed). Adds into `acc`
 * (phi's layout) and `dBias` (groups * 3 units, when `bias` was used); writes dL/dx into `dx`
 * (rows * inputs, or null: not wanted) and dL/dhPrev into `dhPrev` (rows * units).
 */
export function gruBackward(
  phi: Float64Array, g: GruWeights, rows: number, x: ArrayLike<number>, hPrev: ArrayLike<number>, tape: GruTape,
  dh: Float64Array, acc: Float64Array, dBias: Float64Array | null, groupOf: (i: number) => number,
  dx: Float64Array | null, dhPrev: Float64Array, d: Float64Array,
): void {
  const { inputs: I, units: H } = g;
  const G = 3 * H;
  for (let i = 0; i < rows; i++) {
    const ho = i * H;
    // d: dL/d(pre-activations) z, r, c.
    for (let k = 0; k < H; k++) {
      const z = tape.z[ho + k]!;
      const c = tape.c[ho + k]!;
      const dhk = dh[ho + k]!;
      d[k] = dhk * (hPrev[ho + k]! - c) * z * (1 - z);
      d[2 * H + k] = dhk * (1 - z) * (1 - c * c);
      dhPrev[ho + k] = dhk * z;
    }
    for (let j = 0; j < H; j++) {
      const r = g.u + j * G + 2 * H;
      let s = 0;
      for (let k = 0; k < H; k++) s += phi[r + k]! * d[2 * H + k]!;
      const rj = tape.r[ho + j]!;
      const hj = hPrev[ho + j]!;
      d[H + j] = s * hj * rj * (1 - rj);
      dhPrev[ho + j] = dhPrev[ho + j]! + s * rj;
      const v = rj * hj;
      for (let k = 0; k < H; k++) acc[r + k] = acc[r + k]! + v * d[2 * H + k]!;
    }
    for (let k = 0; k < G; k++) acc[g.b + k] = acc[g.b + k]! + d[k]!;
    if (dBias !== null) {
      const bo = groupOf(i) * G;
      for (let k = 0; k < G; k++) dBias[bo + k] = dBias[bo + k]! + d[k]!;
    }
    for (let j = 0; j < H; j++) {
      const v = hPrev[ho + j]!;
      const r = g.u + j * G;
      let s = 0;
      for (let k = 0; k < 2 * H; k++) {
        acc[r + k] = acc[r + k]! + v * d[k]!;
        s += phi[r + k]! * d[k]!;
      }
      dhPrev[ho + j] = dhPrev[ho + j]! + s;
    }
    for (let j = 0; j < I; j++) {
      const v = x[i * I + j]!;
      const r = g.w + j * G;
      let s = 0;
      for (let k = 0; k < G; k++) {
        acc[r + k] = acc[r + k]! + v * d[k]!;
        s += phi[r + k]! * d[k]!;
      }
      if (dx !== null) dx[i * I + j] = s;
    }
  }
}

/**
 * The small MLP that the per-coordinate optimizer shares between every coordinate (as
 * learned_optimization's small_fc_lopt, Metz et al. 2022, section 3: `hk.nets.MLP([hidden] *
 * hiddenLayers + [2])`): F inputs, `hiddenLayers` layers of `hidden` ReLU units, then a
 * linear head of 2 outputs. Rows (coordinates) are independent; the forward can keep the
 * hidden activations for the backward, which accumulates dL/dphi and gives dL/dinputs.
 *
 * phi holds `layer{l}.weight` [in, out] (row-major: weight (j, k) at j * out + k) and
 * `layer{l}.bias` [out] for l = 0..hiddenLayers, the last being the head. Arithmetic is in
 * float64 on a float64 copy of phi, so the only roundings to float32 are the step's own.
 */
import type { PhiEntry } from "../contract.ts";

/** The widths of the layers' inputs and outputs: [inputs, hidden x hiddenLayers, 2]. */
export function mlpDims(inputs: number, hidden: number, hiddenLayers: number): number[] {
  return [inputs, ...new Array<number>(hiddenLayers).fill(hidden), 2];
}

/** phi's tensors for the widths `dims` (see the file comment). */
export function mlpPhiEntries(dims: readonly number[]): PhiEntry[] {
  const out: PhiEntry[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    out.push({ name: `layer${l}.weight`, shape: [dims[l]!, dims[l + 1]!] }, { name: `layer${l}.bias`, shape: [dims[l + 1]!] });
  }
  return out;
}

/** The MLP with its weights set: a float64 copy of phi, read by layer. */
export class MlpNet {
  readonly dims: readonly number[];
  /** Hidden layers (the head is layer `hiddenLayers`). */
  readonly hiddenLayers: number;
  readonly phiSize: number;
  private readonly w: Float64Array;
  /** Offsets in phi of each layer's weight and bias. */
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];
  /** Two hidden-width buffers: a forward without a tape ping-pongs between them; the backward's deltas. */
  private readonly bufA: Float64Array;
  private readonly bufB: Float64Array;

  constructor(dims: readonly number[], phi: Float32Array) {
    this.dims = [...dims];
    this.hiddenLayers = dims.length - 2;
    let o = 0;
    for (let l = 0; l + 1 < dims.length; l++) {
      this.wOff.push(o);
      o += dims[l]! * dims[l + 1]!;
      this.bOff.push(o);
      o += dims[l + 1]!;
    }
    this.phiSize = o;
    this.w = new Float64Array(o);
    const widest = Math.max(...dims);
    this.bufA = new Float64Array(widest);
    this.bufB = new Float64Array(widest);
    this.setPhi(phi);
  }

  setPhi(phi: Float32Array): void {
    if (phi.length !== this.phiSize) throw new Error(`mlp optimizer: phi has ${phi.length} floats, expected ${this.phiSize}`);
    this.w.set(phi);
  }

  /**
   * Outputs `out` (rows * 2) of the rows of `x` (rows * inputs). With `acts` (one array of
   * rows * hidden per hidden layer) the post-ReLU activations are kept there for `backward`.
   */
  forward(x: Float64Array, rows: number, out: Float64Array, acts: readonly Float64Array[] | null): void {
    const { dims, hiddenLayers: L, w } = this;
    const F = dims[0]!;
    for (let i = 0; i < rows; i++) {
      let src: Float64Array = x;
      let so = i * F;
      for (let l = 0; l <= L; l++) {
        const din = dims[l]!;
        const dout = dims[l + 1]!;
        const last = l === L;
        const dst = last ? out : acts !== null ? acts[l]! : (l & 1) === 0 ? this.bufA : this.bufB;
        const d0 = last ? i * 2 : acts !== null ? i * dout : 0;
        const wo = this.wOff[l]!;
        const bo = this.bOff[l]!;
        for (let k = 0; k < dout; k++) dst[d0 + k] = w[bo + k]!;
        for (let j = 0; j < din; j++) {
          const v = src[so + j]!;
          if (v === 0) continue; // ReLU zeros: half the hidden units, nothing to add
          const r = wo + j * dout;
          for (let k = 0; k < dout; k++) dst[d0 + k] = dst[d0 + k]! + v * w[r + k]!;
        }
        if (!last) for (let k = 0; k < dout; k++) if (dst[d0 + k]! < 0) dst[d0 + k] = 0;
        src = dst;
        so = d0;
      }
    }
  }

  /**
   * Backpropagates dL/dout (rows * 2) through the rows that `forward` ran with `acts` on `x`:
   * adds dL/dphi into `dphi` (phi's layout, float64) and writes dL/dx into `dx` (rows * inputs).
   */
  backward(x: Float64Array, rows: number, acts: readonly Float64Array[], dout: Float64Array, dphi: Float64Array, dx: Float64Array): void {
    const { dims, hiddenLayers: L, w } = this;
    const F = dims[0]!;
    for (let i = 0; i < rows; i++) {
      // delta: dL/d(pre-activation) of layer l's outputs; prev: dL/d(its inputs).
      let delta = this.bufA;
      let prev = this.bufB;
      delta[0] = dout[2 * i]!;
      delta[1] = dout[2 * i + 1]!;
      for (let l = L; l >= 0; l--) {
        const din = dims[l]!;
        const dw = dims[l + 1]!;
        const src = l === 0 ? x : acts[l - 1]!;
        const so = i * din;
        const wo = this.wOff[l]!;
        const bo = this.bOff[l]!;
        for (let k = 0; k < dw; k++) dphi[bo + k] = dphi[bo + k]! + delta[k]!;
        for (let j = 0; j < din; j++) {
          const v = src[so + j]!;
          const r = wo + j * dw;
          let s = 0;
          if (v !== 0) {
            for (let k = 0; k < dw; k++) {
              dphi[r + k] = dphi[r + k]! + v * delta[k]!;
              s += w[r + k]! * delta[k]!;
            }
          } else {
            for (let k = 0; k < dw; k++) s += w[r + k]! * delta[k]!;
          }
          // Through the ReLU of the layer below (its output was 0: no gradient), or to x.
          if (l === 0) dx[so + j] = s;
          else prev[j] = v > 0 ? s : 0;
        }
        const t = delta;
        delta = prev;
        prev = t;
      }
    }
  }
}

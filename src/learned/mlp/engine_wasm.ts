/**
 * The `wasm` engine of the per-coordinate MLP (engine.ts): the SIMD kernel of
 * assembly/mlp_opt.ts on one instance of its own (src/kernels/mlp_opt.ts). It lays out in
 * the kernel's memory, for n coordinates padded to np (a multiple of 4): the kernel's weights
 * (phi with layer 0's time rows folded into its bias), per tape slot the features (F rows of
 * np float32, from the host's columns of n), the hidden activations (L * H rows) and the outputs (2 rows: d, a), and shared
 * buffers for the backward. The host converts: features in, outputs and dL/dx out, and maps
 * the kernel's dL/dweights back to phi (dL/dW0[F + t] = tau_t dL/db0 per step, tau being the
 * step's time features). Float32 inside the kernel; float64 sums of the weight gradient.
 * `fusedAdafac` (the transform's path with the adafac features) lays out theta, the gradient
 * and the state there too, and has the kernel write the features into the free slot's rows.
 */
import { mlpOptInstance } from "../../kernels/mlp_opt.ts";
import type { MlpEngine } from "./engine_contract.ts";

interface Slot {
  readonly x: number;
  readonly acts: number;
  readonly out: number;
  readonly tau: Float64Array;
}

/** The engine for the MLP of widths `dims` (dims[0] = F + T inputs, the last T of them time features). */
export function wasmMlpEngine(dims: readonly number[], T: number, phi: Float32Array): MlpEngine {
  const inst = mlpOptInstance();
  const L = dims.length - 2;
  const H = dims[1]!;
  const F = dims[0]! - T;
  if (F < 1 || dims.slice(1, -1).some((d) => d !== H) || dims[dims.length - 1] !== 2) throw new Error(`mlp optimizer: the kernel takes equal hidden layers and 2 outputs, got widths ${dims.join(", ")}`);
  // Kernel weights: layer 0 has F input rows; later layers are phi's, T * H floats earlier.
  const Pk = F * H + H + (L - 1) * (H * H + H) + 2 * H + 2;
  const phiSize = Pk + T * H;
  const b0 = (F + T) * H; // phi offset of layer 0's bias
  const w64 = new Float64Array(phiSize);
  const wAt = inst.alloc(Pk * 4);
  const wide = Math.max(F, H, 2);
  const scrAt = inst.alloc(Math.max(L * H, 2 * wide) * 16);
  const accAt = inst.alloc(Pk * 16);
  const g64At = inst.alloc(Pk * 8);
  let n = -1;
  let np = 0;
  let free: Slot | undefined;
  const tape: Slot[] = [];
  let doutAt = 0;
  let dxAt = 0;

  const newSlot = (withActs: boolean): Slot => ({
    x: inst.alloc(F * np * 4),
    acts: withActs ? inst.alloc(L * H * np * 4) : 0,
    out: inst.alloc(2 * np * 4),
    tau: new Float64Array(T),
  });
  const size = (rows: number): void => {
    if (n === rows) return;
    if (n !== -1) throw new Error(`mlp optimizer: this engine runs ${n} coordinates, not ${rows}`);
    n = rows;
    np = Math.ceil(n / 4) * 4;
    doutAt = inst.alloc(2 * np * 4);
    dxAt = inst.alloc(F * np * 4);
  };
  /** Writes the kernel's weights for the time features `tau`. */
  const weights = (tau: Float64Array): void => {
    const wk = new Float32Array(inst.buffer(), wAt, Pk);
    for (let i = 0; i < F * H; i++) wk[i] = w64[i]!;
    for (let k = 0; k < H; k++) {
      let b = w64[b0 + k]!;
      for (let t = 0; t < T; t++) b += tau[t]! * w64[(F + t) * H + k]!;
      wk[F * H + k] = b;
    }
    for (let i = F * H + H; i < Pk; i++) wk[i] = w64[i + T * H]!;
  };

  const engine: MlpEngine = {
    engine: "wasm",
    phiSize,
    setPhi(p) {
      if (p.length !== phiSize) throw new Error(`mlp optimizer: phi has ${p.length} floats, expected ${phiSize}`);
      w64.set(p);
    },
    forward(x, rows, out, slotIndex) {
      size(rows);
      let slot: Slot;
      if (slotIndex < 0) slot = free ??= newSlot(false);
      else slot = tape[slotIndex] ??= newSlot(true);
      for (let t = 0; t < T; t++) slot.tau[t] = n > 0 ? x[(F + t) * n]! : 0;
      weights(slot.tau);
      // Column k of x (k * n) to row k of the kernel's (k * np), rounded to float32.
      const xs = new Float32Array(inst.buffer(), slot.x, F * np);
      for (let k = 0; k < F; k++) xs.set(x.subarray(k * n, (k + 1) * n), k * np);
      inst.ex.forward(np, F, H, L, wAt, slot.x, slot.acts, slot.out, scrAt);
      const o = new Float32Array(inst.buffer(), slot.out, 2 * np);
      for (let i = 0; i < n; i++) {
        out[2 * i] = o[i]!;
        out[2 * i + 1] = o[np + i]!;
      }
    },
    backward(slotIndex, _x, rows, dout, dphi, dx, columns) {
      const slot = tape[slotIndex];
      if (slot === undefined || rows !== n) throw new Error(`mlp optimizer: backward of tape slot ${slotIndex}, which holds no forward of ${rows} coordinates`);
      weights(slot.tau);
      const buf = inst.buffer();
      const d = new Float32Array(buf, doutAt, 2 * np);
      for (let i = 0; i < n; i++) {
        d[i] = dout[2 * i]!;
        d[np + i] = dout[2 * i + 1]!;
      }
      const g = new Float64Array(buf, g64At, Pk);
      g.fill(0);
      inst.ex.backward(np, F, H, L, wAt, slot.x, slot.acts, doutAt, accAt, g64At, columns > 0 ? dxAt : 0, scrAt);
      for (let i = 0; i < F * H; i++) dphi[i] = dphi[i]! + g[i]!;
      for (let k = 0; k < H; k++) {
        const gb = g[F * H + k]!;
        dphi[b0 + k] = dphi[b0 + k]! + gb;
        for (let t = 0; t < T; t++) dphi[(F + t) * H + k] = dphi[(F + t) * H + k]! + slot.tau[t]! * gb;
      }
      for (let i = F * H + H; i < Pk; i++) dphi[i + T * H] = dphi[i + T * H]! + g[i]!;
      if (columns <= 0) return;
      const dxs = new Float32Array(buf, dxAt, F * np);
      for (let k = 0; k < Math.min(columns, F); k++) dx.set(dxs.subarray(k * np, k * np + n), k * n);
    },
    fusedAdafac(spec) {
      const D = spec.decays.length;
      if (F !== 7 + 3 * D) throw new Error(`mlp optimizer: the fused adafac step needs ${7 + 3 * D} normalised inputs, the network has ${F}`);
      size(spec.n);
      const slot = (free ??= newSlot(false));
      const nt = spec.tensors.length;
      const maxC = Math.max(1, ...spec.tensors.map((t) => t.cols));
      const tabAt = inst.alloc(5 * nt * 4);
      const decAt = inst.alloc(D * 8);
      const thAt = inst.alloc(n * 4);
      const grAt = inst.alloc(n * 4);
      const stAt = inst.alloc(spec.stateSize * 4);
      const fsAt = inst.alloc((4 * n + maxC + F) * 8);
      const tab = new Int32Array(inst.buffer(), tabAt, 5 * nt);
      spec.tensors.forEach((t, e) => tab.set([t.offset, t.size, t.rows, t.cols, t.at], 5 * e));
      new Float64Array(inst.buffer(), decAt, D).set(spec.decays);
      return (theta, grad, state, tau) => {
        const buf = inst.buffer();
        new Float32Array(buf, thAt, n).set(theta);
        new Float32Array(buf, grAt, n).set(grad);
        const st = new Float32Array(buf, stAt, spec.stateSize);
        st.set(state);
        weights(tau);
        inst.ex.adafacFeatures(n, np, D, nt, tabAt, decAt, spec.rmsDecay, spec.factoredDecay, thAt, grAt, stAt, fsAt, maxC, slot.x);
        inst.ex.forward(np, F, H, L, wAt, slot.x, 0, slot.out, scrAt);
        return { out: new Float32Array(buf, slot.out, 2 * np), np, state: st.slice() };
      };
    },
    dispose() {
      tape.length = 0;
      free = undefined;
    },
  };
  // A kernel built before adafacFeatures existed: the transform takes the TypeScript features.
  if (typeof inst.ex.adafacFeatures !== "function") delete engine.fusedAdafac;
  engine.setPhi(phi);
  return engine;
}

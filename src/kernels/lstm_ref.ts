/**
 * The plain-TypeScript reference of the coordinatewise LSTM engine (Andrychowicz et al. 2016,
 * section 2.1; the contract and the layout of `phi` are in `types.ts`).
 *
 * Arithmetic is done in float64; the recurrent state and the tape are stored as float32, like
 * the PyTorch reference and the WebAssembly engine. Work is organised per coordinate: the 4H
 * pre-activations of a layer are one small mat-vec over the rows of `W_l`, which stay in the
 * cache while the coordinates stream past.
 *
 * The tape keeps, per recorded step and coordinate, the input features and, per layer, the
 * four activated gates and the new cell state (5H floats). Everything else that
 * backpropagation needs is rebuilt from these: a layer's hidden state is `o * tanh(c)`, and the
 * state before the first recorded step is a snapshot taken when recording starts.
 */
import { checkSnapshot, phiSize, stateSize, type LstmEngineOptions, type LstmShape, type SnapshotLstmEngine } from "./types.ts";

/** The logistic function 1 / (1 + e^-x). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function checkShape(s: LstmShape): void {
  for (const [k, v] of [["inputs", s.inputs], ["hidden", s.hidden], ["layers", s.layers]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`LSTM engine: shape.${k} must be a positive integer, got ${v}`);
  }
}

/**
 * Creates the reference engine: plain TypeScript, one thread, for checking faster engines and
 * for small problems. The paper's coordinatewise LSTM (Andrychowicz et al. 2016, section 2.1).
 */
export function createReferenceEngine(opts: LstmEngineOptions): SnapshotLstmEngine {
  checkShape(opts.shape);
  if (!Number.isInteger(opts.n) || opts.n < 0) throw new Error(`LSTM engine: n must be a non-negative integer, got ${opts.n}`);
  if (!Number.isInteger(opts.capacity) || opts.capacity < 0) {
    throw new Error(`LSTM engine: capacity must be a non-negative integer, got ${opts.capacity}`);
  }
  return new ReferenceEngine(opts);
}

/** Copies row-major `W` (`rows x G`) to panels: `Wp[(c*rows + r)*4 + q] = W[r*G + 4c + q]`. */
function packPanels(W: Float64Array, rows: number, G: number, Wp: Float64Array): void {
  let w = 0;
  for (let j = 0; j < G; j += 4) {
    for (let r = 0; r < rows; r++) for (let q = 0; q < 4; q++) Wp[w++] = W[r * G + j + q]!;
  }
}

/** pre = b + z . W for one coordinate, four columns at a time (G is a multiple of 4). */
function packedMatVec(Wp: Float64Array, rows: number, G: number, z: Float64Array, b: Float64Array, pre: Float64Array): void {
  let w = 0;
  for (let j = 0; j < G; j += 4) {
    let a0 = b[j]!;
    let a1 = b[j + 1]!;
    let a2 = b[j + 2]!;
    let a3 = b[j + 3]!;
    for (let r = 0; r < rows; r++, w += 4) {
      const zr = z[r]!;
      a0 += zr * Wp[w]!;
      a1 += zr * Wp[w + 1]!;
      a2 += zr * Wp[w + 2]!;
      a3 += zr * Wp[w + 3]!;
    }
    pre[j] = a0;
    pre[j + 1] = a1;
    pre[j + 2] = a2;
    pre[j + 3] = a3;
  }
}

/** dz[r] = W[r, :] . DP[dpo .. dpo+G] for r in [r0, r1), four rows at a time. */
function rowDots(W: Float64Array, G: number, DP: Float64Array, dpo: number, r0: number, r1: number, dz: Float64Array): void {
  let r = r0;
  for (; r + 4 <= r1; r += 4) {
    const w0 = r * G;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < G; j++) {
      const d = DP[dpo + j]!;
      s0 += W[w0 + j]! * d;
      s1 += W[w0 + G + j]! * d;
      s2 += W[w0 + 2 * G + j]! * d;
      s3 += W[w0 + 3 * G + j]! * d;
    }
    dz[r] = s0;
    dz[r + 1] = s1;
    dz[r + 2] = s2;
    dz[r + 3] = s3;
  }
  for (; r < r1; r++) {
    let s0 = 0;
    for (let j = 0; j < G; j++) s0 += W[r * G + j]! * DP[dpo + j]!;
    dz[r] = s0;
  }
}

/** dW += Z^T DP and db += column sums of DP, over `nb` coordinates (Z: nb x rows, DP: nb x G). */
function accumulateOuter(dW: Float64Array, db: Float64Array, rows: number, G: number, Z: Float64Array, DP: Float64Array, nb: number): void {
  for (let j = 0; j < G; j++) {
    let s = db[j]!;
    for (let k = 0; k < nb; k++) s += DP[k * G + j]!;
    db[j] = s;
  }
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const base = r * G;
    for (let j = 0; j < G; j += 4) {
      let a0 = dW[base + j]!;
      let a1 = dW[base + j + 1]!;
      let a2 = dW[base + j + 2]!;
      let a3 = dW[base + j + 3]!;
      let c0 = dW[base + G + j]!;
      let c1 = dW[base + G + j + 1]!;
      let c2 = dW[base + G + j + 2]!;
      let c3 = dW[base + G + j + 3]!;
      for (let k = 0; k < nb; k++) {
        const za = Z[k * rows + r]!;
        const zc = Z[k * rows + r + 1]!;
        const o = k * G + j;
        const d0 = DP[o]!;
        const d1 = DP[o + 1]!;
        const d2 = DP[o + 2]!;
        const d3 = DP[o + 3]!;
        a0 += za * d0;
        a1 += za * d1;
        a2 += za * d2;
        a3 += za * d3;
        c0 += zc * d0;
        c1 += zc * d1;
        c2 += zc * d2;
        c3 += zc * d3;
      }
      dW[base + j] = a0;
      dW[base + j + 1] = a1;
      dW[base + j + 2] = a2;
      dW[base + j + 3] = a3;
      dW[base + G + j] = c0;
      dW[base + G + j + 1] = c1;
      dW[base + G + j + 2] = c2;
      dW[base + G + j + 3] = c3;
    }
  }
  for (; r < rows; r++) {
    const base = r * G;
    for (let j = 0; j < G; j++) {
      let a = dW[base + j]!;
      for (let k = 0; k < nb; k++) a += Z[k * rows + r]! * DP[k * G + j]!;
      dW[base + j] = a;
    }
  }
}

/** Coordinates per block in backpropagation (the weight gradient is accumulated per block). */
const BLOCK = 16;

class ReferenceEngine implements SnapshotLstmEngine {
  readonly shape: LstmShape;
  readonly n: number;
  readonly capacity: number;
  /** The internal state is the contract's layout: a snapshot equals `getState()`. */
  readonly stateLayout = "ref";
  readonly snapshotLength: number;
  private readonly I: number;
  private readonly H: number;
  private readonly L: number;
  /** State floats per coordinate (h and c of every layer). */
  private readonly S: number;
  /** Tape floats per coordinate per step: inputs, then per layer 4H gates and H cells. */
  private readonly coordTape: number;
  /** W_l row-major `[rows, 4H]` (for backpropagation) and packed in 4-column panels (forward). */
  private readonly W: Float64Array[] = [];
  private readonly Wp: Float64Array[] = [];
  private readonly b: Float64Array[] = [];
  private readonly Wout: Float64Array;
  private bout = 0;
  private readonly dW: Float64Array[] = [];
  private readonly db: Float64Array[] = [];
  private readonly dWout: Float64Array;
  private dbout = 0;
  private state: Float32Array;
  private tape: Float32Array | null = null;
  /** The state when recording started (the start of the tape). */
  private state0 = new Float32Array(0);
  /** Steps on the tape; `cursor` of them are not yet backpropagated. */
  private steps = 0;
  private cursor = 0;
  /** The state was advanced without recording while the tape was non-empty. */
  private stale = false;
  private disposed = false;
  /** Gradients arriving through h and c from later steps, per coordinate and layer. */
  private dhC = new Float64Array(0);
  private dcC = new Float64Array(0);
  /** tanh(c) of the step that the next backwardStep handles (valid when `tcValid`). */
  private tcCache = new Float64Array(0);
  private tcValid = false;
  private readonly pre: Float64Array;
  private readonly tcs: Float64Array;
  private readonly z: Float64Array;
  /** Per layer, a block's layer inputs and gate-gradients (for the weight gradient). */
  private readonly Zb: Float64Array[] = [];
  private readonly DPb: Float64Array[] = [];
  private readonly dz: Float64Array;

  constructor(opts: LstmEngineOptions) {
    this.shape = { inputs: opts.shape.inputs, hidden: opts.shape.hidden, layers: opts.shape.layers };
    this.n = opts.n;
    this.capacity = opts.capacity;
    const { inputs: I, hidden: H, layers: L } = this.shape;
    this.I = I;
    this.H = H;
    this.L = L;
    this.S = stateSize(this.shape);
    this.coordTape = I + 5 * L * H;
    for (let l = 0; l < L; l++) {
      const rows = (l === 0 ? I : H) + H;
      this.W.push(new Float64Array(rows * 4 * H));
      this.Wp.push(new Float64Array(rows * 4 * H));
      this.b.push(new Float64Array(4 * H));
      this.dW.push(new Float64Array(rows * 4 * H));
      this.db.push(new Float64Array(4 * H));
    }
    this.Wout = new Float64Array(H);
    this.dWout = new Float64Array(H);
    this.state = new Float32Array(this.n * this.S);
    this.snapshotLength = this.n * this.S;
    this.pre = new Float64Array(4 * H);
    this.tcs = new Float64Array(L * H);
    this.z = new Float64Array(Math.max(I, H) + H);
    this.dz = new Float64Array(Math.max(I, H) + H);
    for (let l = 0; l < L; l++) {
      this.Zb.push(new Float64Array(BLOCK * ((l === 0 ? I : H) + H)));
      this.DPb.push(new Float64Array(BLOCK * 4 * H));
    }
  }

  get recorded(): number {
    return this.cursor;
  }

  private alive(what: string): void {
    if (this.disposed) throw new Error(`LSTM engine: ${what} after dispose()`);
  }

  setPhi(phi: Float32Array): void {
    this.alive("setPhi");
    const want = phiSize(this.shape);
    if (phi.length !== want) throw new Error(`LSTM engine: phi has ${phi.length} floats, expected ${want}`);
    if (this.steps > 0) throw new Error("LSTM engine: setPhi while the tape holds steps; call finishBackward first");
    let o = 0;
    for (let l = 0; l < this.L; l++) {
      const W = this.W[l]!;
      const b = this.b[l]!;
      for (let k = 0; k < W.length; k++) W[k] = phi[o + k]!;
      packPanels(W, W.length / (4 * this.H), 4 * this.H, this.Wp[l]!);
      o += W.length;
      for (let k = 0; k < b.length; k++) b[k] = phi[o + k]!;
      o += b.length;
    }
    for (let k = 0; k < this.H; k++) this.Wout[k] = phi[o + k]!;
    this.bout = phi[o + this.H]!;
  }

  private clearTape(): void {
    this.steps = 0;
    this.cursor = 0;
    this.stale = false;
    this.tcValid = false;
    for (const a of this.dW) a.fill(0);
    for (const a of this.db) a.fill(0);
    this.dWout.fill(0);
    this.dbout = 0;
  }

  resetState(): void {
    this.alive("resetState");
    this.state.fill(0);
    this.clearTape();
  }

  getState(): Float32Array {
    this.alive("getState");
    return this.state.slice();
  }

  setState(state: Float32Array): void {
    this.alive("setState");
    if (state.length !== this.state.length) {
      throw new Error(`LSTM engine: state has ${state.length} floats, expected ${this.state.length} (n * ${this.S})`);
    }
    this.state.set(state);
    this.clearTape();
  }

  snapshot(into?: Float32Array, offset = 0): Float32Array {
    this.alive("snapshot");
    if (into === undefined) return this.state.slice();
    if (!Number.isInteger(offset) || offset < 0 || offset + this.snapshotLength > into.length) {
      throw new Error(`LSTM engine: snapshot of ${this.snapshotLength} floats does not fit at offset ${offset} of ${into.length}`);
    }
    into.set(this.state, offset);
    return into;
  }

  restore(snapshot: Float32Array, layout?: string): void {
    this.alive("restore");
    checkSnapshot("the reference engine", this.stateLayout, this.snapshotLength, snapshot, layout);
    this.state.set(snapshot);
    this.clearTape();
  }

  dispose(): void {
    this.disposed = true;
    this.tape = null;
    this.state = new Float32Array(0);
  }

  forward(x: Float32Array, out: Float32Array, record: boolean): void {
    this.alive("forward");
    const { n, I, H, L, S } = this;
    if (x.length !== n * I) throw new Error(`LSTM engine: forward x has ${x.length} floats, expected ${n * I} (n * inputs)`);
    if (out.length !== n) throw new Error(`LSTM engine: forward out has ${out.length} floats, expected ${n}`);
    let tape: Float32Array | null = null;
    let stepBase = 0;
    if (record) {
      if (this.cursor !== this.steps) throw new Error("LSTM engine: forward during a backward pass; call finishBackward first");
      if (this.stale) throw new Error("LSTM engine: recording after unrecorded steps; call finishBackward first");
      if (this.steps >= this.capacity) throw new Error(`LSTM engine: tape is full (capacity ${this.capacity} steps)`);
      if (this.tape === null) {
        // Memory for training is only taken when recording starts.
        this.tape = new Float32Array(this.capacity * n * this.coordTape);
        this.state0 = new Float32Array(n * S);
        this.dhC = new Float64Array(n * L * H);
        this.dcC = new Float64Array(n * L * H);
        this.tcCache = new Float64Array(n * L * H);
      }
      if (this.steps === 0) this.state0.set(this.state);
      tape = this.tape;
      stepBase = this.steps * n * this.coordTape;
    } else if (this.steps > 0) {
      this.stale = true;
    }
    const G = 4 * H;
    const H2 = 2 * H;
    const H3 = 3 * H;
    const st = this.state;
    const { pre, z, Wout } = this;
    for (let i = 0; i < n; i++) {
      const sOff = i * S;
      let tOff = stepBase + i * this.coordTape;
      if (tape !== null) {
        for (let r = 0; r < I; r++) tape[tOff + r] = x[i * I + r]!;
        tOff += I;
      }
      let inArr: Float32Array = x;
      let inOff = i * I;
      let inLen = I;
      for (let l = 0; l < L; l++) {
        const hOff = sOff + l * H2;
        const cOff = hOff + H;
        for (let r = 0; r < inLen; r++) z[r] = inArr[inOff + r]!;
        for (let r = 0; r < H; r++) z[inLen + r] = st[hOff + r]!;
        packedMatVec(this.Wp[l]!, inLen + H, G, z, this.b[l]!, pre);
        for (let u = 0; u < H; u++) {
          const ig = 1 / (1 + Math.exp(-pre[u]!));
          const fg = 1 / (1 + Math.exp(-pre[H + u]!));
          const gg = Math.tanh(pre[H2 + u]!);
          const og = 1 / (1 + Math.exp(-pre[H3 + u]!));
          const cn = Math.fround(fg * st[cOff + u]! + ig * gg);
          st[cOff + u] = cn;
          st[hOff + u] = og * Math.tanh(cn);
          if (tape !== null) {
            tape[tOff + u] = ig;
            tape[tOff + H + u] = fg;
            tape[tOff + H2 + u] = gg;
            tape[tOff + H3 + u] = og;
            tape[tOff + G + u] = cn;
          }
        }
        if (tape !== null) tOff += G + H;
        inArr = st;
        inOff = hOff;
        inLen = H;
      }
      let y = this.bout;
      for (let r = 0; r < H; r++) y += Wout[r]! * st[inOff + r]!;
      out[i] = y;
    }
    if (record) {
      this.steps++;
      this.cursor++;
    }
  }

  backwardStep(dOut: Float32Array, dx?: Float32Array): void {
    this.alive("backwardStep");
    const { n, I, H, L, S } = this;
    if (this.cursor === 0 || this.tape === null) throw new Error("LSTM engine: backwardStep with no recorded step left");
    if (dOut.length !== n) throw new Error(`LSTM engine: backwardStep dOut has ${dOut.length} floats, expected ${n}`);
    if (dx !== undefined && dx.length !== n * I) {
      throw new Error(`LSTM engine: backwardStep dx has ${dx.length} floats, expected ${n * I} (n * inputs)`);
    }
    if (this.cursor === this.steps) {
      this.dhC.fill(0);
      this.dcC.fill(0);
      this.tcValid = false;
    }
    const t = this.cursor - 1;
    const tape = this.tape;
    const snap = this.state0;
    const G = 4 * H;
    const H2 = 2 * H;
    const H3 = 3 * H;
    const CT = this.coordTape;
    const LH = L * H;
    const { dhC, dcC, tcCache, tcs, Wout, dWout } = this;
    const tcValid = this.tcValid;
    const { Zb, DPb, dz } = this;
    let dbout = 0;
    for (let i0 = 0; i0 < n; i0 += BLOCK) {
      const nb = Math.min(BLOCK, n - i0);
      for (let kb = 0; kb < nb; kb++) {
        const i = i0 + kb;
        const cur = (t * n + i) * CT;
        const prev = t > 0 ? ((t - 1) * n + i) * CT : -1;
        const k0 = i * LH;
        // tanh(c) of this step for every layer.
        for (let l = 0; l < L; l++) {
          const cOff = cur + I + l * 5 * H + G;
          for (let u = 0; u < H; u++) {
            tcs[l * H + u] = tcValid ? tcCache[k0 + l * H + u]! : Math.tanh(tape[cOff + u]!);
          }
        }
        // The head: out = h_top . Wout + bout.
        const d = dOut[i]!;
        dbout += d;
        {
          const oOff = cur + I + (L - 1) * 5 * H + H3;
          const kTop = k0 + (L - 1) * H;
          for (let u = 0; u < H; u++) {
            dWout[u] = dWout[u]! + d * tape[oOff + u]! * tcs[(L - 1) * H + u]!;
            dhC[kTop + u] = dhC[kTop + u]! + d * Wout[u]!;
          }
        }
        for (let l = L - 1; l >= 0; l--) {
          const gOff = cur + I + l * 5 * H;
          const k = k0 + l * H;
          const sPrev = i * S + l * H2;
          const inLen = l === 0 ? I : H;
          const rows = inLen + H;
          const DP = DPb[l]!;
          const Z = Zb[l]!;
          const dpo = kb * G;
          const zo = kb * rows;
          for (let u = 0; u < H; u++) {
            const ig = tape[gOff + u]!;
            const fg = tape[gOff + H + u]!;
            const gg = tape[gOff + H2 + u]!;
            const og = tape[gOff + H3 + u]!;
            const tc = tcs[l * H + u]!;
            const cprev = prev >= 0 ? tape[prev + I + l * 5 * H + G + u]! : snap[sPrev + H + u]!;
            const dh = dhC[k + u]!;
            const dc = dcC[k + u]! + dh * og * (1 - tc * tc);
            DP[dpo + u] = dc * gg * ig * (1 - ig);
            DP[dpo + H + u] = dc * cprev * fg * (1 - fg);
            DP[dpo + H2 + u] = dc * ig * (1 - gg * gg);
            DP[dpo + H3 + u] = dh * tc * og * (1 - og);
            dcC[k + u] = dc * fg;
          }
          // The layer's inputs z = [input; h_prev], kept for the block's weight gradient.
          if (l === 0) {
            for (let r = 0; r < I; r++) Z[zo + r] = tape[cur + r]!;
          } else {
            const oOff = cur + I + (l - 1) * 5 * H + H3;
            for (let r = 0; r < H; r++) Z[zo + r] = tape[oOff + r]! * tcs[(l - 1) * H + r]!;
          }
          if (prev >= 0) {
            const pg = prev + I + l * 5 * H;
            for (let r = 0; r < H; r++) {
              const tp = Math.tanh(tape[pg + G + r]!);
              tcCache[k + r] = tp;
              Z[zo + inLen + r] = tape[pg + H3 + r]! * tp;
            }
          } else {
            for (let r = 0; r < H; r++) Z[zo + inLen + r] = snap[sPrev + r]!;
          }
          // dL/dz: to the previous step's h, and to the layer below (or to x).
          const r0 = l === 0 && dx === undefined ? inLen : 0;
          rowDots(this.W[l]!, G, DP, dpo, r0, rows, dz);
          for (let r = 0; r < H; r++) dhC[k + r] = dz[inLen + r]!;
          if (l > 0) for (let r = 0; r < H; r++) dhC[k - H + r] = dhC[k - H + r]! + dz[r]!;
          else if (dx !== undefined) for (let r = 0; r < I; r++) dx[i * I + r] = dz[r]!;
        }
      }
      for (let l = 0; l < L; l++) {
        accumulateOuter(this.dW[l]!, this.db[l]!, (l === 0 ? I : H) + H, G, Zb[l]!, DPb[l]!, nb);
      }
    }
    this.dbout += dbout;
    this.tcValid = t > 0;
    this.cursor--;
  }

  finishBackward(dphi: Float32Array): void {
    this.alive("finishBackward");
    const want = phiSize(this.shape);
    if (dphi.length !== want) throw new Error(`LSTM engine: dphi has ${dphi.length} floats, expected ${want}`);
    let o = 0;
    for (let l = 0; l < this.L; l++) {
      for (const a of [this.dW[l]!, this.db[l]!]) {
        for (let k = 0; k < a.length; k++) dphi[o + k] = dphi[o + k]! + a[k]!;
        o += a.length;
      }
    }
    for (let k = 0; k < this.H; k++) dphi[o + k] = dphi[o + k]! + this.dWout[k]!;
    dphi[o + this.H] = dphi[o + this.H]! + this.dbout;
    this.clearTape();
  }
}

// Optimizee tasks in float64 for the meta-gradient tests, and the PyTorch fixture cases
// (test/fixtures/pytorch/: a copy of ../shared/ref/fixtures/, kept in the repository so a
// clean clone checks against them too). Shared by the reference-engine and
// WebAssembly-engine tests so both check against the same tasks.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ParamLayout } from "../src/core/layout.ts";
import type { Task } from "../src/tasks/base.ts";

export const FIXTURES = fileURLToPath(new URL("./fixtures/pytorch/", import.meta.url));
if (!existsSync(FIXTURES)) throw new Error(`PyTorch fixtures not found at ${FIXTURES}: they are part of the repository`);

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
export const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);

// ---- Optimizee tasks written here, in float64 (the project's tasks are tested elsewhere). ----

/** B independent d-dimensional quadratics sum_b ||W_b theta_b - y_b||^2, in float64. */
export function quad64(d: number, B: number, W: ArrayLike<number>, y: ArrayLike<number>) {
  const Wv = Float64Array.from(W);
  const yv = Float64Array.from(y);
  const mul = (th: ArrayLike<number>, shift: boolean): Float64Array => {
    const r = new Float64Array(B * d);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < d; i++) {
        let s = shift ? -yv[b * d + i]! : 0;
        for (let j = 0; j < d; j++) s += Wv[(b * d + i) * d + j]! * th[b * d + j]!;
        r[b * d + i] = s;
      }
    return r;
  };
  const wt2 = (r: Float64Array): Float64Array => {
    const g = new Float64Array(B * d);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) g[b * d + j]! += 2 * Wv[(b * d + i) * d + j]! * r[b * d + i]!;
    return g;
  };
  return {
    loss: (th: ArrayLike<number>): number => mul(th, true).reduce((a, v) => a + v * v, 0),
    grad: (th: ArrayLike<number>): Float64Array => wt2(mul(th, true)),
    hv: (v: ArrayLike<number>): Float64Array => wt2(mul(v, false)),
  };
}

export function quadTask(d: number, B: number, W: ArrayLike<number>, y: ArrayLike<number>, layout?: ParamLayout): Task {
  const q = quad64(d, B, W, y);
  return {
    name: "test-quadratic",
    layout: layout ?? new ParamLayout([{ name: "theta", shape: [B * d], group: "quadratic" }]),
    instances: B,
    init: () => new Float32Array(B * d),
    lossAndGrad: (th) => ({ loss: q.loss(th), grad: f32(q.grad(th)) }),
    hvp: (_th, v) => f32(q.hv(v)),
  };
}

/** MLP din-dh-dout, sigmoid hidden layer, batch-mean softmax cross-entropy. */
export function mlpTask(din: number, dh: number, dout: number, B: number, X: ArrayLike<number>, labels: ArrayLike<number>): Task {
  const n = din * dh + dh + dh * dout + dout;
  const layout = new ParamLayout([
    { name: "W1", shape: [din, dh], group: "fc" },
    { name: "b1", shape: [dh], group: "fc" },
    { name: "W2", shape: [dh, dout], group: "fc" },
    { name: "b2", shape: [dout], group: "fc" },
  ]);
  const oB1 = din * dh;
  const oW2 = oB1 + dh;
  const oB2 = oW2 + dh * dout;
  const lg = (th: ArrayLike<number>): [number, Float64Array] => {
    const g = new Float64Array(n);
    let loss = 0;
    for (let b = 0; b < B; b++) {
      const h = new Float64Array(dh);
      for (let k = 0; k < dh; k++) {
        let s = th[oB1 + k]!;
        for (let i = 0; i < din; i++) s += X[b * din + i]! * th[i * dh + k]!;
        h[k] = 1 / (1 + Math.exp(-s));
      }
      const z = new Float64Array(dout);
      for (let m = 0; m < dout; m++) {
        let s = th[oB2 + m]!;
        for (let k = 0; k < dh; k++) s += h[k]! * th[oW2 + k * dout + m]!;
        z[m] = s;
      }
      const mx = Math.max(...z);
      const lse = mx + Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
      const lab = labels[b]!;
      loss += (lse - z[lab]!) / B;
      const dz = z.map((v, m) => (Math.exp(v - lse) - (m === lab ? 1 : 0)) / B);
      for (let m = 0; m < dout; m++) {
        g[oB2 + m]! += dz[m]!;
        for (let k = 0; k < dh; k++) g[oW2 + k * dout + m]! += h[k]! * dz[m]!;
      }
      for (let k = 0; k < dh; k++) {
        let s = 0;
        for (let m = 0; m < dout; m++) s += th[oW2 + k * dout + m]! * dz[m]!;
        const da = s * h[k]! * (1 - h[k]!);
        g[oB1 + k]! += da;
        for (let i = 0; i < din; i++) g[i * dh + k]! += X[b * din + i]! * da;
      }
    }
    return [loss, g];
  };
  return {
    name: "test-mlp",
    layout,
    instances: 1,
    init: () => new Float32Array(n),
    lossAndGrad(th) {
      const [loss, g] = lg(th);
      return { loss, grad: f32(g) };
    },
    hvp(th, v) {
      // Central differences of the float64 gradient: accurate to about 1e-9 here.
      const eps = 1e-5;
      const p = Float64Array.from(th, (x, i) => x + eps * v[i]!);
      const m = Float64Array.from(th, (x, i) => x - eps * v[i]!);
      const gp = lg(p)[1];
      const gm = lg(m)[1];
      return f32(gp.map((x, i) => (x - gm[i]!) / (2 * eps)));
    },
  };
}

export interface Fixture {
  task: string;
  T: number;
  dims: Record<string, number>;
  theta0: number[];
  phi: number[][];
  X?: number[];
  labels?: number[];
  W?: number[];
  y?: number[];
}

export function loadCase(name: "W" | "Q"): { task: Task; fx: Fixture; L: number; grad: number[] } {
  const fx = JSON.parse(readFileSync(FIXTURES + `check_${name}.json`, "utf8")) as Fixture;
  const ref = JSON.parse(readFileSync(FIXTURES + `torch_grad_${name}.json`, "utf8")) as { L: number; grad: number[] };
  const m = fx.dims;
  const task =
    name === "W"
      ? mlpTask(m.din!, m.dh!, m.dout!, m.B!, fx.X!, fx.labels!)
      : quadTask(m.d!, m.B!, fx.W!, fx.y!);
  return { task, fx, L: ref.L, grad: ref.grad };
}


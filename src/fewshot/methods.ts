/**
 * The inner-loop update rules, one per method, over named jax-js arrays. Each method adds its own
 * meta-parameters to the learned initialisation and says how one inner step turns parameters,
 * their gradient on the support set and the support loss into the next parameters:
 * - `maml`: theta - alpha g, alpha fixed (Finn et al. 2017);
 * - `metasgd`: theta - alpha (.) g, alpha learned per parameter, sign included, so it learns a
 *   direction as well as a rate (Li et al. 2017);
 * - `lslr`: theta - alpha[layer, step] g, one learned rate per tensor and inner step (Antoniou
 *   et al. 2019, "How to train your MAML");
 * - `metacurvature`: theta - alpha M(g), M a learned Kronecker-factored matrix per tensor,
 *   applied mode by mode: M_in G M_out for a dense weight, and output, input and 3x3-window
 *   factors for a convolution (Park and Oliva 2019); the factors start at the identity;
 * - `metalstm`: the meta-learner LSTM of Ravi and Larochelle (2017): the parameters are the
 *   cell state, c_t = f_t (.) c_{t-1} - i_t (.) g_t, with input and forget gates computed
 *   coordinatewise from the preprocessed gradient and loss (Andrychowicz et al.'s log/sign
 *   preprocessing, p = 10), the parameter itself and the gate's previous value.
 * Every update consumes `p`, `g`, `loss` and `state` and only reads the meta-parameters `m`.
 */
import { foldIn, normal, type Key } from "../core/rng.ts";
import { jax } from "../tasks/mlp_jax.ts";
import type { ParamSpec } from "./net.ts";
import type { Arr, HostTree, Tree } from "./types.ts";

export const METHODS = ["maml", "metasgd", "lslr", "metacurvature", "metalstm"] as const;
export type Method = (typeof METHODS)[number];

export interface MethodContext {
  readonly params: readonly ParamSpec[];
  readonly steps: number;
  readonly innerLr: number;
}

export interface MethodRule {
  /** The method's own meta-parameters, initialised (empty for MAML). */
  init(ctx: MethodContext, key: Key): HostTree;
  /** The per-episode state before the first step (the meta-LSTM's previous gates). */
  initialState(ctx: MethodContext, p: Tree): Tree;
  /** One inner step s (0-based). */
  update(ctx: MethodContext, p: Tree, g: Tree, loss: Arr, s: number, m: Tree, state: Tree): { p: Tree; state: Tree };
}

const fill = (shape: readonly number[], v: number): { shape: readonly number[]; data: Float32Array } => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
const eye = (n: number): { shape: readonly number[]; data: Float32Array } => {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return { shape: [n, n], data };
};

/** A row-wise map over the parameter tensors by name. */
function eachParam(ctx: MethodContext, f: (s: ParamSpec) => Arr): Tree {
  const out: Tree = {};
  for (const s of ctx.params) out[s.name] = f(s);
  return out;
}

const maml: MethodRule = {
  init: () => ({}),
  initialState: () => ({}),
  update: (ctx, p, g) => ({ p: eachParam(ctx, (s) => p[s.name]!.sub(g[s.name]!.mul(ctx.innerLr))), state: {} }),
};

const metasgd: MethodRule = {
  init: (ctx) => Object.fromEntries(ctx.params.map((s) => [`alpha.${s.name}`, fill(s.shape, ctx.innerLr)])),
  initialState: () => ({}),
  update: (ctx, p, g, _loss, _s, m) => ({ p: eachParam(ctx, (s) => p[s.name]!.sub(g[s.name]!.mul(m[`alpha.${s.name}`]!.ref))), state: {} }),
};

const lslr: MethodRule = {
  init: (ctx) => Object.fromEntries(ctx.params.map((s) => [`lr.${s.name}`, fill([ctx.steps], ctx.innerLr)])),
  initialState: () => ({}),
  update: (ctx, p, g, _loss, step, m) => ({ p: eachParam(ctx, (s) => p[s.name]!.sub(g[s.name]!.mul(m[`lr.${s.name}`]!.ref.slice([step, step + 1])))), state: {} }),
};

/** The Kronecker factors of one tensor: their names and sizes. */
function factorsOf(s: ParamSpec): Array<[string, number]> {
  if (s.mode === "dense") return [[`mc.${s.name}.in`, s.shape[0]!], [`mc.${s.name}.out`, s.shape[1]!]];
  if (s.mode === "conv") return [[`mc.${s.name}.out`, s.shape[0]!], [`mc.${s.name}.in`, s.shape[1]!], [`mc.${s.name}.f`, 9]];
  return [[`mc.${s.name}.out`, s.shape[0]!]];
}

/** M(g) for one tensor: every mode multiplied by its factor. */
function precondition(s: ParamSpec, g: Arr, m: Tree): Arr {
  const { numpy: jnp } = jax();
  const f = (suffix: string): Arr => m[`mc.${s.name}.${suffix}`]!.ref;
  if (s.mode === "dense") return jnp.matmul(jnp.matmul(f("in"), g), f("out"));
  if (s.mode === "bias") return jnp.matmul(g.reshape([1, s.shape[0]!]), f("out")).reshape([s.shape[0]!]);
  const [k, c] = s.shape as [number, number];
  const byOut = jnp.matmul(f("out"), g.reshape([k, c * 9])).reshape([k, c, 9]);
  const byWindow = jnp.matmul(byOut, f("f"));
  const byIn = jnp.matmul(byWindow.transpose([0, 2, 1]), f("in")).transpose([0, 2, 1]);
  return byIn.reshape([k, c, 3, 3]);
}

const metacurvature: MethodRule = {
  init: (ctx) => Object.fromEntries(ctx.params.flatMap((s) => factorsOf(s).map(([name, n]) => [name, eye(n)]))),
  initialState: () => ({}),
  update: (ctx, p, g, _loss, _s, m) => ({ p: eachParam(ctx, (s) => p[s.name]!.sub(precondition(s, g[s.name]!, m).mul(ctx.innerLr))), state: {} }),
};

/** Inputs per gate: preprocessed gradient (2), preprocessed loss (2), the parameter, the gate's last value. */
export const LSTM_GATE_INPUTS = 6;
/** The preprocessing exponent p of Andrychowicz et al. (2016), as Ravi and Larochelle use it. */
const PREPROCESS_P = 10;

/** Log-magnitude and sign for |x| >= e^-p, else (-1, e^p x): two arrays shaped like x. */
export function preprocess(x: Arr): [Arr, Arr] {
  const { numpy: jnp } = jax();
  const floor = Math.exp(-PREPROCESS_P);
  const big = jnp.abs(x.ref).greaterEqual(floor);
  const logMag = jnp.log(jnp.maximum(jnp.abs(x.ref), floor)).mul(1 / PREPROCESS_P);
  const a = jnp.where(big.ref, logMag, -1);
  const b = jnp.where(big, jnp.sign(x.ref), x.mul(Math.exp(PREPROCESS_P)));
  return [a, b];
}

/** Sigmoid as (1 + tanh(x / 2)) / 2 (finite gradients for any x; see tasks/mlp_jax.ts). */
const sigmoid = (x: Arr): Arr => jax().numpy.tanh(x.mul(0.5)).mul(0.5).add(0.5);

const metalstm: MethodRule = {
  init: (ctx, key) => {
    const logit = Math.log(ctx.innerLr / (1 - ctx.innerLr));
    return {
      // Small random gate weights; the input gate starts at the inner rate and the forget gate
      // near 1 (bias 5: sigmoid = 0.993), as Ravi and Larochelle initialise them.
      "lstm.wi": { shape: [LSTM_GATE_INPUTS], data: normal(foldIn(key, "wi"), LSTM_GATE_INPUTS, 0.01) },
      "lstm.bi": fill([1], logit),
      "lstm.wf": { shape: [LSTM_GATE_INPUTS], data: normal(foldIn(key, "wf"), LSTM_GATE_INPUTS, 0.01) },
      "lstm.bf": fill([1], 5),
    };
  },
  initialState: (ctx, p) => {
    const { numpy: jnp } = jax();
    const st: Tree = {};
    for (const s of ctx.params) {
      st[`i.${s.name}`] = jnp.zerosLike(p[s.name]!.ref);
      st[`f.${s.name}`] = jnp.zerosLike(p[s.name]!.ref);
    }
    return st;
  },
  update: (ctx, p, g, loss, _s, m, state) => {
    const [l1, l2] = preprocess(loss);
    const next: Tree = {};
    const st: Tree = {};
    const gate = (w: string, b: string, g1: Arr, g2: Arr, c: Arr, prev: Arr): Arr => {
      const wj = (j: number): Arr => m[w]!.ref.slice([j, j + 1]);
      const z = g1.mul(wj(0)).add(g2.mul(wj(1))).add(l1.ref.mul(wj(2))).add(l2.ref.mul(wj(3))).add(c.mul(wj(4))).add(prev.mul(wj(5))).add(m[b]!.ref);
      return sigmoid(z);
    };
    for (const s of ctx.params) {
      const c = p[s.name]!;
      const gr = g[s.name]!;
      const [g1, g2] = preprocess(gr.ref);
      const i = gate("lstm.wi", "lstm.bi", g1.ref, g2.ref, c.ref, state[`i.${s.name}`]!);
      const f = gate("lstm.wf", "lstm.bf", g1, g2, c.ref, state[`f.${s.name}`]!);
      next[s.name] = f.ref.mul(c).sub(i.ref.mul(gr));
      st[`i.${s.name}`] = i;
      st[`f.${s.name}`] = f;
    }
    l1.dispose();
    l2.dispose();
    return { p: next, state: st };
  },
};

export const METHOD_RULES: Readonly<Record<Method, MethodRule>> = { maml, metasgd, lslr, metacurvature, metalstm };

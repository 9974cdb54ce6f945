/**
 * The elementwise update rules of the hand-designed optimizers (src/optimizers/), in two
 * engines that give the same bits:
 * - `ts`: plain TypeScript loops, float64 arithmetic stored as float32: the reference.
 * - `wasm`: WebAssembly SIMD (`assembly/rules.ts`, built into `build/rules.wasm`), the same
 *   operations in the same order on float64x2 lanes. The default where it is built.
 *
 * Every rule takes the gradients and the previous state, never modifies them, and returns
 * fresh arrays. `post`, when given, multiplies each update (once rounded to float32) by `post`
 * in the same pass: the same bits as chaining `scale(post)` after the rule.
 * test/rules.test.ts asserts that both engines agree bit for bit.
 *
 * The compiled rules come from `source.ts` (in Node, `build/rules.wasm`; in a browser page,
 * the bytes the page fetched); nothing here imports a Node module.
 */
import { L2oError } from "../core/errors.ts";
import { kernelBytes, kernelLocation, kernelSourceGeneration } from "./source.ts";
import { wasmApi } from "./wasm_api.ts";

export type RuleEngine = "ts" | "wasm";
export const RULE_ENGINES: readonly RuleEngine[] = ["wasm", "ts"];

export interface RuleKernels {
  readonly engine: RuleEngine;
  /** a + b (parameters plus updates). */
  add(a: Float32Array, b: Float32Array): Float32Array;
  /** out = c g. */
  scale(g: Float32Array, c: number): Float32Array;
  /** trace = decay trace0 + g; out = g + decay trace (`nesterov`) or trace. */
  momentum(g: Float32Array, trace0: Float32Array, decay: number, nesterov: boolean, post?: number): { out: Float32Array; trace: Float32Array };
  /** nu = decay nu0 + (1 - decay) g g; out = g / (sqrt(nu) + eps), or g / sqrt(nu + eps) with `inside`; 0 where that root is 0. */
  rms(g: Float32Array, nu0: Float32Array, decay: number, eps: number, inside: boolean, post?: number): { out: Float32Array; nu: Float32Array };
  /** Adam's moments and direction `mu / c1 / (sqrt(nu / c2) + eps)` with the bias corrections c1, c2 given. */
  adam(
    g: Float32Array, mu0: Float32Array, nu0: Float32Array,
    b1: number, b2: number, eps: number, c1: number, c2: number, post?: number,
  ): { out: Float32Array; mu: Float32Array; nu: Float32Array };
  /** s = s0 + g g; out = g / (sqrt(s) + eps), or g / sqrt(s + eps) with `inside`; 0 where that root is 0. */
  adagrad(g: Float32Array, s0: Float32Array, eps: number, inside: boolean, post?: number): { out: Float32Array; s: Float32Array };
  /**
   * mu = beta mu0 + (1 - beta) g; out = f g where f is `same`, `opposite` or `zero` as
   * sign(g) sign(mu) is 1, -1 or 0 (PowerSign's alpha^s, AddSign's alpha + s).
   */
  signRule(
    g: Float32Array, mu0: Float32Array, beta: number, same: number, opposite: number, zero: number, post?: number,
  ): { out: Float32Array; mu: Float32Array };
}

/** Stores `u` rounded to float32, then (with `post`) `post` times that, rounded again. */
function finisher(post: number | undefined): (u: number) => number {
  if (post === undefined) return (u) => u;
  return (u) => post * Math.fround(u);
}

/** The plain-TypeScript rules: the reference. */
export const TS_RULES: RuleKernels = {
  engine: "ts",
  add(a, b) {
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
    return out;
  },
  scale(g, c) {
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) out[i] = c * g[i]!;
    return out;
  },
  momentum(g, trace0, decay, nesterov, post) {
    const fin = finisher(post);
    const trace = new Float32Array(g.length);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const m = decay * trace0[i]! + gi;
      trace[i] = m;
      out[i] = fin(nesterov ? gi + decay * m : m);
    }
    return { out, trace };
  },
  rms(g, nu0, decay, eps, inside, post) {
    const fin = finisher(post);
    const nu = new Float32Array(g.length);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const v = decay * nu0[i]! + (1 - decay) * gi * gi;
      nu[i] = v;
      const den = inside ? Math.sqrt(v + eps) : Math.sqrt(v) + eps;
      out[i] = fin(den > 0 ? gi / den : 0);
    }
    return { out, nu };
  },
  adam(g, mu0, nu0, b1, b2, eps, c1, c2, post) {
    const fin = finisher(post);
    const mu = new Float32Array(g.length);
    const nu = new Float32Array(g.length);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const m = b1 * mu0[i]! + (1 - b1) * gi;
      const v = b2 * nu0[i]! + (1 - b2) * gi * gi;
      mu[i] = m;
      nu[i] = v;
      const den = Math.sqrt(v / c2) + eps;
      out[i] = fin(den > 0 ? m / c1 / den : 0);
    }
    return { out, mu, nu };
  },
  adagrad(g, s0, eps, inside, post) {
    const fin = finisher(post);
    const s = new Float32Array(g.length);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const v = s0[i]! + gi * gi;
      s[i] = v;
      const den = inside ? Math.sqrt(v + eps) : Math.sqrt(v) + eps;
      out[i] = fin(den > 0 ? gi / den : 0);
    }
    return { out, s };
  },
  signRule(g, mu0, beta, same, opposite, zero, post) {
    const fin = finisher(post);
    const mu = new Float32Array(g.length);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      const m = beta * mu0[i]! + (1 - beta) * gi;
      mu[i] = m;
      const s = Math.sign(gi) * Math.sign(m);
      out[i] = fin((s > 0 ? same : s < 0 ? opposite : s === 0 ? zero : NaN) * gi);
    }
    return { out, mu };
  },
};

/** Where the compiled rules are expected in Node. */
export const RULES_WASM_URL = new URL("../../build/rules.wasm", import.meta.url);

/** The WebAssembly rules were asked for but `build/rules.wasm` is not there. */
export class RuleKernelUnavailableError extends L2oError {
  override readonly name = "RuleKernelUnavailableError";
}

interface RuleExports {
  add(n: number, a: number, b: number, out: number): void;
  scale(n: number, g: number, out: number, c: number): void;
  momentum(n: number, g: number, trace: number, out: number, decay: number, nesterov: number, post: number, c: number): void;
  rms(n: number, g: number, nu: number, out: number, decay: number, eps: number, inside: number, post: number, c: number): void;
  adam(
    n: number, g: number, mu: number, nu: number, out: number,
    b1: number, b2: number, eps: number, c1: number, c2: number, post: number, c: number,
  ): void;
  adagrad(n: number, g: number, s: number, out: number, eps: number, inside: number, post: number, c: number): void;
  signRule(
    n: number, g: number, mu: number, out: number, beta: number, same: number, opposite: number, zero: number, post: number, c: number,
  ): void;
}

const PAGE = 65536;
/** The compiled rules' file under build/ (one build serves Node and browsers: no shared memory). */
const RULES_FILE = "rules.wasm";

/**
 * Below this many coordinates the WebAssembly rules hand the call to the TypeScript ones
 * (the same bits): copying in and out costs more than the loop saves. Measured with Adam on
 * this project's machine: 1.1 us against 1.5 us at 10 coordinates, 4.2 against 3.4 at 64.
 */
export const WASM_RULES_MIN_LENGTH = 32;

/**
 * The WebAssembly rules on one instance with a memory of its own, grown to the largest call
 * so far (never shrunk). Each call copies the gradients and state in, runs one pass, and
 * copies the results out as fresh arrays, so nothing returned aliases that memory. Calls on
 * fewer than `WASM_RULES_MIN_LENGTH` coordinates, or on more than that memory can hold (about
 * 268 million for Adam's four arrays), run the TypeScript loops. `ruleKernels("wasm")` keeps
 * one such instance; this makes a new one, its memory capped at `maxPages` pages of 64 KiB
 * (default: the 4 GiB WebAssembly allows).
 */
export function createWasmRules(maxPages = 65536): RuleKernels {
  const bytes = kernelBytes(RULES_FILE);
  if (bytes === undefined) {
    throw new RuleKernelUnavailableError(
      `optimizer rules: ${kernelLocation(RULES_FILE)} not found; run \`npm run build:wasm\`, or use the TypeScript rules (engine 'ts')`,
    );
  }
  const memory = new wasmApi.Memory({ initial: 1, maximum: maxPages });
  const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } }).exports as unknown as RuleExports;
  /**
   * Grows the memory to hold `arrays` float32 arrays of n values (each padded to 16 bytes);
   * false when it cannot (past WebAssembly's 4 GiB, or the host refuses), and the call then
   * runs the TypeScript loops.
   */
  const room = (n: number, arrays: number): boolean => {
    const need = arrays * Math.ceil(n / 4) * 16;
    const have = memory.buffer.byteLength;
    if (need <= have) return true;
    if (need > maxPages * PAGE) return false;
    try {
      memory.grow(Math.ceil((need - have) / PAGE));
      return true;
    } catch {
      return false;
    }
  };
  /**
   * Copies `inputs` (the gradients, then the state arrays, which the kernel updates in place)
   * into the memory with room for one more array, the update; `call` gets their addresses in
   * that order. Returns a reader of array k (0 the gradients, last the update) as a fresh
   * copy; or null (too few coordinates, or too many for the memory) when the TypeScript
   * loops should run.
   */
  const run = (inputs: readonly Float32Array[], call: (n: number, at: readonly number[]) => void): ((k: number) => Float32Array) | null => {
    const n = inputs[0]!.length;
    const arrays = inputs.length + 1;
    if (n < WASM_RULES_MIN_LENGTH || !room(n, arrays)) return null;
    const stride = Math.ceil(n / 4) * 16;
    const at = Array.from({ length: arrays }, (_, k) => k * stride);
    const f32 = new Float32Array(memory.buffer);
    inputs.forEach((a, k) => f32.set(a, at[k]! >> 2));
    call(n, at);
    return (k) => f32.slice(at[k]! >> 2, (at[k]! >> 2) + n);
  };
  /** The kernels' last two arguments: whether a factor follows the rule, and the factor. */
  const postArgs = (post: number | undefined): [number, number] => (post === undefined ? [0, 1] : [1, post]);
  return {
    engine: "wasm",
    add(a, b) {
      const r = run([a, b], (n, [pa, pb, po]) => ex.add(n, pa!, pb!, po!));
      return r === null ? TS_RULES.add(a, b) : r(2);
    },
    scale(g, c) {
      const r = run([g], (n, [pg, po]) => ex.scale(n, pg!, po!, c));
      return r === null ? TS_RULES.scale(g, c) : r(1);
    },
    momentum(g, trace0, decay, nesterov, post) {
      const r = run([g, trace0], (n, [pg, pt, po]) => ex.momentum(n, pg!, pt!, po!, decay, nesterov ? 1 : 0, ...postArgs(post)));
      return r === null ? TS_RULES.momentum(g, trace0, decay, nesterov, post) : { trace: r(1), out: r(2) };
    },
    rms(g, nu0, decay, eps, inside, post) {
      const r = run([g, nu0], (n, [pg, pn, po]) => ex.rms(n, pg!, pn!, po!, decay, eps, inside ? 1 : 0, ...postArgs(post)));
      return r === null ? TS_RULES.rms(g, nu0, decay, eps, inside, post) : { nu: r(1), out: r(2) };
    },
    adam(g, mu0, nu0, b1, b2, eps, c1, c2, post) {
      const r = run([g, mu0, nu0], (n, [pg, pm, pn, po]) => ex.adam(n, pg!, pm!, pn!, po!, b1, b2, eps, c1, c2, ...postArgs(post)));
      return r === null ? TS_RULES.adam(g, mu0, nu0, b1, b2, eps, c1, c2, post) : { mu: r(1), nu: r(2), out: r(3) };
    },
    adagrad(g, s0, eps, inside, post) {
      const r = run([g, s0], (n, [pg, ps, po]) => ex.adagrad(n, pg!, ps!, po!, eps, inside ? 1 : 0, ...postArgs(post)));
      return r === null ? TS_RULES.adagrad(g, s0, eps, inside, post) : { s: r(1), out: r(2) };
    },
    signRule(g, mu0, beta, same, opposite, zero, post) {
      const r = run([g, mu0], (n, [pg, pm, po]) => ex.signRule(n, pg!, pm!, po!, beta, same, opposite, zero, ...postArgs(post)));
      return r === null ? TS_RULES.signRule(g, mu0, beta, same, opposite, zero, post) : { mu: r(1), out: r(2) };
    },
  };
}

let wasmRules: RuleKernels | undefined;
let wasmMissing = false;
/** The kernel source `wasmRules` and `wasmMissing` were found under. */
let rulesGeneration = -1;

function freshRules(): void {
  if (rulesGeneration === kernelSourceGeneration()) return;
  wasmRules = undefined;
  wasmMissing = false;
  rulesGeneration = kernelSourceGeneration();
}

/** Whether `build/rules.wasm` is present and this runtime runs it. */
export function wasmRulesAvailable(): boolean {
  freshRules();
  if (wasmRules !== undefined) return true;
  if (wasmMissing) return false;
  try {
    wasmRules = createWasmRules();
    return true;
  } catch {
    wasmMissing = true;
    return false;
  }
}

/**
 * The rules of `engine`; without one, `wasm` where it is built, else `ts`. Asking for `wasm`
 * when it is not built throws `RuleKernelUnavailableError` rather than running the other.
 */
export function ruleKernels(engine?: RuleEngine): RuleKernels {
  if (engine === "ts") return TS_RULES;
  if (engine === undefined) return wasmRulesAvailable() ? wasmRules! : TS_RULES;
  if (engine !== "wasm") throw new Error(`unknown rule engine '${String(engine)}' (expected ${RULE_ENGINES.join(", ")})`);
  freshRules();
  if (wasmRules === undefined) wasmRules = createWasmRules();
  return wasmRules;
}

/**
 * Preprocessing of optimizee gradients into LSTM inputs (Andrychowicz et al. 2016, appendix A).
 *
 * Gradient coordinates span many orders of magnitude, which a network takes in badly. The
 * paper's remedy (`logSign`) gives each coordinate two features:
 *
 *   (log|g| / p, sign g)   if |g| >= e^-p
 *   (-1, e^p g)            otherwise
 *
 * so that the first carries the magnitude and the second the sign. The alternatives are the
 * raw gradient (`none`) and a fixed rescaling (`scale`). Features are written coordinate-major
 * (coordinate i's features at `x[i*inputs ..]`), the layout the LSTM engines read.
 *
 * `logSignMomentum` gives the LSTM more than the gradient (an extension of the paper, in the
 * spirit of Lv et al. 2017's RNNprop inputs): LogAndSign of g, then LogAndSign of each
 * bias-corrected moving average of the gradient, m_hat = m / b with
 *
 *   m_t = beta m_{t-1} + (1 - beta) g_t,   b_t = beta b_{t-1} + (1 - beta)   (m_0 = b_0 = 0)
 *
 * so b_t = 1 - beta^t and m_hat_1 = g_1. Its state is (m, b) per coordinate and beta, which
 * starts at zero with the LSTM's own state. Because b is carried per coordinate, a zero
 * state is a fresh start and no step counter is needed.
 */
import { ConfigError, shownValue } from "../../core/errors.ts";

export type PreprocessConfig =
  | { readonly kind: "none" }
  | { readonly kind: "scale"; readonly scale: number }
  | { readonly kind: "logSign"; readonly p: number }
  | { readonly kind: "logSignMomentum"; readonly p: number; readonly betas: readonly number[] };

/**
 * What a stateful preprocessing needs to carry the vector-Jacobian product of one step back
 * through its state (see `Preprocessor.vjp`).
 */
export interface PreprocessVjpStep {
  /** The state after this step's `apply` (n * stateSize floats). */
  readonly state: Float32Array;
  /**
   * dL/d(state) reaching this step from later steps (n * carrySize floats: one per coordinate
   * and moving average); start at zero at the end of an unroll. Updated in place to what
   * reaches the step before.
   */
  readonly carry: Float32Array;
}

export interface Preprocessor {
  readonly config: PreprocessConfig;
  /** Features per coordinate. */
  readonly inputs: number;
  /** State floats per coordinate (0: stateless); a zero state is the state of step 0. */
  readonly stateSize: number;
  /** Floats per coordinate of the adjoint `vjp` carries back through the state (`PreprocessVjpStep.carry`). */
  readonly carrySize: number;
  /**
   * Writes the features of `grad` (n floats) into `x` (n * inputs floats). A stateful
   * preprocessing reads and advances `state` (n * stateSize floats, coordinate-major) in place.
   */
  apply(grad: Float32Array, x: Float32Array, state?: Float32Array): void;
  /**
   * Vector-Jacobian product: given dL/dx (n * inputs floats), returns dL/dgrad (n floats).
   * The Jacobian is diagonal per coordinate; `sign` counts as having zero derivative. Writes
   * into `out` when given. A stateful preprocessing also needs `step`; the gradient then
   * includes what reaches this step's gradient through the state from later steps.
   */
  vjp(grad: Float32Array, dx: Float32Array, out?: Float32Array, step?: PreprocessVjpStep): Float32Array;
}

/** The paper's default: LogAndSign with p = 10. */
export const DEFAULT_PREPROCESS: PreprocessConfig = { kind: "logSign", p: 10 };

function checkLengths(what: string, grad: Float32Array, x: Float32Array, inputs: number): void {
  if (x.length !== grad.length * inputs) {
    throw new Error(`preprocess ${what}: ${grad.length} gradient coordinates need ${grad.length * inputs} features, got ${x.length}`);
  }
}

function output(n: number, out: Float32Array | undefined): Float32Array {
  if (out === undefined) return new Float32Array(n);
  if (out.length !== n) throw new Error(`preprocess vjp: out has ${out.length} floats, expected ${n}`);
  return out;
}

/**
 * The preprocessing that `config` describes (Andrychowicz et al. 2016, appendix A). Throws on
 * an invalid config.
 */
export function preprocessor(config: PreprocessConfig): Preprocessor {
  const cfg = parsePreprocessConfig(config);
  switch (cfg.kind) {
    case "none":
      return stateless(cfg, 1, {
        write: (g, x, at) => (x[at] = g),
        vjp: (_g, dx, at) => dx[at]!,
      });
    case "scale": {
      const c = cfg.scale;
      return stateless(cfg, 1, {
        write: (g, x, at) => (x[at] = c * g),
        vjp: (_g, dx, at) => c * dx[at]!,
      });
    }
    case "logSign":
      return stateless(cfg, 2, logSignOf(cfg.p));
    case "logSignMomentum": {
      const ls = logSignOf(cfg.p);
      const betas = cfg.betas;
      const B = betas.length;
      const I = 2 * (1 + B);
      const P = 2 * B;
      const checkState = (what: string, n: number, st: Float32Array | undefined): Float32Array => {
        if (st === undefined) throw new Error(`preprocess ${what}: logSignMomentum is stateful and needs its state`);
        if (st.length !== n * P) throw new Error(`preprocess ${what}: state has ${st.length} floats, expected ${n * P} (${P} per coordinate)`);
        return st;
      };
      return {
        config: cfg,
        inputs: I,
        stateSize: P,
        carrySize: B,
        apply(grad, x, state) {
          checkLengths("apply", grad, x, I);
          const st = checkState("apply", grad.length, state);
          for (let i = 0; i < grad.length; i++) {
            const g = grad[i]!;
            ls.write(g, x, I * i);
            for (let j = 0; j < B; j++) {
              const beta = betas[j]!;
              const k = P * i + 2 * j;
              const m = (st[k] = beta * st[k]! + (1 - beta) * g);
              const b = (st[k + 1] = beta * st[k + 1]! + (1 - beta));
              ls.write(Math.fround(m / b), x, I * i + 2 + 2 * j);
            }
          }
        },
        vjp(grad, dx, out, step) {
          checkLengths("vjp", grad, dx, I);
          const n = grad.length;
          if (step === undefined) throw new Error("preprocess vjp: logSignMomentum is stateful and needs the step's state and carry");
          const st = checkState("vjp", n, step.state);
          const carry = step.carry;
          if (carry.length !== n * B) throw new Error(`preprocess vjp: carry has ${carry.length} floats, expected ${n * B}`);
          const r = output(n, out);
          for (let i = 0; i < n; i++) {
            let d = ls.vjp(grad[i]!, dx, I * i);
            for (let j = 0; j < B; j++) {
              const beta = betas[j]!;
              const k = P * i + 2 * j;
              const b = st[k + 1]!;
              // C = dL/dm_t: through this step's feature m_t / b_t, plus through m_{t+1}.
              const C = ls.vjp(Math.fround(st[k]! / b), dx, I * i + 2 + 2 * j) / b + carry[B * i + j]!;
              d += (1 - beta) * C;
              carry[B * i + j] = beta * C;
            }
            r[i] = d;
          }
          return r;
        },
      };
    }
  }
}

/** One coordinate's features: written from its gradient g at x[at ..], and their vector-Jacobian product read from dx[at ..]. */
interface CoordinateFeatures {
  write(g: number, x: Float32Array, at: number): void;
  vjp(g: number, dx: Float32Array, at: number): number;
}

/** A preprocessing without state: `inputs` features per coordinate, each coordinate's from its own gradient alone. */
function stateless(config: PreprocessConfig, inputs: number, f: CoordinateFeatures): Preprocessor {
  return {
    config,
    inputs,
    stateSize: 0,
    carrySize: 0,
    apply(grad, x) {
      checkLengths("apply", grad, x, inputs);
      for (let i = 0; i < grad.length; i++) f.write(grad[i]!, x, inputs * i);
    },
    vjp(grad, dx, out) {
      checkLengths("vjp", grad, dx, inputs);
      const r = output(grad.length, out);
      for (let i = 0; i < grad.length; i++) r[i] = f.vjp(grad[i]!, dx, inputs * i);
      return r;
    },
  };
}

/** LogAndSign of one value: writes its two features, and their vector-Jacobian product. */
function logSignOf(p: number): CoordinateFeatures {
  const ep = Math.exp(p);
  // The PyTorch reference compares a float32 |g| with e^-p cast to float32.
  const threshold = Math.fround(Math.exp(-p));
  return {
    write(g, x, at) {
      const a = Math.abs(g);
      if (a >= threshold) {
        x[at] = Math.log(a) / p;
        x[at + 1] = g > 0 ? 1 : -1;
      } else {
        x[at] = -1;
        x[at + 1] = ep * g;
      }
    },
    // d(log|g|/p)/dg = 1/(p g); d(sign g)/dg = 0; d(-1)/dg = 0; d(e^p g)/dg = e^p.
    vjp: (g, dx, at) => (Math.abs(g) >= threshold ? dx[at]! / (p * g) : ep * dx[at + 1]!),
  };
}

/** The largest LogAndSign p: small inputs are scaled by e^p, which must stay finite in float32 (e^88 does not). */
const MAX_P = 50;

/** Validates a preprocessing config read from JSON; returns a clean copy. */
export function parsePreprocessConfig(v: unknown): PreprocessConfig {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(`preprocess config must be an object with a 'kind', got ${shownValue(v)}`);
  }
  const o = v as Record<string, unknown>;
  const allowed = (keys: string[]): void => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    if (extra.length > 0) throw new ConfigError(`preprocess config '${String(o.kind)}': unknown field(s) ${extra.join(", ")} (known: ${keys.join(", ")})`);
  };
  const positive = (name: string, max = Infinity): number => {
    const x = o[name];
    if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
      throw new ConfigError(`preprocess config '${String(o.kind)}': '${name}' must be a positive number, got ${shownValue(x)}`);
    }
    if (x > max) throw new ConfigError(`preprocess config '${String(o.kind)}': '${name}' must be at most ${max}, got ${x}`);
    return x;
  };
  switch (o.kind) {
    case "none":
      allowed(["kind"]);
      return { kind: "none" };
    case "scale":
      allowed(["kind", "scale"]);
      return { kind: "scale", scale: positive("scale") };
    case "logSign":
      allowed(["kind", "p"]);
      return { kind: "logSign", p: positive("p", MAX_P) };
    case "logSignMomentum": {
      allowed(["kind", "p", "betas"]);
      const b = o.betas;
      if (!Array.isArray(b) || b.length < 1 || b.length > 4 || !b.every((x) => typeof x === "number" && x > 0 && x < 1)) {
        throw new ConfigError(`preprocess config 'logSignMomentum': 'betas' must be a list of 1 to 4 numbers in (0, 1), got ${shownValue(b)}`);
      }
      return { kind: "logSignMomentum", p: positive("p", MAX_P), betas: [...(b as number[])] };
    }
    default:
      throw new ConfigError(`preprocess config: unknown kind ${JSON.stringify(o.kind)} (expected none, scale, logSign or logSignMomentum)`);
  }
}

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
 */

export type PreprocessConfig =
  | { readonly kind: "none" }
  | { readonly kind: "scale"; readonly scale: number }
  | { readonly kind: "logSign"; readonly p: number };

export interface Preprocessor {
  readonly config: PreprocessConfig;
  /** Features per coordinate. */
  readonly inputs: number;
  /** Writes the features of `grad` (n floats) into `x` (n * inputs floats). */
  apply(grad: Float32Array, x: Float32Array): void;
  /**
   * Vector-Jacobian product: given dL/dx (n * inputs floats), returns dL/dgrad (n floats).
   * The Jacobian is diagonal per coordinate; `sign` counts as having zero derivative. Writes
   * into `out` when given.
   */
  vjp(grad: Float32Array, dx: Float32Array, out?: Float32Array): Float32Array;
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
      return {
        config: cfg,
        inputs: 1,
        apply(grad, x) {
          checkLengths("apply", grad, x, 1);
          x.set(grad);
        },
        vjp(grad, dx, out) {
          checkLengths("vjp", grad, dx, 1);
          const r = output(grad.length, out);
          r.set(dx);
          return r;
        },
      };
    case "scale": {
      const c = cfg.scale;
      return {
        config: cfg,
        inputs: 1,
        apply(grad, x) {
          checkLengths("apply", grad, x, 1);
          for (let i = 0; i < grad.length; i++) x[i] = c * grad[i]!;
        },
        vjp(grad, dx, out) {
          checkLengths("vjp", grad, dx, 1);
          const r = output(grad.length, out);
          for (let i = 0; i < grad.length; i++) r[i] = c * dx[i]!;
          return r;
        },
      };
    }
    case "logSign": {
      const p = cfg.p;
      const ep = Math.exp(p);
      // The PyTorch reference compares a float32 |g| with e^-p cast to float32.
      const threshold = Math.fround(Math.exp(-p));
      return {
        config: cfg,
        inputs: 2,
        apply(grad, x) {
          checkLengths("apply", grad, x, 2);
          for (let i = 0; i < grad.length; i++) {
            const g = grad[i]!;
            const a = Math.abs(g);
            if (a >= threshold) {
              x[2 * i] = Math.log(a) / p;
              x[2 * i + 1] = g > 0 ? 1 : -1;
            } else {
              x[2 * i] = -1;
              x[2 * i + 1] = ep * g;
            }
          }
        },
        vjp(grad, dx, out) {
          checkLengths("vjp", grad, dx, 2);
          const r = output(grad.length, out);
          for (let i = 0; i < grad.length; i++) {
            const g = grad[i]!;
            // d(log|g|/p)/dg = 1/(p g); d(sign g)/dg = 0; d(-1)/dg = 0; d(e^p g)/dg = e^p.
            r[i] = Math.abs(g) >= threshold ? dx[2 * i]! / (p * g) : ep * dx[2 * i + 1]!;
          }
          return r;
        },
      };
    }
  }
}

/** Validates a preprocessing config read from JSON; returns a clean copy. */
export function parsePreprocessConfig(v: unknown): PreprocessConfig {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`preprocess config must be an object with a 'kind', got ${JSON.stringify(v)}`);
  }
  const o = v as Record<string, unknown>;
  const allowed = (keys: string[]): void => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    if (extra.length > 0) throw new Error(`preprocess config '${String(o.kind)}': unknown field(s) ${extra.join(", ")}`);
  };
  const positive = (name: string): number => {
    const x = o[name];
    if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
      throw new Error(`preprocess config '${String(o.kind)}': '${name}' must be a positive number, got ${JSON.stringify(x)}`);
    }
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
      return { kind: "logSign", p: positive("p") };
    default:
      throw new Error(`preprocess config: unknown kind ${JSON.stringify(o.kind)} (expected none, scale or logSign)`);
  }
}

/**
 * A line search that finds a step satisfying the strong Wolfe conditions (Nocedal & Wright,
 * Numerical Optimization, algorithms 3.5 and 3.6, with cubic interpolation in the zoom), for
 * the conjugate-gradient and L-BFGS baselines. Every trial point costs one objective
 * evaluation (loss and gradient), which the caller's `evaluate` counts. Along a quadratic the
 * cubic through two points is exact, so a zoom lands on the line's minimum.
 */

/** The objective and gradient at a trial point, and the directional derivative there. */
export interface LinePoint {
  readonly alpha: number;
  readonly f: number;
  /** g(x + alpha p) . p */
  readonly d: number;
  readonly x: Float64Array;
  readonly g: Float64Array;
}

export interface LineSearchOptions {
  /** Sufficient-decrease constant. Default 1e-4. */
  readonly c1?: number;
  /** Curvature constant (small: close to an exact line search). Default 0.9. */
  readonly c2?: number;
  /** Most evaluations this search may spend. Default 25. */
  readonly maxEvals?: number;
}

/** The search's result: the accepted point (or the best one seen when the budget ran out). */
export interface LineSearchResult {
  readonly point: LinePoint;
  readonly evals: number;
  /** True when the strong Wolfe conditions hold at `point`. */
  readonly wolfe: boolean;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db), or NaN when it has none. */
export function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return Number.NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  const den = db - da + 2 * d2;
  if (den === 0) return Number.NaN;
  return b - ((b - a) * (db + d2 - d1)) / den;
}

/**
 * Searches along p from `start` (alpha 0, objective f0, directional derivative d0 < 0),
 * trying `alpha1` first. `evaluate(alpha)` returns the point x + alpha p.
 */
export function strongWolfe(
  evaluate: (alpha: number) => LinePoint,
  start: LinePoint,
  alpha1: number,
  opts: LineSearchOptions = {},
): LineSearchResult {
  const c1 = opts.c1 ?? 1e-4;
  const c2 = opts.c2 ?? 0.9;
  const budget = opts.maxEvals ?? 25;
  const { f: f0, d: d0 } = start;
  let evals = 0;
  let best = start;
  const probe = (alpha: number): LinePoint => {
    evals++;
    const p = evaluate(alpha);
    if (p.f < best.f) best = p;
    return p;
  };
  const armijo = (p: LinePoint) => Number.isFinite(p.f) && p.f <= f0 + c1 * p.alpha * d0;
  const curvature = (p: LinePoint) => Math.abs(p.d) <= -c2 * d0;

  const zoom = (lo: LinePoint, hi: LinePoint): LineSearchResult => {
    while (evals < budget) {
      const w = hi.alpha - lo.alpha;
      let alpha = Number.isFinite(hi.f) ? cubicMin(lo.alpha, lo.f, lo.d, hi.alpha, hi.f, hi.d) : Number.NaN;
      // Safeguard: inside the bracket, away from its ends.
      const lower = Math.min(lo.alpha + 0.1 * w, hi.alpha - 0.1 * w);
      const upper = Math.max(lo.alpha + 0.1 * w, hi.alpha - 0.1 * w);
      if (!Number.isFinite(alpha) || alpha < lower || alpha > upper) alpha = lo.alpha + 0.5 * w;
      const p = probe(alpha);
      if (!armijo(p) || p.f >= lo.f) {
        hi = p;
      } else {
        if (curvature(p)) return { point: p, evals, wolfe: true };
        if (p.d * (hi.alpha - lo.alpha) >= 0) hi = lo;
        lo = p;
      }
      if (Math.abs(hi.alpha - lo.alpha) < 1e-16 * Math.max(1, Math.abs(lo.alpha))) break;
    }
    return { point: best, evals, wolfe: false };
  };

  let prev = start;
  let alpha = alpha1;
  for (let i = 0; evals < budget; i++) {
    const p = probe(alpha);
    if (!armijo(p) || (i > 0 && p.f >= prev.f)) return zoom(prev, p);
    if (curvature(p)) return { point: p, evals, wolfe: true };
    if (p.d >= 0) return zoom(p, prev);
    prev = p;
    alpha *= 2;
  }
  return { point: best, evals, wolfe: false };
}

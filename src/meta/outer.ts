/**
 * The outer update: the meta-gradient clipped to a global norm, then one step of Adam on phi
 * (Andrychowicz et al. 2016, section 3, train the optimizer's weights with Adam).
 */
import { adam } from "../optimizers/alias.ts";
import { applyUpdates, type GradientTransformation, type OptState } from "../optimizers/transform.ts";
import type { MetaTrainConfig } from "./config.ts";

/** The optimizer of phi: Adam at the meta learning rate. */
export function outerOptimizer(cfg: Pick<MetaTrainConfig, "metaLr">): GradientTransformation {
  return adam(cfg.metaLr);
}

/** Scales `g` in place so that its L2 norm is at most `max` (0: no clipping); returns the norm before. */
export function clipByGlobalNorm(g: Float32Array, max: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const norm = Math.sqrt(s);
  if (max > 0 && norm > max) {
    const c = max / norm;
    for (let i = 0; i < g.length; i++) g[i] = g[i]! * c;
  }
  return norm;
}

export interface OuterStep {
  readonly phi: Float32Array;
  readonly state: OptState;
  /** The meta-gradient's norm before clipping. */
  readonly gradNorm: number;
}

/** Clips `grad` (in place) and applies one outer step to `phi`. */
export function outerStep(outer: GradientTransformation, phi: Float32Array, state: OptState, grad: Float32Array, clipNorm: number): OuterStep {
  const gradNorm = clipByGlobalNorm(grad, clipNorm);
  const [upd, next] = outer.update(grad, state, phi);
  return { phi: applyUpdates(phi, upd), state: next, gradNorm };
}

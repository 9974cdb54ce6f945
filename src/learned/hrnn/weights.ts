/**
 * The hierarchical RNN's meta-parameters phi (Wichrowska et al. 2017, section 3): the three
 * GRUs (per parameter, per tensor, global), the projections that feed each level's state into
 * the level below as a bias, and the per-parameter readouts (direction, change of the log
 * learning rate, look-ahead offset). Named tensors, in this order:
 *
 *   param.W [F, 3P], param.U [P, 3P], param.b [3P], param.fromTensor [T, 3P], param.fromGlobal [Gl, 3P]
 *   tensor.W [P, 3T], tensor.U [T, 3T], tensor.b [3T], tensor.fromGlobal [Gl, 3T]
 *   global.W [T, 3Gl], global.U [Gl, 3Gl], global.b [3Gl]
 *   out.direction [P], out.shortcut [S], out.lr [P], out.lrBias [1], out.lrMomentum [1],
 *   out.stepOffset [1], and with look-ahead out.attention [P]
 *
 * (P, T, Gl the three widths, S the momenta, F = 2 S + 1 the per-parameter inputs.)
 */
import { normal, split, type Key } from "../../core/rng.ts";
import type { PhiEntry } from "../contract.ts";
import type { ResolvedHrnnOptimizerConfig } from "./config.ts";
import type { GruWeights } from "./gru.ts";

/** Offsets into phi of every tensor, and the three GRUs. */
export interface HrnnPhiLayout {
  readonly entries: readonly PhiEntry[];
  readonly size: number;
  /** Inputs per coordinate: S scaled momenta, S relative log mean squares, the relative log learning rate. */
  readonly features: number;
  readonly param: GruWeights;
  readonly tensor: GruWeights;
  readonly global: GruWeights;
  readonly off: Readonly<Record<string, number>>;
}

export function hrnnPhiLayout(cfg: ResolvedHrnnOptimizerConfig): HrnnPhiLayout {
  const P = cfg.paramHidden;
  const T = cfg.tensorHidden;
  const Gl = cfg.globalHidden;
  const S = cfg.decays.length;
  const F = 2 * S + 1;
  const entries: PhiEntry[] = [
    { name: "param.W", shape: [F, 3 * P] },
    { name: "param.U", shape: [P, 3 * P] },
    { name: "param.b", shape: [3 * P] },
    { name: "param.fromTensor", shape: [T, 3 * P] },
    { name: "param.fromGlobal", shape: [Gl, 3 * P] },
    { name: "tensor.W", shape: [P, 3 * T] },
    { name: "tensor.U", shape: [T, 3 * T] },
    { name: "tensor.b", shape: [3 * T] },
    { name: "tensor.fromGlobal", shape: [Gl, 3 * T] },
    { name: "global.W", shape: [T, 3 * Gl] },
    { name: "global.U", shape: [Gl, 3 * Gl] },
    { name: "global.b", shape: [3 * Gl] },
    { name: "out.direction", shape: [P] },
    { name: "out.shortcut", shape: [S] },
    { name: "out.lr", shape: [P] },
    { name: "out.lrBias", shape: [1] },
    { name: "out.lrMomentum", shape: [1] },
    { name: "out.stepOffset", shape: [1] },
  ];
  if (cfg.lookAhead) entries.push({ name: "out.attention", shape: [P] });
  const off: Record<string, number> = {};
  let o = 0;
  for (const e of entries) {
    off[e.name] = o;
    o += e.shape.reduce((a, b) => a * b, 1);
  }
  const gru = (name: string, inputs: number, units: number): GruWeights => ({ inputs, units, w: off[`${name}.W`]!, u: off[`${name}.U`]!, b: off[`${name}.b`]! });
  return { entries, size: o, features: F, param: gru("param", F, P), tensor: gru("tensor", P, T), global: gru("global", T, Gl), off };
}

/** sigmoid(3.2) ~ 0.96: the log learning rate's momentum at init (the paper's code's value). */
const LR_MOMENTUM_LOGIT = 3.2;
/** The gates z and r start at sigmoid(2.2) ~ 0.9: each GRU starts by mostly keeping its state (the paper's code). */
const GATE_BIAS = 2.2;

/**
 * Fresh phi: GRU and projection weights N(0, 0.5^2 / fan_in) (the paper's code scales them by
 * 0.5), gate biases 2.2, readouts N(0, 0.5^2 / P); the direction's gradient shortcut starts at
 * 1 / S per momentum, so the untrained optimizer already steps along the scaled momenta, at
 * the initial learning rate times exp(stepOffset = -1).
 */
export function hrnnInitPhi(lay: HrnnPhiLayout, key: Key): Float32Array {
  const flat = new Float32Array(lay.size);
  const keys = split(key, lay.entries.length);
  lay.entries.forEach((e, j) => {
    const o = lay.off[e.name]!;
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (e.shape.length === 2) flat.set(normal(keys[j]!, size, 0.5 / Math.sqrt(e.shape[0]!)), o);
    else if (e.name.endsWith(".b")) {
      const units = size / 3;
      flat.fill(GATE_BIAS, o, o + 2 * units);
    } else if (e.name === "out.direction" || e.name === "out.lr" || e.name === "out.attention") flat.set(normal(keys[j]!, size, 0.5 / Math.sqrt(size)), o);
    else if (e.name === "out.shortcut") flat.fill(1 / size, o, o + size);
    else if (e.name === "out.lrMomentum") flat[o] = LR_MOMENTUM_LOGIT;
    else if (e.name === "out.stepOffset") flat[o] = -1;
  });
  return flat;
}

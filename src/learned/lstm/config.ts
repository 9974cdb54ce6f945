/**
 * The LSTM optimizer's configuration: architecture, preprocessing, output scale and the
 * layout groups that separately weighted LSTMs drive; defaults, validation (also of configs
 * read from files) and the coordinates each LSTM drives.
 */
import { ConfigError, shownValue } from "../../core/errors.ts";
import type { ParamLayout } from "../../core/layout.ts";
import { DEFAULT_PREPROCESS, parsePreprocessConfig, type PreprocessConfig } from "./preprocess.ts";

export interface LstmOptimizerConfig {
  /** Units per layer (default 20). */
  readonly hidden?: number;
  /** Stacked layers (default 2). */
  readonly layers?: number;
  /** Gradient preprocessing (default LogAndSign with p = 10). */
  readonly preprocess?: PreprocessConfig;
  /** The update is `outputScale * output` (default 0.1). */
  readonly outputScale?: number;
  /** Layout groups per separately weighted LSTM, e.g. `[["conv"], ["fc"]]` (default: one LSTM). */
  readonly groups?: readonly (readonly string[])[];
}

export interface ResolvedLstmOptimizerConfig {
  readonly hidden: number;
  readonly layers: number;
  readonly preprocess: PreprocessConfig;
  readonly outputScale: number;
  readonly groups?: readonly (readonly string[])[];
}

/**
 * The largest sizes an LSTM config may declare, checked before anything is allocated (a file
 * or an argument asking for more is refused): units per layer, layers, separately weighted
 * LSTMs, and layout groups in all. The paper's optimizer is 20 x 2, one LSTM.
 */
export const LSTM_LIMITS = Object.freeze({ hidden: 1024, layers: 16, lstms: 64, groupNames: 256 });

function positiveInt(name: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new ConfigError(`lstm optimizer: '${name}' must be a positive integer, got ${shownValue(v)}`);
  }
  if (v > max) throw new ConfigError(`lstm optimizer: '${name}' must be at most ${max}, got ${v}`);
  return v;
}

/** Fills in defaults and validates (also for configs read from JSON). */
export function resolveLstmOptimizerConfig(c: unknown = {}): ResolvedLstmOptimizerConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(`lstm optimizer config must be an object`);
  const o = c as Record<string, unknown>;
  const known = ["hidden", "layers", "preprocess", "outputScale", "groups"];
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new ConfigError(`lstm optimizer config: unknown field(s) ${extra.join(", ")} (known: ${known.join(", ")})`);
  const outputScale = o.outputScale ?? 0.1;
  if (typeof outputScale !== "number" || !Number.isFinite(outputScale) || outputScale <= 0) {
    throw new ConfigError(`lstm optimizer: 'outputScale' must be a positive number, got ${shownValue(outputScale)}`);
  }
  let preprocess: PreprocessConfig;
  try {
    preprocess = parsePreprocessConfig(o.preprocess ?? DEFAULT_PREPROCESS);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const out: ResolvedLstmOptimizerConfig = {
    hidden: positiveInt("hidden", o.hidden ?? 20, LSTM_LIMITS.hidden),
    layers: positiveInt("layers", o.layers ?? 2, LSTM_LIMITS.layers),
    preprocess,
    outputScale,
  };
  if (o.groups === undefined) return out;
  const g = o.groups;
  const bad = (): never => {
    throw new ConfigError(`lstm optimizer: 'groups' must be a non-empty list of non-empty lists of group names, got ${shownValue(g)}`);
  };
  if (!Array.isArray(g) || g.length === 0) bad();
  if ((g as unknown[]).length > LSTM_LIMITS.lstms) throw new ConfigError(`lstm optimizer: 'groups' may list at most ${LSTM_LIMITS.lstms} LSTMs, got ${(g as unknown[]).length}`);
  const seen = new Set<string>();
  const groups = (g as unknown[]).map((names) => {
    if (!Array.isArray(names) || names.length === 0 || !names.every((x) => typeof x === "string")) bad();
    for (const name of names as string[]) {
      if (seen.size >= LSTM_LIMITS.groupNames) throw new ConfigError(`lstm optimizer: 'groups' may name at most ${LSTM_LIMITS.groupNames} layout groups`);
      if (seen.has(name)) throw new ConfigError(`lstm optimizer: layout group '${name}' is listed twice in 'groups'`);
      seen.add(name);
    }
    return [...(names as string[])];
  });
  return { ...out, groups };
}

/**
 * The coordinates of theta that each LSTM drives: one ascending index list per entry of
 * `groups` (each entry names layout groups), or one list of every coordinate when `groups`
 * is absent. Throws when the layout has a group that no entry names.
 */
export function lstmGroupIndices(layout: ParamLayout, groups?: readonly (readonly string[])[]): Int32Array[] {
  if (groups === undefined) {
    const all = new Int32Array(layout.size);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return [all];
  }
  const owner = new Map<string, number>();
  groups.forEach((names, k) => names.forEach((name) => owner.set(name, k)));
  const counts = new Array<number>(groups.length).fill(0);
  for (const e of layout.entries) {
    const k = owner.get(e.group);
    if (k === undefined) {
      throw new ConfigError(`lstm optimizer: layout group '${e.group}' (parameter '${e.name}') is in no LSTM group ${JSON.stringify(groups)}`);
    }
    counts[k] = counts[k]! + e.size;
  }
  const out = counts.map((c) => new Int32Array(c));
  const fill = new Array<number>(groups.length).fill(0);
  for (const e of layout.entries) {
    const k = owner.get(e.group)!;
    const idx = out[k]!;
    for (let j = 0; j < e.size; j++) idx[fill[k]!++] = e.offset + j;
  }
  return out;
}

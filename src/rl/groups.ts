/**
 * Coordinate groups for guided policy search on the feature state (`gps_groups.ts`): which
 * coordinates of a training condition share one linear-Gaussian controller. Li & Malik (2017)
 * make their optimizer scale by treating the coordinates of a group alike: the policy is the
 * same function of each coordinate's features, so every coordinate of a group is a sample of
 * one small system. The groups here:
 *
 * - `all`: every coordinate of the condition in one group;
 * - `tensors`: one group per tensor of the task's layout (a layer's weights, its biases), the
 *   coordinates that most plausibly behave alike;
 * - an integer k: k contiguous blocks of nearly equal size (at most the parameter count).
 *
 * How many groups there are never changes a controller's size, only how many there are.
 */
import { ConfigError } from "../core/errors.ts";
import type { ParamLayout } from "../core/layout.ts";
import { foldIn, permutation, type Key } from "../core/rng.ts";

export type GroupSpec = "all" | "tensors" | number;

/** The most groups an integer spec may ask for. */
export const MAX_GROUPS = 4096;

/** A `--groups` value: `all`, `tensors` or an integer in [1, MAX_GROUPS]; a ConfigError names it otherwise. */
export function parseGroupSpec(v: string): GroupSpec {
  if (v === "all" || v === "tensors") return v;
  if (/^[0-9]+$/.test(v)) {
    const k = Number(v);
    if (k >= 1 && k <= MAX_GROUPS) return k;
  }
  throw new ConfigError(`groups must be 'all', 'tensors' or an integer in [1, ${MAX_GROUPS}], got '${v}'`);
}

/** Each group's coordinates (ascending), for a layout; every coordinate in exactly one group. */
export function coordinateGroups(layout: ParamLayout, spec: GroupSpec): Int32Array[] {
  const n = layout.size;
  const range = (a: number, b: number): Int32Array => Int32Array.from({ length: b - a }, (_, i) => a + i);
  if (spec === "all") return [range(0, n)];
  if (spec === "tensors") return layout.entries.map((e) => range(e.offset, e.offset + e.size));
  if (!Number.isInteger(spec) || spec < 1) throw new ConfigError(`groups must be a positive integer, got ${spec}`);
  if (spec > n) throw new ConfigError(`groups: ${spec} groups asked for a task of ${n} parameters (at most one group per parameter)`);
  return Array.from({ length: spec }, (_, g) => range(Math.floor((g * n) / spec), Math.floor(((g + 1) * n) / spec)));
}

/** Up to `max` of a group's coordinates, drawn without replacement by `key` (all of them, in order, when the group is no larger). */
export function coordinateSubset(coords: Int32Array, max: number, key: Key): Int32Array {
  if (coords.length <= max) return coords;
  const perm = permutation(foldIn(key, "coords"), coords.length);
  return Int32Array.from({ length: max }, (_, i) => coords[perm[i]!]!).sort();
}

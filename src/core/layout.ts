/**
 * `ParamLayout`: named slices of one flat `Float32Array`.
 *
 * Every optimizee's parameters live in one flat vector `theta`; the layout says where each
 * named tensor sits (offset, shape) and which group it belongs to (`fc`, `conv`, `quadratic`,
 * ...), so that an optimizer can treat groups differently (the paper's separate LSTMs for
 * convolutional and fully connected parameters) and files can store tensors by name.
 */

import { ConfigError, shownValue } from "./errors.ts";

/** The most coordinates a layout may have: the longest Float32Array there is (2^32). */
export const MAX_COORDINATES = 2 ** 32;

/** One named tensor inside the flat parameter vector. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** A coarse kind, such as `fc`, `conv` or `quadratic`. Defaults to `default`. */
  readonly group?: string;
}

/** A `ParamSpec` placed at an offset. */
export interface ParamEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly group: string;
  readonly offset: number;
  readonly size: number;
}

/**
 * A layout of `specs`, in order. A duplicate name, a dimension that is not an integer >= 1, or
 * more than `MAX_COORDINATES` coordinates in all is a ConfigError.
 */
export class ParamLayout {
  readonly entries: readonly ParamEntry[];
  /** Total number of coordinates. */
  readonly size: number;
  private readonly byName: ReadonlyMap<string, ParamEntry>;

  constructor(specs: readonly ParamSpec[]) {
    const entries: ParamEntry[] = [];
    const byName = new Map<string, ParamEntry>();
    let offset = 0;
    for (const s of specs) {
      if (byName.has(s.name)) throw new ConfigError(`ParamLayout: duplicate parameter name '${s.name}'`);
      if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d > 0)) {
        const shown = Array.isArray(s.shape) ? `[${s.shape.join(", ")}]` : shownValue(s.shape);
        throw new ConfigError(`ParamLayout: '${s.name}' has an invalid shape ${shown}; every dimension must be an integer >= 1`);
      }
      const size = s.shape.reduce((a, b) => a * b, 1);
      const e: ParamEntry = { name: s.name, shape: [...s.shape], group: s.group ?? "default", offset, size };
      entries.push(e);
      byName.set(s.name, e);
      offset += size;
      if (offset > MAX_COORDINATES) {
        throw new ConfigError(`ParamLayout: ${offset} coordinates up to '${s.name}'; a layout may have at most ${MAX_COORDINATES} (the most a Float32Array holds)`);
      }
    }
    this.entries = entries;
    this.size = offset;
    this.byName = byName;
  }

  /** The entry called `name`; throws if there is none. */
  get(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`ParamLayout: no parameter '${name}' (have ${[...this.byName.keys()].join(", ")})`);
    return e;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A view (no copy) of the slice of `theta` that holds `name`. */
  view(theta: Float32Array, name: string): Float32Array {
    this.check(theta);
    const e = this.get(name);
    return theta.subarray(e.offset, e.offset + e.size);
  }

  /** The distinct groups, in order of first appearance. */
  groups(): string[] {
    return [...new Set(this.entries.map((e) => e.group))];
  }

  /** For each group, the `[start, end)` coordinate ranges that belong to it. */
  groupRanges(): Map<string, Array<[number, number]>> {
    const m = new Map<string, Array<[number, number]>>();
    for (const e of this.entries) {
      const r = m.get(e.group) ?? [];
      const last = r[r.length - 1];
      if (last && last[1] === e.offset) last[1] = e.offset + e.size;
      else r.push([e.offset, e.offset + e.size]);
      m.set(e.group, r);
    }
    return m;
  }

  /** Throws unless `theta` has exactly `size` coordinates. */
  check(theta: Float32Array): void {
    if (theta.length !== this.size) {
      throw new Error(`ParamLayout: expected ${this.size} coordinates, got ${theta.length}`);
    }
  }

  /** Same names, shapes and groups in the same order (so engines made for one serve the other). */
  sameAs(other: ParamLayout): boolean {
    return this === other || JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  toJSON(): ParamSpec[] {
    return this.entries.map((e) => ({ name: e.name, shape: [...e.shape], group: e.group }));
  }
}

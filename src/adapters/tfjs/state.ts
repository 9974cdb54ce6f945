/**
 * An l2o optimizer's state as tfjs optimizer weights, and back: what `getWeights` returns and
 * `setWeights` takes, so that `model.save(..., {includeOptimizer: true})` keeps it.
 *
 * The list, in order (tfjs's own optimizers also put the iteration count first):
 * 1. `iter`: the step count, an int32 scalar (tfjs's `saveIterations`);
 * 2. `l2o/shapes`: the trainable variables' shapes, by position (int32: the count, then each
 *    variable's rank and dimensions), which the state was made for;
 * 3. `l2o/state/PATH`: one weight per leaf of the state record (`OptState`), in the record's
 *    order; PATH names the leaf (`lstm`, `pre`, `chain/[0]/mu`): record fields by name, list
 *    items as `[i]`. A `Float32Array` leaf is a float32 tensor; a number leaf an int32 tensor
 *    of two elements, the bits of the float64 (exact: an LSTM state's layout tag is a 32-bit
 *    fingerprint, which float32 would round). An empty record is a leaf `PATH/{}` and an
 *    empty list `PATH/[]`, int32 with no elements (a chain's stateless stage keeps its place).
 * The state is keyed by position in the variable list, not by the variables' names, which
 * change when a model is reloaded.
 */
import type { OptState } from "../../optimizers/transform.ts";
import { TfjsAdapterError } from "./errors.ts";

export const ITER_WEIGHT = "iter";
export const SHAPES_WEIGHT = "l2o/shapes";
export const STATE_PREFIX = "l2o/state/";

/** Bounds on what `decodeShapes` accepts, so that a damaged list allocates nothing absurd. */
export const SHAPE_LIMITS = Object.freeze({ variables: 100_000, rank: 8, coordinates: 2 ** 31 - 1 });

/** The last path segment of an empty record's and an empty list's leaf. */
export const EMPTY_RECORD = "{}";
export const EMPTY_LIST = "[]";

/** One leaf of a state record: its path and value (`null`: an empty record or list, by the path's end). */
export interface StateLeaf {
  readonly path: string;
  readonly value: Float32Array | number | null;
}

/** A state's leaves in the record's order. */
export function stateLeaves(state: OptState): StateLeaf[] {
  const out: StateLeaf[] = [];
  const walk = (node: OptState[string] | OptState, path: string): void => {
    if (node instanceof Float32Array || typeof node === "number") {
      out.push({ path, value: node });
    } else if (Array.isArray(node)) {
      if (node.length === 0) out.push({ path: path === "" ? EMPTY_LIST : `${path}/${EMPTY_LIST}`, value: null });
      (node as readonly OptState[]).forEach((item, i) => walk(item, path === "" ? `[${i}]` : `${path}/[${i}]`));
    } else {
      if (Object.keys(node).length === 0 && path !== "") out.push({ path: `${path}/${EMPTY_RECORD}`, value: null });
      for (const [k, v] of Object.entries(node as OptState)) {
        if (k.includes("/") || k.startsWith("[")) throw new Error(`l2o/tfjs: state field '${k}' cannot be named in a weight path`);
        walk(v, path === "" ? k : `${path}/${k}`);
      }
    }
  };
  walk(state, "");
  return out;
}

/** A state record rebuilt from its leaves (what `stateLeaves` gave). */
export function stateFromLeaves(leaves: readonly StateLeaf[]): OptState {
  type Node = Record<string, unknown> | unknown[];
  const root: Record<string, unknown> = {};
  const bad = (path: string, why: string): never => {
    throw new TfjsAdapterError(`setWeights: the state weight '${STATE_PREFIX}${path}' ${why}`);
  };
  for (const leaf of leaves) {
    const segs = leaf.path.split("/");
    if (leaf.path === "" || segs.some((s) => s === "")) bad(leaf.path, "has an empty path segment");
    const end = segs[segs.length - 1]!;
    const empty = end === EMPTY_RECORD || end === EMPTY_LIST;
    if (empty !== (leaf.value === null)) bad(leaf.path, empty ? "marks an empty record or list but holds values" : "holds no values");
    if (empty) segs.pop();
    if (segs.length === 0 && end === EMPTY_LIST) bad(leaf.path, "makes the state a list");
    let node: Node = root;
    segs.forEach((seg, d) => {
      const m = /^\[(\d{1,6})\]$/.exec(seg);
      if (m === null && (!/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(seg) || seg === "__proto__" || seg === "constructor" || seg === "prototype")) {
        bad(leaf.path, `has a segment '${seg.slice(0, 64)}' that is no field name`);
      }
      const key: string | number = m !== null ? Number(m[1]) : seg;
      if ((typeof key === "number") !== Array.isArray(node)) bad(leaf.path, "mixes list items and record fields at one level");
      const holder = node as Record<string | number, unknown>;
      if (d === segs.length - 1) {
        if (holder[key] !== undefined) bad(leaf.path, "is given twice, or is also a record");
        holder[key] = empty ? (end === EMPTY_LIST ? [] : {}) : leaf.value;
        return;
      }
      const nextIsList = /^\[\d+\]$/.test(segs[d + 1]!);
      let child = holder[key];
      if (child === undefined) {
        child = nextIsList ? [] : {};
        holder[key] = child;
      }
      if (typeof child !== "object" || child instanceof Float32Array) bad(leaf.path, "lies under a value");
      node = child as Node;
    });
  }
  const check = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        if (node[i] === undefined) bad(`${path}/[${i}]`, "is missing from a list");
        check(node[i], `${path}/[${i}]`);
      }
    } else if (typeof node === "object" && node !== null && !(node instanceof Float32Array)) {
      for (const [k, v] of Object.entries(node)) check(v, path === "" ? k : `${path}/${k}`);
    }
  };
  check(root, "");
  return root as OptState;
}

/** The record's shape: each leaf's path and whether it is an array or a number, in order. */
export function stateSignature(state: OptState): string[] {
  return stateLeaves(state).map((l) => `${l.path}:${l.value === null ? "empty" : typeof l.value === "number" ? "number" : "array"}`);
}

/** A number as the two int32 halves of its float64 bits. */
export function numberToBits(v: number): Int32Array {
  const out = new Int32Array(2);
  new DataView(out.buffer).setFloat64(0, v, true);
  return out;
}

/** The number whose float64 bits `bits` holds (two int32 halves). */
export function bitsToNumber(bits: Int32Array): number {
  return new DataView(bits.buffer, bits.byteOffset, 8).getFloat64(0, true);
}

/** Variable shapes as int32: the count, then each shape's rank and dimensions. */
export function encodeShapes(shapes: readonly (readonly number[])[]): Int32Array {
  const out: number[] = [shapes.length];
  for (const s of shapes) out.push(s.length, ...s);
  return Int32Array.from(out);
}

/** The shapes `encodeShapes` wrote, checked within `SHAPE_LIMITS`. */
export function decodeShapes(data: ArrayLike<number>): number[][] {
  const refuse = (why: string): never => {
    throw new TfjsAdapterError(`setWeights: the weight '${SHAPES_WEIGHT}' (the variables' shapes) ${why}; these are not weights an l2o optimizer wrote`);
  };
  const n = data[0];
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > SHAPE_LIMITS.variables) refuse(`starts with ${n}, not a variable count from 1 to ${SHAPE_LIMITS.variables}`);
  const shapes: number[][] = [];
  let o = 1;
  let total = 0;
  for (let i = 0; i < n!; i++) {
    const rank = data[o++];
    if (rank === undefined || !Number.isInteger(rank) || rank < 0 || rank > SHAPE_LIMITS.rank) refuse(`gives variable ${i} the rank ${rank}`);
    if (o + rank! > data.length) refuse("ends inside a shape");
    const shape = Array.from({ length: rank! }, (_, j) => data[o + j]!);
    o += rank!;
    if (!shape.every((d) => Number.isInteger(d) && d >= 1)) refuse(`gives variable ${i} the shape [${shape.join(", ")}]`);
    total += shape.reduce((a, b) => a * b, 1);
    if (total > SHAPE_LIMITS.coordinates) refuse(`describes more than ${SHAPE_LIMITS.coordinates} coordinates`);
    shapes.push(shape);
  }
  if (o !== data.length) refuse(`has ${data.length - o} values after the last shape`);
  return shapes;
}

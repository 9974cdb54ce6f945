/**
 * jax-js parameter trees and l2o's flat vectors: a tree's leaves in jax-js's own flattening
 * order (`tree.flatten`: arrays by index, plain objects by key order), each named by its path
 * (`layers[0].w`) and grouped by its shape, become one `ParamLayout`; gradients are read into
 * one `Float32Array` and updates come back as arrays of the tree's structure.
 *
 * Reference counts follow jax-js: a function here that takes a tree says whether it consumes
 * it (disposes every array) or borrows it (leaves every count as it was).
 */
import { numpy as np, tree, type JsTree, type JsTreeDef } from "@jax-js/jax";
import { L2oError, NonFiniteGradientError } from "../../core/errors.ts";
import { firstNonFinite } from "../../core/finite.ts";
import { ParamLayout } from "../../core/layout.ts";
import { groupOfShape } from "../defaults.ts";

/** A tree that is not a tree of float32 jax-js arrays, or not the tree the optimizer was initialised with. */
export class JaxTreeError extends L2oError {
  override readonly name: string = "JaxTreeError";
}

/** A gradient with a NaN or an infinity: the step is refused rather than poison the optimizer's state (the class the core optimizers throw). */
export { NonFiniteGradientError };

/** A tree's structure and its leaves' shapes: what init saw and every update must match. */
export interface TreeSignature {
  readonly treedef: JsTreeDef;
  /** Each leaf's path (`layers[0].w`; `root` for a tree that is one array), in flattening order. */
  readonly paths: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  /** The layout over the flat vector: one entry per leaf, named by its path, grouped by its shape. */
  readonly layout: ParamLayout;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** The path of every leaf below `def`, in flattening order. */
function leafPaths(def: JsTreeDef, prefix: string, out: string[]): void {
  if (def.nodeType === "Leaf") {
    out.push(prefix === "" ? "root" : prefix);
    return;
  }
  def.childTreedefs.forEach((child, i) => {
    if (def.nodeType === "Array") return leafPaths(child, `${prefix}[${i}]`, out);
    const key = String((def.nodeMetadata as unknown[])[i]);
    leafPaths(child, IDENT.test(key) ? (prefix === "" ? key : `${prefix}.${key}`) : `${prefix}[${JSON.stringify(key)}]`, out);
  });
}

/** The leaves of `t`, checked to be float32 jax-js arrays (not tracers); borrows `t`. */
function arrayLeaves(t: JsTree<np.Array>, what: string): { leaves: np.Array[]; treedef: JsTreeDef; paths: string[] } {
  const [leaves, treedef] = tree.flatten(t);
  const paths: string[] = [];
  leafPaths(treedef, "", paths);
  if (leaves.length === 0) throw new JaxTreeError(`l2o/jax: the ${what} tree has no arrays`);
  leaves.forEach((leaf, i) => {
    const at = `the ${what} leaf '${paths[i]}'`;
    if (!(leaf instanceof np.Array)) {
      const got = leaf === null ? "null" : typeof leaf === "object" ? (leaf as object).constructor?.name ?? "an object" : typeof leaf;
      throw new JaxTreeError(
        `l2o/jax: ${at} is ${got}, not a jax-js Array (a learned optimizer reads the values, so it runs outside jit, grad and vmap)`,
      );
    }
    if (leaf.refCount <= 0) throw new JaxTreeError(`l2o/jax: ${at} was already disposed (pass x.ref to keep using an array you hand over)`);
    if (leaf.dtype !== np.float32) throw new JaxTreeError(`l2o/jax: ${at} has dtype ${leaf.dtype}; the optimizer takes float32 arrays (cast with .astype(np.float32))`);
  });
  return { leaves: leaves as np.Array[], treedef, paths };
}

/** The signature of a parameter tree, for `init`; borrows `params`. */
export function signatureOf(params: JsTree<np.Array>): TreeSignature {
  const { leaves, treedef, paths } = arrayLeaves(params, "parameter");
  const shapes = leaves.map((l) => [...l.shape]);
  // An empty leaf (a 0 in its shape) holds no coordinate: it is left out of the layout.
  const layout = new ParamLayout(
    leaves.flatMap((l, i) => (l.shape.includes(0) ? [] : [{ name: paths[i]!, shape: [...l.shape], group: groupOfShape(l.shape) }])),
  );
  if (layout.size === 0) throw new JaxTreeError("l2o/jax: every array of the parameter tree is empty: there is nothing to optimise");
  return { treedef, paths, shapes, layout };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const shown = (s: readonly number[]): string => `[${s.join(", ")}]`;

/**
 * Throws a `JaxTreeError` naming the first difference between `t` and the tree `sig` was made
 * from (structure, a leaf's path or shape, its dtype); borrows `t`. Returns `t`'s leaves.
 */
export function checkAgainst(sig: TreeSignature, t: JsTree<np.Array>, what: string): np.Array[] {
  const { leaves, treedef, paths } = arrayLeaves(t, what);
  if (!treedef.equals(sig.treedef)) {
    const i = paths.findIndex((p, k) => p !== sig.paths[k]);
    const diff =
      i >= 0
        ? `leaf ${i} is '${paths[i]}' where init had '${sig.paths[i] ?? "nothing"}'`
        : `it has ${paths.length} leaves where init had ${sig.paths.length}${paths.length < sig.paths.length ? ` (no '${sig.paths[paths.length]}')` : ` (an extra '${paths[sig.paths.length]}')`}`;
    throw new JaxTreeError(`l2o/jax: the ${what} tree is not the structure the optimizer was initialised with: ${diff}`);
  }
  leaves.forEach((leaf, i) => {
    if (!sameShape(leaf.shape, sig.shapes[i]!)) {
      throw new JaxTreeError(`l2o/jax: the ${what} leaf '${paths[i]}' has shape ${shown(leaf.shape)} where init had ${shown(sig.shapes[i]!)}`);
    }
  });
  return leaves;
}

/**
 * The leaves' values, concatenated in order into one new `Float32Array` of `sig.layout.size`
 * floats; borrows the leaves. `finite` refuses a NaN or an infinity, naming its leaf.
 */
export function readFlat(sig: TreeSignature, leaves: readonly np.Array[], what: string, finite: boolean): Float32Array {
  const flat = new Float32Array(sig.layout.size);
  let o = 0;
  leaves.forEach((leaf, i) => {
    const data = leaf.ref.dataSync() as Float32Array;
    if (finite) {
      const bad = firstNonFinite(data);
      if (bad >= 0) {
        throw new NonFiniteGradientError(`l2o/jax: the ${what} leaf '${sig.paths[i]}' holds ${data[bad]} at flat index ${bad} of ${data.length}; the step is refused`);
      }
    }
    flat.set(data, o);
    o += data.length;
  });
  return flat;
}

/**
 * Arrays of the tree's structure over consecutive slices of `flat` (each leaf as a new float32
 * array of its shape, on the device of the matching leaf of `like`, which is borrowed).
 */
export function unflattenLike(sig: TreeSignature, flat: Float32Array, like: readonly np.Array[]): JsTree<np.Array> {
  let o = 0;
  const out = sig.shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const a = np.array(flat.slice(o, o + size), { shape: [...shape], device: like[i]!.device });
    o += size;
    return a;
  });
  return tree.unflatten(sig.treedef, out);
}

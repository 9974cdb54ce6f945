/**
 * A learned (or hand-designed) l2o optimizer as a jax-js gradient transformation, with the
 * contract of `@jax-js/optax`: `init(params)` gives a state, `update(updates, state, params)`
 * gives `[updates, state]` as trees of the parameters' structure, `applyUpdates(params,
 * updates)` adds them. The step itself runs in l2o's kernels on the flattened gradients:
 * the tree's leaves are read in jax-js's flattening order into one `Float32Array`, laid out
 * by a `ParamLayout` (names from the leaves' paths, groups from their shapes), transformed by
 * the optimizer's `optFn(phi, layout).update`, and written back as float32 arrays.
 *
 * Reference counts, as in `@jax-js/optax`: `init` and `update` consume every array they are
 * given (pass `params.ref` to keep using the parameters), also when they throw; the arrays
 * they return belong to the caller; `applyUpdates` consumes both trees. The state holds no
 * jax-js arrays (the optimizer's own state lives in l2o's kernels), so `tree.ref` and
 * `tree.dispose` of it do nothing, and a state may be kept and passed again: `update` is pure.
 */
import { numpy as np, tree, type JsTree } from "@jax-js/jax";
import { transformsByLayout, type LearnedOptimizer } from "../../learned/contract.ts";
import { handDesigned } from "../../learned/hand.ts";
import type { KernelOptions } from "../../learned/kernel_options.ts";
import { resolveOptimizer } from "../../learned/resolve.ts";
import type { OptState as CoreState } from "../../optimizers/transform.ts";
import { DEFAULT_OPTIMIZER } from "../defaults.ts";
import { checkAgainst, JaxTreeError, readFlat, signatureOf, unflattenLike, type TreeSignature } from "./tree.ts";

/** The optimizer state of a jax-js gradient transformation (`@jax-js/optax`'s `OptState`). */
export type OptState = JsTree<np.Array>;

/** The gradient-transformation contract of `@jax-js/optax`, over jax-js trees. */
export interface GradientTransformation {
  init<Params extends JsTree<np.Array>>(params: Params): OptState;
  update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState];
}

/** What `learned` returns: the transformation, what it is, and `dispose` for its kernels. */
export interface LearnedGradientTransformation extends GradientTransformation {
  /** The name it was made from (`mnist`, `adam@0.01`, a path). */
  readonly name: string;
  /** The optimizer's kind (`lstm`, `mlp`, `hand`). */
  readonly kind: string;
  /** What loading its file warned about (a file without hashes, say); the library prints nothing. */
  readonly warnings: readonly string[];
  /** Frees the kernels (and any worker threads) its transforms hold; it is unusable afterwards. */
  dispose(): void;
}

/** Options of `learned`: the kernel a learned optimizer runs on (default `wasm` on one thread). */
export type LearnedOptions = KernelOptions;

/**
 * The state `init` and `update` return: one leaf that is no jax-js array (so tree utilities
 * pass it by), holding the optimizer's state, the tree it was made for and the step count.
 */
class L2oJaxState {
  constructor(
    readonly owner: object,
    readonly signature: TreeSignature,
    readonly core: CoreState,
    /** Updates made so far: the step index the next update is told. */
    readonly step: number,
  ) {
    Object.freeze(this);
  }
}

/** Disposes every jax-js array of `t` that is still alive (an error may come from a freed one). */
function consume(t: unknown): void {
  if (t === undefined || t === null) return;
  for (const leaf of tree.leaves(t as JsTree<unknown>)) if (leaf instanceof np.Array && leaf.refCount > 0) leaf.dispose();
}

/**
 * The optimizer `name` names, by l2o's one rule (`src/learned/resolve.ts`): a shipped
 * optimizer by its plain name (`general`, `mnist`, `quadratic`), an optimizer file by its path (any kind;
 * `KIND:PATH` insists on the kind), or a hand-designed one (`adam`, `adam@0.01`; without `@LR`
 * at its default rate). Default: `DEFAULT_OPTIMIZER` (`general`). An unknown name throws
 * `UnknownOptimizerError`, a damaged file `FileFormatError`.
 */
export function learned(name: string = DEFAULT_OPTIMIZER, options: LearnedOptions = {}): LearnedGradientTransformation {
  const r = resolveOptimizer(name, options);
  let opt: LearnedOptimizer;
  let phi: Float32Array;
  if (r.source === "file") {
    opt = r.loaded.optimizer;
    phi = r.loaded.phi;
  } else {
    const lr = r.lr ?? r.spec.defaultLr;
    opt = handDesigned(r.spec.name, r.spec.make(lr), { optimizer: r.spec.name, lr });
    phi = new Float32Array(0);
  }
  const transforms = transformsByLayout(opt, phi);
  const owner = {};
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new JaxTreeError(`l2o/jax: the optimizer '${name}' was disposed`);
  };

  return {
    name,
    kind: opt.kind,
    warnings: r.source === "file" ? r.loaded.warnings : [],
    init<Params extends JsTree<np.Array>>(params: Params): OptState {
      try {
        alive();
        const sig = signatureOf(params);
        const tx = transforms.get(sig.layout);
        const state = tx.init(readFlat(sig, tree.leaves(params) as np.Array[], "parameter", false));
        return new L2oJaxState(owner, sig, state, 0) as unknown as OptState;
      } finally {
        consume(params);
      }
    },
    update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState] {
      try {
        alive();
        if (!(state instanceof L2oJaxState)) {
          throw new JaxTreeError(`l2o/jax: the state passed to update is not one that this optimizer's init or update returned`);
        }
        if (state.owner !== owner) throw new JaxTreeError(`l2o/jax: the state passed to update comes from another optimizer`);
        if (params === undefined) {
          throw new JaxTreeError("l2o/jax: update(updates, state, params) needs the parameters (a learned optimizer may read them): pass params.ref");
        }
        const sig = state.signature;
        const gradLeaves = checkAgainst(sig, updates, "gradient");
        const paramLeaves = checkAgainst(sig, params, "parameter");
        const g = readFlat(sig, gradLeaves, "gradient", true);
        const p = readFlat(sig, paramLeaves, "parameter", false);
        const [u, next] = transforms.get(sig.layout).update(g, state.core, p, { step: state.step });
        return [unflattenLike(sig, u, gradLeaves) as Params, new L2oJaxState(owner, sig, next, state.step + 1) as unknown as OptState];
      } finally {
        consume(updates);
        consume(params);
      }
    },
    dispose() {
      disposed = true;
      transforms.dispose();
    },
  };
}

/**
 * params + updates, leaf by leaf, as a new tree (`@jax-js/optax`'s `applyUpdates`): consumes
 * both trees, which must have one structure.
 */
export function applyUpdates<Params extends JsTree<np.Array>>(params: Params, updates: Params): Params {
  const [, a] = tree.flatten(params);
  const [, b] = tree.flatten(updates);
  if (!a.equals(b)) {
    consume(params);
    consume(updates);
    throw new JaxTreeError(`l2o/jax: applyUpdates needs the updates in the parameters' structure, got ${b.toString()} for ${a.toString()}`);
  }
  return tree.map((p: np.Array, u: np.Array) => p.add(u), params, updates) as Params;
}

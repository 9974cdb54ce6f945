/**
 * Combinators over gradient transformations: `chain` composes them in order, `named` gives a
 * composition its name and refuses non-finite gradients before any state is touched.
 */
import { assertFiniteGrads } from "./checks.ts";
import { EMPTY_STATE, type GradientTransformation, type OptState, type ScalableTransformation, type ScaleTransformation } from "./transform.ts";

/** State of `chain(...)`: one state per stage, in the order the stages run. */
export type ChainState = { readonly stages: readonly OptState[] };

function scalable(tx: GradientTransformation): tx is ScalableTransformation {
  return typeof (tx as Partial<ScalableTransformation>).updateScaled === "function";
}

function isScale(tx: GradientTransformation | undefined): tx is ScaleTransformation {
  return tx !== undefined && typeof (tx as Partial<ScaleTransformation>).scaleFactor === "number";
}

/**
 * Applies `txs` in order: the updates of each stage are the gradients of the next, so
 * `chain(scaleByAdam(), scaleByLearningRate(lr))` is Adam. With no stages it is the identity
 * (returning a copy). Follows optax's `chain` (Babuschkin et al. 2020, "The DeepMind JAX
 * Ecosystem"). A rule followed by `scale(c)` (as every named optimizer ends) runs as one pass
 * over the coordinates, with the same bits and the same per-stage state as two.
 */
export function chain(...txs: readonly GradientTransformation[]): GradientTransformation {
  return {
    init(params: Float32Array): ChainState {
      return { stages: txs.map((tx) => tx.init(params)) };
    },
    update(grads, state, params, ctx): [Float32Array, ChainState] {
      const stages = state["stages"];
      if (!Array.isArray(stages) || stages.length !== txs.length) {
        throw new Error(`chain: state must hold 'stages', one state for each of ${txs.length} stages`);
      }
      let updates = txs.length === 0 ? Float32Array.from(grads) : grads;
      const next: OptState[] = [];
      for (let i = 0; i < txs.length; i++) {
        const tx = txs[i]!;
        const then = txs[i + 1];
        if (isScale(then) && scalable(tx)) {
          const [u, s] = tx.updateScaled(updates, stages[i] as OptState, params, then.scaleFactor);
          updates = u;
          next.push(s, EMPTY_STATE);
          i++;
          continue;
        }
        const [u, s] = tx.update(updates, stages[i] as OptState, params, ctx);
        updates = u;
        next.push(s);
      }
      return [updates, { stages: next }];
    },
  };
}

/**
 * The transformation `tx` under the name `name`: every update first checks that there are as
 * many gradients as parameters (an Error naming `name` if not), and that the gradients are
 * finite, throwing a NonFiniteGradientError naming `name` if they are not. The
 * named optimizers (`adam`, `sgd`, ...) are built this way; `chain` and the primitives
 * (`scaleByAdam`, `traceMomentum`, ...) check nothing, so wrap a chain of them in `named` to
 * get the same refusal (without it a NaN gradient enters their state).
 */
export function named(name: string, tx: GradientTransformation): GradientTransformation {
  return {
    init: (params) => tx.init(params),
    update(grads, state, params, ctx) {
      // A stateless rule (sgd) would otherwise return updates of the gradients' length unasked.
      if (params !== undefined && grads.length !== params.length) {
        throw new Error(`${name}: ${grads.length} gradients for ${params.length} parameters`);
      }
      assertFiniteGrads(name, grads);
      return tx.update(grads, state, params, ctx);
    },
  };
}

/**
 * The shared types of few-shot learning: an episode (a support set to adapt on, a query set to
 * score on), a source of episodes drawn from keys, and parameter trees (named jax-js arrays).
 */
import type { numpy as np } from "@jax-js/jax";
import type { Key } from "../core/rng.ts";

/** A jax-js array. */
export type Arr = np.Array;
/** Named jax-js arrays: a network's parameters or a learner's meta-parameters. */
export type Tree = Record<string, Arr>;
/** Named float32 tensors with their shapes, off the device (what files and Adam hold). */
export type HostTree = Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/**
 * One few-shot task. Inputs are row-major `[n, ...inputShape]`; targets are `[n, outputs]`
 * (regression values, or one-hot classes for classification).
 */
export interface Episode {
  readonly xs: Float32Array;
  readonly ys: Float32Array;
  readonly xq: Float32Array;
  readonly yq: Float32Array;
  readonly support: number;
  readonly query: number;
}

/** What every episode of a source shares. */
export interface EpisodeShape {
  /** One example's shape: `[1]` for the sinusoid, `[c, h, w]` for images. */
  readonly inputShape: readonly number[];
  /** Targets per example: 1 for regression, the number of ways for classification. */
  readonly outputs: number;
  readonly support: number;
  readonly query: number;
  /** Mean squared error or softmax cross-entropy (then accuracy is reported too). */
  readonly loss: "mse" | "xent";
}

/** Episodes drawn from keys: the same key always gives the same episode. */
export interface EpisodeSource extends EpisodeShape {
  /** A name for reports (`sinusoid`, `glyphs 5-way 1-shot`). */
  readonly name: string;
  /** Which split the classes come from (`train` for meta-training, `test` for evaluation); ignored by the sinusoid. */
  sample(key: Key, split: "train" | "val" | "test"): Episode;
}

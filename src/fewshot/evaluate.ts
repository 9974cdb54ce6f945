/**
 * Evaluation of a few-shot learner on fresh episodes: episode i is drawn from
 * `foldIn(evalRoots(seed).test, i)` of the `test` split (keys never used in meta-training, whose
 * episodes come from the `fewshot/train` namespace; classes never seen in it), adapted on its
 * support set and scored on its query set. Reports the mean and the 95% interval over episodes
 * of the query MSE (regression) or accuracy (classification), and of the query loss.
 */
import { foldIn } from "../core/rng.ts";
import { evalRoots } from "../eval/evaluate.ts";
import { summarize, type Summary } from "../eval/stats.ts";
import { jax } from "../tasks/mlp_jax.ts";
import type { Learner } from "./learner.ts";
import { stackEpisodes, toDevice } from "./train.ts";
import type { Arr, EpisodeSource, HostTree, Tree } from "./types.ts";

export interface EvalOptions {
  readonly episodes: number;
  readonly seed: number;
  /** Inner steps at test time (default: the learner's). */
  readonly steps?: number;
  /** Episodes adapted at once (vectorised). */
  readonly chunk?: number;
}

export const EVAL_LIMITS = Object.freeze({ episodes: 100_000 });

export interface EvalResult {
  /** `mse` for regression, `accuracy` (a fraction) for classification. */
  readonly metric: "mse" | "accuracy";
  readonly score: Summary;
  /** The query loss (MSE, or cross-entropy). */
  readonly loss: Summary;
  readonly perEpisode: number[];
  readonly seconds: number;
}

/** The query loss and score of one episode from the adapted outputs. */
function scoreEpisode(out: Float32Array, yq: Float32Array, n: number, k: number, kind: "mse" | "xent"): { loss: number; score: number } {
  if (kind === "mse") {
    let s = 0;
    for (let i = 0; i < n * k; i++) s += (out[i]! - yq[i]!) ** 2;
    return { loss: s / (n * k), score: s / (n * k) };
  }
  let loss = 0;
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let max = -Infinity;
    let label = 0;
    for (let j = 0; j < k; j++) {
      const z = out[i * k + j]!;
      if (z > max) [max, best] = [z, j];
      if (yq[i * k + j] === 1) label = j;
    }
    let se = 0;
    for (let j = 0; j < k; j++) se += Math.exp(out[i * k + j]! - max);
    loss += max + Math.log(se) - out[i * k + label]!;
    if (best === label) right++;
  }
  return { loss: loss / n, score: right / n };
}

export function evaluateLearner(learner: Learner, meta: HostTree, source: EpisodeSource, o: EvalOptions, onEpisodes?: (done: number, total: number) => void): EvalResult {
  const { jit, vmap } = jax();
  const t0 = performance.now();
  const root = evalRoots(o.seed).test;
  const steps = o.steps ?? learner.config.steps;
  const chunk = Math.max(1, Math.min(o.chunk ?? 50, o.episodes));
  const predict = jit((m: Tree, eps: { xs: Arr; ys: Arr; xq: Arr; yq: Arr }): Arr => {
    const r = (vmap((mm: Tree, e: { xs: Arr; ys: Arr; xq: Arr; yq: Arr }) => learner.predict(mm, e, steps), [null, 0]) as unknown as (mm: Tree, e: unknown) => Arr)(m, eps);
    for (const v of Object.values(m)) v.dispose();
    return r;
  });
  const losses: number[] = [];
  const scores: number[] = [];
  for (let start = 0; start < o.episodes; start += chunk) {
    const n = Math.min(chunk, o.episodes - start);
    const eps = Array.from({ length: n }, (_, i) => source.sample(foldIn(root, start + i), "test"));
    const out = predict(toDevice(meta), stackEpisodes(eps, source));
    const flat = out.dataSync() as Float32Array;
    const per = source.query * source.outputs;
    eps.forEach((e, i) => {
      const r = scoreEpisode(flat.subarray(i * per, (i + 1) * per), e.yq, source.query, source.outputs, source.loss);
      losses.push(r.loss);
      scores.push(r.score);
    });
    onEpisodes?.(start + n, o.episodes);
  }
  return { metric: source.loss === "mse" ? "mse" : "accuracy", score: summarize(scores), loss: summarize(losses), perEpisode: scores, seconds: (performance.now() - t0) / 1000 };
}

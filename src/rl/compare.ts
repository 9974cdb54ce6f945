/**
 * Li & Malik's comparison: the mean objective against objective evaluations on fresh
 * instances, every optimizer on the same ones. An optimizer that reads one gradient per step
 * spends one evaluation per step (a run of `evals - 1` steps evaluates `evals` points); the
 * rates of those with one are tuned per task with the project's tuner (`tuneLearningRate`, on
 * separate tuning instances). Conjugate gradient and L-BFGS spend evaluations in their line
 * searches and show the objective at their current point after each evaluation.
 */
import type { TaskFamily } from "../tasks/base.ts";
import { drawInstances, evalRoots, evaluate, type Candidate, type EvalProgress } from "../eval/evaluate.ts";
import { summarize, summarizeSteps } from "../eval/stats.ts";
import { runCg, runLbfgs } from "./line_search_methods.ts";

/** One optimizer's curve: mean and 95% half-width of the objective after 1 .. evals evaluations. */
export interface EvalsCurve {
  readonly optimizer: string;
  /** The tuned (or fixed) learning rate; null where there is none. */
  readonly lr: number | null;
  readonly mean: number[];
  readonly ci95: number[];
  readonly finalMean: number;
  readonly finalCi95: number;
  /** Each test instance's final objective, in instance order. */
  readonly final: number[];
  readonly diverged: number;
}

export interface RlComparison {
  readonly task: string;
  readonly evals: number;
  readonly instances: number;
  readonly seed: number;
  readonly curves: EvalsCurve[];
}

export const LINE_SEARCH_METHODS = ["cg", "lbfgs"] as const;
export type LineSearchMethod = (typeof LINE_SEARCH_METHODS)[number];

export interface CompareOptions {
  /** Objective evaluations per run (at least 2). */
  readonly evals: number;
  readonly instances: number;
  readonly seed: number;
  readonly tuneInstances?: number;
  readonly lrGrid?: readonly number[];
  readonly lineSearch?: readonly LineSearchMethod[];
  readonly onRun?: (p: EvalProgress) => void;
}

/** Runs every candidate and line-search method on the same test instances of `family`. */
export function compareByEvaluations(family: TaskFamily, candidates: readonly Candidate[], opts: CompareOptions): RlComparison {
  const { evals, instances, seed } = opts;
  if (!(Number.isInteger(evals) && evals >= 2)) throw new Error("compareByEvaluations: evals must be an integer >= 2");
  const curves: EvalsCurve[] = [];
  if (candidates.length > 0) {
    const rep = evaluate(family, candidates, {
      steps: evals - 1,
      instances,
      seed,
      ...(opts.tuneInstances !== undefined ? { tuneInstances: opts.tuneInstances } : {}),
      ...(opts.lrGrid !== undefined ? { lrGrid: opts.lrGrid } : {}),
      ...(opts.onRun !== undefined ? { onRun: opts.onRun } : {}),
    });
    for (const r of rep.results) {
      curves.push({ optimizer: r.optimizer, lr: r.lr, mean: r.meanLoss, ci95: r.ci95, finalMean: r.finalMean, finalCi95: r.finalCi95, final: r.finalLosses, diverged: r.diverged });
    }
  }
  const test = drawInstances(family, evalRoots(seed).test, instances);
  for (const m of opts.lineSearch ?? []) {
    const runs = test.map((inst) => (m === "cg" ? runCg : runLbfgs)(inst.task, inst.theta0, evals, inst.batchKey).curve);
    const steps = summarizeSteps(runs);
    const final = runs.map((c) => c[evals - 1]!);
    const f = summarize(final);
    curves.push({ optimizer: m, lr: null, mean: steps.map((s) => s.mean), ci95: steps.map((s) => s.ci95), finalMean: f.mean, finalCi95: f.ci95, final, diverged: 0 });
  }
  return { task: family.name, evals, instances, seed, curves };
}

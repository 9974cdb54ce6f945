/** An evaluation as the eval and demo commands run it: names in, a report out, its progress on standard error. */
import { evaluate, type EvalProgress, type EvalReport } from "../eval/evaluate.ts";
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
import { progress, type Progress } from "./progress.ts";
import { resolveCandidate, resolveTaskFamily } from "./resolve.ts";

export interface EvalJob {
  readonly task: string;
  readonly taskConfig: Record<string, unknown>;
  readonly optimizers: readonly string[];
  readonly steps: number;
  readonly instances: number;
  readonly seed: number;
  readonly tuneInstances: number;
  readonly lrGrid: readonly number[];
  /** Show the progress (a bar on a terminal, else a line every few seconds); false: --quiet. */
  readonly verbose: boolean;
  /** The kernel learned optimizers run on (default: wasm). */
  readonly engine?: EngineKind;
  /** Its threads (default 1; `auto`: by coordinate count). */
  readonly threads?: ThreadCount;
}

/** What an evaluation is doing, for its progress: `tuning adam's learning rate (1 of 3)`. */
export function evalPhase(p: EvalProgress): string {
  const what = p.phase === "tune" ? `tuning ${p.label}'s learning rate${p.lr !== undefined ? ` (trying ${p.lr})` : ""}` : `testing ${p.label}`;
  return `${what}, optimizer ${p.candidate + 1} of ${p.candidates}`;
}

export function runEvalJob(job: EvalJob): EvalReport {
  const family = resolveTaskFamily(job.task, job.taskConfig);
  const candidates = job.optimizers.map((o) => resolveCandidate(o, undefined, job.engine, job.threads));
  let bar: Progress | undefined;
  try {
    return evaluate(family, candidates, {
      steps: job.steps,
      instances: job.instances,
      seed: job.seed,
      tuneInstances: job.tuneInstances,
      lrGrid: job.lrGrid,
      onRun: (p) => {
        bar ??= progress({ phase: evalPhase(p), total: p.runsTotal, unit: "runs", quiet: !job.verbose });
        bar.update(p.runsDone, { phase: evalPhase(p) });
      },
    });
  } finally {
    bar?.stop();
  }
}

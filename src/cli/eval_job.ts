/** An evaluation as the eval and demo commands run it: names in, a report out. */
import { evaluate, type EvalReport } from "../eval/evaluate.ts";
import type { EngineKind, ThreadCount } from "../kernels/select.ts";
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
  readonly verbose: boolean;
  /** The kernel learned optimizers run on (default: wasm). */
  readonly engine?: EngineKind;
  /** Its threads (default 1; `auto`: by coordinate count). */
  readonly threads?: ThreadCount;
}

export function runEvalJob(job: EvalJob): EvalReport {
  const family = resolveTaskFamily(job.task, job.taskConfig);
  const candidates = job.optimizers.map((o) => resolveCandidate(o, undefined, job.engine, job.threads));
  const report = evaluate(family, candidates, {
    steps: job.steps,
    instances: job.instances,
    seed: job.seed,
    tuneInstances: job.tuneInstances,
    lrGrid: job.lrGrid,
    onProgress: (label, phase) => {
      if (job.verbose) process.stderr.write(`${phase === "tune" ? "tuning" : "testing"} ${label}\n`);
    },
  });
  return report;
}

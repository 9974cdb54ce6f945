/**
 * Pooling paired comparisons over several test sets: evaluations of the same task and step
 * count on different seeds (different instances, each set with its own tuned rates). Each
 * set pairs every optimizer with the reference instance by instance, as one report does; the
 * per-instance differences of all sets are then summarised together. More instances than any
 * one set holds, so a narrower interval; each set keeps its own protocol.
 */
import type { CandidateResult, EvalReport } from "./evaluate.ts";
import { comparePaired, type PairedComparison } from "./paired.ts";
import { summarize } from "./stats.ts";
import { optimizerSpec } from "../optimizers/registry.ts";

/**
 * What rows of different sets count as the same optimizer: a learned optimizer by its label
 * (`lstm:FILE`); a hand-designed one by its registry name, whatever its rate and however it
 * was spelt (`nag@1`, `nesterov` tuned to 0.3): its rate is tuned per set.
 */
export function optimizerKey(row: Pick<CandidateResult, "optimizer" | "lr">): string {
  if (row.lr === null) return row.optimizer;
  const name = row.optimizer.split("@")[0]!;
  try {
    return optimizerSpec(name).name;
  } catch {
    return name;
  }
}

/** Two rows of one set are the same run: the same rate and the same final loss on every instance. */
export function sameRun(a: Pick<CandidateResult, "lr" | "finalLosses">, b: Pick<CandidateResult, "lr" | "finalLosses">): boolean {
  return a.lr === b.lr && a.finalLosses.length === b.finalLosses.length && a.finalLosses.every((x, i) => Object.is(x, b.finalLosses[i]));
}

/**
 * `r` without the rows that repeat an earlier one: the same optimizer at the same rate with
 * the same final losses, spelt another way (a tuned `nesterov` beside `nag@0.3`, run to check
 * that two reports' instances match). Tables and figures show each run once.
 */
export function withoutRepeats(r: EvalReport): EvalReport {
  const kept: EvalReport["results"] = [];
  for (const row of r.results) {
    const k = optimizerKey(row);
    if (!kept.some((x) => optimizerKey(x) === k && sameRun(x, row))) kept.push(row);
  }
  return { ...r, results: kept };
}

export interface PooledRow {
  /** The optimizer's key (see `optimizerKey`). */
  readonly optimizer: string;
  /** Its rate in each set, in the order of `PooledComparison.seeds` (null: learned). */
  readonly lrs: (number | null)[];
  /** Mean final loss over every instance of every set, with its 95% interval. */
  readonly finalMean: number;
  readonly finalCi95: number;
  /** Paired with the reference over every instance (absent for the reference itself). */
  readonly paired?: PairedComparison;
}

export interface PooledComparison {
  readonly task: string;
  readonly steps: number;
  readonly seeds: number[];
  /** Instances in all sets together. */
  readonly instances: number;
  /** The first row is the reference; then every optimizer found in every set. */
  readonly rows: PooledRow[];
  /** Optimizers left out because some set lacks them. */
  readonly missing: string[];
}

/**
 * Pools `sets` (one report per seed, rows already merged per set). The reference is the
 * first set's first row. Throws when the sets disagree on task or steps, repeat a seed, or
 * hold one optimizer twice with different losses in one set.
 */
export function poolReports(sets: readonly EvalReport[]): PooledComparison {
  const first = sets[0];
  if (first === undefined) throw new Error("pool: no test sets");
  const seeds: number[] = [];
  const byKey: Map<string, CandidateResult>[] = [];
  for (const s of sets) {
    if (s.task !== first.task || s.steps !== first.steps) {
      throw new Error(`pool: a set of ${s.task}, ${s.steps} steps beside ${first.task}, ${first.steps} steps; pool only evaluations of one task at one step count`);
    }
    if (seeds.includes(s.seed)) throw new Error(`pool: seed ${s.seed} given as two sets; merge the reports of one seed first`);
    seeds.push(s.seed);
    const m = new Map<string, CandidateResult>();
    for (const row of s.results) {
      const k = optimizerKey(row);
      const seen = m.get(k);
      if (seen === undefined) m.set(k, row);
      else if (!sameRun(seen, row)) {
        throw new Error(`pool: seed ${s.seed} has ${k} twice (${seen.optimizer} and ${row.optimizer}) with different final losses; keep one of them`);
      }
    }
    byKey.push(m);
  }
  const ref = optimizerKey(first.results[0]!);
  const keys = [...new Set(sets.flatMap((s) => s.results.map(optimizerKey)))];
  const missing = keys.filter((k) => byKey.some((m) => !m.has(k)));
  if (missing.includes(ref)) throw new Error(`pool: the reference ${ref} is missing from the set of seed ${seeds[byKey.findIndex((m) => !m.has(ref))]}`);
  const refLosses = byKey.flatMap((m) => m.get(ref)!.finalLosses);
  const rows: PooledRow[] = keys
    .filter((k) => !missing.includes(k))
    .map((k) => {
      const rs = byKey.map((m) => m.get(k)!);
      const all = rs.flatMap((r) => r.finalLosses);
      const s = summarize(all);
      const row: PooledRow = { optimizer: k, lrs: rs.map((r) => r.lr), finalMean: s.mean, finalCi95: s.ci95 };
      return k === ref ? row : { ...row, paired: comparePaired(refLosses, all) };
    });
  return { task: first.task, steps: first.steps, seeds, instances: refLosses.length, rows, missing };
}

/** `pooled` as a table, as `l2o compare --pool` prints it. */
export function formatPooled(p: PooledComparison, fmt: (x: number) => string): string {
  const lines = [
    `${p.task}: ${p.seeds.length} test sets pooled (seeds ${p.seeds.join(", ")}; ${p.instances} instances in all), final loss at step ${p.steps}`,
  ];
  const head = ["optimizer", "lr per set", "mean", "+-95%", "log10", "reference lower on", "reference's mean log10 advantage"];
  const cells = p.rows.map((r) => [
    r.optimizer,
    r.lrs.map((x) => (x === null ? "-" : String(x))).join(", "),
    fmt(r.finalMean),
    fmt(r.finalCi95),
    r.finalMean > 0 && Number.isFinite(r.finalMean) ? Math.log10(r.finalMean).toFixed(3) : "-",
    r.paired ? `${r.paired.wins}/${r.paired.n}` : "(reference)",
    r.paired ? `${r.paired.log10Advantage.mean.toFixed(4)} +- ${r.paired.log10Advantage.ci95.toFixed(4)}` : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  lines.push(line(head), ...cells.map(line));
  lines.push(`reference: ${p.rows[0]!.optimizer}; its advantage is log10 of the other's final loss minus its own, per instance (positive: the reference ended lower)`);
  if (p.missing.length > 0) lines.push(`left out, not in every set: ${p.missing.join(", ")}`);
  return lines.join("\n") + "\n";
}

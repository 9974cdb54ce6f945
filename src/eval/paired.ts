/**
 * Paired comparison of two optimizers evaluated on the same instances: how often the first
 * ends lower, and the mean of the per-instance difference in log10 final loss with its 95%
 * interval (a positive number means the first optimizer's final loss is lower).
 */
import { summarize, type Summary } from "./stats.ts";

export interface PairedComparison {
  readonly wins: number;
  readonly n: number;
  /** log10(b) - log10(a) per instance, summarised. */
  readonly log10Advantage: Summary;
}

export function comparePaired(a: readonly number[], b: readonly number[]): PairedComparison {
  if (a.length !== b.length) throw new Error(`comparePaired: ${a.length} and ${b.length} instances`);
  let wins = 0;
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) wins++;
    d.push(Math.log10(b[i]!) - Math.log10(a[i]!));
  }
  return { wins, n: a.length, log10Advantage: summarize(d) };
}

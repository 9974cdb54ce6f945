/** Prints an evaluation report as a table. */
import type { EvalReport } from "../eval/evaluate.ts";
import { fmt } from "./run.ts";
import { comparePaired } from "../eval/paired.ts";

export function formatReport(r: EvalReport): string {
  const lines: string[] = [];
  const metricNames = [...new Set(r.results.flatMap((x) => Object.keys(x.metrics ?? {})))];
  lines.push(`${r.task}: ${r.instances} fresh instances, ${r.steps} steps, seed ${r.seed}; loss per function, mean and 95% interval`);
  const mid = Math.round(r.steps / 2);
  const head = ["optimizer", "lr", `loss@${mid}`, `loss@${r.steps}`, "+-95%", "log10", ...metricNames, "diverged"];
  const rows = r.results.map((x) => [
    x.optimizer,
    x.lr === null ? "-" : `${x.lr}${x.lrAtGridEdge ? "*" : ""}`,
    fmt(x.meanLoss[mid] ?? NaN),
    fmt(x.finalMean),
    fmt(x.finalCi95),
    Number.isFinite(x.finalMean) && x.finalMean > 0 ? Math.log10(x.finalMean).toFixed(3) : "-",
    ...metricNames.map((m) => (x.metrics?.[m] ? `${fmt(x.metrics[m]!.mean)}` : "-")),
    String(x.diverged),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  lines.push(line(head));
  for (const row of rows) lines.push(line(row));
  const best = [...r.results].sort((a, b) => a.finalMean - b.finalMean)[0];
  if (best) lines.push(`lowest final loss: ${best.optimizer}`);
  const first = r.results[0];
  if (first && r.results.length > 1) {
    lines.push(`paired with ${first.optimizer} on the same instances (final loss):`);
    for (const x of r.results.slice(1)) {
      const c = comparePaired(first.finalLosses, x.finalLosses);
      const a = c.log10Advantage;
      lines.push(`  vs ${x.optimizer}: lower on ${c.wins}/${c.n}; mean log10 advantage ${a.mean.toFixed(3)} +- ${a.ci95.toFixed(3)}`);
    }
  }
  if (r.results.some((x) => x.lrAtGridEdge)) lines.push("* tuned learning rate at the edge of the grid: widen --lr-grid to be sure");
  return lines.join("\n") + "\n";
}

/**
 * Rows for docs/RESULTS.md's GPS comparison from `l2o rl eval --out` reports: for the first
 * curve of each report (the policy evaluated), the mean objective +- 95% interval after
 * k = 10, 25, 50, 100 evaluations, and against the named baseline's curve in the same report,
 * paired over the instances at k = 100: on how many the policy ends lower, and the mean
 * difference (policy minus baseline) +- its 95% interval.
 *
 *   npx tsx scripts/rl_gps_table.ts lbfgs docs/results/rl-logistic-regression.json docs/results/rl-logistic-regression-gps-levine.json
 */
import { readFileSync } from "node:fs";
import { summarize } from "../src/eval/stats.ts";

interface Curve { optimizer: string; mean: number[]; ci95: number[]; final: number[] }
const [baseline, ...files] = process.argv.slice(2);
if (baseline === undefined || files.length === 0) throw new Error("usage: rl_gps_table.ts BASELINE REPORT.json...");
const f4 = (x: number): string => x.toFixed(4);
for (const file of files) {
  const r = JSON.parse(readFileSync(file, "utf8")) as { curves: Curve[] };
  const policy = r.curves[0]!;
  const base = r.curves.find((c) => c.optimizer === baseline);
  if (base === undefined) throw new Error(`${file}: no curve '${baseline}' (has ${r.curves.map((c) => c.optimizer).join(", ")})`);
  const at = [10, 25, 50, 100].map((k) => `${f4(policy.mean[k - 1]!)} +- ${f4(policy.ci95[k - 1]!)}`);
  const d = policy.final.map((v, i) => v - base.final[i]!);
  const wins = d.filter((x) => x < 0).length;
  const s = summarize(d);
  process.stdout.write(`| ${file} | ${at.join(" | ")} | ${wins}/${d.length} (${s.mean >= 0 ? "+" : ""}${f4(s.mean)} +- ${f4(s.ci95)}) |\n`);
}

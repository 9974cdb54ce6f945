/**
 * Rows for docs/RESULTS.md's GPS comparison from `l2o rl eval --out` reports: for the first
 * curve of each report (the policy evaluated), the mean objective +- 95% interval after
 * k = 10, 25, 50, 100 evaluations, and against the named baseline's curve in the same report,
 * paired over the instances at k = 100: on how many the policy ends lower, and the mean
 * difference (policy minus baseline) +- its 95% interval; last, the policy's median over the
 * instances at k = 100 (a mean that one runaway instance can swamp) and how many of its runs
 * diverged (a non-finite objective).
 *
 *   npx tsx scripts/rl_gps_table.ts lbfgs docs/results/rl-logistic-regression.json docs/results/rl-logistic-regression-gps-levine.json
 */
import { readFileSync } from "node:fs";
import { summarize } from "../src/eval/stats.ts";

interface Curve { optimizer: string; mean: (number | string)[]; ci95: (number | string)[]; final: (number | string)[]; diverged: number }
const [baseline, ...files] = process.argv.slice(2);
if (baseline === undefined || files.length === 0) throw new Error("usage: rl_gps_table.ts BASELINE REPORT.json...");
const f4 = (x: number): string => x.toFixed(4);
// Reports write a diverged run's values as the string "Infinity".
const nums = (xs: readonly (number | string)[]): number[] => xs.map(Number);
for (const file of files) {
  const r = JSON.parse(readFileSync(file, "utf8")) as { curves: Curve[] };
  const raw = r.curves[0]!;
  const policy = { mean: nums(raw.mean), ci95: nums(raw.ci95), final: nums(raw.final) };
  const found = r.curves.find((c) => c.optimizer === baseline);
  if (found === undefined) throw new Error(`${file}: no curve '${baseline}' (has ${r.curves.map((c) => c.optimizer).join(", ")})`);
  const base = { final: nums(found.final) };
  const at = [10, 25, 50, 100].map((k) => `${f4(policy.mean[k - 1]!)} +- ${f4(policy.ci95[k - 1]!)}`);
  const d = policy.final.map((v, i) => v - base.final[i]!);
  const wins = d.filter((x) => x < 0).length;
  const s = summarize(d);
  const sorted = [...policy.final].sort((x, y) => x - y);
  const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  process.stdout.write(`| ${file} | ${at.join(" | ")} | ${wins}/${d.length} (${s.mean >= 0 ? "+" : ""}${f4(s.mean)} +- ${f4(s.ci95)}) | median ${f4(median)} | diverged ${raw.diverged} |\n`);
}

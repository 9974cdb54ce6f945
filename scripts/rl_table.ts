/**
 * A markdown table for docs/RESULTS.md from an `l2o rl eval --out` report: each optimizer's
 * rate and mean objective (+- 95% interval) after k evaluations, the lowest mean per column in
 * bold, and the paired comparison at the last k against the best baseline there (the lowest
 * final mean among the curves that are not a policy): on how many instances each ends lower,
 * and the mean difference +- its 95% interval.
 *
 *   npx tsx scripts/rl_table.ts docs/results/rl-mnist-train.json [k1,k2,...] [LABEL=OTHER.json ...]
 *
 * Each LABEL=OTHER.json adds the policy of another report made on the same instances (same
 * task, config, evaluations and seed: checked by the first objective of every instance being
 * the same) as a row named LABEL.
 */
import { readFileSync } from "node:fs";
import type { RlComparison } from "../src/rl/compare.ts";
import { summarize } from "../src/eval/stats.ts";

const [path, ...rest] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: rl_table.ts REPORT.json [k1,k2,...] [LABEL=OTHER.json ...]");
const marksArg = rest.find((a) => /^[0-9,]+$/.test(a));
// Reports write a diverged run's values as strings ("Infinity", "NaN"): numbers again here.
const numbers = (o: RlComparison): RlComparison => ({ ...o, curves: o.curves.map((c) => ({ ...c, mean: c.mean.map(Number), ci95: c.ci95.map(Number), final: c.final.map(Number), finalMean: Number(c.finalMean) })) });
const r = numbers(JSON.parse(readFileSync(path, "utf8")) as RlComparison);
const extraLabels = new Map<string, string>();
for (const arg of rest.filter((a) => a.includes("="))) {
  const [lab, file] = arg.split("=") as [string, string];
  const o = numbers(JSON.parse(readFileSync(file, "utf8")) as RlComparison);
  if (o.task !== r.task || o.evals !== r.evals || o.seed !== r.seed || o.instances !== r.instances) throw new Error(`${file} is not on the instances of ${path}`);
  const c = o.curves[0]!;
  if (c.mean[0] !== r.curves[0]!.mean[0]) throw new Error(`${file} starts elsewhere than ${path}: not the same instances`);
  const name = `rl-policy [${lab}]`;
  extraLabels.set(name, lab);
  r.curves.splice(1, 0, { ...c, optimizer: name });
}
const marks = marksArg !== undefined ? marksArg.split(",").map(Number) : [...new Set([Math.min(10, r.evals), Math.ceil(r.evals / 4), Math.ceil(r.evals / 2), r.evals])];
const NAMES: Record<string, string> = { sgd: "gradient descent", momentum: "momentum", adam: "Adam", "lstm:pretrained/mnist": "l2o LSTM (pretrained/mnist)" };
const isPolicy = (name: string): boolean => name.startsWith("rl-policy");
const policyLabel = (name: string): string => {
  if (name.startsWith("rl-policy (gps")) return "policy, GPS";
  const other = /^rl-policy \(pg: (.+)\)$/.exec(name);
  return other === null ? "policy, policy gradient" : `policy, policy gradient (${other[1]})`;
};
const label = (name: string): string => extraLabels.get(name) ?? (isPolicy(name) ? policyLabel(name) : NAMES[name] ?? name);
const g = (v: number): string => v.toFixed(4);
const baselines = r.curves.filter((c) => !isPolicy(c.optimizer));
const best = baselines.reduce((a, b) => (b.finalMean < a.finalMean ? b : a));
const lowest = marks.map((k) => Math.min(...r.curves.map((c) => c.mean[k - 1]!)));
const lines = [
  `| optimizer | lr | ${marks.map((k) => `k = ${k}`).join(" | ")} | ends lower than ${label(best.optimizer)} on (mean difference) |`,
  `|---|---|${marks.map(() => "---|").join("")}---|`,
];
for (const c of r.curves) {
  const cells = marks.map((k, i) => {
    const s = `${g(c.mean[k - 1]!)} +- ${g(c.ci95[k - 1]!)}`;
    return c.mean[k - 1] === lowest[i] ? `**${s}**` : s;
  });
  let paired = "(best)";
  if (c !== best) {
    const d = c.final.map((v, i) => v - best.final[i]!);
    const s = summarize(d);
    paired = `${d.filter((x) => x < 0).length}/${d.length} (${s.mean >= 0 ? "+" : ""}${g(s.mean)} +- ${g(s.ci95)})`;
  }
  const div = c.diverged > 0 ? ` (${c.diverged} diverged)` : "";
  lines.push(`| ${label(c.optimizer)}${div} | ${c.lr === null ? "-" : String(c.lr)} | ${cells.join(" | ")} | ${paired} |`);
}
process.stdout.write(`${lines.join("\n")}\n`);

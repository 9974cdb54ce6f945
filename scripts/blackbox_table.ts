/**
 * Markdown tables for docs/RESULTS.md from `l2o blackbox eval --out` reports: the minimum found
 * after N evaluations (median [25%, 75%] over runs) per function and method, and the wall time
 * per proposal with GP-BO's ratio to each learned network. A method in several reports (random
 * search, run alongside each) must have the same curves in each: the runs are the same.
 *
 *   npx tsx scripts/blackbox_table.ts docs/results/blackbox-*.json
 */
import { readFileSync } from "node:fs";
import { quartilesAt, type FunctionResult, type MethodResult } from "../src/blackbox/eval.ts";

const reports = process.argv.slice(2).map((p) => JSON.parse(readFileSync(p, "utf8")) as { functions: FunctionResult[] });
const byFn = new Map<string, { dim: number; knownMin?: number; methods: Map<string, MethodResult> }>();
for (const r of reports) {
  for (const f of r.functions) {
    const e = byFn.get(f.name) ?? { dim: f.dim, ...(f.knownMin !== undefined ? { knownMin: f.knownMin } : {}), methods: new Map<string, MethodResult>() };
    for (const m of f.methods) {
      const had = e.methods.get(m.method);
      if (had !== undefined && JSON.stringify(had.best) !== JSON.stringify(m.best)) throw new Error(`${m.method} on ${f.name} differs between reports: not the same runs`);
      if (had === undefined) e.methods.set(m.method, m);
    }
    byFn.set(f.name, e);
  }
}
const methods = [...new Set([...byFn.values()].flatMap((e) => [...e.methods.keys()]))];
const g = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(3));
const cps = [10, 20, 50];
const lines: string[] = [];
lines.push(`| function | N | ${methods.join(" | ")} |`, `|---|---|${methods.map(() => "---|").join("")}`);
for (const [name, e] of byFn) {
  for (const t of cps) {
    const cells = methods.map((m) => {
      const r = e.methods.get(m);
      if (r === undefined || r.best[0]!.length < t) return "";
      const q = quartilesAt(r, t);
      return `${g(q.median)} [${g(q.q25)}, ${g(q.q75)}]`;
    });
    // the lowest median in bold
    const meds = methods.map((m) => { const r = e.methods.get(m); return r && r.best[0]!.length >= t ? quartilesAt(r, t).median : Infinity; });
    const lo = Math.min(...meds);
    lines.push(`| ${t === cps[0] ? `${name} (${e.dim}-D${e.knownMin !== undefined ? `, min ${e.knownMin}` : ""})` : ""} | ${t} | ${cells.map((c, i) => (meds[i] === lo ? `**${c}**` : c)).join(" | ")} |`);
  }
}
const learned = methods.filter((m) => m.startsWith("lstm"));
lines.push("", `| function | ${methods.map((m) => `${m} ms (CPU ms)`).join(" | ")} | ${learned.map((m) => `gp-bo / ${m}, wall (CPU)`).join(" | ")} |`);
lines.push(`|---|${methods.map(() => "---|").join("")}${learned.map(() => "---|").join("")}`);
const p3 = (v: number): string => v.toPrecision(3);
for (const [name, e] of byFn) {
  const ms = (m: string): [number, number | undefined] | undefined => {
    const r = e.methods.get(m);
    return r === undefined ? undefined : [1000 * r.secondsPerProposal, r.cpuSecondsPerProposal === undefined ? undefined : 1000 * r.cpuSecondsPerProposal];
  };
  const bo = ms("gp-bo");
  const cell = (v: [number, number | undefined] | undefined): string => (v === undefined ? "" : `${p3(v[0])}${v[1] !== undefined ? ` (${p3(v[1])})` : ""}`);
  const ratio = (m: string): string => {
    const v = ms(m);
    if (bo === undefined || v === undefined) return "";
    const cpu = bo[1] !== undefined && v[1] !== undefined && v[1] > 0 ? ` (${Math.round(bo[1] / v[1])}x)` : "";
    return `${Math.round(bo[0] / v[0])}x${cpu}`;
  };
  lines.push(`| ${name} | ${methods.map((m) => cell(ms(m))).join(" | ")} | ${learned.map(ratio).join(" | ")} |`);
}
process.stdout.write(lines.join("\n") + "\n");

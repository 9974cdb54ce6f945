/**
 * What the dashboard lists: the evaluation reports (`l2o eval --json`), training logs
 * (`l2o train --log`) and run files (`l2o run --out`) found in its folder and the folders
 * under it, each told apart by its content, not its name:
 * - a JSON file holding `task`, `steps`, `instances`, `seed` and `results` rows with
 *   `optimizer` and `meanLoss` is an evaluation report;
 * - a JSONL file whose first line is a scalar `{step, name, value, time}` is a training log;
 * - a JSONL file whose first line is `{step, meanLoss, ci95, n}` is a run.
 * The search is bounded (depth, entries, bytes read per file); hidden entries and
 * node_modules are skipped, and a link is followed only when its target stays in the folder.
 * Each file's kind is kept by its size and time, so listing again reads only what changed.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { readHead, readTailLines } from "./files.ts";

export type EntryKind = "eval" | "training" | "run";

/** One file the dashboard shows. */
export interface CatalogEntry {
  /** The path relative to the folder, `/`-separated (what requests name). */
  readonly file: string;
  readonly kind: EntryKind;
  readonly bytes: number;
  /** Last modification, Unix milliseconds. */
  readonly modified: number;
  /** A line about it: a report's task and optimizers, a log's last values. */
  readonly summary: string;
}

/** Bounds of the search and of what is read to tell a file's kind. */
export const CATALOG_LIMITS = { depth: 6, entries: 2000, files: 500, reportBytes: 16 * 2 ** 20, headBytes: 64 * 2 ** 10 } as const;

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** JSON with the non-finite numbers that l2o writes as strings turned back into numbers. */
export function parseL2oJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => (typeof v === "string" && Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : v));
}

/** A report's fields that the dashboard uses, when `v` is an evaluation report. */
export function asReport(v: unknown): { task: string; steps: number; instances: number; seed: number; results: Array<{ optimizer: string; meanLoss: number[]; ci95: number[] }> } | undefined {
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== "object" || typeof o.task !== "string" || !Array.isArray(o.results) || o.results.length === 0) return undefined;
  if (![o.steps, o.instances, o.seed].every((x) => typeof x === "number")) return undefined;
  const rowsOk = (o.results as unknown[]).every((r) => {
    const row = r as Record<string, unknown> | null;
    return row !== null && typeof row === "object" && typeof row.optimizer === "string" && Array.isArray(row.meanLoss) && Array.isArray(row.ci95);
  });
  return rowsOk ? (o as ReturnType<typeof asReport>) : undefined;
}

const num = (x: unknown): string => (typeof x === "number" ? (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4)) : String(x));

function classifyReport(path: string, size: number): Omit<CatalogEntry, "file" | "bytes" | "modified"> | undefined {
  if (size > CATALOG_LIMITS.reportBytes) return undefined;
  let report;
  try {
    report = asReport(parseL2oJson(readHead(path, CATALOG_LIMITS.reportBytes).text));
  } catch {
    return undefined;
  }
  if (report === undefined) return undefined;
  const names = report.results.map((r) => r.optimizer);
  const shown = names.length > 4 ? `${names.slice(0, 4).join(", ")} and ${names.length - 4} more` : names.join(", ");
  return { kind: "eval", summary: `${report.task}, ${report.steps} steps, ${report.instances} instances: ${shown}` };
}

/** Where a training log has got to, from its last lines: the meta-iteration, the epoch and its validation score. */
function trainingSummary(path: string): string {
  let iteration: unknown;
  let epoch: { step: unknown; value: unknown } | undefined;
  for (const line of readTailLines(path, CATALOG_LIMITS.headBytes).text.split("\n")) {
    try {
      const o = parseL2oJson(line) as Record<string, unknown>;
      if (o.name === "meta/loss") iteration = o.step;
      else if (o.name === "valid/score") epoch = { step: o.step, value: o.value };
    } catch {
      // a line being written
    }
  }
  const parts = [iteration === undefined ? "no meta-iteration yet" : `meta-iteration ${String(iteration)}`];
  if (epoch !== undefined) parts.push(`epoch ${String(epoch.step)}, validation ${num(epoch.value)}`);
  return `training log: ${parts.join("; ")}`;
}

function classifyLog(path: string): Omit<CatalogEntry, "file" | "bytes" | "modified"> | undefined {
  let first: Record<string, unknown>;
  try {
    const head = readHead(path, CATALOG_LIMITS.headBytes).text;
    const nl = head.indexOf("\n");
    if (nl < 0) return undefined;
    first = JSON.parse(head.slice(0, nl)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (first === null || typeof first !== "object") return undefined;
  if (typeof first.name === "string" && typeof first.step === "number" && "value" in first && typeof first.time === "number") {
    return { kind: "training", summary: trainingSummary(path) };
  }
  if (typeof first.step === "number" && "meanLoss" in first && "ci95" in first) {
    return { kind: "run", summary: `run, first mean loss ${num(first.meanLoss)}` };
  }
  return undefined;
}

/** The catalog of `root` (a real path), kept between listings. */
export class Catalog {
  private readonly known = new Map<string, { key: string; found: Omit<CatalogEntry, "file" | "bytes" | "modified"> | undefined }>();

  constructor(private readonly root: string) {}

  /** The entries now in the folder, newest first. */
  list(): CatalogEntry[] {
    const out: CatalogEntry[] = [];
    let seen = 0;
    const seenPaths = new Set<string>();
    const walk = (dir: string, rel: string, depth: number): void => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const name of names) {
        if (++seen > CATALOG_LIMITS.entries || out.length >= CATALOG_LIMITS.files) return;
        if (name.startsWith(".") || name === "node_modules") continue;
        const abs = join(dir, name);
        const relName = rel === "" ? name : `${rel}/${name}`;
        let st;
        try {
          st = lstatSync(abs);
          if (st.isSymbolicLink()) {
            const real = realpathSync(abs);
            if (!real.startsWith(this.root + sep)) continue;
            st = statSync(real);
          }
        } catch {
          continue;
        }
        if (st.isDirectory()) {
          if (depth < CATALOG_LIMITS.depth) walk(abs, relName, depth + 1);
          continue;
        }
        if (!st.isFile() || !/\.jsonl?$/.test(name)) continue;
        seenPaths.add(relName);
        const key = `${st.size}:${st.mtimeMs}`;
        let cached = this.known.get(relName);
        if (cached?.key !== key) {
          cached = { key, found: name.endsWith(".jsonl") ? classifyLog(abs) : classifyReport(abs, st.size) };
          this.known.set(relName, cached);
        }
        if (cached.found !== undefined) out.push({ file: relName, bytes: st.size, modified: st.mtimeMs, ...cached.found });
      }
    };
    walk(this.root, "", 0);
    for (const k of this.known.keys()) if (!seenPaths.has(k)) this.known.delete(k);
    return out.sort((a, b) => b.modified - a.modified || a.file.localeCompare(b.file));
  }

  /** The entry for `file`, if the catalog lists it. */
  find(file: string): CatalogEntry | undefined {
    return this.list().find((e) => e.file === file);
  }
}

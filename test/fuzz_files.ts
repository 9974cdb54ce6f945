/**
 * Fuzzing the optimizer-file loader with mutants of the shipped files (mutations in
 * `test/fuzz_mutants.ts`). Each mutant must either load as the very optimizer it came from
 * (same kind, config and phi bits; a file stripped of its hashes may add a warning) or be
 * refused with an `L2oError` whose message is one line naming the file; anything else (another
 * error, a different optimizer, a load over the time limit) is counted as a failure.
 *
 * Run it in its own memory-bounded process, so that a runaway allocation or a hang fails the
 * run instead of the caller:
 *
 *   node --max-old-space-size=256 --import tsx test/fuzz_files.ts --mutants 300 --seed 7 [--json]
 *   npm run fuzz -- --mutants 20000 --seed 1
 *   node --import tsx test/fuzz_files.ts --load PATH...    (one JSON line per path)
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { L2oError } from "../src/core/errors.ts";
import { foldIn, key } from "../src/core/rng.ts";
import { PRETRAINED_DIR, loadLearnedOptimizer } from "../src/learned/file.ts";
import { pretrainedNames } from "../src/learned/pretrained.ts";
import { Draw, MUTATIONS, parts, type Parts } from "./fuzz_mutants.ts";

interface Meaning {
  kind: string;
  config: string;
  phi: string;
}

/** What the loader makes of `path`: the optimizer's meaning and warnings, or the error. */
function attempt(path: string): { ok: true; meaning: Meaning; warnings: readonly string[] } | { ok: false; error: unknown } {
  try {
    const { optimizer, phi, warnings } = loadLearnedOptimizer(path, { engine: "ref" });
    const bytes = new Uint8Array(phi.buffer, phi.byteOffset, phi.byteLength);
    const meaning = { kind: optimizer.kind, config: JSON.stringify(optimizer.config), phi: createHash("sha256").update(bytes).digest("hex") };
    return { ok: true, meaning, warnings };
  } catch (error) {
    return { ok: false, error };
  }
}

function describe(error: unknown): { errorClass: string; message: string } {
  const e = error as { name?: unknown; message?: unknown };
  return { errorClass: typeof e?.name === "string" ? e.name : typeof error, message: typeof e?.message === "string" ? e.message : String(error) };
}

function loadMode(paths: readonly string[]): void {
  for (const path of paths) {
    const t0 = performance.now();
    const r = attempt(path);
    const ms = performance.now() - t0;
    const line = r.ok
      ? { path, outcome: "loaded", kind: r.meaning.kind, warnings: r.warnings, ms }
      : { path, outcome: r.error instanceof L2oError ? "refused" : "other", ...describe(r.error), ms };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

interface Report {
  mutants: number;
  seed: number;
  counts: Record<string, number>;
  byMutation: Record<string, Record<string, number>>;
  failures: number;
  examples: string[];
  slowestMs: number;
  maxRssMiB: number;
  seconds: number;
  /** The shipped files the mutants come from, by name (`general`, `lineage/mnist-paper`). */
  files: string[];
}

function fuzz(mutants: number, seed: number, maxMs: number): Report {
  const t0 = performance.now();
  // Every shipped file, those under lineage/ included (each loads by its name).
  const names = pretrainedNames();
  const shipped: Array<{ name: string; parts: Parts; meaning: Meaning }> = names.map((name) => {
    const path = join(PRETRAINED_DIR, `${name}.safetensors`);
    const r = attempt(path);
    if (!r.ok) throw new Error(`fuzz: the shipped ${name} does not load: ${describe(r.error).message}`);
    if (r.warnings.length > 0) throw new Error(`fuzz: the shipped ${name} loads with warnings: ${r.warnings.join("; ")}`);
    return { name, parts: parts(readFileSync(path)), meaning: r.meaning };
  });
  const dir = mkdtempSync(join(tmpdir(), "l2o-fuzz-"));
  const path = join(dir, "mutant.safetensors");
  const mutationNames = Object.keys(MUTATIONS);
  const counts: Record<string, number> = {};
  const byMutation: Record<string, Record<string, number>> = {};
  const examples: string[] = [];
  let failures = 0;
  let slowestMs = 0;
  const root = foldIn(key(seed), "fuzz-files");
  try {
    for (let i = 0; i < mutants; i++) {
      const d = new Draw(foldIn(root, i));
      const file = shipped[d.int(shipped.length)]!;
      const mutation = mutationNames[d.int(mutationNames.length)]!;
      writeFileSync(path, MUTATIONS[mutation]!(file.parts, d));
      const start = performance.now();
      const r = attempt(path);
      const ms = performance.now() - start;
      slowestMs = Math.max(slowestMs, ms);
      let outcome: string;
      let bad = "";
      if (r.ok) {
        const same = r.meaning.kind === file.meaning.kind && r.meaning.config === file.meaning.config && r.meaning.phi === file.meaning.phi;
        outcome = same ? (r.warnings.length > 0 ? "loaded identical, with a warning" : "loaded identical") : "loaded DIFFERENT";
        if (!same) bad = `loaded as a different optimizer: ${JSON.stringify(r.meaning)} vs ${JSON.stringify(file.meaning)}`;
      } else if (r.error instanceof L2oError) {
        outcome = `refused: ${r.error.name}`;
        if (/[\n\r]/.test(r.error.message)) bad = `message of more than one line: ${JSON.stringify(r.error.message.slice(0, 200))}`;
        else if (!r.error.message.includes(path)) bad = `message does not name the file: ${r.error.message.slice(0, 200)}`;
      } else {
        const { errorClass, message } = describe(r.error);
        outcome = `OTHER: ${errorClass}`;
        bad = `${errorClass}: ${message.slice(0, 200)}`;
      }
      if (ms > maxMs) bad ||= `took ${ms.toFixed(0)} ms (limit ${maxMs})`;
      if (bad !== "") {
        failures++;
        if (examples.length < 10) examples.push(`mutant ${i} (${mutation} of ${file.name}): ${bad}`);
      }
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      const m = (byMutation[mutation] ??= {});
      m[outcome] = (m[outcome] ?? 0) + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  return { mutants, seed, counts, byMutation, failures, examples, slowestMs, maxRssMiB, seconds: (performance.now() - t0) / 1000, files: names };
}

function flag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`fuzz: ${name} expects a non-negative integer, got ${args[i + 1]}`);
  return v;
}

function main(args: readonly string[]): void {
  if (args[0] === "--load") return loadMode(args.slice(1));
  const report = fuzz(flag(args, "--mutants", 300), flag(args, "--seed", 1), flag(args, "--max-ms", 5000));
  if (args.includes("--json")) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const pad = (s: string) => s.padEnd(36);
    process.stdout.write(`${report.mutants} mutants of the ${report.files.length} shipped files (${report.files.join(", ")}), seed ${report.seed}, ${report.seconds.toFixed(1)} s\n`);
    for (const [k, v] of Object.entries(report.counts).sort()) process.stdout.write(`  ${pad(k)} ${v}\n`);
    process.stdout.write(`by mutation:\n`);
    for (const [m, c] of Object.entries(report.byMutation).sort()) {
      process.stdout.write(`  ${pad(m)} ${Object.entries(c).sort().map(([k, v]) => `${k} ${v}`).join(", ")}\n`);
    }
    process.stdout.write(`slowest load ${report.slowestMs.toFixed(0)} ms, peak RSS ${report.maxRssMiB.toFixed(0)} MiB\n`);
    process.stdout.write(`anything else: ${report.failures}\n`);
    for (const e of report.examples) process.stdout.write(`  ${e}\n`);
  }
  process.exitCode = report.failures === 0 ? 0 : 1;
}

main(process.argv.slice(2));

/**
 * A short fuzz run over damaged and hostile mutants of the shipped optimizer files (see
 * test/fuzz_files.ts and test/fuzz_mutants.ts), in a child process with a 256 MiB heap and a
 * time limit, so that a runaway allocation or a hang fails this test instead of the runner.
 * The long run is `npm run fuzz -- --mutants 20000 --seed 1` (docs/FUZZ.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pretrainedNames } from "../src/learned/pretrained.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

test("300 mutants of the shipped files: each loads as the optimizer it was, or is refused with an L2oError", () => {
  const r = spawnSync(
    process.execPath,
    ["--max-old-space-size=256", "--import", "tsx", "test/fuzz_files.ts", "--mutants", "300", "--seed", "7", "--max-ms", "3000", "--json"],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.error, undefined, `the fuzz run did not finish in time: ${String(r.error)}`);
  assert.equal(r.signal, null, `the fuzz run was killed (${r.signal}): ${r.stderr}`);
  const report = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    counts: Record<string, number>;
    byMutation: Record<string, Record<string, number>>;
    failures: number;
    examples: string[];
    maxRssMiB: number;
    files: string[];
  };
  assert.equal(report.failures, 0, `anything else:\n${report.examples.join("\n")}`);
  assert.equal(r.status, 0, r.stderr);
  const total = Object.values(report.counts).reduce((a, b) => a + b, 0);
  assert.equal(total, 300);
  // Every shipped file is a parent of mutants: the lineage files load by name too (lineage/mnist-paper).
  assert.deepEqual(report.files, pretrainedNames());
  assert.ok(report.files.some((f) => f.startsWith("lineage/")), report.files.join(", "));
  // Both outcomes occur, and every kind of mutation was tried.
  assert.ok((report.counts["refused: FileFormatError"] ?? 0) > 200, JSON.stringify(report.counts));
  assert.ok((report.counts["loaded identical, with a warning"] ?? 0) + (report.counts["loaded identical"] ?? 0) > 0, JSON.stringify(report.counts));
  assert.equal(Object.keys(report.byMutation).length, 17);
  assert.ok(report.maxRssMiB < 768, `peak RSS ${report.maxRssMiB} MiB`);
});

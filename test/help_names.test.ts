/**
 * The shipped optimizers that the command line's help texts, the README and the examples name
 * as examples exist: a user who copies `pretrained/NAME` from `l2o art --help` gets a file, not
 * "optimizer file not found".
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { isPretrainedName } from "../src/learned/pretrained.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The files whose text a user copies names from: the CLI's sources (their help), the README, the examples. */
function userFacingFiles(): string[] {
  const dir = (d: string, ext: string): string[] => readdirSync(join(REPO, d)).filter((f) => f.endsWith(ext)).map((f) => join(d, f));
  return [...dir("src/cli", ".ts"), ...dir("examples", ".ts"), "README.md"];
}

test("every pretrained/NAME the help texts, the README and the examples mention is a shipped optimizer", () => {
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const file of userFacingFiles()) {
    const text = readFileSync(join(REPO, file), "utf8");
    // A name ends before a dot (pretrained/mnist.safetensors) or a trailing slash (the lineage/ folder itself).
    for (const m of text.matchAll(/pretrained\/((?:lineage\/)?[A-Za-z0-9_-]+)(?![A-Za-z0-9_\/-])/g)) {
      if (/^[A-Z]+$/.test(m[1]!)) continue; // a placeholder: pretrained/NAME
      seen.add(m[1]!);
      if (!isPretrainedName(m[1]!)) missing.push(`${file}: pretrained/${m[1]}`);
    }
  }
  assert.ok(seen.has("quadratic"), `the scan finds the README's pretrained/quadratic (found ${[...seen].join(", ")})`);
  assert.deepEqual(missing, []);
});

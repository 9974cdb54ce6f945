/**
 * `writeJson`, which writes every report of the command line (eval --json, suite --out after
 * each problem, compare --json, the few-shot and black-box reports): what it writes reads
 * back, and it replaces a report atomically, so a kill part way never leaves one cut short.
 */
import assert from "node:assert/strict";
import { linkSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseJsonWithNonFinite, writeJson } from "../src/cli/format.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-write-json-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a report reads back as written, non-finite numbers included, in a folder it makes", () => {
  const path = join(dir, "new", "folder", "report.json");
  const value = { task: "quadratic", finalLosses: [0.5, Infinity, -Infinity, NaN], nested: { lr: 0.1 } };
  writeJson(path, value);
  assert.deepEqual(parseJsonWithNonFinite(readFileSync(path, "utf8")), value);
});

test("a report is replaced by a new file, never rewritten in place, and leaves no temporary behind", () => {
  const path = join(dir, "suite.json");
  writeJson(path, { problems: ["quadratic-3d"] });
  // A second name for the old file's bytes: a write in place (truncate, then write) would change
  // them too, and a kill between the two would leave the report empty.
  const old = join(dir, "suite-before.json");
  linkSync(path, old);
  writeJson(path, { problems: ["quadratic-3d", "mlp-deep"] });
  assert.deepEqual(JSON.parse(readFileSync(old, "utf8")), { problems: ["quadratic-3d"] }, "the old file was not touched");
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { problems: ["quadratic-3d", "mlp-deep"] });
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes(".tmp-")), []);
});

/**
 * The README's example is examples/quickstart.ts, verbatim, and does what the README says: on
 * fresh quadratics the shipped optimizer ends below Adam at its tuned learning rate.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLE = join(ROOT, "examples", "quickstart.ts");

describe("the README's example", () => {
  it("is examples/quickstart.ts as it is", () => {
    const code = readFileSync(EXAMPLE, "utf8").trim();
    assert.ok(readFileSync(join(ROOT, "README.md"), "utf8").includes(code), "README.md does not contain examples/quickstart.ts verbatim");
  });

  it("runs, and the learned optimizer ends below tuned Adam on most fresh functions", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", EXAMPLE], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const mean = (name: string) => Number(new RegExp(`^${name} +mean loss after 100 steps ([0-9.]+)`, "m").exec(r.stdout)?.[1]);
    assert.ok(mean("quadratic") < mean("adam"), r.stdout);
    const lower = Number(/ends lower on (\d+) of 50 functions/.exec(r.stdout)?.[1]);
    assert.ok(lower > 25, r.stdout);
  });
});

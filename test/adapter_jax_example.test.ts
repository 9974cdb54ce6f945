/** examples/jax_training_loop.ts runs: a jax-js loop with the learned optimizer and Adam side by side, both lowering the loss. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));

it("examples/jax_training_loop.ts: 30 steps of the learned optimizer and of Adam, both lowering the loss", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "examples/jax_training_loop.ts", "30"], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\s+step\s+mnist\s+adam@0\.01$/m);
  const rows = [...r.stdout.matchAll(/^\s+(\d+)\s+([\d.]+)\s+([\d.]+)$/gm)].map((m) => m.slice(1).map(Number));
  assert.deepEqual([rows[0]![0], rows.at(-1)![0]], [0, 30], r.stdout);
  const [, learned0, adam0] = rows[0]!;
  const [, learnedN, adamN] = rows.at(-1)!;
  assert.equal(learned0, adam0, "both start from the same parameters");
  assert.ok(learnedN! < 0.5 * learned0!, `the learned optimizer: ${learned0} -> ${learnedN}`);
  assert.ok(adamN! < adam0!, `adam: ${adam0} -> ${adamN}`);
});

/**
 * The tfjs examples run, on a few steps: examples/tfjs_mnist.ts (model.fit with the learned
 * optimizer and with tfjs Adam, losses side by side) and examples/tfjs_own_task.ts
 * (taskFromModel, meta-training, then model.fit with the result).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const run = (file: string, args: string[]) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", file, ...args], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `${file} failed:\n${r.stderr}`);
  return r.stdout;
};

test("examples/tfjs_mnist.ts: 20 steps of model.fit by the learned optimizer and by Adam, both lowering the loss", () => {
  const out = run("examples/tfjs_mnist.ts", ["20"]);
  assert.match(out, /^\s+step\s+learned \(mnist\)\s+tfjs Adam \(lr 0\.01\)$/m);
  const rows = [...out.matchAll(/^\s+(\d+)\s+([\d.]+)\s+([\d.]+)$/gm)].map((m) => m.slice(1).map(Number) as [number, number, number]);
  assert.deepEqual([rows[0]![0], rows.at(-1)![0]], [1, 20], out);
  assert.equal(rows[0]![1], rows[0]![2], "both start from the same weights on the same minibatch");
  assert.ok(rows.at(-1)![1] < 0.5 * rows[0]![1], `the learned optimizer: ${rows[0]![1]} -> ${rows.at(-1)![1]}`);
  assert.ok(rows.at(-1)![2] < rows[0]![2], `adam: ${rows[0]![2]} -> ${rows.at(-1)![2]}`);
  const acc = /test accuracy: learned ([\d.]+)%, adam ([\d.]+)%/.exec(out);
  assert.ok(acc !== null && Number(acc[1]) > 20 && Number(acc[2]) > 10, out);
});

test("examples/tfjs_own_task.ts: 4 meta-iterations on a model family of one's own, then model.fit with the result", () => {
  const out = run("examples/tfjs_own_task.ts", ["4", "5"]);
  assert.match(out, /^epoch 1: validation loss [\d.]+ \(best [\d.]+\)$/m);
  assert.match(out, /^meta-trained 4 iterations in /m);
  const finals = [...out.matchAll(/^\s+(fine-tuned|shipped mnist|tfjs Adam).*:\s+([\d.]+)$/gm)].map((m) => Number(m[2]));
  assert.equal(finals.length, 3, out);
  assert.ok(finals.every((v) => Number.isFinite(v) && v > 0 && v < 2.5), `final losses ${finals.join(", ")} should be below the 2.3 of a uniform guess`);
});

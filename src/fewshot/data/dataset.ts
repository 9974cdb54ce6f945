/**
 * The one shape every few-shot image source takes: a split (meta-train, meta-val or meta-test)
 * of an image classification dataset, its classes disjoint from the other splits' classes, each
 * class a list of examples read one at a time. Episodes (episode.ts) draw classes and examples
 * from it; the glyphs (glyphs.ts), Omniglot (omniglot.ts) and mini-ImageNet (mini_imagenet.ts)
 * all implement it.
 *
 * Images are planar (CHW) floats in [0, 1]: `x[(c * h + y) * w + x]`. Ink is 1 on a 0 ground for
 * the greyscale sources (Omniglot is inverted on load, as MAML does).
 */
import { ConfigError } from "../../core/errors.ts";

/** Which class-level split: meta-training, meta-validation, or meta-test classes. */
export type FewShotSplit = "train" | "val" | "test";
export const FEWSHOT_SPLITS: readonly FewShotSplit[] = ["train", "val", "test"];

/** One split of an image classification dataset, read class by class. */
export interface ImageClassDataset {
  /** The source and split, for messages and run records (`glyphs/train`, `omniglot/test`). */
  readonly name: string;
  readonly split: FewShotSplit;
  /** Channels, height, width of every image. */
  readonly shape: readonly [number, number, number];
  /** Number of classes in this split; classes are 0..classes-1. */
  readonly classes: number;
  /** Number of examples of class `cls`. */
  count(cls: number): number;
  /**
   * Writes example `i` of class `cls` (c*h*w floats in [0, 1], CHW) into `out` from `offset`.
   * May read and decode a file: a missing or corrupt one is a DataError naming it.
   */
  image(cls: number, i: number, out: Float32Array, offset?: number): void;
  /** A readable name of class `cls` (a folder name, a WordNet id, `glyph 17`). */
  className(cls: number): string;
}

/** Floats in one image of `ds`. */
export function imageSize(ds: Pick<ImageClassDataset, "shape">): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Every example of class `cls`, as one (count, c, h, w) array. */
export function classImages(ds: ImageClassDataset, cls: number): Float32Array {
  const size = imageSize(ds);
  const n = ds.count(cls);
  const out = new Float32Array(n * size);
  for (let i = 0; i < n; i++) ds.image(cls, i, out, i * size);
  return out;
}

/** Checks a class and example index against `ds` (a RangeError: a caller's bug, not bad data). */
export function checkIndex(ds: Pick<ImageClassDataset, "name" | "classes" | "count">, cls: number, i: number): void {
  if (!Number.isInteger(cls) || cls < 0 || cls >= ds.classes) throw new RangeError(`${ds.name}: class ${cls} outside 0..${ds.classes - 1}`);
  const n = ds.count(cls);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${ds.name}: example ${i} of class ${cls} outside 0..${n - 1}`);
}

/** Reads a split name, refusing anything else with a ConfigError. */
export function parseSplit(s: string): FewShotSplit {
  if ((FEWSHOT_SPLITS as readonly string[]).includes(s)) return s as FewShotSplit;
  throw new ConfigError(`unknown few-shot split "${s}" (one of ${FEWSHOT_SPLITS.join(", ")})`);
}

/**
 * A cache of 8-bit images bounded in bytes, least recently used out first. Decoded files and
 * drawn glyphs are kept as bytes (a quarter of the floats' memory), so a split's working set
 * stays in memory while the whole of a large dataset never has to.
 */
export class ByteCache {
  readonly maxBytes: number;
  #bytes = 0;
  readonly #map = new Map<string, Uint8Array>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry under `k`, made by `make` on a miss (and kept if it fits). */
  get(k: string, make: () => Uint8Array): Uint8Array {
    const hit = this.#map.get(k);
    if (hit) {
      // Re-inserting moves the entry to the back of the Map's order: most recently used.
      this.#map.delete(k);
      this.#map.set(k, hit);
      return hit;
    }
    const v = make();
    if (v.length > this.maxBytes) return v;
    for (const [old, data] of this.#map) {
      if (this.#bytes + v.length <= this.maxBytes) break;
      this.#map.delete(old);
      this.#bytes -= data.length;
    }
    this.#map.set(k, v);
    this.#bytes += v.length;
    return v;
  }
}

/** Writes 8-bit values as floats in [0, 1]. */
export function bytesToUnit(src: Uint8Array, out: Float32Array, offset: number): void {
  for (let j = 0; j < src.length; j++) out[offset + j] = src[j]! / 255;
}

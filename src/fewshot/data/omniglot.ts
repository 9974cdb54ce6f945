/**
 * Omniglot (Lake et al. 2015) from the user's own copy, in the layout its distribution unpacks
 * to: `DIR/images_background/<Alphabet>/<characterNN>/*.png` (30 alphabets, 964 characters) and
 * `DIR/images_evaluation/...` (20 alphabets, 659 characters), each character 20 PNGs of
 * 105 x 105. l2o ships no Omniglot and downloads nothing.
 *
 * Splits as Vinyals et al. (2016) and MAML (Finn et al. 2017): the 1,623 characters of both
 * folders, in a fixed shuffled order, give 1,200 meta-training characters (of which the last
 * 100 are held out for meta-validation) and the remaining 423 for meta-test. The shuffle is
 * l2o's seeded permutation, so the characters in each split differ from MAML's (drawn by
 * Python's `random.shuffle`) while the sizes match. Images are resized to 28 x 28 and inverted
 * (ink 1 on 0), as MAML does; with `rotations`, each character at 0, 90, 180 and 270 degrees is
 * four classes, all in the character's split (Santoro et al. 2016; MAML).
 */
import { join, resolve } from "node:path";
import { ConfigError } from "../../core/errors.ts";
import { key, permutation } from "../../core/rng.ts";
import { DataError } from "../../data/idx.ts";
import type { FewShotSplit, ImageClassDataset } from "./dataset.ts";
import { checkFileLimits, FILE_CACHE_BYTES, type FileClass, fileDataset, listDir, requireDir, subfolders } from "./files.ts";

export interface OmniglotOptions {
  readonly split: FewShotSplit;
  /** Characters for meta-training and meta-validation together (default 1,200); the rest are meta-test. */
  readonly trainClasses?: number;
  /** Of those, the last `valClasses` (default 100) are meta-validation. */
  readonly valClasses?: number;
  /** Each character's four rotations as four classes (default false). */
  readonly rotations?: boolean;
  /** Side after resizing (default 28). */
  readonly size?: number;
  /** Seed of the fixed shuffle of the characters (default 1). */
  readonly seed?: number;
  /** Bytes of decoded images kept in memory (default 512 MiB; all of Omniglot at 28 x 28 needs 25 MB). */
  readonly cacheBytes?: number;
}

export const OMNIGLOT_FOLDERS: readonly string[] = ["images_background", "images_evaluation"];
const HINT = "Omniglot is not shipped: give the folder holding images_background/ and images_evaluation/ (unzipped from https://github.com/brendenlake/omniglot), each <Alphabet>/<character>/*.png";

/** Every character of both folders, in order (folder, alphabet, character), with its PNGs. */
export function listOmniglot(dir: string): FileClass[] {
  const root = resolve(dir);
  requireDir(root, HINT);
  const out: FileClass[] = [];
  for (const top of OMNIGLOT_FOLDERS) {
    const base = join(root, top);
    requireDir(base, HINT);
    const alphabets = subfolders(base, "alphabet");
    if (alphabets.length === 0) throw new DataError(`${base}: no alphabet folders (${HINT})`, base);
    for (const alphabet of alphabets) {
      const chars = subfolders(join(base, alphabet), "character");
      if (chars.length === 0) throw new DataError(`${join(base, alphabet)}: an alphabet without character folders`, join(base, alphabet));
      for (const ch of chars) {
        const folder = join(base, alphabet, ch);
        const names = listDir(folder);
        const odd = names.find((n) => !n.toLowerCase().endsWith(".png"));
        if (odd !== undefined) throw new DataError(`${join(folder, odd)}: not a .png file (an Omniglot character folder holds only PNGs)`, join(folder, odd));
        if (names.length === 0) throw new DataError(`${folder}: a character folder without images`, folder);
        out.push({ name: `${alphabet}/${ch}`, files: names.map((n) => join(folder, n)) });
      }
    }
  }
  checkFileLimits(root, out);
  return out;
}

function intIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`omniglot: ${name} must be an integer from ${lo} to ${hi}, got ${v}`);
  return v;
}

/** Rotates a square greyscale image by `quarter` quarter turns anticlockwise. */
export function rotateSquare(img: Uint8Array, side: number, quarter: number): Uint8Array {
  if (quarter % 4 === 0) return img;
  const out = new Uint8Array(img.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const [sx, sy] = quarter === 1 ? [side - 1 - y, x] : quarter === 2 ? [side - 1 - x, side - 1 - y] : [y, side - 1 - x];
      out[y * side + x] = img[sy * side + sx]!;
    }
  }
  return out;
}

/** One split of the user's Omniglot; layout problems are DataErrors naming the path. */
export function omniglotDataset(dir: string, opts: OmniglotOptions): ImageClassDataset {
  const chars = listOmniglot(dir);
  const total = chars.length;
  if (total < 3) throw new DataError(`${resolve(dir)}: ${total} characters, too few for three splits`, resolve(dir));
  const trainAll = intIn("trainClasses", opts.trainClasses ?? Math.min(1200, total - 1), 2, total - 1);
  const val = intIn("valClasses", opts.valClasses ?? Math.min(100, trainAll - 1), 1, trainAll - 1);
  const size = intIn("size", opts.size ?? 28, 8, 128);
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new ConfigError(`omniglot: seed must be an integer, got ${seed}`);
  const order = permutation(key(seed), total);
  const range = { train: [0, trainAll - val], val: [trainAll - val, trainAll], test: [trainAll, total] }[opts.split];
  if (!range) throw new ConfigError(`omniglot: unknown split "${opts.split}"`);
  const picked = Array.from(order.subarray(range[0], range[1]), (i) => chars[i]!);
  const rotations = opts.rotations ?? false;
  const classes = rotations ? picked.flatMap((c) => [0, 90, 180, 270].map((deg) => ({ name: `${c.name}@${deg}`, files: c.files }))) : picked;
  return fileDataset({
    name: `omniglot/${opts.split}`,
    split: opts.split,
    channels: 1,
    size,
    classes,
    cacheBytes: opts.cacheBytes ?? FILE_CACHE_BYTES,
    transform: (planar, cls) => {
      // Black ink on white becomes ink 1 on 0; then the class's rotation.
      for (let i = 0; i < planar.length; i++) planar[i] = 255 - planar[i]!;
      return rotations ? rotateSquare(planar, size, cls % 4) : planar;
    },
  });
}

/**
 * mini-ImageNet (Vinyals et al. 2016) with the class split of Ravi & Larochelle (2017), from the
 * user's own copy in that split's layout: `DIR/images/*.jpg` and `DIR/train.csv`, `DIR/val.csv`,
 * `DIR/test.csv`, each with the header `filename,label` and one row per image (64, 16 and 20
 * classes of 600 images). l2o ships no mini-ImageNet and downloads nothing. Images are resized
 * to 84 x 84 RGB (ignoring the aspect ratio, as the usual loaders do), read lazily.
 */
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../../core/errors.ts";
import { DataError } from "../../data/idx.ts";
import type { FewShotSplit, ImageClassDataset } from "./dataset.ts";
import { checkFileLimits, FILE_CACHE_BYTES, FILE_LIMITS, type FileClass, fileDataset, requireDir } from "./files.ts";

export interface MiniImagenetOptions {
  readonly split: FewShotSplit;
  /** Side after resizing (default 84). */
  readonly size?: number;
  /** Bytes of decoded images kept in memory (default 512 MiB). */
  readonly cacheBytes?: number;
}

const HINT = "mini-ImageNet is not shipped: give the folder holding images/ and train.csv, val.csv, test.csv (Ravi & Larochelle's split)";
/** Largest split file read: the real ones are under 1 MB. */
export const CSV_MAX_BYTES = 16 * 1024 * 1024;

/** A split file's rows grouped by label, in order of first appearance; every problem a DataError naming the file and line. */
export function parseSplitCsv(text: string, path: string, imagesDir: string): FileClass[] {
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.replace(/^\uFEFF/, "").trim();
  if (header !== "filename,label") throw new DataError(`${path}: the first line must be the header "filename,label", found "${(header ?? "").slice(0, 60)}"`, path);
  const byLabel = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const parts = line.split(",");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") throw new DataError(`${path}: line ${i + 1} is not "filename,label": "${line.slice(0, 60)}"`, path);
    const [file, label] = parts as [string, string];
    if (file.includes("/") || file.includes("\\")) throw new DataError(`${path}: line ${i + 1} names "${file}", not a file directly in ${imagesDir}`, path);
    let files = byLabel.get(label);
    if (!files) byLabel.set(label, (files = []));
    files.push(join(imagesDir, file));
    if (i > FILE_LIMITS.images) throw new DataError(`${path}: more than ${FILE_LIMITS.images} rows`, path);
  }
  if (byLabel.size === 0) throw new DataError(`${path}: no rows after the header`, path);
  return [...byLabel].map(([name, files]) => ({ name, files }));
}

/** One split of the user's mini-ImageNet. The split's files must all exist (checked up front, so a bad copy fails before training). */
export function miniImagenetDataset(dir: string, opts: MiniImagenetOptions): ImageClassDataset {
  const root = resolve(dir);
  requireDir(root, HINT);
  const size = opts.size ?? 84;
  if (!Number.isInteger(size) || size < 8 || size > 256) throw new ConfigError(`mini-imagenet: size must be an integer from 8 to 256, got ${size}`);
  if (!["train", "val", "test"].includes(opts.split)) throw new ConfigError(`mini-imagenet: unknown split "${opts.split}"`);
  const images = join(root, "images");
  requireDir(images, HINT);
  const csv = join(root, `${opts.split}.csv`);
  let bytes: number;
  try {
    bytes = statSync(csv).size;
  } catch {
    throw new DataError(`split file not found: ${csv} (${HINT})`, csv);
  }
  if (bytes > CSV_MAX_BYTES) throw new DataError(`${csv}: ${bytes} bytes, more than the ${CSV_MAX_BYTES} a split file may have`, csv);
  const classes = parseSplitCsv(readFileSync(csv, "utf8"), csv, images);
  checkFileLimits(csv, classes);
  for (const c of classes) {
    for (const f of c.files) {
      let ok = false;
      try {
        ok = statSync(f).isFile();
      } catch {
        ok = false;
      }
      if (!ok) throw new DataError(`${csv}: class ${c.name} lists ${f}, which is not a file`, f);
    }
  }
  return fileDataset({ name: `mini-imagenet/${opts.split}`, split: opts.split, channels: 3, size, classes, cacheBytes: opts.cacheBytes ?? FILE_CACHE_BYTES });
}

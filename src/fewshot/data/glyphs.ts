/**
 * The default few-shot source, which runs with no download: procedurally generated
 * character-like glyphs (glyph_draw.ts), many classes, each example a fresh "handwriting" of
 * its class. Shaped like Omniglot: by default 1,600 classes of 20 examples, 28 x 28 greyscale,
 * split by class into 1,200 meta-train, 100 meta-val and 300 meta-test classes.
 *
 * Why it is a fair stand-in for Omniglot: the same episode structure (N-way K-shot over many
 * classes, with meta-test classes never seen in meta-training), and within-class variation of
 * the same kind (the pen's path, slant, size and width differ from drawing to drawing), so a
 * learner must find what stays fixed within a class from a few examples. What it lacks: the
 * structure real alphabets share (recurring sub-strokes, the drawers' habits), and it is not
 * calibrated to Omniglot's difficulty (test/fewshot_data.test.ts measures raw-pixel
 * nearest-neighbour accuracy on it, for comparison with that baseline on Omniglot).
 *
 * Every image is a pure function of (seed, class, example); drawn lazily and cached as bytes.
 */
import { ConfigError } from "../../core/errors.ts";
import { foldIn, key, type Key } from "../../core/rng.ts";
import { ByteCache, bytesToUnit, checkIndex, type FewShotSplit, type ImageClassDataset } from "./dataset.ts";
import { drawGlyph } from "./glyph_draw.ts";

export interface GlyphOptions {
  /** Which split's classes. */
  readonly split: FewShotSplit;
  /** Classes in all three splits together (default 1,600). */
  readonly classes?: number;
  /** Meta-train classes (default 1,200) and meta-val classes (default 100); the rest are meta-test. */
  readonly trainClasses?: number;
  readonly valClasses?: number;
  /** Examples per class (default 20, as Omniglot's 20 drawers). */
  readonly examplesPerClass?: number;
  /** Side in pixels (default 28). */
  readonly size?: number;
  /** Seed of the whole dataset (default 0): the same seed gives the same glyphs. */
  readonly seed?: number;
  /** Bytes of drawn glyphs kept in memory (default 64 MiB; the default dataset needs 25 MB). */
  readonly cacheBytes?: number;
}

export const GLYPH_DEFAULTS = Object.freeze({ classes: 1600, trainClasses: 1200, valClasses: 100, examplesPerClass: 20, size: 28, seed: 0, cacheBytes: 64 * 1024 * 1024 });
/** Bounds on the options: a mistyped size or count is refused before anything is drawn. */
export const GLYPH_LIMITS = Object.freeze({ classes: 100_000, examplesPerClass: 1000, minSize: 8, maxSize: 128 });

function intIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`glyphs: ${name} must be an integer from ${lo} to ${hi}, got ${v}`);
  return v;
}

/** One split of the glyph dataset; classes of different splits never coincide. */
export function glyphDataset(opts: GlyphOptions): ImageClassDataset {
  const o = { ...GLYPH_DEFAULTS, ...opts };
  const total = intIn("classes", o.classes, 3, GLYPH_LIMITS.classes);
  const train = intIn("trainClasses", o.trainClasses, 1, total - 2);
  const val = intIn("valClasses", o.valClasses, 1, total - train - 1);
  const per = intIn("examplesPerClass", o.examplesPerClass, 1, GLYPH_LIMITS.examplesPerClass);
  const size = intIn("size", o.size, GLYPH_LIMITS.minSize, GLYPH_LIMITS.maxSize);
  if (!Number.isSafeInteger(o.seed)) throw new ConfigError(`glyphs: seed must be an integer, got ${o.seed}`);
  if (!(o.cacheBytes >= 0)) throw new ConfigError(`glyphs: cacheBytes must be at least 0, got ${o.cacheBytes}`);
  // Global class ids: train first, then val, then test; each class drawn from its own key.
  const first = { train: 0, val: train, test: train + val }[o.split];
  const classes = { train, val, test: total - train - val }[o.split];
  if (classes === undefined || first === undefined) throw new ConfigError(`glyphs: unknown split "${o.split}"`);
  const root = key(o.seed);
  const classRoot = foldIn(root, "glyph-class");
  const exampleRoot = foldIn(root, "glyph-example");
  const cache = new ByteCache(o.cacheBytes);
  const classKey = (c: number): Key => foldIn(classRoot, first + c);
  const ds: ImageClassDataset = {
    name: `glyphs/${o.split}`,
    split: o.split,
    shape: [1, size, size],
    classes,
    count: () => per,
    className: (c) => `glyph ${first + c}`,
    image(cls, i, out, offset = 0) {
      checkIndex(ds, cls, i);
      const bytes = cache.get(`${cls}/${i}`, () => drawGlyph(classKey(cls), foldIn(foldIn(exampleRoot, first + cls), i), size));
      bytesToUnit(bytes, out, offset);
    },
  };
  return ds;
}

/**
 * Class subsets of a labelled image split (the CIFAR-2 and CIFAR-5 style problems of
 * Andrychowicz et al. 2016, section 3.3, and the held-out-labels variant): keep the images of
 * some classes and number those classes 0..k-1 in the order given. Works for any split whose
 * images are equal runs of bytes (MNIST, CIFAR-10).
 */
import { DataError } from "./idx.ts";

/** Images as bytes, `pixels.length / n` per image, with one class label each. */
export interface LabelledSplit {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly n: number;
}

/**
 * The images of `split` whose label is in `classes` (distinct labels), in their original order,
 * relabelled: an image of class `classes[j]` gets label j. A copy: `split` is not changed.
 * Throws a DataError when a listed class has no image (a typo would otherwise train on less).
 */
export function keepClasses(split: LabelledSplit, classes: readonly number[], source = "the data"): LabelledSplit {
  if (new Set(classes).size !== classes.length) throw new RangeError(`keepClasses: classes must be distinct, got [${classes.join(", ")}]`);
  if (split.n === 0) throw new DataError(`${source}: no images to choose classes from`);
  const per = split.pixels.length / split.n;
  if (!Number.isInteger(per)) throw new RangeError(`keepClasses: ${split.pixels.length} pixels do not divide into ${split.n} images`);
  const relabel = new Int16Array(256).fill(-1);
  classes.forEach((c, j) => {
    if (!Number.isInteger(c) || c < 0 || c > 255) throw new RangeError(`keepClasses: class ${c} is not a label byte`);
    relabel[c] = j;
  });
  const counts = new Array<number>(classes.length).fill(0);
  let n = 0;
  for (let i = 0; i < split.n; i++) {
    const j = relabel[split.labels[i]!]!;
    if (j >= 0) {
      counts[j]!++;
      n++;
    }
  }
  const empty = classes.filter((_, j) => counts[j] === 0);
  if (empty.length > 0) throw new DataError(`${source}: no image of class ${empty.join(", ")} (the classes present are those of its labels)`);
  const pixels = new Uint8Array(n * per);
  const labels = new Uint8Array(n);
  let k = 0;
  for (let i = 0; i < split.n; i++) {
    const j = relabel[split.labels[i]!]!;
    if (j < 0) continue;
    pixels.set(split.pixels.subarray(i * per, (i + 1) * per), k * per);
    labels[k++] = j;
  }
  return { pixels, labels, n };
}

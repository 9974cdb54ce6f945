/**
 * N-way K-shot episodes (Vinyals et al. 2016): draw N classes of a split, relabel them 0..N-1 in
 * a random order, and draw K support and Q query examples of each, all without replacement. Every
 * draw is a pure function of the key, so an episode is replayed exactly from its key.
 */
import { ConfigError } from "../../core/errors.ts";
import { foldIn, type Key, permutation, split } from "../../core/rng.ts";
import { DataError } from "../../data/idx.ts";
import { type ImageClassDataset, imageSize } from "./dataset.ts";

/** The episode's size: N classes, K support and Q query examples per class. */
export interface EpisodeSpec {
  readonly ways: number;
  readonly shots: number;
  readonly queries: number;
}

/** Images (n, c, h, w) and their episode labels 0..N-1. */
export interface LabelledImages {
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
}

export interface Episode extends EpisodeSpec {
  /** The image shape (c, h, w). */
  readonly shape: readonly [number, number, number];
  /** `classes[label]`: the dataset class behind each episode label. */
  readonly classes: Int32Array;
  /** N*K images, class-major: example s of label j is row j*K + s. */
  readonly support: LabelledImages;
  /** N*Q images, class-major: example q of label j is row j*Q + q. */
  readonly query: LabelledImages;
}

/** Most ways, shots and queries an episode may ask for (bounds memory: a mistyped 10000 is refused). */
export const EPISODE_LIMITS = Object.freeze({ ways: 1000, shots: 1000, queries: 1000 });

/** Refuses a spec that is not whole numbers within the limits (ConfigError), or that `ds` cannot fill. */
export function checkEpisodeSpec(spec: EpisodeSpec, ds?: ImageClassDataset): void {
  for (const [name, min] of [["ways", 1], ["shots", 1], ["queries", 0]] as const) {
    const v = spec[name];
    const max = EPISODE_LIMITS[name];
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`episode ${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
  if (ds && spec.ways > ds.classes) {
    throw new ConfigError(`${ds.name} has ${ds.classes} classes: too few for ${spec.ways}-way episodes`);
  }
}

/**
 * One episode of `ds` drawn from `k`. The N classes are the first N of a random permutation of
 * the split's classes (so each episode's labelling is random); each class's K + Q examples are
 * the first of a random permutation of its examples. A class with fewer than K + Q examples is
 * a DataError naming it.
 */
export function sampleEpisode(ds: ImageClassDataset, k: Key, spec: EpisodeSpec): Episode {
  checkEpisodeSpec(spec, ds);
  const { ways, shots, queries } = spec;
  const [kClasses, kExamples] = split(k) as [Key, Key];
  const classes = permutation(kClasses, ds.classes).slice(0, ways);
  const size = imageSize(ds);
  const support = { x: new Float32Array(ways * shots * size), y: new Int32Array(ways * shots), n: ways * shots };
  const query = { x: new Float32Array(ways * queries * size), y: new Int32Array(ways * queries), n: ways * queries };
  for (let j = 0; j < ways; j++) {
    const cls = classes[j]!;
    const n = ds.count(cls);
    if (n < shots + queries) {
      throw new DataError(`${ds.name}: class ${ds.className(cls)} has ${n} examples, an episode needs ${shots + queries} (shots ${shots} + queries ${queries})`);
    }
    const order = permutation(foldIn(kExamples, j), n);
    for (let s = 0; s < shots; s++) {
      const row = j * shots + s;
      ds.image(cls, order[s]!, support.x, row * size);
      support.y[row] = j;
    }
    for (let q = 0; q < queries; q++) {
      const row = j * queries + q;
      ds.image(cls, order[shots + q]!, query.x, row * size);
      query.y[row] = j;
    }
  }
  return { ways, shots, queries, shape: ds.shape, classes, support, query };
}

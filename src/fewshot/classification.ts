/**
 * N-way K-shot classification episodes as an `EpisodeSource`: the image datasets of
 * `./data/` (the generated glyphs by default, the user's Omniglot or mini-ImageNet), one split
 * per use (`train` for meta-training, `test` for evaluation: disjoint classes), labels one-hot.
 */
import { ConfigError } from "../core/errors.ts";
import type { Key } from "../core/rng.ts";
import { glyphDataset, openFewShotDataset, sampleEpisode, type FewShotSplit, type ImageClassDataset } from "./data/index.ts";
import type { Episode, EpisodeSource } from "./types.ts";

export interface ClassificationOptions {
  /** `glyphs`, `omniglot` or `mini-imagenet`. */
  readonly dataset: string;
  readonly ways: number;
  readonly shots: number;
  /** Query examples per class. */
  readonly query: number;
  /** The user's copy (omniglot, mini-imagenet). */
  readonly data?: string;
  /** Glyphs only: the side in pixels (default 28; smaller is faster). */
  readonly imageSize?: number;
}

const oneHot = (labels: Int32Array, ways: number): Float32Array => {
  const out = new Float32Array(labels.length * ways);
  labels.forEach((l, i) => (out[i * ways + l] = 1));
  return out;
};

export function classificationSource(opts: ClassificationOptions): EpisodeSource {
  if (opts.imageSize !== undefined && opts.dataset !== "glyphs") throw new ConfigError(`--image-size applies to the generated glyphs only`);
  const open = (split: FewShotSplit): ImageClassDataset =>
    opts.dataset === "glyphs" && opts.imageSize !== undefined && opts.data === undefined
      ? glyphDataset({ split, size: opts.imageSize })
      : openFewShotDataset(opts.dataset, split, opts.data !== undefined ? { data: opts.data } : {});
  const splits = new Map<FewShotSplit, ImageClassDataset>();
  const ds = (split: FewShotSplit): ImageClassDataset => {
    let d = splits.get(split);
    if (d === undefined) splits.set(split, (d = open(split)));
    return d;
  };
  const first = ds("train");
  const spec = { ways: opts.ways, shots: opts.shots, queries: opts.query };
  return {
    name: `${opts.dataset} ${opts.ways}-way ${opts.shots}-shot`,
    inputShape: [...first.shape],
    outputs: opts.ways,
    support: opts.ways * opts.shots,
    query: opts.ways * opts.query,
    loss: "xent",
    sample(key: Key, split): Episode {
      const e = sampleEpisode(ds(split), key, spec);
      return { xs: e.support.x, ys: oneHot(e.support.y, opts.ways), xq: e.query.x, yq: oneHot(e.query.y, opts.ways), support: e.support.n, query: e.query.n };
    },
  };
}

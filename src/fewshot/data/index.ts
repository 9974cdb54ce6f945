/**
 * The few-shot image sources by name, as a command line names them: `glyphs` (the default,
 * generated, no files needed), `omniglot` and `mini-imagenet` (the user's own copy, `data` its
 * folder). Every source's splits have disjoint classes.
 */
import { ConfigError } from "../../core/errors.ts";
import type { FewShotSplit, ImageClassDataset } from "./dataset.ts";
import { glyphDataset } from "./glyphs.ts";
import { miniImagenetDataset } from "./mini_imagenet.ts";
import { omniglotDataset } from "./omniglot.ts";

export type { Episode, EpisodeSpec, LabelledImages } from "./episode.ts";
export { checkEpisodeSpec, EPISODE_LIMITS, sampleEpisode } from "./episode.ts";
export type { FewShotSplit, ImageClassDataset } from "./dataset.ts";
export { classImages, FEWSHOT_SPLITS, imageSize, parseSplit } from "./dataset.ts";
export { GLYPH_DEFAULTS, glyphDataset, type GlyphOptions } from "./glyphs.ts";
export { omniglotDataset, type OmniglotOptions } from "./omniglot.ts";
export { miniImagenetDataset, type MiniImagenetOptions } from "./mini_imagenet.ts";

export const FEWSHOT_SOURCES: readonly string[] = ["glyphs", "omniglot", "mini-imagenet"];

export interface FewShotSourceOptions {
  /** The dataset's folder: required for omniglot and mini-imagenet, refused for glyphs. */
  readonly data?: string;
  /** Seed of the glyphs, or of Omniglot's character shuffle. */
  readonly seed?: number;
  /** Omniglot: each character's four rotations as four classes. */
  readonly rotations?: boolean;
}

/** One split of a source named on a command line; an unknown name or a missing folder is a ConfigError. */
export function openFewShotDataset(source: string, split: FewShotSplit, opts: FewShotSourceOptions = {}): ImageClassDataset {
  const seed = opts.seed !== undefined ? { seed: opts.seed } : {};
  if (source === "glyphs") {
    if (opts.data !== undefined) throw new ConfigError(`the glyphs are generated and read no folder; --data names the folder of omniglot or mini-imagenet`);
    if (opts.rotations) throw new ConfigError(`rotations apply to omniglot only`);
    return glyphDataset({ split, ...seed });
  }
  if (source !== "omniglot" && source !== "mini-imagenet") throw new ConfigError(`unknown few-shot dataset "${source}" (one of ${FEWSHOT_SOURCES.join(", ")})`);
  if (opts.data === undefined) throw new ConfigError(`${source} is not shipped: give the folder of your copy with --data DIR`);
  if (source === "omniglot") return omniglotDataset(opts.data, { split, rotations: opts.rotations ?? false, ...seed });
  if (opts.rotations) throw new ConfigError(`rotations apply to omniglot only`);
  return miniImagenetDataset(opts.data, { split });
}

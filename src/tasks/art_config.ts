/**
 * The neural-art task's configuration: defaults, limits (checked before anything is
 * allocated) and the resolved form. The task itself is in `art.ts`.
 */
import { ConfigError, shownValue } from "../core/errors.ts";
import { PATTERN_NAMES } from "../data/patterns.ts";
import { PHOTO_NAMES } from "../data/images.ts";

export interface ArtConfig {
  /** Side of the (square) image in pixels, a multiple of 4. Default 64 (the paper trains at 64, tests at 128). */
  readonly size?: number;
  /** Which photographs give the content: `train` or `test` (held out; see PHOTOS in data/images.ts). Default `train`. */
  readonly split?: string;
  /** The style image: a generated pattern (`strokes`, `mosaic`) or a photograph's name. Default `strokes`. */
  readonly style?: string;
  /** Weight of the content loss. */
  readonly alpha?: number;
  /** Weight of the style loss. */
  readonly beta?: number;
  /** Weight of the total-variation loss. */
  readonly gamma?: number;
  /** Channels of the three random convolution layers. Default [8, 16, 16]. */
  readonly channels?: readonly number[];
  /** Seed of the random filters (the same filters for every task of the family). Default 0. */
  readonly filterSeed?: number;
  /** theta_0: `noise` (white noise, uniform in [0, 1]) or `content` (the content image plus N(0, 0.05^2) noise). Default `noise`. */
  readonly init?: string;
  /** Each task's content is a random square crop of a photograph whose side is at least this fraction of its shorter side. Default 0.6. */
  readonly minCrop?: number;
}

export type ResolvedArtConfig = Readonly<{
  size: number;
  split: "train" | "test";
  style: string;
  alpha: number;
  beta: number;
  gamma: number;
  channels: readonly [number, number, number];
  filterSeed: number;
  init: "noise" | "content";
  minCrop: number;
}>;

export const ART_DEFAULTS = Object.freeze({
  size: 64,
  split: "train",
  style: "strokes",
  alpha: 10,
  beta: 1000,
  gamma: 1,
  channels: Object.freeze([8, 16, 16]) as readonly number[],
  filterSeed: 0,
  init: "noise",
  minCrop: 0.6,
});

/** Sides from 8 to 256 pixels; at most 64 channels a layer; weights at most 1e6. */
export const ART_LIMITS = Object.freeze({ minSize: 8, maxSize: 256, maxChannels: 64, maxWeight: 1e6 });

/** The names `style` accepts. */
export const ART_STYLES: readonly string[] = [...PATTERN_NAMES, ...PHOTO_NAMES];

function fail(msg: string): never {
  throw new ConfigError(`art: ${msg}`);
}

function weight(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > ART_LIMITS.maxWeight) {
    fail(`'${name}' must be a number from 0 to ${ART_LIMITS.maxWeight}, got ${shownValue(v)}`);
  }
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) fail(`'${name}' must be one of ${allowed.join(", ")}, got ${shownValue(v)}`);
  return v as T;
}

/** Fills in defaults and checks every value within `ART_LIMITS`; throws a ConfigError naming the first bad one. */
export function resolveArtConfig(config: ArtConfig = {}): ResolvedArtConfig {
  const size = config.size ?? ART_DEFAULTS.size;
  if (typeof size !== "number" || !Number.isInteger(size) || size < ART_LIMITS.minSize || size > ART_LIMITS.maxSize || size % 4 !== 0) {
    fail(`'size' must be a multiple of 4 from ${ART_LIMITS.minSize} to ${ART_LIMITS.maxSize}, got ${shownValue(size)}`);
  }
  const channels = config.channels ?? ART_DEFAULTS.channels;
  if (!Array.isArray(channels) || channels.length !== 3) fail(`'channels' must be a list of 3 channel counts, got ${shownValue(channels)}`);
  for (const c of channels) {
    if (typeof c !== "number" || !Number.isInteger(c) || c < 1 || c > ART_LIMITS.maxChannels) {
      fail(`'channels' must hold integers from 1 to ${ART_LIMITS.maxChannels}, got ${shownValue(channels)}`);
    }
  }
  const filterSeed = config.filterSeed ?? ART_DEFAULTS.filterSeed;
  if (typeof filterSeed !== "number" || !Number.isSafeInteger(filterSeed)) fail(`'filterSeed' must be an integer, got ${shownValue(filterSeed)}`);
  const minCrop = config.minCrop ?? ART_DEFAULTS.minCrop;
  if (typeof minCrop !== "number" || !(minCrop > 0 && minCrop <= 1)) fail(`'minCrop' must be a number in (0, 1], got ${shownValue(minCrop)}`);
  return {
    size,
    split: oneOf("split", config.split ?? ART_DEFAULTS.split, ["train", "test"] as const),
    style: oneOf("style", config.style ?? ART_DEFAULTS.style, ART_STYLES),
    alpha: weight("alpha", config.alpha ?? ART_DEFAULTS.alpha),
    beta: weight("beta", config.beta ?? ART_DEFAULTS.beta),
    gamma: weight("gamma", config.gamma ?? ART_DEFAULTS.gamma),
    channels: [channels[0]!, channels[1]!, channels[2]!],
    filterSeed,
    init: oneOf("init", config.init ?? ART_DEFAULTS.init, ["noise", "content"] as const),
    minCrop,
  };
}

/** About how many bytes one task holds: theta_0, the content image and its features, the network's buffers. */
export function artInstanceBytes(c: ResolvedArtConfig): number {
  const n = c.size * c.size;
  const [c1, c2, c3] = c.channels;
  return 4 * (3 * 3 * n + 3 * (c1 * n + (c2 * n) / 4 + (c3 * n) / 16));
}

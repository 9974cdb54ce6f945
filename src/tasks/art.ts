/**
 * Neural art (Andrychowicz et al. 2016, section 3.4; Gatys et al. 2015): the parameters are
 * the image itself, theta = `[3, size, size]` pixels, and
 *
 *   f(theta) = s * (alpha L_content + beta L_style + gamma L_tv),  s = size^2 / 64^2
 *
 * - L_content: mean squared difference between the second layer's features of theta and of
 *   the content image;
 * - L_style: over four layers (the pixels centred on 0.5, for colour, and the three feature
 *   layers), the mean squared difference between the Gram matrices G = F F^T / N
 *   (F: channels x positions) of theta and of the style image;
 * - L_tv: mean squared difference of horizontally and of vertically adjacent pixels.
 * The features come from a fixed, seeded bank of random convolutions (`art_net.ts`): no
 * pretrained VGG can be had here. The factor s keeps a pixel's gradient on one scale at every
 * size (an optimizer trained at 64 x 64 sees familiar gradients at 128 x 128); at 64 x 64 the
 * loss is the plain weighted sum of the means.
 *
 * Each sampled task is one content image, a random square crop (side at least `minCrop` of the
 * shorter side) of a photograph of the configured split, with the family's one style.
 * theta_0 is white noise, as Gatys et al. start from (the `init` option can start from the
 * content image instead). Pixels are not clipped during optimisation; images are written
 * clipped to [0, 1]. The gradient is exact (hand-written backward), checked by finite
 * differences in test/art_task.test.ts.
 */
import { foldIn, key as makeKey, normal, split, uniform, type Key } from "../core/rng.ts";
import { ParamLayout } from "../core/layout.ts";
import { centreSquare, cropResize, loadPhoto, PHOTOS } from "../data/images.ts";
import { pattern } from "../data/patterns.ts";
import { artNet, type ArtNet } from "./art_net.ts";
import { artInstanceBytes, resolveArtConfig, type ArtConfig, type ResolvedArtConfig } from "./art_config.ts";
import type { LossAndGrad, Task, TaskFamily } from "./base.ts";

export { ART_DEFAULTS, ART_LIMITS, ART_STYLES, resolveArtConfig, type ArtConfig, type ResolvedArtConfig } from "./art_config.ts";

/** The three loss terms at a point (unweighted), for reports. */
export interface ArtTerms {
  readonly content: number;
  readonly style: number;
  readonly tv: number;
}

export interface ArtTask extends Task {
  readonly size: number;
  /** The content image, planar RGB `[3, size, size]`. */
  readonly content: Float32Array;
  terms(theta: Float32Array): ArtTerms;
}

/** The style layers: the pixels centred on 0.5 (colour statistics), then the three feature layers. */
function styleLayers(image: Float32Array, feats: readonly Float32Array[]): Float32Array[] {
  return [image.map((v) => v - 0.5), ...feats];
}

/** Gram matrices G = F F^T / N of each style layer (row-major C x C). */
function grams(net: ArtNet, layers: readonly Float32Array[]): Float64Array[] {
  const chans = [3, ...net.shape.channels];
  return layers.map((f, l) => {
    const C = chans[l]!;
    const N = f.length / C;
    const G = new Float64Array(C * C);
    for (let i = 0; i < C; i++) {
      for (let j = i; j < C; j++) {
        let s = 0;
        for (let p = 0, a = i * N, b = j * N; p < N; p++) s += f[a + p]! * f[b + p]!;
        G[i * C + j] = G[j * C + i] = s / N;
      }
    }
    return G;
  });
}

/** The net and the style's Gram matrices for a config, shared by every task of a family. */
export interface ArtSetup {
  readonly net: ArtNet;
  readonly styleGrams: readonly Float64Array[];
}

/** The style image named `style` at `size` x `size`: a generated pattern or a photograph's centred square. */
export function styleImage(style: string, size: number): Float32Array {
  return pattern(style, size) ?? centreSquare(loadPhoto(style), size);
}

/** The feature net for `cfg` and the Gram matrices of `style` (default: the config's style image). */
export function artSetup(cfg: ResolvedArtConfig, style: Float32Array = styleImage(cfg.style, cfg.size)): ArtSetup {
  const net = artNet({ size: cfg.size, channels: cfg.channels }, foldIn(makeKey(cfg.filterSeed), "art-filters"));
  return { net, styleGrams: grams(net, styleLayers(style, net.forward(style).feats)) };
}

/**
 * The style-transfer problem for one content image `[3, size, size]` under `cfg` (its size,
 * weights and init), with the net and style Grams of `setup`.
 */
export function artTaskFrom(content: Float32Array, cfg: ResolvedArtConfig, setup: ArtSetup = artSetup(cfg)): ArtTask {
  const { size, alpha, beta, gamma } = cfg;
  const { net, styleGrams } = setup;
  const n = size * size;
  if (content.length !== 3 * n) throw new RangeError(`art: the content image needs 3 x ${size} x ${size} values, got ${content.length}`);
  const layout = new ParamLayout([{ name: "image", shape: [3, size, size], group: "image" }]);
  const target = net.forward(content).feats[1];
  const scale = n / 4096;
  const tvCount = 3 * size * (size - 1);

  /** Loss terms, and (when `grad` is given) the gradient of the weighted total written into it. */
  function compute(theta: Float32Array, grad: Float32Array | null): ArtTerms {
    const acts = net.forward(theta);
    const feats = acts.feats;
    const dF = feats.map((f) => new Float32Array(f.length)) as [Float32Array, Float32Array, Float32Array];
    let lc = 0;
    const f2 = feats[1];
    const cw = (2 * scale * alpha) / f2.length;
    for (let i = 0; i < f2.length; i++) {
      const d = f2[i]! - target[i]!;
      lc += d * d;
      dF[1][i] = cw * d;
    }
    lc /= f2.length;
    let ls = 0;
    const layers = styleLayers(theta, feats);
    const dPixels = new Float32Array(3 * n);
    const dLayers = [dPixels, ...dF];
    grams(net, layers).forEach((g, l) => {
      const C = l === 0 ? 3 : net.shape.channels[l - 1]!;
      const A = styleGrams[l]!;
      const f = layers[l]!;
      const d = dLayers[l]!;
      const N = f.length / C;
      let s = 0;
      for (let i = 0; i < C * C; i++) s += (g[i]! - A[i]!) ** 2;
      ls += s / (C * C);
      if (grad === null) return;
      // dL/dF_k = 2 sum_j D_kj F_j / N with D = dL/dG = 2 beta scale (G - A) / C^2.
      for (let k = 0; k < C; k++) {
        for (let j = 0; j < C; j++) {
          const coef = (4 * beta * scale * (g[k * C + j]! - A[k * C + j]!)) / (C * C * N);
          for (let p = 0, a = k * N, b = j * N; p < N; p++) d[a + p]! += coef * f[b + p]!;
        }
      }
    });
    let ltv = 0;
    const tw = (2 * scale * gamma) / tvCount;
    if (grad !== null) {
      const g = net.backward(acts, dF);
      for (let i = 0; i < g.length; i++) grad[i] = g[i]! + dPixels[i]!;
    }
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const i = (c * size + y) * size + x;
          if (x + 1 < size) {
            const dx = theta[i + 1]! - theta[i]!;
            ltv += dx * dx;
            if (grad !== null) {
              grad[i + 1]! += tw * dx;
              grad[i]! -= tw * dx;
            }
          }
          if (y + 1 < size) {
            const dy = theta[i + size]! - theta[i]!;
            ltv += dy * dy;
            if (grad !== null) {
              grad[i + size]! += tw * dy;
              grad[i]! -= tw * dy;
            }
          }
        }
      }
    }
    return { content: lc, style: ls, tv: ltv / tvCount };
  }

  const total = (t: ArtTerms) => scale * (alpha * t.content + beta * t.style + gamma * t.tv);
  return {
    name: "art",
    layout,
    instances: 1,
    size,
    content,
    init(k: Key): Float32Array {
      if (cfg.init === "noise") return uniform(k, 3 * n);
      const x = normal(k, 3 * n, 0.05);
      for (let i = 0; i < x.length; i++) x[i]! += content[i]!;
      return x;
    },
    lossAndGrad(theta: Float32Array): LossAndGrad {
      layout.check(theta);
      const grad = new Float32Array(3 * n);
      return { loss: total(compute(theta, grad)), grad };
    },
    terms(theta: Float32Array): ArtTerms {
      layout.check(theta);
      return compute(theta, null);
    },
  };
}

/**
 * The neural-art family: every task shares the random filters and the style; each draws its
 * content from the photographs of `split` (a random crop, from the sample key).
 */
export function artFamily(config: ArtConfig = {}): TaskFamily<ResolvedArtConfig> {
  const cfg = resolveArtConfig(config);
  const photos = PHOTOS.filter((p) => p.split === cfg.split).map((p) => p.name);
  let setup: ArtSetup | undefined;
  return {
    name: "art",
    config: cfg,
    instanceBytes: artInstanceBytes(cfg),
    sample(k: Key): ArtTask {
      setup ??= artSetup(cfg);
      const u = uniform(split(k, 1)[0]!, 4);
      const img = loadPhoto(photos[Math.min(photos.length - 1, Math.floor(u[0]! * photos.length))]!);
      const short = Math.min(img.width, img.height);
      const side = short * (cfg.minCrop + (1 - cfg.minCrop) * u[1]!);
      const content = cropResize(img, u[2]! * (img.width - side), u[3]! * (img.height - side), side, cfg.size);
      return artTaskFrom(content, cfg, setup);
    },
  };
}

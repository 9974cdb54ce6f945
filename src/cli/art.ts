/**
 * `l2o art`: one style-transfer problem (the art task) run by an optimizer, the styled image
 * written as a PNG; with `--baseline`, a strip of content | style | optimizer | baseline.
 */
import type { Command } from "commander";
import { foldIn, key as makeKey } from "../core/rng.ts";
import { centreSquare, loadPhoto, PHOTO_NAMES, readImageFile } from "../data/images.ts";
import { pattern, PATTERN_NAMES } from "../data/patterns.ts";
import type { NamedCandidate } from "../eval/candidates.ts";
import { applyUpdates, type GradientTransformation } from "../optimizers/transform.ts";
import { writeFileAtomic } from "../io/files.ts";
import { checkOutputPath } from "../io/paths.ts";
import { encodePngRgb, planarToRgb8 } from "../io/png.ts";
import { artSetup, artTaskFrom, resolveArtConfig, type ArtTask } from "../tasks/art.ts";
import { UsageError } from "./errors.ts";
import { fmt } from "./format.ts";
import { grouped, rangeText } from "./limits.ts";
import { DEFAULT_ENGINE, ENGINE_HELP, parseCount, parseEngine, parseSeed, parseTaskConfig } from "./options.ts";
import { resolveCandidate } from "./resolve.ts";

interface ArtFlags {
  optimizer: string;
  content: string;
  style: string;
  size: string;
  steps: string;
  out: string;
  baseline?: string;
  seed: string;
  taskConfig?: string;
  engine: string;
}

/** `--steps` of art (each step a loss and gradient of the image). */
const ART_STEPS = { min: 1, max: 10_000 };
const NAMES_HELP = `${PATTERN_NAMES.join(", ")} (generated) or ${PHOTO_NAMES.join(", ")}`;

export function registerArtCommand(program: Command): void {
  program
    .command("art")
    .description("style an image with an optimizer (the art task: content, style and total-variation losses over random-filter features) and write it as a PNG")
    .requiredOption("--optimizer <spec>", "optimizer name or file (see `l2o optimizers`), e.g. adam@0.03, mnist, lstm:FILE")
    .requiredOption("--content <image>", `content image: a PNG or JPEG file, or a name: ${NAMES_HELP}`)
    .option("--style <image>", "style image: a name as for --content, or a PNG or JPEG file", "strokes")
    .option("--size <n>", "side of the square image in pixels (8 to 256, a multiple of 4)", "64")
    .option("--steps <n>", `optimization steps (${rangeText(ART_STEPS)})`, "128")
    .requiredOption("--out <file.png>", "where to write the PNG")
    .option("--baseline <spec>", "also run this optimizer (e.g. the tuned adam@0.03 of an `l2o eval` report) and write content | style | optimizer | baseline side by side")
    .option("--seed <n>", "seed of the starting noise (an integer)", "0")
    .option("--task-config <json>", "art task settings over the defaults: alpha, beta, gamma, channels, filterSeed, init (see `l2o tasks`)")
    .option("--engine <kind>", ENGINE_HELP, DEFAULT_ENGINE)
    .action((f: ArtFlags) => artCommand(f));
}

/** A named image or an image file, as planar RGB of `size` x `size` (the centred square). */
function image(spec: string, size: number): Float32Array {
  const generated = pattern(spec, size);
  if (generated !== undefined) return generated;
  if (PHOTO_NAMES.includes(spec)) return centreSquare(loadPhoto(spec), size);
  if (!/[./\\]/.test(spec)) throw new UsageError(`'${spec}' is neither a known image (${NAMES_HELP}) nor a file path`);
  return centreSquare(readImageFile(spec, 4 * size), size);
}

function runOn(task: ArtTask, cand: NamedCandidate, steps: number, seed: number): { theta: Float32Array; losses: number[] } {
  const lr = cand.tune ? (cand.lr ?? cand.defaultLr) : undefined;
  const theta0 = task.init(foldIn(makeKey(seed), "art-init"));
  let theta = cand.start?.(task.layout, theta0) ?? theta0;
  const tx = cand.make(lr, task.layout) as GradientTransformation & { dispose?: () => void };
  let state = tx.init(theta);
  const losses: number[] = [];
  try {
    for (let t = 0; t <= steps; t++) {
      const { loss, grad } = task.lossAndGrad(theta, makeKey(0));
      losses.push(loss);
      if (!Number.isFinite(loss) || t === steps) break;
      const [u, next] = tx.update(grad, state, theta, { loss, step: t, horizon: steps });
      state = next;
      theta = applyUpdates(theta, u);
    }
  } finally {
    tx.dispose?.();
  }
  return { theta, losses };
}

/** Images of one size side by side, 4 white pixels apart, as interleaved RGB. */
function strip(images: readonly Float32Array[], size: number): { width: number; rgb: Uint8Array } {
  const gap = 4;
  const width = images.length * size + (images.length - 1) * gap;
  const rgb = new Uint8Array(width * size * 3).fill(255);
  images.forEach((img, k) => {
    const px = planarToRgb8(img, size, size);
    for (let y = 0; y < size; y++) rgb.set(px.subarray(y * size * 3, (y + 1) * size * 3), (y * width + k * (size + gap)) * 3);
  });
  return { width, rgb };
}

function artCommand(f: ArtFlags): void {
  checkOutputPath(f.out, "--out", { report: true });
  if (!f.out.toLowerCase().endsWith(".png")) throw new UsageError(`--out '${f.out}' must end in .png`);
  const steps = parseCount("--steps", f.steps, ART_STEPS);
  const seed = parseSeed("--seed", f.seed);
  const engine = parseEngine(f.engine);
  const size = parseCount("--size", f.size, { min: 8, max: 256 });
  const extra = parseTaskConfig(f.taskConfig);
  for (const k of ["size", "style", "split", "minCrop"]) if (k in extra) throw new UsageError(`--task-config key '${k}' is set by its own flag or does not apply to l2o art`);
  const named = pattern(f.style, 8) !== undefined || PHOTO_NAMES.includes(f.style);
  const cfg = resolveArtConfig({ ...extra, size, ...(named ? { style: f.style } : {}) });
  const content = image(f.content, cfg.size);
  const style = image(f.style, cfg.size);
  const setup = artSetup(cfg, style);
  const task = artTaskFrom(content, cfg, setup);
  const specs = [f.optimizer, ...(f.baseline !== undefined ? [f.baseline] : [])];
  const results = specs.map((spec) => {
    const cand = resolveCandidate(spec, undefined, engine, 1);
    try {
      const r = runOn(task, cand, steps, seed);
      const lr = cand.tune ? ` lr=${cand.lr ?? cand.defaultLr}` : "";
      const terms = task.terms(r.theta);
      process.stdout.write(
        `${cand.label}${lr}: loss ${fmt(r.losses[0]!)} -> ${fmt(r.losses[r.losses.length - 1]!)} in ${grouped(r.losses.length - 1)} steps (content ${fmt(terms.content)}, style ${fmt(terms.style)}, tv ${fmt(terms.tv)})\n`,
      );
      return r.theta;
    } finally {
      cand.close?.();
    }
  });
  const images = f.baseline === undefined ? [results[0]!] : [content, style, ...results];
  const { width, rgb } = strip(images, cfg.size);
  // Through a temporary file renamed over --out: a kill or a failed write part way never leaves
  // a cut-short PNG, and an earlier image at that path stays whole until the new one is.
  writeFileAtomic(f.out, encodePngRgb(width, cfg.size, rgb));
  process.stdout.write(`${f.baseline === undefined ? "styled image" : "content | style | optimizer | baseline"} written to ${f.out}\n`);
}


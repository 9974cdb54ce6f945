/**
 * Saving and loading learned optimizers of any kind: one safetensors file, phi stored by
 * tensor name (the kind's `phiEntries`), the kind and its config in the JSON metadata (see
 * `src/io/optimizer_file.ts`), so a file rebuilds the exact optimizer it was saved from and
 * its weights load back bit-identically.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOptimizerFile, saveOptimizerFile, type OptimizerMeta } from "../io/optimizer_file.ts";
import { ConfigError } from "../core/errors.ts";
import type { LearnedOptimizer } from "./contract.ts";
import { learnedFromFile, type DecodedLearnedOptimizer } from "./decode.ts";
import type { KernelOptions } from "./kernel_options.ts";

/** What training and validation say about a saved optimizer (stored in its metadata). */
export interface SavedInfo {
  readonly training?: Record<string, unknown>;
  readonly validation?: Record<string, unknown>;
}

/** Writes a learned optimizer with weights `phi` (atomically); returns the metadata written. */
export function saveLearnedOptimizer(path: string, opt: LearnedOptimizer, phi: Float32Array, info: SavedInfo = {}): OptimizerMeta {
  if (phi.length !== opt.phiSize) throw new ConfigError(`save: phi has ${phi.length} floats, the ${opt.kind} optimizer ${opt.phiSize}`);
  const nonFinite = phi.findIndex((x) => !Number.isFinite(x));
  if (nonFinite >= 0) throw new ConfigError(`save ${path}: refusing to write weights with a non-finite value (${phi[nonFinite]} at ${nonFinite}); the training that made them diverged`);
  const config = JSON.parse(JSON.stringify(opt.config)) as Record<string, unknown>;
  return saveOptimizerFile(path, {
    phi: { flat: phi, entries: opt.phiEntries },
    meta: { kind: opt.kind, config, ...(info.training ? { training: info.training } : {}), ...(info.validation ? { validation: info.validation } : {}) },
  });
}

/** A learned optimizer loaded from a file, and the file's path. */
export interface LoadedLearnedOptimizer<O extends LearnedOptimizer = LearnedOptimizer> extends DecodedLearnedOptimizer<O> {
  readonly path: string;
}

/** The folder of optimizers that ship with the package. */
export const PRETRAINED_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "pretrained");

/**
 * Resolves `pretrained/NAME` (and `pretrained/lineage/NAME`, the earlier files a shipped one
 * descends from) to the shipped file and adds `.safetensors` when the bare path does not
 * exist; other paths are taken relative to the working directory.
 */
export function resolveOptimizerPath(spec: string): string {
  const m = /^pretrained\/((?:lineage\/)?[A-Za-z0-9_-]+)(\.safetensors)?$/.exec(spec);
  if (m) return join(PRETRAINED_DIR, `${m[1]}.safetensors`);
  const p = resolve(spec);
  if (!existsSync(p) && existsSync(`${p}.safetensors`)) return `${p}.safetensors`;
  return p;
}

/**
 * Loads a learned optimizer file of any registered kind (or, with `expectKind`, only of that
 * kind); `kernel` picks the kernel it runs on (default: the WebAssembly kernel on one thread
 * where it is built). A file that does not describe a working optimizer is a FileFormatError.
 * The file is read within `OPTIMIZER_FILE_LIMITS`, then checked as `learnedFromFile`
 * (`decode.ts`) says.
 */
export function loadLearnedOptimizer(spec: string, kernel: KernelOptions = {}, expectKind?: string): LoadedLearnedOptimizer {
  const path = resolveOptimizerPath(spec);
  return { ...learnedFromFile(loadOptimizerFile(path), path, kernel, expectKind), path };
}

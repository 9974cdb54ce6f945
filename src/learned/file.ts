/**
 * Saving and loading learned optimizers of any kind: one safetensors file, phi stored by
 * tensor name (the kind's `phiEntries`), the kind and its config in the JSON metadata (see
 * `src/io/optimizer_file.ts`), so a file rebuilds the exact optimizer it was saved from and
 * its weights load back bit-identically.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOptimizerFile, phiToFlat, saveOptimizerFile, type OptimizerMeta } from "../io/optimizer_file.ts";
import { FileFormatError, clip } from "../io/safetensors.ts";
import { ConfigError } from "../core/errors.ts";
import type { LearnedOptimizer } from "./contract.ts";
import type { KernelOptions } from "./kernel_options.ts";
import { LEARNED_KIND_NAMES, learnedKind } from "./registry.ts";

/** What training and validation say about a saved optimizer (stored in its metadata). */
export interface SavedInfo {
  readonly training?: Record<string, unknown>;
  readonly validation?: Record<string, unknown>;
}

/** Writes a learned optimizer with weights `phi` (atomically); returns the metadata written. */
export function saveLearnedOptimizer(path: string, opt: LearnedOptimizer, phi: Float32Array, info: SavedInfo = {}): OptimizerMeta {
  if (phi.length !== opt.phiSize) throw new Error(`save: phi has ${phi.length} floats, the ${opt.kind} optimizer ${opt.phiSize}`);
  const nonFinite = phi.findIndex((x) => !Number.isFinite(x));
  if (nonFinite >= 0) throw new ConfigError(`save ${path}: refusing to write weights with a non-finite value (${phi[nonFinite]} at ${nonFinite}); the training that made them diverged`);
  const config = JSON.parse(JSON.stringify(opt.config)) as Record<string, unknown>;
  return saveOptimizerFile(path, {
    phi: { flat: phi, entries: opt.phiEntries },
    meta: { kind: opt.kind, config, ...(info.training ? { training: info.training } : {}), ...(info.validation ? { validation: info.validation } : {}) },
  });
}

export interface LoadedLearnedOptimizer<O extends LearnedOptimizer = LearnedOptimizer> {
  readonly optimizer: O;
  readonly phi: Float32Array;
  readonly meta: OptimizerMeta;
  readonly path: string;
  /**
   * What the user should be told about the file (the CLI prints each as `l2o: warning: ...`):
   * e.g. that it predates the hashes that detect damage.
   */
  readonly warnings: readonly string[];
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
 *
 * Nothing is allocated in proportion to a size the file declares until it is checked: the
 * file is read within `OPTIMIZER_FILE_LIMITS`, the kind checks its config against its
 * `limits` (building an optimizer allocates nothing per weight), and every tensor the config
 * needs must be in the file with its shape before phi is assembled, so phi is never larger
 * than the file.
 */
export function loadLearnedOptimizer(spec: string, kernel: KernelOptions = {}, expectKind?: string): LoadedLearnedOptimizer {
  const path = resolveOptimizerPath(spec);
  const file = loadOptimizerFile(path);
  const kindName = file.meta.kind;
  const refuse = (problem: string): never => {
    throw new FileFormatError(`${path}: ${problem}; re-train or re-download the optimizer file`, { path });
  };
  if (expectKind !== undefined && kindName !== expectKind) {
    throw new FileFormatError(`${path} holds a '${clip(kindName)}' optimizer; expected kind '${expectKind}'`, { path });
  }
  if (!LEARNED_KIND_NAMES.includes(kindName)) {
    throw new FileFormatError(`${path} holds a '${clip(kindName)}' optimizer, a kind this version of l2o does not know (known: ${LEARNED_KIND_NAMES.join(", ")})`, { path });
  }
  let optimizer: LearnedOptimizer;
  try {
    optimizer = learnedKind(kindName).build(file.meta.config, kernel);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return refuse(`invalid ${kindName} configuration (${clip(e.message, 300)})`);
  }
  // Names and shapes first: phiToFlat allocates what the config asks for.
  const expected = new Set(optimizer.phiEntries.map((e) => e.name));
  const extra = Object.keys(file.phi).filter((n) => !expected.has(n));
  if (extra.length > 0) refuse(`tensors ${clip(extra.join(", "), 300)} do not belong to its configuration`);
  for (const e of optimizer.phiEntries) {
    const t = Object.hasOwn(file.phi, e.name) ? file.phi[e.name] : undefined;
    const want = `[${e.shape.join(", ")}]`;
    if (t === undefined) refuse(`weights do not fit the configuration (no tensor '${e.name}' of shape ${want})`);
    else if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      refuse(`weights do not fit the configuration (tensor '${e.name}' has shape [${clip(t.shape.join(", "))}], expected ${want})`);
    }
  }
  const phi = phiToFlat(file.phi, optimizer.phiEntries);
  if (!phi.every(Number.isFinite)) refuse("weights contain NaN or infinite values");
  return { optimizer, phi, meta: file.meta, path, warnings: file.warnings };
}

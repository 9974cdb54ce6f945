/**
 * Saving and loading trained LSTM optimizers: one safetensors file, phi stored by tensor
 * name (`lstm0.layer0.weight`, ..., `lstm0.head.bias`), the architecture, preprocessing and
 * output scale in the JSON metadata (see `src/io/optimizer_file.ts`), so a file rebuilds the
 * exact optimizer it was saved from and its weights load back bit-identically.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultEngineFactory } from "../kernels/select.ts";
import { phiShapes } from "../kernels/types.ts";
import { loadOptimizerFile, phiToFlat, saveOptimizerFile, type FlatEntry, type OptimizerMeta } from "../io/optimizer_file.ts";
import { FileFormatError } from "../io/safetensors.ts";
import { lstmOptimizer, resolveLstmOptimizerConfig, type LstmEngineFactory, type LstmOptimizer } from "./lstm_optimizer.ts";

/** The tensor names and shapes of phi for `opt`, in phi's order. */
export function lstmPhiEntries(opt: LstmOptimizer): FlatEntry[] {
  const shapes = phiShapes(opt.shape);
  const names: string[] = [];
  for (let l = 0; l < opt.shape.layers; l++) names.push(`layer${l}.weight`, `layer${l}.bias`);
  names.push("head.weight", "head.bias");
  const out: FlatEntry[] = [];
  for (let k = 0; k < opt.lstms; k++) names.forEach((n, j) => out.push({ name: `lstm${k}.${n}`, shape: shapes[j]! }));
  return out;
}

/** Writes a trained LSTM optimizer (atomically); returns the metadata written. */
export function saveLstmOptimizer(
  path: string,
  opt: LstmOptimizer,
  phi: Float32Array,
  info: { training?: Record<string, unknown>; validation?: Record<string, unknown> } = {},
): OptimizerMeta {
  if (phi.length !== opt.phiSize) throw new Error(`saveLstmOptimizer: phi has ${phi.length} floats, expected ${opt.phiSize}`);
  const config = JSON.parse(JSON.stringify(opt.config)) as Record<string, unknown>;
  return saveOptimizerFile(path, {
    phi: { flat: phi, entries: lstmPhiEntries(opt) },
    meta: { kind: "lstm", config, ...(info.training ? { training: info.training } : {}), ...(info.validation ? { validation: info.validation } : {}) },
  });
}

export interface LoadedLstmOptimizer {
  readonly optimizer: LstmOptimizer;
  readonly phi: Float32Array;
  readonly meta: OptimizerMeta;
  readonly path: string;
}

/** The folder of optimizers that ship with the package. */
export const PRETRAINED_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "pretrained");

/**
 * Resolves `pretrained/NAME` to the shipped file and adds `.safetensors` when the bare path
 * does not exist; other paths are taken relative to the working directory.
 */
export function resolveOptimizerPath(spec: string): string {
  const m = /^pretrained\/([A-Za-z0-9_-]+)(\.safetensors)?$/.exec(spec);
  if (m) return join(PRETRAINED_DIR, `${m[1]}.safetensors`);
  const p = resolve(spec);
  if (!existsSync(p) && existsSync(`${p}.safetensors`)) return `${p}.safetensors`;
  return p;
}

/**
 * Loads a trained LSTM optimizer file; `engine` picks the kernel the optimizer runs on
 * (default: the WebAssembly kernel on one thread where it is built, else the plain-TypeScript
 * reference; see `defaultEngineFactory`).
 */
export function loadLstmOptimizer(spec: string, engine: LstmEngineFactory = defaultEngineFactory()): LoadedLstmOptimizer {
  const path = resolveOptimizerPath(spec);
  const file = loadOptimizerFile(path);
  if (file.meta.kind !== "lstm") {
    throw new FileFormatError(`${path} holds a '${file.meta.kind}' optimizer, not an LSTM one`, { path });
  }
  let optimizer: LstmOptimizer;
  try {
    optimizer = lstmOptimizer(resolveLstmOptimizerConfig(file.meta.config), engine);
  } catch (e) {
    throw new FileFormatError(`${path}: invalid LSTM configuration (${(e as Error).message}); re-train or re-download the optimizer file`, { path });
  }
  let phi: Float32Array;
  try {
    phi = phiToFlat(file.phi, lstmPhiEntries(optimizer));
  } catch (e) {
    throw new FileFormatError(`${path}: weights do not fit the configuration (${(e as Error).message}); re-train or re-download the optimizer file`, { path });
  }
  const expected = new Set(lstmPhiEntries(optimizer).map((e) => e.name));
  const extra = Object.keys(file.phi).filter((n) => !expected.has(n));
  if (extra.length > 0) {
    throw new FileFormatError(`${path}: tensors ${extra.join(", ")} do not belong to its configuration; re-train or re-download the optimizer file`, { path });
  }
  if (!phi.every(Number.isFinite)) {
    throw new FileFormatError(`${path}: weights contain NaN or infinite values; re-train or re-download the optimizer file`, { path });
  }
  return { optimizer, phi, meta: file.meta, path };
}

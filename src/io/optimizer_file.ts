/**
 * Trained optimizer files: one `.safetensors` file per optimizer.
 *
 * The meta-parameters `phi` are stored as named float32 tensors (one per named weight, by
 * name, never by position). Everything else is one JSON string under the `__metadata__` key
 * `l2o`:
 *
 * ```
 * { "format": "l2o-optimizer", "formatVersion": 1, "l2oVersion": "0.1.0", "kind": "lstm",
 *   "config": {architecture, preprocessing, output scale, ...},
 *   "training": {task, settings, ...}, "validation": {score, ...}, "createdAt": ISO-8601 }
 * ```
 *
 * This module keeps `config`, `training` and `validation` generic; each optimizer kind
 * parses its own `config`. Any safetensors reader (Python's `safetensors`, for instance)
 * can open the file and see the tensors by name.
 */
import { FileFormatError, decodeSafetensors, encodeSafetensors, setOwn, shapeSize, type Tensor } from "./safetensors.ts";
import { L2O_VERSION, readFileExplained, writeFileAtomic } from "./files.ts";
import { L2O_METADATA_KEY, isRecord, readL2oMetadata, strictJson } from "./format.ts";

/** The `format` field of an optimizer file. */
export const OPTIMIZER_FORMAT = "l2o-optimizer";
/** The newest optimizer-file version this l2o writes and reads. */
export const OPTIMIZER_FORMAT_VERSION = 1;

/** A named float32 tensor. */
export interface NamedArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** One named slice of a flat vector (a `ParamLayout` entry or `ParamSpec` fits). */
export interface FlatEntry {
  readonly name: string;
  readonly shape: readonly number[];
}

/** A flat `phi` with the names and shapes of its consecutive slices. */
export interface FlatPhi {
  readonly flat: Float32Array;
  readonly entries: readonly FlatEntry[];
}

/** `phi` as callers may give it: named tensors (a bare array means shape `[length]`) or flat. */
export type PhiInput = Readonly<Record<string, NamedArray | Float32Array>> | FlatPhi;

/** The metadata stored in an optimizer file. */
export interface OptimizerMeta {
  format: typeof OPTIMIZER_FORMAT;
  formatVersion: number;
  /** The l2o version that wrote the file. */
  l2oVersion: string;
  /** The optimizer kind, e.g. `lstm`; it decides how `config` is read. */
  kind: string;
  /** Architecture, preprocessing, output scale, ...: everything needed to rebuild it. */
  config: Record<string, unknown>;
  /** How it was meta-trained: task, settings, ... */
  training: Record<string, unknown>;
  /** How it scored on held-out tasks. */
  validation: Record<string, unknown>;
  /** When the file was written (ISO 8601). */
  createdAt: string;
}

/** What a caller supplies; `format`, `formatVersion` and `l2oVersion` are filled in. */
export interface OptimizerMetaInput {
  kind: string;
  config: Record<string, unknown>;
  training?: Record<string, unknown>;
  validation?: Record<string, unknown>;
  /** Defaults to now. */
  createdAt?: string;
}

export interface OptimizerFileInput {
  phi: PhiInput;
  meta: OptimizerMetaInput;
}

/** A loaded optimizer file. */
export interface OptimizerFile {
  phi: Record<string, NamedArray>;
  meta: OptimizerMeta;
}

const ADVICE = "Re-train or re-download the optimizer file.";

function isFlatPhi(phi: PhiInput): phi is FlatPhi {
  const p = phi as Partial<FlatPhi>;
  return p.flat instanceof Float32Array && Array.isArray(p.entries);
}

/** Splits a flat vector into named tensors (copies), following `entries` in order. */
export function phiFromFlat(flat: Float32Array, entries: readonly FlatEntry[]): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  let offset = 0;
  for (const e of entries) {
    const size = shapeSize(e.shape);
    if (Object.hasOwn(out, e.name)) throw new RangeError(`phi: duplicate name '${e.name}'`);
    if (offset + size > flat.length) throw new RangeError(`phi: entries need more than the ${flat.length} values given`);
    setOwn(out, e.name, { shape: [...e.shape], data: flat.slice(offset, offset + size) });
    offset += size;
  }
  if (offset !== flat.length) throw new RangeError(`phi: entries cover ${offset} values but the flat vector has ${flat.length}`);
  return out;
}

/** Joins named tensors into one flat vector in the order of `entries`, checking every shape. */
export function phiToFlat(phi: Readonly<Record<string, NamedArray>>, entries: readonly FlatEntry[]): Float32Array {
  const flat = new Float32Array(entries.reduce((n, e) => n + shapeSize(e.shape), 0));
  let offset = 0;
  for (const e of entries) {
    const t = Object.hasOwn(phi, e.name) ? phi[e.name] : undefined;
    if (t === undefined) throw new RangeError(`phi: no tensor '${e.name}' (have ${Object.keys(phi).join(", ") || "none"})`);
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      throw new RangeError(`phi: tensor '${e.name}' has shape [${t.shape.join(", ")}], expected [${e.shape.join(", ")}]`);
    }
    flat.set(t.data, offset);
    offset += t.data.length;
  }
  return flat;
}

/** Encodes an optimizer file in memory (for browsers, or to send elsewhere). */
export function encodeOptimizerFile(input: OptimizerFileInput): Uint8Array {
  return encodeWithMeta(input).bytes;
}

function encodeWithMeta(input: OptimizerFileInput): { bytes: Uint8Array; meta: OptimizerMeta } {
  const named: Readonly<Record<string, NamedArray | Float32Array>> = isFlatPhi(input.phi)
    ? phiFromFlat(input.phi.flat, input.phi.entries)
    : input.phi;
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(named)) {
    const tensor: Tensor = t instanceof Float32Array ? { dtype: "F32", shape: [t.length], data: t } : { dtype: "F32", shape: t.shape, data: t.data };
    setOwn(tensors, name, tensor);
  }
  const meta = completeMeta(input.meta);
  const bytes = encodeSafetensors(tensors, { [L2O_METADATA_KEY]: strictJson(meta, "optimizer metadata") });
  return { bytes, meta };
}

function completeMeta(m: OptimizerMetaInput): OptimizerMeta {
  if (typeof m.kind !== "string" || m.kind === "") throw new TypeError("optimizer metadata: 'kind' must be a non-empty string");
  return {
    format: OPTIMIZER_FORMAT,
    formatVersion: OPTIMIZER_FORMAT_VERSION,
    l2oVersion: L2O_VERSION,
    kind: m.kind,
    config: m.config,
    training: m.training ?? {},
    validation: m.validation ?? {},
    createdAt: m.createdAt ?? new Date().toISOString(),
  };
}

/** Decodes and checks an optimizer file held in memory; `source` names it in errors. */
export function decodeOptimizerFile(bytes: Uint8Array, source = "optimizer file"): OptimizerFile {
  const { tensors, metadata } = decodeSafetensors(bytes, { source, advice: ADVICE });
  const m = readL2oMetadata(metadata, { format: OPTIMIZER_FORMAT, maxVersion: OPTIMIZER_FORMAT_VERSION, source, advice: ADVICE });
  const fail = (problem: string): never => {
    throw new FileFormatError(`${source}: ${problem}. ${ADVICE}`, { path: source });
  };
  const str = (k: string): string => {
    const v = m[k];
    return typeof v === "string" && v !== "" ? v : fail(`metadata field '${k}' is missing or not a string`);
  };
  const rec = (k: string): Record<string, unknown> => {
    const v = m[k];
    return isRecord(v) ? v : fail(`metadata field '${k}' is missing or not an object`);
  };
  const meta: OptimizerMeta = {
    format: OPTIMIZER_FORMAT,
    formatVersion: m.formatVersion as number,
    l2oVersion: str("l2oVersion"),
    kind: str("kind"),
    config: rec("config"),
    training: rec("training"),
    validation: rec("validation"),
    createdAt: str("createdAt"),
  };
  const phi: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32") fail(`tensor '${name}' is ${t.dtype}; optimizer parameters must be F32`);
    setOwn(phi, name, { shape: t.shape, data: t.data as Float32Array });
  }
  return { phi, meta };
}

/**
 * Saves a trained optimizer to `path` (one `.safetensors` file), atomically, creating
 * parent directories. Returns the metadata as written.
 */
export function saveOptimizerFile(path: string, input: OptimizerFileInput): OptimizerMeta {
  const { bytes, meta } = encodeWithMeta(input);
  writeFileAtomic(path, bytes);
  return meta;
}

/**
 * Loads an optimizer file. A missing file throws an `Error` naming the path; a damaged
 * file, a file of another kind, or one from a newer l2o throws `FileFormatError`.
 */
export function loadOptimizerFile(path: string): OptimizerFile {
  const bytes = readFileExplained(path, "optimizer file", "Check the path, or meta-train an optimizer to create it.");
  return decodeOptimizerFile(bytes, path);
}

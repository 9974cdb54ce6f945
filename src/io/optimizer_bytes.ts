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
 * plus `"sha256": {"tensors": {name: hex, ...}, "metadata": hex}`, written last: the SHA-256
 * of each tensor's bytes as stored (little-endian), by tensor name (so two tensors of one
 * size whose offsets are swapped are caught), and of the metadata itself, that is of
 * `JSON.stringify` of this object without `sha256`, as `JSON.parse` reads it (so a flipped bit
 * in the config is caught too). Loading checks them all: a mismatch is a `FileFormatError`
 * naming the tensor. A file from before the hashes (no `sha256`) still loads, with a warning
 * the caller shows. Any other field is refused (a new field needs a new `formatVersion`), so
 * a damaged field name cannot pass for a file from before the hashes. The hashes guard against
 * damage, not against a forger, who can recompute them: what a file declares is bounded
 * regardless (see `OPTIMIZER_FILE_LIMITS`, and each kind's `limits`).
 *
 * This module keeps `config`, `training` and `validation` generic; each optimizer kind
 * parses its own `config`. Any safetensors reader (Python's `safetensors`, for instance)
 * can open the file and see the tensors by name.
 *
 * Here the file is bytes in memory and no Node module is imported, so a browser page can
 * encode and decode it; `optimizer_file.ts` adds saving and loading on disk.
 */
import { FileFormatError, clip, decodeSafetensors, encodeSafetensors, littleEndianBytes, setOwn, shapeSize, type SafetensorsContents, type Tensor } from "./safetensors.ts";
import { L2O_VERSION } from "./version.ts";
import { L2O_METADATA_KEY, isRecord, readL2oMetadata, strictJson } from "./format.ts";
import { sha256Hex } from "./sha256.ts";

/** The `format` field of an optimizer file. */
export const OPTIMIZER_FORMAT = "l2o-optimizer";
/** The newest optimizer-file version this l2o writes and reads. */
export const OPTIMIZER_FORMAT_VERSION = 1;

/**
 * The largest optimizer file l2o reads, 256 MiB (64 million float32 weights; the shipped
 * files hold about 5,000, the largest MLP within its kind's limits 8 million), and the largest
 * header length it accepts, 16 MiB. Files are read header first (`readSafetensorsFile`).
 */
export const OPTIMIZER_FILE_LIMITS = Object.freeze({ fileBytes: 256 * 2 ** 20, headerBytes: 16 * 2 ** 20 });

/** The metadata field that holds the hashes. */
const HASH_FIELD = "sha256";
/** The fields of the metadata, in the order written. */
const FIELDS: readonly string[] = ["format", "formatVersion", "l2oVersion", "kind", "config", "training", "validation", "createdAt", HASH_FIELD];
/** How deep the metadata's JSON may nest (deeper would overflow the stack of those who print it). */
const MAX_DEPTH = 32;

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
  /** What the user should be told (library code never prints): e.g. that there are no hashes to check. */
  warnings: string[];
}

/** What the user should do about a damaged optimizer file. */
export const OPTIMIZER_FILE_ADVICE = "Re-train or re-download the optimizer file.";

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

/** The bytes of an optimizer file and the metadata written in them. */
export function encodeWithMeta(input: OptimizerFileInput): { bytes: Uint8Array; meta: OptimizerMeta } {
  const named: Readonly<Record<string, NamedArray | Float32Array>> = isFlatPhi(input.phi)
    ? phiFromFlat(input.phi.flat, input.phi.entries)
    : input.phi;
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(named)) {
    const tensor: Tensor = t instanceof Float32Array ? { dtype: "F32", shape: [t.length], data: t } : { dtype: "F32", shape: t.shape, data: t.data };
    setOwn(tensors, name, tensor);
  }
  const meta = completeMeta(input.meta);
  // The metadata as a reader will parse it, then the hashes after it.
  const parsed = JSON.parse(strictJson(meta, "optimizer metadata")) as Record<string, unknown>;
  const hashes: Record<string, string> = {};
  for (const [name, t] of Object.entries(tensors)) setOwn(hashes, name, sha256Hex(littleEndianBytes(t)));
  const l2o = JSON.stringify({ ...parsed, [HASH_FIELD]: { tensors: hashes, metadata: metadataHash(parsed) } });
  const bytes = encodeSafetensors(tensors, { [L2O_METADATA_KEY]: l2o });
  return { bytes, meta };
}

/** The SHA-256 of the metadata without its hashes (see the top of this file). */
function metadataHash(m: Record<string, unknown>): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (k !== HASH_FIELD) setOwn(rest, k, v);
  return sha256Hex(new TextEncoder().encode(JSON.stringify(rest)));
}

/** Whether `v` nests deeper than `max` levels of arrays and objects. */
function tooDeep(v: unknown, max: number): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (max === 0) return true;
  for (const x of Object.values(v)) if (tooDeep(x, max - 1)) return true;
  return false;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks the hashes of `m` (the metadata as read) against the metadata and every tensor;
 * returns the warnings (none, or that the file predates hashes).
 */
function verifyHashes(m: Record<string, unknown>, tensors: Readonly<Record<string, Tensor>>, source: string, fail: (problem: string) => never): string[] {
  if (!Object.hasOwn(m, HASH_FIELD)) {
    return [`${source} has no SHA-256 hashes (it was written before l2o recorded them), so damage to its weights or settings cannot be detected; saving it again adds them`];
  }
  const h = m[HASH_FIELD];
  if (!isRecord(h) || !isRecord(h.tensors) || typeof h.metadata !== "string" || !HEX64.test(h.metadata)) {
    fail(`metadata field '${HASH_FIELD}' is not {"tensors": {name: hex, ...}, "metadata": hex} with 64 lowercase hex digits per hash`);
  }
  const { tensors: byName, metadata } = h as { tensors: Record<string, unknown>; metadata: string };
  if (metadataHash(m) !== metadata) fail(`its metadata does not match its SHA-256 hash: the file is damaged`);
  for (const name of Object.keys(byName)) {
    if (!Object.hasOwn(tensors, name)) fail(`its metadata has a SHA-256 hash for tensor '${clip(name)}', which the file does not hold`);
  }
  for (const [name, t] of Object.entries(tensors)) {
    const want = Object.hasOwn(byName, name) ? byName[name] : undefined;
    if (typeof want !== "string" || !HEX64.test(want)) fail(`tensor '${clip(name)}' has no SHA-256 hash (64 lowercase hex digits) in the metadata`);
    if (sha256Hex(littleEndianBytes(t)) !== want) fail(`tensor '${clip(name)}' does not match its SHA-256 hash: the file is damaged`);
  }
  return [];
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
  if (bytes.length > OPTIMIZER_FILE_LIMITS.fileBytes) {
    throw new FileFormatError(`${source}: ${bytes.length} bytes is more than an optimizer file may be (${OPTIMIZER_FILE_LIMITS.fileBytes}). ${OPTIMIZER_FILE_ADVICE}`, { path: source });
  }
  return optimizerFileFromContents(decodeSafetensors(bytes, { source, advice: OPTIMIZER_FILE_ADVICE, maxHeaderBytes: OPTIMIZER_FILE_LIMITS.headerBytes }), source);
}

/** The optimizer file that decoded safetensors contents hold, checked (hashes included); `source` names it in errors. */
export function optimizerFileFromContents({ tensors, metadata }: SafetensorsContents, source: string): OptimizerFile {
  const m = readL2oMetadata(metadata, { format: OPTIMIZER_FORMAT, maxVersion: OPTIMIZER_FORMAT_VERSION, source, advice: OPTIMIZER_FILE_ADVICE });
  const fail = (problem: string): never => {
    throw new FileFormatError(`${source}: ${problem}. ${OPTIMIZER_FILE_ADVICE}`, { path: source });
  };
  if (tooDeep(m, MAX_DEPTH)) fail(`its metadata nests more than ${MAX_DEPTH} levels deep`);
  // Exactly the fields above: a new field needs a new formatVersion, and a damaged name (of
  // 'sha256', say, which would pass for a file from before the hashes) is refused.
  const unknown = Object.keys(m).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) fail(`its metadata has unknown field(s) ${clip(unknown.join(", "))} (a version ${OPTIMIZER_FORMAT_VERSION} file has ${FIELDS.join(", ")})`);
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
  const warnings = verifyHashes(m, tensors, source, fail);
  const phi: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32") fail(`tensor '${clip(name)}' is ${t.dtype}; optimizer parameters must be F32`);
    setOwn(phi, name, { shape: t.shape, data: t.data as Float32Array });
  }
  return { phi, meta, warnings };
}


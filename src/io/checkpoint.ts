/**
 * Checkpoints: a named, nested state record saved as one `.safetensors` file, for resuming
 * meta-training (phi, the outer Adam's mu/nu/count, RNG keys, counters, the best phi and
 * its score).
 *
 * Typed arrays become tensors named by their dotted path (`adam.mu`, `keys.0`); everything
 * else goes, with the record's structure, into the JSON under the `__metadata__` key `l2o`:
 *
 * ```
 * { "format": "l2o-checkpoint", "formatVersion": 1, "l2oVersion": "0.1.0", "createdAt": ...,
 *   "state": { "phi": {"$tensor": "phi"}, "adam": {"mu": {"$tensor": "adam.mu"}, "count": 12},
 *              "key": [123, 456], "bestScore": {"$number": "Infinity"} } }
 * ```
 *
 * The JSON tree is authoritative (tensor names are only for people and other readers), so
 * keys may contain dots. Numbers JSON cannot hold exactly (NaN, +-Infinity, -0) are tagged
 * `{"$number": ...}`; a record key that starts with `$` is stored with one more `$` in
 * front, so it never looks like a tag. Round trips are exact: arrays bit for bit, numbers
 * to the last bit, names and nesting as given.
 */
import { FileFormatError, decodeSafetensors, encodeSafetensors, setOwn, type SafetensorsContents, type Tensor } from "./safetensors.ts";
import { L2O_VERSION, writeFileAtomic } from "./files.ts";
import { readSafetensorsFile } from "./safetensors_file.ts";
import { L2O_METADATA_KEY, isRecord, readL2oMetadata, strictJson } from "./format.ts";

/** The `format` field of a checkpoint. */
export const CHECKPOINT_FORMAT = "l2o-checkpoint";
/** The newest checkpoint version this l2o writes and reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** Arrays stored as tensors. */
export type CheckpointArray = Float32Array | Int32Array | Uint8Array;

/** Anything a checkpoint can hold. */
export type CheckpointValue =
  | CheckpointArray
  | number
  | string
  | boolean
  | null
  | readonly CheckpointValue[]
  | CheckpointRecord;

/** A named state record. Properties whose value is `undefined` are left out, as in JSON. */
export interface CheckpointRecord {
  readonly [name: string]: CheckpointValue;
}

const ADVICE = "Resume from an earlier checkpoint, or start the run again without resuming.";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SPECIAL_NUMBERS: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };

function escapeKey(k: string): string {
  return k.startsWith("$") ? `$${k}` : k;
}

function unescapeKey(k: string): string {
  return k.startsWith("$$") ? k.slice(1) : k;
}

function isPlainObject(v: object): boolean {
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function arrayTensor(a: CheckpointArray): Tensor {
  if (a instanceof Float32Array) return { dtype: "F32", shape: [a.length], data: a };
  if (a instanceof Int32Array) return { dtype: "I32", shape: [a.length], data: a };
  return { dtype: "U8", shape: [a.length], data: a };
}

/** Turns `state` into a JSON tree plus named tensors. */
function flatten(state: CheckpointRecord): { tree: Json; tensors: Record<string, Tensor> } {
  const tensors: Record<string, Tensor> = {};
  const active = new Set<object>();
  const walk = (v: unknown, path: string[]): Json => {
    const where = path.length === 0 ? "the state" : `'${path.join(".")}'`;
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") {
      if (Number.isNaN(v)) return { $number: "NaN" };
      if (v === Infinity) return { $number: "Infinity" };
      if (v === -Infinity) return { $number: "-Infinity" };
      if (Object.is(v, -0)) return { $number: "-0" };
      return v;
    }
    if (typeof v !== "object") throw new TypeError(`checkpoint: ${where} is a ${typeof v}, which a checkpoint cannot hold`);
    if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array) {
      const name = path.join(".");
      if (Object.hasOwn(tensors, name)) throw new RangeError(`checkpoint: two arrays would both be stored as '${name}'; rename one key`);
      setOwn(tensors, name, arrayTensor(v));
      return { $tensor: name };
    }
    if (ArrayBuffer.isView(v)) {
      throw new TypeError(`checkpoint: ${where} is a ${v.constructor.name}; use Float32Array, Int32Array or Uint8Array`);
    }
    if (active.has(v)) throw new TypeError(`checkpoint: ${where} refers back to itself`);
    active.add(v);
    let out: Json;
    if (Array.isArray(v)) {
      out = v.map((x: unknown, i) => {
        if (x === undefined) throw new TypeError(`checkpoint: '${[...path, i].join(".")}' is undefined`);
        return walk(x, [...path, String(i)]);
      });
    } else if (isPlainObject(v)) {
      const rec: { [k: string]: Json } = {};
      for (const [k, x] of Object.entries(v)) {
        if (x !== undefined) setOwn(rec, escapeKey(k), walk(x, [...path, k]));
      }
      out = rec;
    } else {
      throw new TypeError(`checkpoint: ${where} is a ${v.constructor.name}, which a checkpoint cannot hold`);
    }
    active.delete(v);
    return out;
  };
  return { tree: walk(state, []), tensors };
}

/** Encodes a state record as checkpoint bytes. */
export function encodeCheckpoint(state: CheckpointRecord): Uint8Array {
  if (typeof state !== "object" || state === null || Array.isArray(state)) throw new TypeError("checkpoint: the state must be a record");
  const { tree, tensors } = flatten(state);
  const meta = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    l2oVersion: L2O_VERSION,
    createdAt: new Date().toISOString(),
    state: tree,
  };
  return encodeSafetensors(tensors, { [L2O_METADATA_KEY]: strictJson(meta, "checkpoint metadata") });
}

/** Decodes checkpoint bytes; `source` names the file in errors (`FileFormatError`). */
export function decodeCheckpoint(bytes: Uint8Array, source = "checkpoint"): CheckpointRecord {
  return fromContents(decodeSafetensors(bytes, { source, advice: ADVICE }), source);
}

/** The record in a decoded checkpoint file. */
function fromContents({ tensors, metadata }: SafetensorsContents, source: string): CheckpointRecord {
  const meta = readL2oMetadata(metadata, { format: CHECKPOINT_FORMAT, maxVersion: CHECKPOINT_FORMAT_VERSION, source, advice: ADVICE });
  const fail = (problem: string): never => {
    throw new FileFormatError(`${source}: ${problem}. ${ADVICE}`, { path: source });
  };
  const used = new Set<string>();
  const walk = (j: unknown, where: string): CheckpointValue => {
    if (j === null || typeof j === "string" || typeof j === "boolean" || typeof j === "number") return j;
    if (Array.isArray(j)) return j.map((x, i) => walk(x, `${where}.${i}`));
    if (!isRecord(j)) return fail(`state ${where} holds an unexpected value`);
    const keys = Object.keys(j);
    if (keys.length === 1 && keys[0] === "$tensor") {
      const name = j.$tensor;
      if (typeof name !== "string" || !Object.hasOwn(tensors, name)) return fail(`state ${where} refers to a missing tensor ${JSON.stringify(name)}`);
      if (used.has(name)) fail(`tensor '${name}' is referred to twice`);
      used.add(name);
      const t = tensors[name]!;
      if (t.shape.length !== 1) fail(`tensor '${name}' has shape [${t.shape.join(", ")}]; checkpoint arrays are 1-D`);
      return t.data;
    }
    if (keys.length === 1 && keys[0] === "$number") {
      const s = j.$number;
      if (typeof s !== "string" || !Object.hasOwn(SPECIAL_NUMBERS, s)) return fail(`state ${where} has an unknown number tag ${JSON.stringify(s)}`);
      return SPECIAL_NUMBERS[s]!;
    }
    const rec: Record<string, CheckpointValue> = {};
    for (const k of keys) {
      if (k.startsWith("$") && !k.startsWith("$$")) fail(`state ${where} has an unknown tag '${k}'`);
      const key = unescapeKey(k);
      setOwn(rec, key, walk(j[k], `${where}.${key}`));
    }
    return rec;
  };
  if (!isRecord(meta.state)) return fail("metadata field 'state' is missing or not an object");
  const state = walk(meta.state, "state") as CheckpointRecord;
  const unused = Object.keys(tensors).filter((n) => !used.has(n));
  if (unused.length > 0) fail(`tensors ${unused.map((n) => `'${n}'`).join(", ")} are not part of the state`);
  return state;
}

/**
 * The largest checkpoint read, and its largest header: a checkpoint holds phi four times
 * (phi, the best phi, the outer Adam's two moments), far below these. A larger file, or a
 * path that is not a regular file (a directory, /dev/zero, a FIFO), is refused before it is
 * read.
 */
const CHECKPOINT_FILE_BYTES = 1024 * 1024 * 1024;
const CHECKPOINT_HEADER_BYTES = 16 * 1024 * 1024;

/** Saves `state` to `path` atomically (creating parent directories). */
export function saveCheckpoint(path: string, state: CheckpointRecord): void {
  writeFileAtomic(path, encodeCheckpoint(state));
}

/**
 * Loads a checkpoint. A missing file throws an `Error` naming the path; a damaged file, a
 * file of another kind, or one from a newer l2o throws `FileFormatError`.
 */
export function loadCheckpoint(path: string): CheckpointRecord {
  const contents = readSafetensorsFile(path, {
    what: "checkpoint",
    hint: "Check the path, or start the run without resuming.",
    advice: ADVICE,
    maxFileBytes: CHECKPOINT_FILE_BYTES,
    maxHeaderBytes: CHECKPOINT_HEADER_BYTES,
  });
  return fromContents(contents, path);
}

/**
 * The safetensors file format, written and read by hand (no dependency).
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"):
 *
 * ```
 * [8 bytes]  N, the header length, an unsigned 64-bit little-endian integer
 * [N bytes]  a UTF-8 JSON object, padded at the end with spaces (0x20):
 *            { "__metadata__": { string: string },            (optional)
 *              name: { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
 * [rest]     the byte buffer: raw little-endian tensor data; offsets are relative to its start
 * ```
 *
 * Like the reference implementation we pad the header to a multiple of 8 bytes, place
 * tensors by decreasing element size then by name (so every tensor is aligned), and on
 * reading insist that the tensors tile the byte buffer exactly: no gaps, no overlaps, no
 * trailing bytes. Values are copied as bytes, never through a float conversion, so every
 * float32 (signed zeros, denormals, NaN payloads) survives a round trip bit for bit.
 */
import { L2oError } from "../core/errors.ts";

/** The element types l2o reads and writes. */
export type Dtype = "F32" | "I32" | "U8";

/** The typed array that holds each dtype. */
export interface DtypeArrays {
  F32: Float32Array;
  I32: Int32Array;
  U8: Uint8Array;
}

/** A tensor as stored: dtype, shape (row-major) and its elements. */
export type Tensor = { [D in Dtype]: { dtype: D; shape: readonly number[]; data: DtypeArrays[D] } }[Dtype];

/** What `decodeSafetensors` returns. */
export interface SafetensorsContents {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Says which file is being read and what the user should do when it is damaged. */
export interface DecodeOptions {
  /** The file's path or another name for it, used in error messages. */
  source?: string;
  /** What to do about a damaged file; the default suggests re-creating it. */
  advice?: string;
}

/** A file that is not what it should be: truncated, corrupt, or of the wrong kind or version. */
export class FileFormatError extends L2oError {
  override readonly name = "FileFormatError";
  /** The file concerned, when known. */
  readonly path: string | undefined;

  constructor(message: string, options: { path?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
  }
}

const DTYPES: { readonly [D in Dtype]: { size: number; make: (b: ArrayBuffer) => DtypeArrays[D] } } = {
  F32: { size: 4, make: (b) => new Float32Array(b) },
  I32: { size: 4, make: (b) => new Int32Array(b) },
  U8: { size: 1, make: (b) => new Uint8Array(b) },
};

/** True where `s` names a dtype l2o supports. */
export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

/** Size in bytes of one element of `dtype`. */
export function dtypeSize(dtype: Dtype): number {
  return DTYPES[dtype].size;
}

/** The largest header we accept (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;
const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Reverses each `size`-byte group of `bytes` in place (only needed on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function arrayMatches(dtype: Dtype, data: unknown): boolean {
  switch (dtype) {
    case "F32":
      return data instanceof Float32Array;
    case "I32":
      return data instanceof Int32Array;
    case "U8":
      return data instanceof Uint8Array;
  }
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Sets an own property, even one named `__proto__` (plain assignment would not). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Number of elements in a tensor of shape `shape` (1 for a scalar, shape `[]`). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes tensors and string metadata as a safetensors file.
 * Throws `TypeError`/`RangeError` on a bad argument (a wrong typed array for its dtype, a
 * shape that disagrees with the element count, a non-string metadata value).
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    if (name === "" || name === METADATA_KEY) throw new RangeError(`safetensors: invalid tensor name '${name}'`);
    if (!isDtype(t.dtype)) throw new TypeError(`safetensors: tensor '${name}' has unsupported dtype '${String(t.dtype)}'`);
    if (!arrayMatches(t.dtype, t.data)) {
      throw new TypeError(`safetensors: tensor '${name}' is ${t.dtype} but its data is a ${t.data?.constructor?.name}`);
    }
    if (!isValidShape(t.shape)) throw new RangeError(`safetensors: tensor '${name}' has an invalid shape ${JSON.stringify(t.shape)}`);
    if (shapeSize(t.shape) !== t.data.length) {
      throw new RangeError(`safetensors: tensor '${name}' has shape [${t.shape.join(", ")}] but ${t.data.length} elements`);
    }
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw new TypeError(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  // Larger elements first, then by name: every tensor starts at a multiple of its element size.
  names.sort((a, b) => dtypeSize(tensors[b]!.dtype) - dtypeSize(tensors[a]!.dtype) || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const end = offset + t.data.byteLength;
    setOwn(header, name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] });
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + bytes.length), dtypeSize(t.dtype));
    pos += bytes.length;
  }
  return out;
}

const DEFAULT_ADVICE = "The file is damaged or is not a safetensors file: re-create it (re-train or re-download it).";

/**
 * Decodes a safetensors file, checking it strictly. Every problem with the bytes throws a
 * `FileFormatError` that names the problem and says what to do. The returned arrays are
 * fresh copies that do not share memory with `bytes`.
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeOptions = {}): SafetensorsContents {
  const where = options.source === undefined ? "safetensors data" : options.source;
  const advice = options.advice ?? DEFAULT_ADVICE;
  const fail = (problem: string, cause?: unknown): never => {
    throw new FileFormatError(`${where}: ${problem}. ${advice}`, { path: options.source, cause });
  };

  if (bytes.length < 8) fail(`file is truncated (${bytes.length} bytes, too short for the 8-byte header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} is implausibly large (limit ${MAX_HEADER} bytes): this is not a safetensors file`);
  if (8 + headerLen > bytes.length) {
    fail(`header length ${headerLen} runs beyond the end of the file (${bytes.length} bytes): the file is truncated or not safetensors`);
  }
  if (headerLen < 2) fail(`header length ${headerLen} is too small for a JSON object`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch (e) {
    return fail("header is not valid UTF-8", e);
  }
  if (!text.startsWith("{")) fail("header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`, e);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const entries = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  const rawMeta = entries[METADATA_KEY];
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== "object" || Array.isArray(rawMeta)) fail(`'${METADATA_KEY}' is not a JSON object`);
    for (const [k, v] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof v !== "string") fail(`metadata '${k}' is not a string`);
      setOwn(metadata, k, v as string);
    }
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const spans: Array<{ name: string; begin: number; end: number; dtype: Dtype; shape: number[] }> = [];
  for (const [name, info] of Object.entries(entries)) {
    if (name === METADATA_KEY) continue;
    if (typeof info !== "object" || info === null || Array.isArray(info)) fail(`tensor '${name}' is not described by a JSON object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype)) {
      fail(`tensor '${name}' has unknown or unsupported dtype ${JSON.stringify(dtype)} (l2o reads ${Object.keys(DTYPES).join(", ")})`);
    }
    if (!isValidShape(shape)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) fail(`tensor '${name}' data_offsets [${begin}, ${end}] run beyond the data (${dataLen} bytes): the file is truncated`);
    const d = dtype as Dtype;
    const s = shape as number[];
    const want = shapeSize(s) * dtypeSize(d);
    if (end - begin !== want) {
      fail(`tensor '${name}' has shape [${s.join(", ")}] of ${d} (${want} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
    }
    spans.push({ name, begin, end, dtype: d, shape: s });
  }

  // The tensors must tile the byte buffer exactly, as the reference implementation requires.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const s of sorted) {
    if (s.begin < expected) fail(`tensor '${s.name}' data_offsets [${s.begin}, ${s.end}] overlap another tensor`);
    if (s.begin > expected) fail(`tensor '${s.name}' starts at byte ${s.begin}, leaving a gap after byte ${expected}`);
    expected = s.end;
  }
  if (expected !== dataLen) fail(`the data section has ${dataLen} bytes but the tensors cover ${expected}`);

  const tensors: Record<string, Tensor> = {};
  for (const s of spans) {
    // A fresh copy (Buffer#slice would return a view into the caller's memory).
    const copy = new Uint8Array(s.end - s.begin);
    copy.set(bytes.subarray(dataStart + s.begin, dataStart + s.end));
    if (!LITTLE_ENDIAN) swapBytes(copy, dtypeSize(s.dtype));
    setOwn(tensors, s.name, { dtype: s.dtype, shape: s.shape, data: DTYPES[s.dtype].make(copy.buffer) } as Tensor);
  }
  return { tensors, metadata };
}

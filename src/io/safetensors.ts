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
import { DTYPES, LITTLE_ENDIAN, arrayMatches, dtypeSize, isDtype, isValidShape, setOwn, shapeSize, swapBytes, type Dtype, type Tensor } from "./dtypes.ts";

export { dtypeSize, isDtype, setOwn, shapeSize, type Dtype, type DtypeArrays, type Tensor } from "./dtypes.ts";

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
  /** The largest header length accepted (default 100,000,000 bytes, the reference implementation's limit). */
  maxHeaderBytes?: number;
}

/**
 * `text` on one line: control characters (a newline in a tensor name from a hostile file)
 * and the Unicode line separators are written as `\uXXXX` escapes.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `text` cut to at most `max` characters (names from a hostile file can be megabytes long). */
export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** A value from a file as a message shows it: JSON, clipped (a value nested too deeply to print says so). */
export function shown(v: unknown, max = 80): string {
  try {
    return clip(String(JSON.stringify(v)), max);
  } catch {
    return "(a value nested too deeply to show)";
  }
}

/** A file that is not what it should be: truncated, corrupt, or of the wrong kind or version. */
export class FileFormatError extends L2oError {
  override readonly name = "FileFormatError";
  /** The file concerned, when known. */
  readonly path: string | undefined;

  constructor(message: string, options: { path?: string | undefined; cause?: unknown } = {}) {
    // One line whatever a file holds: its names end up in the message.
    super(oneLine(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
  }
}

/** The largest header accepted unless `DecodeOptions.maxHeaderBytes` says otherwise (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;
const METADATA_KEY = "__metadata__";

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

/** One tensor's place in the data section, as a checked header gives it. */
export interface TensorSpan {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  /** Byte offsets in the data section, `end` exclusive. */
  readonly begin: number;
  readonly end: number;
}

/** A checked header: the metadata, where each tensor lies, and where the data section starts. */
export interface SafetensorsHeader {
  readonly metadata: Record<string, string>;
  readonly spans: readonly TensorSpan[];
  /** 8 + the header length. */
  readonly dataStart: number;
}

function failer(options: DecodeOptions): (problem: string, cause?: unknown) => never {
  const where = options.source === undefined ? "safetensors data" : options.source;
  const advice = options.advice ?? DEFAULT_ADVICE;
  return (problem, cause) => {
    throw new FileFormatError(`${where}: ${problem}. ${advice}`, { path: options.source, cause });
  };
}

/**
 * The header length N that the first 8 bytes of a file of `fileLength` bytes declare (`first`
 * may be shorter when the file is), checked against the limit and the file's length.
 */
export function safetensorsHeaderLength(first: Uint8Array, fileLength: number, options: DecodeOptions = {}): number {
  const fail = failer(options);
  const max = options.maxHeaderBytes ?? MAX_HEADER;
  if (fileLength < 8 || first.length < 8) fail(`file is truncated (${fileLength} bytes, too short for the 8-byte header length)`);
  const declared = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(max)) fail(`header length ${declared} is implausibly large (limit ${max} bytes): this is not a safetensors file`);
  const headerLen = Number(declared);
  if (8 + headerLen > fileLength) {
    fail(`header length ${headerLen} runs beyond the end of the file (${fileLength} bytes): the file is truncated or not safetensors`);
  }
  if (headerLen < 2) fail(`header length ${headerLen} is too small for a JSON object`);
  return headerLen;
}

/**
 * Parses and checks the header of a file of `fileLength` bytes from its first 8 + N bytes
 * (`prefix`), before any of the data is read: every tensor's dtype, shape and offsets, and
 * that the tensors tile the data section exactly (no gaps, no overlaps, no trailing bytes).
 */
export function decodeSafetensorsHeader(prefix: Uint8Array, fileLength: number, options: DecodeOptions = {}): SafetensorsHeader {
  const fail = failer(options);
  const headerLen = safetensorsHeaderLength(prefix, fileLength, options);
  if (prefix.length < 8 + headerLen) throw new RangeError(`safetensors: the prefix holds ${prefix.length} bytes, the header needs ${8 + headerLen}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(8, 8 + headerLen));
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
      if (typeof v !== "string") fail(`metadata '${clip(k)}' is not a string`);
      setOwn(metadata, k, v as string);
    }
  }

  const dataStart = 8 + headerLen;
  const dataLen = fileLength - dataStart;
  const spans: TensorSpan[] = [];
  for (const [name, info] of Object.entries(entries)) {
    if (name === METADATA_KEY) continue;
    if (typeof info !== "object" || info === null || Array.isArray(info)) fail(`tensor '${clip(name)}' is not described by a JSON object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype)) {
      fail(`tensor '${clip(name)}' has unknown or unsupported dtype ${shown(dtype)} (l2o reads ${Object.keys(DTYPES).join(", ")})`);
    }
    if (!isValidShape(shape)) fail(`tensor '${clip(name)}' has an invalid shape ${shown(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`tensor '${clip(name)}' has invalid data_offsets ${shown(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) fail(`tensor '${clip(name)}' data_offsets [${begin}, ${end}] run beyond the data (${dataLen} bytes): the file is truncated`);
    const d = dtype as Dtype;
    const s = shape as number[];
    // Exact while it matters: the span is at most the file's length, far below 2^53.
    const want = shapeSize(s) * dtypeSize(d);
    if (end - begin !== want) {
      fail(`tensor '${clip(name)}' has shape [${clip(s.join(", "))}] of ${d} (${want} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
    }
    spans.push({ name, begin, end, dtype: d, shape: s });
  }

  // The tensors must tile the byte buffer exactly, as the reference implementation requires.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const s of sorted) {
    if (s.begin < expected) fail(`tensor '${clip(s.name)}' data_offsets [${s.begin}, ${s.end}] overlap another tensor`);
    if (s.begin > expected) fail(`tensor '${clip(s.name)}' starts at byte ${s.begin}, leaving a gap after byte ${expected}`);
    expected = s.end;
  }
  if (expected !== dataLen) fail(`the data section has ${dataLen} bytes but the tensors cover ${expected}`);
  return { metadata, spans, dataStart };
}

/**
 * The tensors of a checked header, copied (fresh memory, native byte order) out of `data`,
 * the file's data section.
 */
export function tensorsFromData(header: SafetensorsHeader, data: Uint8Array): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  for (const s of header.spans) {
    if (s.end > data.length) throw new RangeError(`safetensors: tensor '${s.name}' lies beyond the ${data.length} bytes of data given`);
    // A fresh copy (Buffer#slice would return a view into the caller's memory).
    const copy = new Uint8Array(s.end - s.begin);
    copy.set(data.subarray(s.begin, s.end));
    if (!LITTLE_ENDIAN) swapBytes(copy, dtypeSize(s.dtype));
    setOwn(tensors, s.name, { dtype: s.dtype, shape: s.shape, data: DTYPES[s.dtype].make(copy.buffer) } as Tensor);
  }
  return tensors;
}

/** A tensor's bytes as the file stores them (little-endian): a view on little-endian hosts. */
export function littleEndianBytes(t: Tensor): Uint8Array {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, dtypeSize(t.dtype));
  return copy;
}

/**
 * Decodes a safetensors file, checking it strictly. Every problem with the bytes throws a
 * `FileFormatError` that names the problem and says what to do. The returned arrays are
 * fresh copies that do not share memory with `bytes`.
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeOptions = {}): SafetensorsContents {
  const header = decodeSafetensorsHeader(bytes, bytes.length, options);
  return { tensors: tensorsFromData(header, bytes.subarray(header.dataStart)), metadata: header.metadata };
}

/**
 * IDX files: the simple big-endian tensor format that MNIST ships in (LeCun et al. 1998).
 *
 * Layout: two zero bytes, a type code (0x08 = unsigned byte, the only type MNIST uses), the
 * number of dimensions, then one big-endian uint32 per dimension, then the data in row-major
 * order. Labels are magic 0x00000801 (one dimension), images 0x00000803 (N x rows x cols).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { L2oError } from "../core/errors.ts";

/**
 * A problem with a data file or folder (missing, malformed, wrong size). The CLI maps it to
 * exit code 2, so that a user can tell bad input from a bug.
 */
export class DataError extends L2oError {
  override readonly name = "DataError";
  /** The file or folder involved, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, path?: string) {
    super(message);
    this.path = path;
  }
}

/** An unsigned-byte tensor read from an IDX file. */
export interface IdxArray {
  /** Dimensions, outermost first (for MNIST images `[n, 28, 28]`). */
  readonly dims: readonly number[];
  /** The values in row-major order; `data.length` is the product of `dims`. */
  readonly data: Uint8Array;
}

/** The IDX type code for unsigned bytes. */
const UBYTE = 0x08;
/** Largest rank accepted: keeps a corrupt header from describing an absurd tensor. */
const MAX_RANK = 8;

/** What an IDX header says: the dimensions, the header's length and the data's byte count. */
interface IdxHeader {
  readonly dims: number[];
  readonly header: number;
  readonly count: number;
}

/**
 * Checks the header at the start of `head` against a file of `total` bytes (`head` may be
 * only the first bytes of it): the magic number, the rank, and that the data is exactly as
 * long as the dimensions say. Every failure is a `DataError` naming `source`.
 */
function parseIdxHeader(head: Uint8Array, total: number, source: string, expectRank?: number): IdxHeader {
  if (total < 4) {
    throw new DataError(`${source}: truncated IDX file (${total} bytes, the header alone needs at least 4)`, source);
  }
  const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const type = head[2]!;
  const rank = head[3]!;
  if (head[0] !== 0 || head[1] !== 0 || type !== UBYTE || rank < 1 || rank > MAX_RANK) {
    throw new DataError(
      `${source}: not an unsigned-byte IDX file (magic number 0x${magic.toString(16).padStart(8, "0")}; ` +
        `expected 0x00000801 for labels or 0x00000803 for images)`,
      source,
    );
  }
  if (expectRank !== undefined && rank !== expectRank) {
    const want = (0x0800 | expectRank).toString(16).padStart(8, "0");
    throw new DataError(
      `${source}: wrong IDX magic number 0x${magic.toString(16).padStart(8, "0")} (expected 0x${want}, a ${expectRank}-dimensional array)`,
      source,
    );
  }
  const header = 4 + 4 * rank;
  if (total < header) {
    throw new DataError(`${source}: truncated IDX file (${total} bytes, the header needs ${header})`, source);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const have = total - header;
  if (have < count) {
    throw new DataError(
      `${source}: truncated IDX file: dimensions [${dims.join(", ")}] need ${count} data bytes, found ${have}`,
      source,
    );
  }
  if (have > count) {
    throw new DataError(
      `${source}: IDX size mismatch: dimensions [${dims.join(", ")}] need ${count} data bytes, found ${have} ` +
        `(${have - count} extra)`,
      source,
    );
  }
  return { dims, header, count };
}

/**
 * Parses IDX bytes. `source` names the file in error messages. With `expectRank`, a file of
 * another rank is refused (1 for labels, magic 0x0801; 3 for images, magic 0x0803).
 * The data is copied out of `bytes`.
 */
export function parseIdx(bytes: Uint8Array, source = "IDX data", expectRank?: number): IdxArray {
  const { dims, header, count } = parseIdxHeader(bytes, bytes.length, source, expectRank);
  // A copy into a plain Uint8Array (a Buffer's slice would be a view of the file's bytes).
  const data = new Uint8Array(count);
  data.set(bytes.subarray(header, header + count));
  return { dims, data };
}

/** Options for `readIdxFile`. */
export interface ReadIdxOptions {
  /** Refuse files of another rank (1 for labels, 3 for images). */
  readonly expectRank?: number;
  /** What the user should do if the file is missing; appended to the error message. */
  readonly missingHint?: string;
}

/** Reads and parses an IDX file; every failure is a `DataError` naming `path`. */
export function readIdxFile(path: string, opts: ReadIdxOptions = {}): IdxArray {
  if (!existsSync(path)) {
    const hint = opts.missingHint ? ` ${opts.missingHint}` : "";
    throw new DataError(`IDX file not found: ${path}.${hint}`, path);
  }
  if (!statSync(path).isFile()) throw new DataError(`not a file: ${path}`, path);
  // The data is read straight into its own array: reading the whole file first and copying
  // left a second copy (47 MB for MNIST's training images) for the garbage collector, which
  // could still hold it when meta-training's tape reached its peak.
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const total = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(total, 4 + 4 * MAX_RANK));
    readFully(fd, head, 0);
    const { dims, header, count } = parseIdxHeader(head, total, path, opts.expectRank);
    const data = new Uint8Array(count);
    readFully(fd, data, header);
    return { dims, data };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`, path);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Fills `into` from file position `position`; a file that ends early is an error. */
function readFully(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const got = readSync(fd, into, done, into.length - done, position + done);
    if (got === 0) throw new Error(`the file ended after ${position + done} bytes`);
    done += got;
  }
}

/** Encodes an unsigned-byte tensor as IDX bytes (the inverse of `parseIdx`). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > MAX_RANK || !dims.every((d) => Number.isInteger(d) && d >= 0 && d < 2 ** 32)) {
    throw new Error(`encodeIdx: invalid dimensions [${dims.join(", ")}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`encodeIdx: dimensions [${dims.join(", ")}] need ${count} values, got ${data.length}`);
  }
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}

/**
 * Reading a safetensors file from disk with every size bounded before it is trusted: the
 * path must be a regular file (a directory, a device such as /dev/zero, a FIFO or a socket
 * is refused before it is opened, so nothing blocks or reads forever), at most `maxFileBytes`
 * long; then the 8-byte header length is read and checked against `maxHeaderBytes` and the
 * file's size, then the header, whose tensors (dtype, shape, offsets) must tile the rest of
 * the file exactly; only then is the data read. Nothing is allocated beyond the file's size.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { MissingFileError } from "./files.ts";
import { FileFormatError, decodeSafetensorsHeader, safetensorsHeaderLength, tensorsFromData, type SafetensorsContents } from "./safetensors.ts";

export interface SafetensorsReadOptions {
  /** What kind of file is expected, for messages: "optimizer file". */
  readonly what: string;
  /** What to do when the file is missing. */
  readonly hint: string;
  /** What to do when the file is damaged. */
  readonly advice: string;
  /** The largest file accepted, in bytes. */
  readonly maxFileBytes: number;
  /** The largest header length accepted, in bytes. */
  readonly maxHeaderBytes: number;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 === 0 ? 0 : 1)} MiB`;
}

/** What a path that is not a regular file is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** A system error (ENOENT, EACCES, ...) as the one-line error a user can act on. */
function explain(e: unknown, path: string, o: SafetensorsReadOptions): never {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") throw e;
  if (code === "ENOENT") throw new MissingFileError(`${o.what} not found: ${path}. ${o.hint}`, { cause: e });
  if (code === "ENOTDIR") throw new MissingFileError(`${o.what} not found: ${path} (a folder on the way is a file). ${o.hint}`, { cause: e });
  if (code === "EACCES" || code === "EPERM") {
    throw new MissingFileError(`${o.what} ${path} cannot be read (permission denied): check its permissions.`, { cause: e });
  }
  throw new MissingFileError(`${o.what} ${path} cannot be read (${code}). ${o.hint}`, { cause: e });
}

function checkStat(st: Stats, path: string, o: SafetensorsReadOptions): number {
  if (!st.isFile()) {
    const what = kindOf(st);
    throw new MissingFileError(`${o.what} ${path} is ${what}, not a regular file. ${o.hint}`);
  }
  if (st.size > o.maxFileBytes) {
    throw new FileFormatError(`${path}: the file is ${mib(st.size)}; ${o.what}s may be at most ${mib(o.maxFileBytes)}. ${o.advice}`, { path });
  }
  return st.size;
}

/** Reads `length` bytes at `position`; a file that shrank meanwhile is a FileFormatError. */
function readAt(fd: number, position: number, length: number, path: string, o: SafetensorsReadOptions): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, out, done, length - done, position + done);
    } catch (e) {
      return explain(e, path, o);
    }
    if (n === 0) throw new FileFormatError(`${path}: the file became shorter while it was read (${position + done} of ${position + length} bytes). ${o.advice}`, { path });
    done += n;
  }
  return out;
}

/**
 * Reads and decodes a safetensors file with the bounds of `o`. A path that cannot be read or
 * is not a regular file throws `MissingFileError`; a file too large or damaged throws
 * `FileFormatError`; both name the path and the problem on one line.
 */
export function readSafetensorsFile(path: string, o: SafetensorsReadOptions): SafetensorsContents {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    return explain(e, path, o);
  }
  checkStat(st, path, o);
  let fd: number;
  try {
    // Non-blocking, should the path become a FIFO between the check and the open.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return explain(e, path, o);
  }
  try {
    let opened: Stats;
    try {
      opened = fstatSync(fd);
    } catch (e) {
      return explain(e, path, o);
    }
    const size = checkStat(opened, path, o);
    const decode = { source: path, advice: o.advice, maxHeaderBytes: o.maxHeaderBytes };
    const first = readAt(fd, 0, Math.min(8, size), path, o);
    const headerLen = safetensorsHeaderLength(first, size, decode);
    const prefix = new Uint8Array(8 + headerLen);
    prefix.set(first);
    prefix.set(readAt(fd, 8, headerLen, path, o), 8);
    const header = decodeSafetensorsHeader(prefix, size, decode);
    const data = readAt(fd, header.dataStart, size - header.dataStart, path, o);
    return { metadata: header.metadata, tensors: tensorsFromData(header, data) };
  } finally {
    closeSync(fd);
  }
}

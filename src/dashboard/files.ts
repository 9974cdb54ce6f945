/**
 * The dashboard's only way to the disk: a file named in a request is resolved inside the
 * dashboard's folder or refused, and read within a bound.
 *
 * A name is refused (before the disk is touched) when it is empty, too long, holds a NUL or a
 * backslash, is absolute, or has a `.` or `..` segment; the request's percent-encoding is
 * undone once before this check, so `%2e%2e` is `..` and refused, and a name still holding a
 * `%` after that (`%252e`) is refused too. Then the real path (symbolic links resolved) must
 * lie inside the folder's real path and be a regular file: a link that leads out is refused
 * like `..`.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, sep } from "node:path";

/** How a name was resolved: the file, or why not (`refused`: it tried to leave the folder or was malformed). */
export type Resolved = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly status: 403 | 404; readonly why: string };

const MAX_NAME = 1024;

/** The dashboard's folder: its real path, once. Throws when it is missing or not a folder. */
export function dashboardRoot(dir: string): string {
  const real = realpathSync(dir);
  if (!statSync(real).isDirectory()) throw new Error(`${dir} is not a folder`);
  return real;
}

/** Resolves `name` (a path relative to the root, `/`-separated, already percent-decoded) inside `root` (a real path). */
export function resolveInside(root: string, name: string): Resolved {
  const refuse = (why: string): Resolved => ({ ok: false, status: 403, why });
  if (name === "") return refuse("no file named");
  if (name.length > MAX_NAME) return refuse("name too long");
  if (/[\0\\%]/.test(name)) return refuse("NUL, backslash or percent sign in the name");
  if (name.startsWith("/") || isAbsolute(name) || /^[A-Za-z]:/.test(name)) return refuse("absolute path");
  const parts = name.split("/");
  if (parts.some((p) => p === ".." || p === ".")) return refuse("'.' or '..' in the path");
  if (parts.some((p) => p === "")) return refuse("empty segment in the path");
  let real: string;
  try {
    real = realpathSync(join(root, ...parts));
  } catch {
    return { ok: false, status: 404, why: "no such file" };
  }
  if (!real.startsWith(root + sep)) return refuse("the path leads out of the folder");
  try {
    if (!statSync(real).isFile()) return { ok: false, status: 404, why: "not a regular file" };
  } catch {
    return { ok: false, status: 404, why: "no such file" };
  }
  return { ok: true, path: real };
}

/** Bytes read from a file: the text, the file's size, and whether the text is only part of it. */
export interface BoundedText {
  readonly text: string;
  readonly size: number;
  readonly cut: boolean;
}

function readRange(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The first `max` bytes of the file (as UTF-8 text). */
export function readHead(path: string, max: number): BoundedText {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    return { text: readRange(fd, 0, Math.min(size, max)).toString("utf8"), size, cut: size > max };
  } finally {
    closeSync(fd);
  }
}

/**
 * The last `max` bytes of a line-oriented file, from the first line that starts inside them
 * (a line cut at the front is dropped): what a log's figure is drawn from when the log is huge.
 */
export function readTailLines(path: string, max: number): BoundedText {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - max);
    let buf = readRange(fd, start, size - start);
    if (start > 0) {
      const nl = buf.indexOf(10);
      buf = nl < 0 ? buf.subarray(buf.length) : buf.subarray(nl + 1);
    }
    return { text: buf.toString("utf8"), size, cut: start > 0 };
  } finally {
    closeSync(fd);
  }
}

/**
 * Output paths checked before any work starts. A command that writes files (an optimizer, a
 * checkpoint, a log, a report, a figure) checks each of them first, so that a path it could
 * never write is refused at once, in one line naming the flag, and not after minutes of
 * training. The check only looks: it creates nothing (the writers make missing folders).
 */
import { accessSync, closeSync, constants, openSync, readSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { L2oError } from "../core/errors.ts";

/** An output path that cannot be written; the message names the flag that gave it. */
export class OutputPathError extends L2oError {
  override readonly name = "OutputPathError";
}

/**
 * Pseudo file systems: writing there is never what a user means, and a recursive mkdir under
 * /proc does not even fail (it loops).
 */
const SYSTEM_ROOTS = ["/proc", "/sys", "/dev"] as const;

function systemRoot(abs: string): string | undefined {
  return SYSTEM_ROOTS.find((root) => abs === root || abs.startsWith(`${root}/`));
}

/** `statSync`, or the error code when there is nothing to stat (`ENOENT`, `ENOTDIR`, ...). */
function statOrCode(path: string): Stats | string {
  try {
    return statSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "EUNKNOWN";
  }
}

/** The path with its symbolic links resolved, or itself when that fails. */
function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** What an output is, for `checkOutputPath`: a report, log or figure never replaces a trained file. */
export interface OutputOptions {
  /**
   * The output is text or a picture (a report, a log, a figure): an existing safetensors file
   * at its path (an optimizer, a checkpoint, a learner: hours of training) is refused rather
   * than overwritten or appended to, as when `--json runs/quad.safetensors` is typed for
   * `--json runs/quad.json`.
   */
  readonly report?: boolean;
  /**
   * The output is itself a safetensors file (an optimizer, a checkpoint or a learner): an
   * existing file at its path that is not one (a report, a log, a figure: anything else) is
   * refused rather than overwritten, as when `--out runs/quad.json` is typed for
   * `--out runs/quad.safetensors`. An existing safetensors file (an earlier training's) and an
   * empty file are replaced.
   */
  readonly trained?: boolean;
}

/**
 * Whether the regular file `path` begins as a safetensors file does: an 8-byte little-endian
 * header length that fits the file, then the header's opening brace. Reads 9 bytes.
 */
function looksLikeSafetensors(path: string, size: number): boolean {
  if (size < 10) return false;
  const head = Buffer.alloc(9);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    if (readSync(fd, head, 0, 9, 0) < 9) return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const n = head.readBigUInt64LE(0);
  return n >= 2n && n <= BigInt(size - 8) && head[8] === 0x7b;
}

/**
 * What the regular file `path`, which is no safetensors file, looks like from its first bytes,
 * for the message that refuses to overwrite it: "a JSON report or log", "a PNG image", ...
 */
function whatFileIs(path: string): string {
  const head = Buffer.alloc(512);
  let n = 0;
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    n = readSync(fd, head, 0, head.length, 0);
  } catch {
    return "a file that is not a safetensors file";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const bytes = head.subarray(0, n);
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "a PNG image";
  if (bytes.includes(0)) return "a binary file that is not a safetensors file";
  const text = bytes.toString("utf8").trimStart();
  if (text.startsWith("{") || text.startsWith("[")) return "a JSON report or log";
  if (/^(<\?xml[^>]*>\s*)?<svg[\s>]/.test(text)) return "an SVG figure";
  return "a text file";
}

/**
 * Refuses, with an `OutputPathError` that names `flag`, an output `path` that is empty, names a
 * folder (it is one, or ends with a separator), is not a regular file, lies under a path
 * component that is a file, lies under /proc, /sys or /dev (also through a symbolic link), or
 * whose existing file or nearest existing parent folder cannot be written; with
 * `options.report`, also an existing safetensors file; with `options.trained`, an existing
 * non-empty file that is not one. Creates nothing.
 */
export function checkOutputPath(path: string, flag: string, options: OutputOptions = {}): void {
  const fail = (why: string): never => {
    throw new OutputPathError(`${flag} ${path === "" ? "is empty" : `'${path}' ${why}`}; give the path of a file to write`);
  };
  if (path === "") fail("");
  if (path.trim() === "") fail("is blank");
  if (path.includes("\0")) fail("contains a NUL character");
  if (path.endsWith("/") || path.endsWith(sep)) fail("names a folder (it ends with a separator)");
  const abs = resolve(path);
  const root = systemRoot(abs);
  if (root !== undefined) fail(`lies under ${root}, which holds no ordinary files`);

  const own = statOrCode(abs);
  if (typeof own !== "string") {
    const linked = systemRoot(realpathOr(abs));
    if (linked !== undefined) fail(`leads to ${linked} (through a symbolic link), which holds no ordinary files`);
    if (own.isDirectory()) fail("is a folder");
    if (!own.isFile()) fail("exists and is not a regular file");
    if (options.report === true && looksLikeSafetensors(abs, own.size)) {
      throw new OutputPathError(`${flag} '${path}' is a safetensors file (an optimizer, a checkpoint or a learner), which this output would destroy; give another path`);
    }
    if (options.trained === true && own.size > 0 && !looksLikeSafetensors(abs, own.size)) {
      throw new OutputPathError(`${flag} '${path}' is ${whatFileIs(abs)}, not a safetensors file (an optimizer, a checkpoint or a learner), which this output would overwrite; give another path`);
    }
    try {
      accessSync(abs, constants.W_OK);
    } catch {
      fail("exists and cannot be written (permission denied)");
    }
  } else if (own !== "ENOENT" && own !== "ENOTDIR") {
    fail(`cannot be checked (${own})`);
  }

  // The nearest folder that exists: every component above it must be a folder, and it must
  // take new entries.
  let dir = dirname(abs);
  for (;;) {
    const s = statOrCode(dir);
    if (typeof s === "string") {
      if (s !== "ENOENT" && s !== "ENOTDIR") fail(`cannot be checked: ${dir} gives ${s}`);
      const up = dirname(dir);
      if (up === dir) fail(`cannot be created: no folder above it exists`);
      dir = up;
      continue;
    }
    if (!s.isDirectory()) fail(`lies under ${dir}, which is a file, not a folder`);
    const linked = systemRoot(realpathOr(dir));
    if (linked !== undefined) fail(`lies under ${linked} (through ${dir}), which holds no ordinary files`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      fail(`cannot be written: the folder ${dir} is not writable`);
    }
    return;
  }
}

/**
 * Checks each given output path (`[path, flag, options]`, undefined paths skipped) with
 * `checkOutputPath`, and refuses two flags that name the same file.
 */
export function checkOutputPaths(outputs: ReadonlyArray<readonly [string | undefined, string, OutputOptions?]>): void {
  const seen = new Map<string, string>();
  for (const [path, flag, options] of outputs) {
    if (path === undefined) continue;
    checkOutputPath(path, flag, options);
    const abs = resolve(path);
    const other = seen.get(abs);
    if (other !== undefined) throw new OutputPathError(`${flag} and ${other} name the same file '${path}'; give each its own`);
    seen.set(abs, flag);
  }
}

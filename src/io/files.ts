/**
 * File helpers shared by the optimizer-file and checkpoint writers: atomic writes, reads
 * that explain a missing file, and l2o's own version (from package.json).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { L2oError } from "../core/errors.ts";
import { OutputPathError } from "./paths.ts";

export { L2O_VERSION } from "./version.ts";

/**
 * Whether process `pid` is gone from this machine (`kill(pid, 0)` fails with ESRCH). A process
 * of another user (EPERM) is alive; so is any process on another machine, which this cannot see.
 */
export function processGone(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Removes the temporary files `path.tmp-<pid>` that interrupted atomic writes of `path` left
 * behind: those whose writer process is gone from this machine (a live writer's, this
 * process's and anything that is not a plain file are kept). Best effort, never throws.
 * A directory shared between machines could hold a live temporary of another machine's
 * writer with a pid that is free here; l2o does not guard against that.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = name.slice(prefix.length);
    if (!/^[1-9][0-9]{0,9}$/.test(pid) || Number(pid) === process.pid || !processGone(Number(pid))) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // a directory, or removed by someone else meanwhile: leave it
    }
  }
}

/**
 * Writes `bytes` to `path` atomically: the data goes to `path.tmp-<pid>`, is flushed to
 * disk, then renamed over `path`. A crash or an error part way leaves any existing file at
 * `path` untouched; the temporary file a killed writer leaves is removed by the next write
 * of `path` (`removeStaleTemps`). Parent directories are created as needed. A path that
 * cannot be written (a folder, under a file, no permission, a full disk) is an
 * `OutputPathError` naming it and why.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  try {
    writeAtomic(path, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code !== "string") throw e;
    // The system's own words name the code, the call and the path it failed on (the temporary's, or the target).
    throw new OutputPathError(`cannot write ${path}: ${(e as Error).message.replace(/\s*\n\s*/g, " ")}`, { cause: e });
  }
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(path);
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, "w");
    created = true;
    let pos = 0;
    while (pos < bytes.length) pos += writeSync(fd, bytes, pos, bytes.length - pos);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more to clean up
      }
    }
    throw e;
  }
  syncDir(dir);
}

/** Flushes a directory entry (so a rename survives a power cut); not every system allows it. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort: Windows and some file systems refuse to open or sync a directory
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A file the user named is missing or unreadable (the CLI reports it with exit code 2). */
export class MissingFileError extends L2oError {
  override readonly name = "MissingFileError";
}


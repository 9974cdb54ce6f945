/**
 * Exclusive locks on the files a run writes (its output, checkpoint and log), so that two runs
 * never write the same file: a run holds `PATH.lock`, created with the `wx` flag (it fails if
 * the file exists) and holding `{"pid", "host", "since"}` as JSON; a second run that finds
 * it is refused with a message naming the holder.
 *
 * A lock whose holder was killed stays behind. It is stale, and taken over, when its host is
 * this machine and its process is gone (`kill(pid, 0)` fails with ESRCH), so that killing a
 * run and starting it again works; so is a lock left empty or garbled (a holder killed
 * between creating and filling it) once it is `EMPTY_LOCK_GRACE_MS` old. A lock of another
 * machine is never taken over: the message says to delete it when that run is known to be gone.
 *
 * Locks are released by `release()`, and at the latest when the process exits (an `exit`
 * listener, which runs on `process.exit` and on a normal end, not on a kill).
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { L2oError } from "../core/errors.ts";
import { processGone, removeStaleTemps } from "./files.ts";

/** A file is locked by another run (or twice by this one). */
export class FileLockedError extends L2oError {
  override readonly name = "FileLockedError";
}

export interface FileLock {
  /** The file locked. */
  readonly path: string;
  /** The lock file, `path + ".lock"`. */
  readonly lockPath: string;
  /** Removes the lock file if it is still this process's; later calls do nothing. */
  release(): void;
}

/** How old an empty or unreadable lock file must be before it counts as abandoned. */
export const EMPTY_LOCK_GRACE_MS = 2000;

const HOST = hostname();

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since?: string;
}

/** The lock file's text and its owner (null: empty or garbled); undefined when it is gone. */
function readLock(lockPath: string): { text: string; owner: Owner | null; mtimeMs: number } | undefined {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(lockPath).mtimeMs;
    text = readFileSync(lockPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let owner: Owner | null = null;
  try {
    const o = JSON.parse(text) as Partial<Owner>;
    if (Number.isSafeInteger(o.pid) && typeof o.host === "string") owner = { pid: o.pid!, host: o.host, ...(typeof o.since === "string" ? { since: o.since } : {}) };
  } catch {
    // garbled: owner stays null
  }
  return { text, owner, mtimeMs };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(1, Math.ceil(ms)));
}

/**
 * Removes a stale lock whose text is `text`. It is first renamed aside (atomic), so that of two
 * runs taking over at once only one removes it; if what was moved aside is not the stale lock
 * (another run took it over and locked anew in between), it is put back.
 */
function takeOver(lockPath: string, text: string): void {
  const aside = `${lockPath}.tmp-${process.pid}`;
  try {
    renameSync(lockPath, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, "utf8");
  } catch {
    moved = undefined;
  }
  if (moved !== text) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // a third run locked it meanwhile; its lock stands
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

const held = new Set<FileLock>();
let exitListener = false;

/**
 * Locks `path` for this process; `what` names the file in messages ("checkpoint"). Throws
 * `FileLockedError` when another live run holds it, or this process already does.
 */
export function acquireLock(path: string, what: string): FileLock {
  const lockPath = `${path}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  removeStaleTemps(lockPath);
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(lockPath, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (fd !== undefined) {
      try {
        const text = JSON.stringify({ pid: process.pid, host: HOST, since: new Date().toISOString() });
        const bytes = Buffer.from(text, "utf8");
        let pos = 0;
        while (pos < bytes.length) pos += writeSync(fd, bytes, pos, bytes.length - pos);
      } finally {
        closeSync(fd);
      }
      return register(path, lockPath);
    }
    const found = readLock(lockPath);
    if (found === undefined) continue; // released meanwhile: try again
    const { owner, text, mtimeMs } = found;
    if (owner === null) {
      const age = Date.now() - mtimeMs;
      if (age < EMPTY_LOCK_GRACE_MS) {
        // Its holder may be writing it right now: look again when the grace time is over.
        sleepSync(EMPTY_LOCK_GRACE_MS - age);
        continue;
      }
      takeOver(lockPath, text);
      continue;
    }
    if (owner.host === HOST && owner.pid === process.pid) {
      throw new FileLockedError(`${what} ${path} is already in use by this run (${lockPath}); give each file its own path`);
    }
    if (owner.host === HOST && processGone(owner.pid)) {
      takeOver(lockPath, text);
      continue;
    }
    const since = owner.since !== undefined ? ` since ${owner.since}` : "";
    throw new FileLockedError(
      `${what} ${path} is in use by another l2o run (process ${owner.pid} on ${owner.host}${since}); wait for it to end or use another path` +
        ` (if that run is gone, delete ${lockPath})`,
    );
  }
  throw new FileLockedError(`${what} ${path}: could not lock it (${lockPath} keeps changing); try again`);
}

function register(path: string, lockPath: string): FileLock {
  let released = false;
  const lock: FileLock = {
    path,
    lockPath,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      try {
        const found = readLock(lockPath);
        if (found?.owner?.pid === process.pid && found.owner.host === HOST) unlinkSync(lockPath);
      } catch {
        // best effort: a lock left behind is stale once this process is gone
      }
    },
  };
  held.add(lock);
  if (!exitListener) {
    exitListener = true;
    process.on("exit", () => {
      for (const l of [...held]) l.release();
    });
  }
  return lock;
}

/** Locks each of `files` ([path, what]) or none: if one is refused, those taken are released. */
export function acquireLocks(files: ReadonlyArray<readonly [string, string]>): FileLock[] {
  const locks: FileLock[] = [];
  try {
    for (const [path, what] of files) locks.push(acquireLock(path, what));
  } catch (e) {
    for (const l of locks.reverse()) l.release();
    throw e;
  }
  return locks;
}

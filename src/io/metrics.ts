/**
 * Metric writers. Library code never prints: it emits named scalars (`meta/loss`,
 * `lstm/step_norm`) and free-form records to a `MetricWriter` that the caller (usually the
 * CLI) chooses: a JSONL run log, memory (tests), several at once, or nothing.
 *
 * The JSONL log holds one JSON object per line. A scalar is `{"step", "name", "value",
 * "time"}` (`time` in Unix seconds, as TensorBoard's `wall_time`); a record is written as
 * given. JSON has no NaN or Infinity, so non-finite numbers are written as the strings
 * `"NaN"`, `"Infinity"` and `"-Infinity"` (a diverged loss is worth keeping);
 * `readJsonl` turns a scalar's `value` back into a number.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { MissingFileError } from "./files.ts";
import { FileFormatError } from "./safetensors.ts";

/** Where named metrics go. */
export interface MetricWriter {
  /** One value of the series `name` at `step`. */
  scalar(name: string, value: number, step: number): void;
  /** A free-form record (one row of a table, a run's settings, a summary). */
  record?(obj: Record<string, unknown>): void;
  /** Flushes and releases the writer; later calls throw. */
  close(): void | Promise<void>;
}

/** One scalar, as logged. */
export interface ScalarEvent {
  step: number;
  name: string;
  value: number;
  /** Unix time in seconds. */
  time: number;
}

/** Options shared by the writers that stamp times. */
export interface WriterOptions {
  /** Returns the current Unix time in seconds; defaults to the system clock. */
  clock?: () => number;
}

const systemClock = (): number => Date.now() / 1000;

function checkScalar(name: string, value: number, step: number): void {
  if (typeof name !== "string" || name === "") throw new TypeError("metric name must be a non-empty string");
  if (typeof value !== "number") throw new TypeError(`metric '${name}': value must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(step)) throw new TypeError(`metric '${name}': step must be an integer, got ${step}`);
}

function closedError(what: string): Error {
  return new Error(`${what}: the metric writer is closed`);
}

/** JSON for one log line; non-finite numbers become strings, bigints decimal strings. */
export function lineFor(obj: unknown): string {
  return (
    JSON.stringify(obj, (_k, v: unknown) => {
      if (typeof v === "number" && !Number.isFinite(v)) return String(v);
      if (typeof v === "bigint") return v.toString();
      return v;
    }) + "\n"
  );
}

/**
 * A writer that appends one JSON object per line to `path` (creating parent directories).
 * Each line is written with one `writeSync` call as it comes, so a crash loses at most the
 * line being written.
 */
export function jsonlWriter(path: string, options: WriterOptions = {}): MetricWriter {
  const clock = options.clock ?? systemClock;
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | undefined = openSync(path, "a");
  const write = (what: string, obj: unknown): void => {
    if (fd === undefined) throw closedError(`${path} (${what})`);
    const bytes = Buffer.from(lineFor(obj), "utf8");
    let pos = 0;
    while (pos < bytes.length) pos += writeSync(fd, bytes, pos, bytes.length - pos);
  };
  return {
    scalar(name, value, step) {
      checkScalar(name, value, step);
      write(name, { step, name, value, time: clock() });
    },
    record(obj) {
      write("record", obj);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** A writer that keeps everything in memory (for tests and for the dashboard). */
export interface MemoryWriter extends MetricWriter {
  readonly scalars: ScalarEvent[];
  readonly records: Array<Record<string, unknown>>;
  readonly closed: boolean;
  /** The `(step, value)` pairs logged under `name`, in the order they came. */
  series(name: string): Array<{ step: number; value: number }>;
  record(obj: Record<string, unknown>): void;
}

/** Collects scalars and records in arrays. */
export function memoryWriter(options: WriterOptions = {}): MemoryWriter {
  const clock = options.clock ?? systemClock;
  const scalars: ScalarEvent[] = [];
  const records: Array<Record<string, unknown>> = [];
  let closed = false;
  return {
    scalars,
    records,
    get closed() {
      return closed;
    },
    scalar(name, value, step) {
      if (closed) throw closedError(name);
      checkScalar(name, value, step);
      scalars.push({ step, name, value, time: clock() });
    },
    record(obj) {
      if (closed) throw closedError("record");
      records.push({ ...obj });
    },
    series(name) {
      return scalars.filter((s) => s.name === name).map((s) => ({ step: s.step, value: s.value }));
    },
    close() {
      closed = true;
    },
  };
}

/**
 * Sends everything to each of `writers`. Each writer gets every call even if an earlier one
 * throws; the first error is rethrown afterwards. `close` returns a promise only when one of
 * the writers' `close` does.
 */
export function multiWriter(...writers: MetricWriter[]): MetricWriter {
  const each = (f: (w: MetricWriter) => void): void => {
    let first: { e: unknown } | undefined;
    for (const w of writers) {
      try {
        f(w);
      } catch (e) {
        first ??= { e };
      }
    }
    if (first) throw first.e;
  };
  return {
    scalar(name, value, step) {
      each((w) => w.scalar(name, value, step));
    },
    record(obj) {
      each((w) => w.record?.(obj));
    },
    close() {
      const pending: Array<Promise<void>> = [];
      each((w) => {
        const r = w.close();
        if (r instanceof Promise) pending.push(r);
      });
      if (pending.length > 0) return Promise.all(pending).then(() => undefined);
    },
  };
}

/** A writer that drops everything. */
export const nullWriter: MetricWriter = Object.freeze({
  scalar(): void {},
  record(): void {},
  close(): void {},
});

/** The contents of a JSONL log: scalars (value revived to a number) and other records. */
export interface JsonlContents {
  scalars: ScalarEvent[];
  records: Array<Record<string, unknown>>;
}

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** The text of the log at `path`; a missing or unreadable one is a MissingFileError naming it. */
function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new MissingFileError(`log file not found: ${path}`, { cause: e });
    if (code === "EISDIR") throw new MissingFileError(`log file ${path} is a directory, not a file`, { cause: e });
    if (typeof code === "string") throw new MissingFileError(`log file ${path} cannot be read (${code})`, { cause: e });
    throw e;
  }
}

/**
 * Reads a JSONL log. A line that is exactly `{step, name, value, time}` with a numeric
 * step and time is a scalar; any other object is a record. An incomplete last line (a crash
 * while writing it) is skipped; a bad line elsewhere is a FileFormatError naming the file and
 * the line; a missing file is a MissingFileError.
 */
export function readJsonl(path: string): JsonlContents {
  const text = readLog(path);
  const lines = text.split("\n");
  const out: JsonlContents = { scalars: [], records: [] };
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      if (i === lines.length - 1) return; // no newline yet: the last write was cut short
      throw new FileFormatError(`${path}:${i + 1}: not a JSON line (${(e as Error).message})`, { path, cause: e });
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      throw new FileFormatError(`${path}:${i + 1}: not a JSON object`, { path });
    }
    const o = obj as Record<string, unknown>;
    const keys = Object.keys(o);
    const value = typeof o.value === "string" && Object.hasOwn(NON_FINITE, o.value) ? NON_FINITE[o.value] : o.value;
    if (
      keys.length === 4 &&
      typeof o.step === "number" &&
      typeof o.name === "string" &&
      typeof value === "number" &&
      typeof o.time === "number"
    ) {
      out.scalars.push({ step: o.step, name: o.name, value, time: o.time });
    } else {
      out.records.push(o);
    }
  });
  return out;
}

/**
 * TensorBoard event files, written by l2o itself (no TensorFlow, no protobuf package): a
 * `MetricWriter` whose scalars TensorBoard plots live, as `tensorboard --logdir DIR` reads
 * `DIR/events.out.tfevents.<seconds>.<hostname>`.
 *
 * The file is a sequence of TFRecords: the data's length (uint64, little-endian), the masked
 * CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data. Each record's data is
 * an `Event` protocol buffer, encoded here by hand with the few fields that scalars need:
 *
 *     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *     Summary { repeated Value value = 1; }
 *     Value   { string tag = 1; float simple_value = 2; }
 *
 * The first event carries `file_version: "brain.Event:2"`. Scalars are buffered and written
 * by `flush` (a training flushes after every epoch, so a live TensorBoard sees each epoch)
 * and by `close`.
 */
import { closeSync, mkdirSync, openSync, statSync, writeSync, accessSync, constants } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { maskedCrc32c } from "./crc32c.ts";
import type { MetricWriter, WriterOptions } from "./metrics.ts";
import { checkOutputPath, OutputPathError } from "./paths.ts";

/** The version string of the first event, which TensorBoard checks. */
export const FILE_VERSION = "brain.Event:2";

// ---- protocol buffer encoding (the wire format's varints, fixed-width numbers, lengths) ----

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const key = (field: number, wire: number): number[] => varint(BigInt((field << 3) | wire));

function lengthDelimited(field: number, data: Uint8Array): number[] {
  return [...key(field, WIRE_LENGTH), ...varint(BigInt(data.length)), ...data];
}

function fixed(field: number, wire: typeof WIRE_FIXED64 | typeof WIRE_FIXED32, value: number): number[] {
  const bytes = new Uint8Array(wire === WIRE_FIXED64 ? 8 : 4);
  const view = new DataView(bytes.buffer);
  if (wire === WIRE_FIXED64) view.setFloat64(0, value, true);
  else view.setFloat32(0, value, true);
  return [...key(field, wire), ...bytes];
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One scalar of a summary: its tag and value (stored as a 32-bit float, as TensorBoard keeps it). */
export interface SummaryScalar {
  readonly tag: string;
  readonly value: number;
}

/** An `Event` message: wall time, then a step and scalars, or the file version. */
export function encodeEvent(e: { wallTime: number; step?: number; fileVersion?: string; scalars?: readonly SummaryScalar[] }): Uint8Array {
  const out: number[] = [...fixed(1, WIRE_FIXED64, e.wallTime)];
  if (e.step !== undefined) out.push(...key(2, WIRE_VARINT), ...varint(BigInt(e.step)));
  if (e.fileVersion !== undefined) out.push(...lengthDelimited(3, utf8(e.fileVersion)));
  if (e.scalars !== undefined) {
    const summary: number[] = [];
    for (const s of e.scalars) {
      const value = [...lengthDelimited(1, utf8(s.tag)), ...fixed(2, WIRE_FIXED32, s.value)];
      summary.push(...lengthDelimited(1, Uint8Array.from(value)));
    }
    out.push(...lengthDelimited(5, Uint8Array.from(summary)));
  }
  return Uint8Array.from(out);
}

/** `data` framed as one TFRecord: length, its masked CRC, the data, its masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---- the files --------------------------------------------------------------------------

/** The event file's name, as TensorBoard's own writers name it (the host name made safe for a file name). */
export function eventFileName(seconds: number, host: string): string {
  const safe = host.replace(/[^A-Za-z0-9._-]/g, "_") || "localhost";
  return `events.out.tfevents.${Math.floor(seconds)}.${safe}`;
}

/**
 * Refuses, before any work, a folder for event files that could never be written: one that is
 * a file (or another non-folder), lies under a file or under /proc, /sys or /dev, or cannot be
 * written. Creates nothing (the writer makes missing folders).
 */
export function checkTensorboardDir(dir: string, flag: string): void {
  const tail = "give a folder for TensorBoard's event files";
  let s;
  try {
    s = statSync(dir);
  } catch {
    s = undefined;
  }
  if (s !== undefined && !s.isDirectory()) throw new OutputPathError(`${flag} '${dir}' is not a folder; ${tail}`);
  if (s !== undefined) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      throw new OutputPathError(`${flag} '${dir}' cannot be written (permission denied); ${tail}`);
    }
  }
  // The rest (a missing folder's parents, system folders, empty names) as any output path.
  const probe = join(dir, eventFileName(0, "check"));
  try {
    checkOutputPath(probe, flag);
  } catch (e) {
    if (!(e instanceof OutputPathError)) throw e;
    throw new OutputPathError(e.message.replace(`'${probe}'`, `'${dir}'`).replace(/; give the path of a file to write$/, `; ${tail}`));
  }
}

/** A `MetricWriter` to a TensorBoard event file; `flush` writes what is buffered. */
export interface TensorBoardWriter extends MetricWriter {
  /** The event file written. */
  readonly path: string;
  flush(): void;
  close(): void;
}

/**
 * Opens a new event file in `dir` (made if missing) and writes its first event. A name taken
 * already (two runs in one second) gets a numbered suffix. `hostname` defaults to this host's.
 */
export function tensorboardWriter(dir: string, options: WriterOptions & { hostname?: string } = {}): TensorBoardWriter {
  const clock = options.clock ?? ((): number => Date.now() / 1000);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, eventFileName(clock(), options.hostname ?? osHostname()));
  let path = base;
  let fd: number | undefined;
  for (let n = 1; fd === undefined; n++) {
    try {
      fd = openSync(path, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || n > 1000) throw e;
      path = `${base}.${n}`;
    }
  }
  let pending: Uint8Array[] = [];
  const push = (event: Parameters<typeof encodeEvent>[0]): void => {
    if (fd === undefined) throw new Error(`${path}: the TensorBoard writer is closed`);
    pending.push(tfRecord(encodeEvent(event)));
  };
  const flush = (): void => {
    if (fd === undefined || pending.length === 0) return;
    const bytes = Buffer.concat(pending);
    pending = [];
    let pos = 0;
    while (pos < bytes.length) pos += writeSync(fd, bytes, pos, bytes.length - pos);
  };
  push({ wallTime: clock(), fileVersion: FILE_VERSION });
  flush();
  return {
    path,
    scalar(name, value, step) {
      if (typeof name !== "string" || name === "") throw new TypeError("metric name must be a non-empty string");
      if (!Number.isSafeInteger(step)) throw new TypeError(`metric '${name}': step must be an integer, got ${step}`);
      push({ wallTime: clock(), step, scalars: [{ tag: name, value }] });
    },
    flush,
    close() {
      if (fd === undefined) return;
      flush();
      closeSync(fd);
      fd = undefined;
    },
  };
}

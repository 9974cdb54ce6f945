/**
 * Following a growing JSONL file, as `tail -f` does: the complete lines already there (the
 * last `backlog` bytes of them), then each complete line as it is appended. The file is
 * polled (its size, and the bytes just before the position read so far); a file that got
 * shorter, was replaced, or whose bytes before that position changed has been rewound (a
 * resumed training truncates its log to its checkpoint's position and writes on from there):
 * the follower says `reset` and sends the file again from its start. Reads are bounded: at
 * most `chunk` bytes per poll, and a line longer than `maxLine` is dropped.
 */
import { open, stat, type FileHandle } from "node:fs/promises";

export interface TailOptions {
  /** How much of what is there at the start is sent (the last bytes of it, from a line start). */
  readonly backlog: number;
  /** Most bytes read per poll. */
  readonly chunk?: number;
  /** Longest line passed on; longer ones are dropped. */
  readonly maxLine?: number;
  /** Milliseconds between polls. */
  readonly pollMs?: number;
  /** Complete lines, in order (no newline; a CR before it is dropped). */
  readonly onLines: (lines: string[]) => void;
  /** The file was rewound or replaced: what was sent is void, it is sent again. */
  readonly onReset: () => void;
  /** The file cannot be read any longer (removed): following ends. */
  readonly onGone: () => void;
}

/** The bytes before the read position that are compared on each poll. */
const MARK = 64;

/** Follows the file at `path`; `stop` ends it. */
export function tailFile(path: string, o: TailOptions): { stop(): void } {
  const chunk = o.chunk ?? 4 * 2 ** 20;
  const maxLine = o.maxLine ?? 2 ** 20;
  let fh: FileHandle | undefined;
  let ino = -1;
  let pos = 0;
  let mark = Buffer.alloc(0);
  let partial = Buffer.alloc(0);
  let dropping = false; // inside an over-long line, skipping to its end
  let stopped = false;
  let busy = false;

  const readAt = async (start: number, length: number): Promise<Buffer> => {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh!.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  };

  /** Starts over at the last `backlog` bytes, from a line start. */
  const restart = async (size: number): Promise<void> => {
    partial = Buffer.alloc(0);
    dropping = false;
    pos = Math.max(0, size - o.backlog);
    // A line cut at the front is dropped (unless the cut falls just after a newline).
    if (pos > 0) dropping = (await readAt(pos - 1, 1))[0] !== 10;
    mark = Buffer.alloc(0);
  };

  const consume = (bytes: Buffer): void => {
    const lines: string[] = [];
    let from = 0;
    for (let nl = bytes.indexOf(10, from); nl >= 0; nl = bytes.indexOf(10, from)) {
      const piece = bytes.subarray(from, nl);
      from = nl + 1;
      if (dropping) {
        dropping = false;
        partial = Buffer.alloc(0);
        continue;
      }
      const line = Buffer.concat([partial, piece]).toString("utf8").replace(/\r/g, "");
      partial = Buffer.alloc(0);
      if (line.length <= maxLine && line.trim() !== "") lines.push(line);
    }
    if (!dropping) partial = Buffer.concat([partial, bytes.subarray(from)]);
    if (partial.length > maxLine) {
      partial = Buffer.alloc(0);
      dropping = true;
    }
    if (lines.length > 0) o.onLines(lines);
  };

  const poll = async (): Promise<void> => {
    if (stopped || busy) return;
    busy = true;
    try {
      let st;
      try {
        if (fh === undefined) {
          fh = await open(path, "r");
          st = await fh.stat();
          ino = st.ino;
          await restart(st.size);
        }
        st = await fh.stat();
        // Replaced (a new file at the path) or rewound: start again.
        if ((await stat(path)).ino !== ino) {
          await fh.close();
          fh = await open(path, "r");
          st = await fh.stat();
          ino = st.ino;
          await restart(st.size);
          o.onReset();
        } else if (st.size < pos || (mark.length > 0 && !(await readAt(pos - mark.length, mark.length)).equals(mark))) {
          await restart(st.size);
          o.onReset();
        }
      } catch {
        stopped = true;
        o.onGone();
        return;
      }
      if (st.size > pos) {
        const bytes = await readAt(pos, Math.min(chunk, st.size - pos));
        pos += bytes.length;
        const tail = Buffer.concat([mark, bytes]);
        mark = tail.subarray(Math.max(0, tail.length - MARK));
        consume(bytes);
        if (pos < st.size) setImmediate(() => void poll()); // more to read: go on without waiting
      }
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(() => void poll(), o.pollMs ?? 250);
  void poll();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      void fh?.close().catch(() => undefined);
      fh = undefined;
    },
  };
}

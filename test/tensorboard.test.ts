/**
 * TensorBoard event files: CRC-32C against RFC 3720's vectors, and the file a short real
 * `l2o train --tensorboard` writes, read back by a reader written here from the format's
 * description (TFRecord framing, both CRCs of every record, the Event protocol buffer).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c, maskedCrc32c } from "../src/io/crc32c.ts";
import { readJsonl } from "../src/io/metrics.ts";
import { l2o } from "./cli_run.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "l2o-tensorboard-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("CRC-32C", () => {
  it("gives RFC 3720's check values (B.4)", () => {
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(ascending), 0x46dd794e);
    assert.equal(crc32c(ascending.reverse()), 0x113fdb5c);
    assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283); // the usual check value
  });

  it("masks as TFRecord does: rotate right 15, add 0xa282ead8", () => {
    const bytes = new TextEncoder().encode("l2o");
    const c = crc32c(bytes);
    assert.equal(maskedCrc32c(bytes), (((c >>> 15) | (c << 17)) + 0xa282ead8) % 2 ** 32);
  });
});

// ---- a reader, from the format's description --------------------------------------------

interface Event {
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  values: Array<{ tag: string; value: number }>;
}

/** A protocol buffer message as [field, wire type, value] triples (varints as bigints). */
function fields(b: Uint8Array): Array<[number, number, bigint | Uint8Array]> {
  const out: Array<[number, number, bigint | Uint8Array]> = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      assert.ok(i < b.length, "a varint runs past the message");
      const byte = b[i++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return v;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push([field, wire, varint()]);
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push([field, wire, b.subarray(i, i + n)]);
      i += n;
    } else if (wire === 2) {
      const n = Number(varint());
      out.push([field, wire, b.subarray(i, i + n)]);
      i += n;
    } else assert.fail(`wire type ${wire} is not used by these messages`);
    assert.ok(i <= b.length, "a field runs past the message");
  }
  return out;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const text = (b: Uint8Array): string => new TextDecoder("utf-8", { fatal: true }).decode(b);

function parseEvent(data: Uint8Array): Event {
  const e: Event = { values: [] };
  for (const [field, wire, v] of fields(data)) {
    if (field === 1 && wire === 1) e.wallTime = view(v as Uint8Array).getFloat64(0, true);
    else if (field === 2 && wire === 0) e.step = Number(BigInt.asIntN(64, v as bigint));
    else if (field === 3 && wire === 2) e.fileVersion = text(v as Uint8Array);
    else if (field === 5 && wire === 2) {
      for (const [vf, vw, value] of fields(v as Uint8Array)) {
        assert.deepEqual([vf, vw], [1, 2], "a Summary holds only values");
        const tv: { tag?: string; value?: number } = {};
        for (const [f, w, x] of fields(value as Uint8Array)) {
          if (f === 1 && w === 2) tv.tag = text(x as Uint8Array);
          else if (f === 2 && w === 5) tv.value = view(x as Uint8Array).getFloat32(0, true);
          else assert.fail(`unexpected Value field ${f} (wire ${w})`);
        }
        assert.ok(tv.tag !== undefined && tv.value !== undefined, "a Value has a tag and a simple_value");
        e.values.push({ tag: tv.tag, value: tv.value });
      }
    } else assert.fail(`unexpected Event field ${field} (wire ${wire})`);
  }
  return e;
}

/** Every record of a TFRecord file, both masked CRCs checked. */
function readEvents(path: string): Event[] {
  const b = new Uint8Array(readFileSync(path));
  const events: Event[] = [];
  let i = 0;
  while (i < b.length) {
    assert.ok(i + 12 <= b.length, `a record header is cut short at byte ${i}`);
    const len = Number(view(b).getBigUint64(i, true));
    assert.equal(view(b).getUint32(i + 8, true), maskedCrc32c(b.subarray(i, i + 8)), `length CRC of the record at byte ${i}`);
    const data = b.subarray(i + 12, i + 12 + len);
    assert.ok(i + 16 + len <= b.length, `the record at byte ${i} is cut short`);
    assert.equal(view(b).getUint32(i + 12 + len, true), maskedCrc32c(data), `data CRC of the record at byte ${i}`);
    events.push(parseEvent(data));
    i += 16 + len;
  }
  return events;
}

describe("l2o train --tensorboard", () => {
  const train = ["train", "--task", "quadratic", "--task-config", '{"dim":3,"instances":4}', "--epochs", "3", "--horizons-per-epoch", "2", "--horizon", "10", "--unroll", "5", "--validation-tasks", "1"];

  it("writes an event file whose scalars are the training log's", async () => {
    const tb = join(dir, "tb");
    const log = join(dir, "train.jsonl");
    const r = await l2o(...train, "--out", join(dir, "o.safetensors"), "--log", log, "--tensorboard", tb);
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(tb);
    assert.equal(files.length, 1, `one event file: ${files.join(", ")}`);
    assert.match(files[0]!, /^events\.out\.tfevents\.\d+\.[A-Za-z0-9._-]+$/);
    const bytes = readFileSync(join(tb, files[0]!));
    // Every event file whose first event is wall_time + "brain.Event:2" (24 bytes) starts so.
    assert.deepEqual([...bytes.subarray(0, 12)], [0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22]);

    const events = readEvents(join(tb, files[0]!));
    assert.equal(events[0]!.fileVersion, "brain.Event:2");
    assert.equal(events[0]!.values.length, 0);
    assert.ok(events.every((e) => e.wallTime !== undefined && Math.abs(e.wallTime - Date.now() / 1000) < 600), "wall times are now");
    assert.ok(events.slice(1).every((e) => e.fileVersion === undefined && e.step !== undefined && e.values.length === 1));

    const series = (tag: string): Array<[number, number]> =>
      events.filter((e) => e.values[0]?.tag === tag).map((e) => [e.step!, e.values[0]!.value]);
    const { scalars } = readJsonl(log);
    const logged = (name: string): Array<[number, number]> => scalars.filter((s) => s.name === name).map((s) => [s.step, Math.fround(s.value)]);
    const loss = series("meta_loss");
    assert.equal(loss.length, 12, "3 epochs x 2 horizons x 2 truncations");
    assert.ok(loss.every(([s], i) => i === 0 || s > loss[i - 1]![0]), "meta_loss steps increase");
    assert.deepEqual(loss, logged("meta/loss"));
    assert.deepEqual(series("validation"), logged("valid/score"));
    assert.deepEqual(series("epoch_meta_loss"), logged("meta/epoch_loss"));
    assert.deepEqual(series("validation").map(([s]) => s), [1, 2, 3]);
    const best = series("best_validation").map(([, v]) => v);
    assert.ok(best.every((v, i) => v === Math.min(...series("validation").slice(0, i + 1).map(([, x]) => x))), "best is the running minimum");
  });

  it("refuses a folder that cannot be written before any work", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const cases: Array<[string, RegExp]> = [
      [file, /--tensorboard '.*a-file' is not a folder; give a folder for TensorBoard's event files/],
      [join(file, "under"), /--tensorboard '.*under' lies under .*a-file, which is a file, not a folder/],
      ["/proc/l2o", /--tensorboard '\/proc\/l2o' lies under \/proc/],
    ];
    const results = await Promise.all(cases.map(([tb]) => l2o(...train, "--out", join(dir, "never.safetensors"), "--tensorboard", tb)));
    results.forEach((r, i) => {
      const [tb, msg] = cases[i]!;
      assert.equal(r.code, 2, `${tb}: ${r.stderr}`);
      assert.match(r.stderr, /^l2o: error: [^\n]+\n$/);
      assert.match(r.stderr, msg);
    });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("never")), [], "nothing was trained");
  });
});

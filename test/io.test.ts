import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFormatError, decodeSafetensors, encodeSafetensors, type Tensor } from "../src/io/safetensors.ts";
import {
  OPTIMIZER_FORMAT_VERSION,
  decodeOptimizerFile,
  loadOptimizerFile,
  phiToFlat,
  saveOptimizerFile,
} from "../src/io/optimizer_file.ts";
import { L2O_VERSION, MissingFileError } from "../src/io/files.ts";
import { jsonlWriter, memoryWriter, multiWriter, nullWriter, readJsonl } from "../src/io/metrics.ts";
import { loadCheckpoint, saveCheckpoint, type CheckpointRecord } from "../src/io/checkpoint.ts";

const dir = mkdtempSync(join(tmpdir(), "l2o-io-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmpPath = (name: string): string => join(dir, `${fileNo++}`, name);

/** float32 values from their bit patterns. */
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}
const bitsOf = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

// +0, -0, smallest denormal, largest denormal, smallest normal, largest finite, +-Infinity,
// the canonical quiet NaN, a quiet NaN with a payload, a signalling NaN, a negative NaN.
const SPECIAL_BITS = [
  0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000,
  0x7fc00000, 0x7fc12345, 0x7f800001, 0xffbfffff, 0x3f800000, 0xc0000000,
];

/** A safetensors file with a hand-written header and `dataLen` zero bytes of data. */
function craft(header: Uint8Array | string | object, dataLen: number, headerLenOverride?: number): Uint8Array {
  const json =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setUint32(0, headerLenOverride ?? json.length, true);
  out.set(json, 8);
  return out;
}

const ADVICE = /re-train or re-download/i;

function assertFormatError(f: () => unknown, problem: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${String(e)}`);
    assert.match(e.message, problem);
    assert.match(e.message, ADVICE);
    return true;
  });
}

test("safetensors: known bytes for one small tensor, worked out by hand", () => {
  // Tensor "a": F32, shape [2], values [1, -2]. No metadata, so no "__metadata__" entry.
  // Header JSON (compact, keys in the order dtype, shape, data_offsets):
  //   {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}
  // counted: `{"a":{` 6 + `"dtype":"F32",` 14 + `"shape":[2],` 12 + `"data_offsets":[0,8]` 20
  //          + `}}` 2 = 54 bytes, padded with 2 spaces to 56 (the next multiple of 8).
  // Header length 56 = 0x38 as u64 little-endian: 38 00 00 00 00 00 00 00.
  // Data: 1.0f = 0x3f800000 -> 00 00 80 3f; -2.0f = 0xc0000000 -> 00 00 00 c0.
  // Total: 8 + 56 + 8 = 72 bytes. (Python's safetensors 0.8 writes these same 72 bytes.)
  const bytes = encodeSafetensors({ a: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) } });
  assert.equal(bytes.length, 72);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x38, 0, 0, 0, 0, 0, 0, 0]);
  const header = new TextDecoder().decode(bytes.subarray(8, 64));
  assert.equal(header, '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ');
  assert.deepEqual([...bytes.subarray(64)], [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
});

// Byte-identical to Python's `safetensors.numpy.save({"b": u8[1,2,3], "a": i32[-1]}, {"note": "x"})`.
test("safetensors: wider dtypes come first, so every tensor is aligned", () => {
  const bytes = encodeSafetensors(
    {
      b: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: "I32", shape: [1], data: new Int32Array([-1]) },
    },
    { note: "x" },
  );
  const len = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(len % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(header), ["__metadata__", "a", "b"]);
  assert.deepEqual(header.a, { dtype: "I32", shape: [1], data_offsets: [0, 4] });
  assert.deepEqual(header.b, { dtype: "U8", shape: [3], data_offsets: [4, 7] });
  assert.deepEqual([...bytes.subarray(8 + len)], [0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
});

test("safetensors: round trips are bit-identical, all dtypes and shapes", () => {
  const special = fromBits(SPECIAL_BITS);
  const tensors: Record<string, Tensor> = {
    special: { dtype: "F32", shape: [2, 7], data: special },
    scalar: { dtype: "F32", shape: [], data: new Float32Array([Math.PI]) },
    empty: { dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
    ints: { dtype: "I32", shape: [4], data: new Int32Array([-2147483648, 2147483647, 0, -1]) },
    bytes: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
    // a view into a larger buffer, not at offset 0
    view: { dtype: "F32", shape: [2], data: new Float32Array([9, 1.5, -2.25, 9]).subarray(1, 3) },
    "__proto__": { dtype: "U8", shape: [1], data: new Uint8Array([7]) },
  };
  const metadata = { a: "1", unicode: "héllo ✓", json: '{"x":[1,2]}' };
  const bytes = encodeSafetensors(tensors, metadata);
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, metadata);
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
  assert.deepEqual(bitsOf(back.tensors.special!.data as Float32Array), SPECIAL_BITS);
  for (const [name, t] of Object.entries(tensors)) {
    const b = back.tensors[name]!;
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(b.data, t.data, name);
    assert.equal(b.data.byteOffset, 0, name);
  }
  // the decoded arrays are copies: changing the file bytes afterwards does not change them
  bytes.fill(0);
  assert.equal(back.tensors.scalar!.data[0], Math.fround(Math.PI));
});

test("safetensors: decodes from a Node Buffer at a non-zero offset", () => {
  const bytes = encodeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) } });
  const big = Buffer.alloc(bytes.length + 5);
  big.set(bytes, 5);
  const back = decodeSafetensors(big.subarray(5));
  assert.deepEqual(back.tensors.x!.data, new Float32Array([1, 2, 3]));
});

test("safetensors: encode rejects bad arguments", () => {
  const enc = (t: unknown): Uint8Array => encodeSafetensors(t as Record<string, Tensor>);
  assert.throws(() => enc({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }), /shape \[3\] but 2 elements/);
  assert.throws(() => enc({ x: { dtype: "F32", shape: [2], data: new Int32Array(2) } }), /data is a Int32Array/);
  assert.throws(() => enc({ x: { dtype: "F64", shape: [2], data: new Float64Array(2) } }), /unsupported dtype/);
  assert.throws(() => enc({ x: { dtype: "F32", shape: [-1], data: new Float32Array(0) } }), /invalid shape/);
  assert.throws(() => encodeSafetensors({}, { n: 1 as unknown as string }), /must be a string/);
});

test("safetensors: each kind of damage gives a FileFormatError that says what to do", () => {
  const ok = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const good = craft(ok, 8);
  assert.doesNotThrow(() => decodeSafetensors(good));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["empty", new Uint8Array(0), /truncated/],
    ["shorter than the length field", new Uint8Array(5), /truncated/],
    ["truncated data", good.subarray(0, good.length - 3), /beyond the data|truncated/],
    ["truncated header", good.subarray(0, 20), /beyond the end of the file/],
    ["header length beyond file", craft(ok, 8, 10_000), /header length 10000 runs beyond the end/],
    ["huge header length", (() => { const b = craft(ok, 8); b[7] = 1; return b; })(), /implausibly large/],
    ["bad JSON", craft('{"x": {"dtype": "F32",', 8), /not valid JSON/],
    ["not an object", craft("[1, 2, 3]", 0), /does not start with '\{'/],
    ["invalid UTF-8", craft(new Uint8Array([0x7b, 0xff, 0x7d]), 0), /not valid UTF-8/],
    ["unknown dtype", craft({ x: { dtype: "Q7", shape: [2], data_offsets: [0, 8] } }, 8), /unknown or unsupported dtype "Q7"/],
    ["wrong dtype for size", craft({ x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, 8), /unsupported dtype "F64"/],
    ["shape/size mismatch", craft({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8), /shape \[3\] of F32 \(12 bytes\)/],
    ["bad shape", craft({ x: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, 8), /invalid shape/],
    ["offsets reversed", craft({ x: { dtype: "F32", shape: [0], data_offsets: [8, 0] } }, 8), /invalid data_offsets/],
    ["offsets out of range", craft({ x: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, 8), /beyond the data/],
    [
      "overlapping offsets",
      craft({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, y: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 12),
      /overlap/,
    ],
    ["gap", craft({ x: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8), /gap/],
    ["trailing bytes", craft(ok, 12), /data section has 12 bytes but the tensors cover 8/],
    ["bad metadata", craft({ __metadata__: { a: 1 }, ...ok }, 8), /metadata 'a' is not a string/],
    ["bad entry", craft({ x: [1, 2] }, 0), /not described by a JSON object/],
  ];
  for (const [what, bytes, problem] of cases) {
    assert.throws(() => decodeSafetensors(bytes, { source: "f.safetensors" }), (e: unknown) => {
      assert.ok(e instanceof FileFormatError, `${what}: got ${String(e)}`);
      assert.match(e.message, problem, what);
      assert.match(e.message, /^f\.safetensors: /, what);
      assert.match(e.message, ADVICE, what);
      assert.equal(e.path, "f.safetensors");
      return true;
    });
  }
});

// ---------------------------------------------------------------------------------------
// optimizer files

const lstmMeta = {
  kind: "lstm",
  config: { hidden: 20, layers: 2, preprocessing: { kind: "log-sign", p: 10 }, outputScale: 0.1 },
  training: { task: "quadratic", unroll: 20, metaLr: 0.001, seed: 7 },
  validation: { score: 0.0123, instances: 100 },
  createdAt: "2025-01-02T03:04:05.000Z",
};

test("optimizer file: named tensors round trip bit-identical, metadata complete", () => {
  const path = tmpPath("nested/dir/opt.safetensors");
  const w = fromBits(SPECIAL_BITS);
  const phi = { "lstm.w_ih": { shape: [2, 7], data: w }, bias: new Float32Array([0.5, -0, 1e-40]) };
  const written = saveOptimizerFile(path, { phi, meta: lstmMeta });
  assert.deepEqual(written, {
    format: "l2o-optimizer",
    formatVersion: OPTIMIZER_FORMAT_VERSION,
    l2oVersion: L2O_VERSION,
    ...lstmMeta,
  });
  assert.equal(L2O_VERSION, (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version);
  const back = loadOptimizerFile(path);
  assert.deepEqual(back.meta, written);
  assert.deepEqual(back.phi["lstm.w_ih"]!.shape, [2, 7]);
  assert.deepEqual(bitsOf(back.phi["lstm.w_ih"]!.data), SPECIAL_BITS);
  assert.deepEqual(back.phi.bias, { shape: [3], data: new Float32Array([0.5, -0, 1e-40]) });
  assert.ok(Object.is(back.phi.bias!.data[1], -0));
  assert.deepEqual(readdirSync(join(path, "..")), ["opt.safetensors"], "no temporary file left behind");
});

test("optimizer file: flat phi with a layout is stored by name and rebuilt by name", () => {
  const path = tmpPath("flat.safetensors");
  const entries = [
    { name: "w", shape: [2, 2] },
    { name: "b", shape: [2] },
  ];
  const flat = new Float32Array([1, 2, 3, 4, 5, 6]);
  saveOptimizerFile(path, { phi: { flat, entries }, meta: { kind: "lstm", config: {} } });
  const back = loadOptimizerFile(path);
  assert.deepEqual(back.phi, { w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, b: { shape: [2], data: new Float32Array([5, 6]) } });
  // a layout in another order still gets each tensor by name
  assert.deepEqual(phiToFlat(back.phi, [entries[1]!, entries[0]!]), new Float32Array([5, 6, 1, 2, 3, 4]));
  assert.throws(() => phiToFlat(back.phi, [{ name: "w", shape: [4] }]), /has shape \[2, 2\], expected \[4\]/);
  assert.deepEqual(back.meta.training, {});
  assert.deepEqual(back.meta.validation, {});
  assert.ok(!Number.isNaN(Date.parse(back.meta.createdAt)));
});

test("optimizer file: missing, foreign, wrong-format and newer files are explained", () => {
  const missing = join(dir, "does-not-exist.safetensors");
  assert.throws(() => loadOptimizerFile(missing), (e: unknown) => {
    assert.ok(e instanceof Error && !(e instanceof FileFormatError));
    assert.ok(e.message.includes(missing), e.message);
    assert.match(e.message, /not found/);
    return true;
  });

  const text = tmpPath("notes.safetensors");
  mkdirSync(join(text, ".."), { recursive: true });
  writeFileSync(text, "these are not the tensors you are looking for\n");
  assertFormatError(() => loadOptimizerFile(text), /not a safetensors file/);

  const plain = encodeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([1]) } }, { format: "pt" });
  assertFormatError(() => decodeOptimizerFile(plain), /not an l2o file/);

  const withMeta = (l2o: string): Uint8Array => encodeSafetensors({}, { l2o });
  assertFormatError(() => decodeOptimizerFile(withMeta("{oops")), /'l2o' metadata is not valid JSON/);
  assertFormatError(() => decodeOptimizerFile(withMeta(JSON.stringify({ format: "something-else", formatVersion: 1 }))), /has format "something-else", expected "l2o-optimizer"/);
  const good = { ...lstmMeta, format: "l2o-optimizer", formatVersion: 1, l2oVersion: "0.1.0" };
  assert.doesNotThrow(() => decodeOptimizerFile(withMeta(JSON.stringify(good))));
  assertFormatError(() => decodeOptimizerFile(withMeta(JSON.stringify({ ...good, kind: 3 }))), /'kind' is missing/);
  assertFormatError(() => decodeOptimizerFile(withMeta(JSON.stringify({ ...good, config: [] }))), /'config' is missing or not an object/);
  assertFormatError(() => decodeOptimizerFile(withMeta(JSON.stringify({ ...good, formatVersion: 0 }))), /invalid formatVersion/);

  const newer = withMeta(JSON.stringify({ ...good, formatVersion: OPTIMIZER_FORMAT_VERSION + 1, l2oVersion: "9.0.0" }));
  assert.throws(() => decodeOptimizerFile(newer, "new.safetensors"), (e: unknown) => {
    assert.ok(e instanceof FileFormatError);
    assert.match(e.message, /written by l2o 9\.0\.0 as l2o-optimizer version 2/);
    assert.match(e.message, /Upgrade l2o/);
    return true;
  });

  const intTensor = encodeSafetensors({ n: { dtype: "I32", shape: [1], data: new Int32Array([1]) } }, { l2o: JSON.stringify(good) });
  assertFormatError(() => decodeOptimizerFile(intTensor), /optimizer parameters must be F32/);

  const ckpt = tmpPath("state.ckpt.safetensors");
  saveCheckpoint(ckpt, { step: 1 });
  // Intact, only given in the wrong place: no advice to re-train or re-download it.
  assert.throws(
    () => loadOptimizerFile(ckpt),
    (e: unknown) =>
      e instanceof FileFormatError &&
      /"l2o-checkpoint" \(a meta-training checkpoint\), expected "l2o-optimizer"\. A checkpoint holds a training's state; the optimizer it trains is saved to that training's --out file\.$/.test(e.message),
  );
});

test("optimizer file: a failed save leaves the existing file intact", () => {
  const path = tmpPath("keep.safetensors");
  saveOptimizerFile(path, { phi: { w: new Float32Array([1, 2]) }, meta: lstmMeta });
  const before = readFileSync(path);

  // 1. a value JSON cannot hold: refused before anything is written
  const bad = { ...lstmMeta, validation: { score: NaN } };
  assert.throws(() => saveOptimizerFile(path, { phi: { w: new Float32Array([3]) }, meta: bad }), /score' is NaN/);
  assert.deepEqual(readFileSync(path), before);

  // 2. the temporary file cannot be created (its name is taken by a directory)
  const tmp = `${path}.tmp-${process.pid}`;
  mkdirSync(tmp);
  assert.throws(() => saveOptimizerFile(path, { phi: { w: new Float32Array([3]) }, meta: lstmMeta }), /EISDIR/);
  assert.deepEqual(readFileSync(path), before);
  rmSync(tmp, { recursive: true });

  // 3. the rename fails (the target is a non-empty directory): the temporary file is removed
  const target = tmpPath("taken");
  mkdirSync(join(target, "inside"), { recursive: true });
  assert.throws(() => saveOptimizerFile(target, { phi: {}, meta: lstmMeta }));
  assert.ok(!existsSync(`${target}.tmp-${process.pid}`));
  assert.deepEqual(readdirSync(target), ["inside"]);

  // 4. a read-only directory (skipped where permissions are not enforced, e.g. as root)
  const ro = tmpPath("ro");
  mkdirSync(ro, { recursive: true });
  const roFile = join(ro, "opt.safetensors");
  saveOptimizerFile(roFile, { phi: { w: new Float32Array([1]) }, meta: lstmMeta });
  const roBefore = readFileSync(roFile);
  chmodSync(ro, 0o555);
  try {
    let threw = false;
    try {
      saveOptimizerFile(roFile, { phi: { w: new Float32Array([2]) }, meta: lstmMeta });
    } catch {
      threw = true;
    }
    if (threw) assert.deepEqual(readFileSync(roFile), roBefore);
  } finally {
    chmodSync(ro, 0o755);
  }
});

// ---------------------------------------------------------------------------------------
// metric writers

test("jsonl writer: one parseable JSON object per line, appended, non-finite kept", async () => {
  const path = tmpPath("logs/run.jsonl");
  let t = 100;
  const w = jsonlWriter(path, { clock: () => t++ });
  w.scalar("meta/loss", 0.5, 0);
  w.scalar("meta/loss", NaN, 1);
  w.record?.({ step: 1, meanLoss: 0.25, ci95: Infinity, label: "adam" });
  await w.close();
  assert.throws(() => w.scalar("meta/loss", 1, 2), /closed/);

  const w2 = jsonlWriter(path, { clock: () => 200 });
  w2.scalar("lstm/step_norm", -1e-30, 5);
  await w2.close();

  const lines = readFileSync(path, "utf8").split("\n");
  assert.equal(lines.pop(), "", "the file ends with a newline");
  const objs = lines.map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(objs, [
    { step: 0, name: "meta/loss", value: 0.5, time: 100 },
    { step: 1, name: "meta/loss", value: "NaN", time: 101 },
    { step: 1, meanLoss: 0.25, ci95: "Infinity", label: "adam" },
    { step: 5, name: "lstm/step_norm", value: -1e-30, time: 200 },
  ]);

  // a crash part way through a line loses only that line
  writeFileSync(path, readFileSync(path, "utf8") + '{"step": 6, "na', { flag: "w" });
  const back = readJsonl(path);
  assert.equal(back.scalars.length, 3);
  assert.ok(Number.isNaN(back.scalars[1]!.value));
  assert.deepEqual(back.scalars[2], { step: 5, name: "lstm/step_norm", value: -1e-30, time: 200 });
  assert.deepEqual(back.records, [{ step: 1, meanLoss: 0.25, ci95: "Infinity", label: "adam" }]);
  assert.throws(() => jsonlWriter(path).scalar("x", 1, 0.5), /step must be an integer/);

  // A missing log, a folder, and a bad line that is not the last: one-line L2oErrors naming the file.
  const missing = join(dir, "no-such-log.jsonl");
  assert.throws(() => readJsonl(missing), (e: unknown) => e instanceof MissingFileError && e.message === `log file not found: ${missing}`);
  assert.throws(() => readJsonl(dir), (e: unknown) => e instanceof MissingFileError && e.message === `log file ${dir} is a directory, not a file`);
  writeFileSync(path, '{"step": 0}\nnot json\n{"step": 1}\n');
  assert.throws(() => readJsonl(path), (e: unknown) => e instanceof FileFormatError && e.path === path && /^\S+:2: not a JSON line \(/.test(e.message) && !e.message.includes("\n"));
  writeFileSync(path, '[1, 2]\n{"step": 1}\n');
  assert.throws(() => readJsonl(path), (e: unknown) => e instanceof FileFormatError && e.message === `${path}:1: not a JSON object`);
});

test("memory, multi and null writers", async () => {
  const a = memoryWriter({ clock: () => 1 });
  const b = memoryWriter({ clock: () => 2 });
  const m = multiWriter(a, nullWriter, b);
  m.scalar("loss", 3, 0);
  m.scalar("loss", 2, 1);
  m.scalar("other", 9, 1);
  m.record?.({ table: "final", value: 1 });
  assert.deepEqual(a.series("loss"), [
    { step: 0, value: 3 },
    { step: 1, value: 2 },
  ]);
  assert.deepEqual(b.scalars[2], { step: 1, name: "other", value: 9, time: 2 });
  assert.deepEqual(a.records, [{ table: "final", value: 1 }]);
  const asyncClosed: string[] = [];
  const slow = { scalar() {}, close: async () => void asyncClosed.push("slow") };
  const r = multiWriter(m, slow).close();
  assert.ok(r instanceof Promise);
  await r;
  assert.deepEqual(asyncClosed, ["slow"]);
  assert.ok(a.closed && b.closed);
  assert.throws(() => a.scalar("loss", 1, 2), /closed/);
  assert.equal(multiWriter(memoryWriter()).close(), undefined);
  // one failing writer does not starve the others
  const c = memoryWriter();
  const failing = { scalar() { throw new Error("disk full"); }, close() {} };
  assert.throws(() => multiWriter(failing, c).scalar("x", 1, 0), /disk full/);
  assert.equal(c.scalars.length, 1);
});

// ---------------------------------------------------------------------------------------
// checkpoints

test("checkpoint: a nested meta-training state round trips exactly", () => {
  const path = tmpPath("ckpt/state.safetensors");
  const phi = fromBits(SPECIAL_BITS);
  const state: CheckpointRecord = {
    phi,
    adam: { mu: new Float32Array([1e-45, -0, 3.4028234663852886e38]), nu: new Float32Array(3), count: 12 },
    key: [0xdeadbeef, 0x00000001],
    keys: [[1, 2], [4294967295, 0]],
    step: 1234,
    best: { phi: new Float32Array([0.1, 0.2]), score: Infinity, scoreHistory: [0.1, NaN, -Infinity, -0, 5e-324, 1.7976931348623157e308] },
    counters: new Int32Array([-7, 2147483647]),
    mask: new Uint8Array([0, 1, 255]),
    "dotted.key": { inner: new Float32Array([42]) },
    $dollar: { $tensor: "not a tag", $$double: 1 },
    task: "quadratic",
    done: false,
    note: null,
    empty: {},
    emptyArray: new Float32Array(0),
    skipped: undefined as unknown as null,
  };
  saveCheckpoint(path, state);
  const back = loadCheckpoint(path);
  const { skipped: _, ...expected } = state;
  assert.deepEqual(back, expected);
  assert.deepEqual(bitsOf(back.phi as Float32Array), SPECIAL_BITS);
  const best = back.best as CheckpointRecord;
  const hist = best.scoreHistory as number[];
  assert.ok(Number.isNaN(hist[1]) && hist[2] === -Infinity && Object.is(hist[3], -0) && hist[4] === 5e-324);
  assert.equal(best.score, Infinity);
  assert.ok(back.counters instanceof Int32Array && back.mask instanceof Uint8Array);
  // arrays are stored as tensors named by their dotted path, readable by any safetensors reader
  const raw = decodeSafetensors(readFileSync(path));
  assert.deepEqual(Object.keys(raw.tensors).sort(), [
    "adam.mu", "adam.nu", "best.phi", "counters", "dotted.key.inner", "emptyArray", "mask", "phi",
  ]);
});

test("checkpoint: refuses what it cannot store, and damaged or foreign files", () => {
  const path = tmpPath("bad.safetensors");
  assert.throws(() => saveCheckpoint(path, { a: new Float64Array(2) as unknown as Float32Array }), /Float64Array/);
  assert.throws(() => saveCheckpoint(path, { "a.b": new Float32Array(1), a: { b: new Float32Array(1) } }), /both be stored as 'a\.b'/);
  assert.throws(() => saveCheckpoint(path, { when: new Date() as unknown as string }), /Date/);
  const loop: Record<string, unknown> = {};
  loop.self = loop;
  assert.throws(() => saveCheckpoint(path, loop as CheckpointRecord), /refers back to itself/);
  assert.ok(!existsSync(path));

  const ckptAdvice = /earlier checkpoint/;
  const opt = tmpPath("opt.safetensors");
  saveOptimizerFile(opt, { phi: { w: new Float32Array([1]) }, meta: lstmMeta });
  // An intact optimizer given as a checkpoint: not "start the run again without resuming" (which
  // means deleting the file, the user's optimizer), but where it belongs.
  assert.throws(
    () => loadCheckpoint(opt),
    (e: unknown) =>
      e instanceof FileFormatError &&
      /"l2o-optimizer" \(a trained optimizer\), expected "l2o-checkpoint"\. Give the --checkpoint file of a training; to start a training from this optimizer, pass it as --init\.$/.test(e.message),
  );

  saveCheckpoint(path, { phi: new Float32Array([1, 2]) });
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 1));
  assert.throws(() => loadCheckpoint(path), (e: unknown) => e instanceof FileFormatError && ckptAdvice.test(e.message));
  assert.throws(() => loadCheckpoint(join(dir, "nope.safetensors")), /checkpoint not found: .*nope\.safetensors/);

  const meta = (state: unknown, tensors: Record<string, Tensor> = {}): Uint8Array =>
    encodeSafetensors(tensors, { l2o: JSON.stringify({ format: "l2o-checkpoint", formatVersion: 1, l2oVersion: "0.1.0", state }) });
  const f32 = (n: number): Tensor => ({ dtype: "F32", shape: [n], data: new Float32Array(n) });
  const cases: Array<[Uint8Array, RegExp]> = [
    [meta({ a: { $tensor: "missing" } }), /missing tensor "missing"/],
    [meta({ a: 1 }, { extra: f32(1) }), /'extra' are not part of the state/],
    [meta({ a: { $number: "many" } }), /unknown number tag/],
    [meta({ a: { $what: 1 } }), /unknown tag '\$what'/],
    [meta([1, 2]), /'state' is missing or not an object/],
  ];
  for (const [b, problem] of cases) {
    writeFileSync(path, b);
    assert.throws(() => loadCheckpoint(path), (e: unknown) => e instanceof FileFormatError && problem.test(e.message) && ckptAdvice.test(e.message));
  }
});

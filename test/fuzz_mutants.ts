/**
 * Mutations of optimizer files for the fuzz run (`test/fuzz_files.ts`): damage (bit flips,
 * truncation, bad header lengths, bad dtypes, shapes and offsets, metadata of the wrong type)
 * that leaves the file's hashes as they were, and hostile edits of the sizes in the config
 * that re-sign the metadata as a forger would (or strip the hashes, as in an old file).
 * Every draw comes from a seeded key (src/core/rng.ts), so a mutant is named by its index.
 */
import { createHash } from "node:crypto";
import { bits, type Key } from "../src/core/rng.ts";

/** A stream of random words from one key. */
export class Draw {
  private words: Uint32Array;
  private i = 0;
  constructor(k: Key) {
    this.words = bits(k, 256);
  }
  u32(): number {
    if (this.i >= this.words.length) throw new Error("fuzz: a mutation drew more than 256 words");
    return this.words[this.i++]!;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** A shipped file taken apart: header JSON, data section, the l2o metadata parsed. */
export interface Parts {
  readonly bytes: Uint8Array;
  readonly headerLen: number;
  readonly header: Record<string, unknown>;
  readonly data: Uint8Array;
  readonly l2o: Record<string, unknown>;
}

export function parts(file: Uint8Array): Parts {
  // A plain copy: `slice` on a Node Buffer is a view, and the mutations must not change the original.
  const bytes = new Uint8Array(file);
  const headerLen = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString("utf8")) as Record<string, unknown>;
  const l2o = JSON.parse((header.__metadata__ as Record<string, string>).l2o!) as Record<string, unknown>;
  return { bytes, headerLen, header, data: bytes.subarray(8 + headerLen), l2o };
}

const DEEP = 200_000;
/** JSON text for a placeholder string replaced by a value nested DEEP levels (JSON.stringify cannot write one). */
const deepText = (text: string): string => text.replaceAll('"@DEEP@"', "[".repeat(DEEP) + "]".repeat(DEEP));

/** Header text plus data as a file (header padded with spaces to a multiple of 8). */
export function assemble(headerText: string, data: Uint8Array): Uint8Array {
  const json = Buffer.from(headerText, "utf8");
  const len = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + len + data.length);
  Buffer.from(out.buffer).writeBigUInt64LE(BigInt(len), 0);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + len);
  out.set(data, 8 + len);
  return out;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const sha = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** The l2o metadata as a forger signs it: its `sha256.metadata` recomputed (with node:crypto). */
function resign(l2o: Record<string, unknown>): Record<string, unknown> {
  const { sha256: hashes, ...rest } = l2o;
  if (typeof hashes !== "object" || hashes === null) return l2o;
  return { ...rest, sha256: { ...(hashes as object), metadata: sha(JSON.stringify(rest)) } };
}

/** A file with header `header` (l2o metadata `l2o`, written as text) over `data`. */
function withHeader(header: Record<string, unknown>, l2oText: string, data: Uint8Array): Uint8Array {
  const h = { ...header, __metadata__: { ...(header.__metadata__ as object), l2o: "@L2O@" } };
  return assemble(deepText(JSON.stringify(h).replace('"@L2O@"', JSON.stringify(l2oText))), data);
}

const tensorNames = (p: Parts): string[] => Object.keys(p.header).filter((k) => k !== "__metadata__");

function flip(bytes: Uint8Array, d: Draw, from: number, to: number, flips: number): Uint8Array {
  const out = bytes.slice();
  if (to <= from) return out;
  for (let i = 0; i < flips; i++) {
    const at = from + d.int(to - from);
    out[at] = out[at]! ^ (1 << d.int(8));
  }
  return out;
}

/** Replaces the value at `field` of a tensor's description. */
function tensorEdit(p: Parts, d: Draw, field: string, values: readonly unknown[]): Uint8Array {
  const h = clone(p.header);
  const name = d.pick(tensorNames(p));
  const t = h[name] as Record<string, unknown>;
  const v = d.pick(values);
  t[field] = typeof v === "function" ? (v as (t: Record<string, unknown>) => unknown)(t) : v;
  return assemble(deepText(JSON.stringify(h)), p.data);
}

const ODD_VALUES: readonly unknown[] = [null, 0, -1, 1.5, 1e308, "x", "", true, [], {}, [1, 2], { a: 1 }, "@DEEP@", "y".repeat(1 << 20)];

/** Config edits that must be refused: sizes past the limits, or sizes the tensors do not fit. */
const HOSTILE_CONFIG: ReadonlyArray<(c: Record<string, unknown>) => void> = [
  (c) => (c.layers = 1e7),
  (c) => (c.hidden = 1e6),
  (c) => (c.layers = 16),
  (c) => (c.hidden = 1024),
  (c) => Object.assign(c, { hidden: 1024, layers: 16, groups: Array.from({ length: 64 }, (_, i) => [`g${i}`]) }),
  (c) => (c.groups = Array.from({ length: 100_000 }, (_, i) => [`g${i}`])),
  (c) => (c.groups = [Array.from({ length: 100_000 }, (_, i) => `g${i}`)]),
  (c) => (c.hidden = 21),
  (c) => (c.layers = 3),
  (c) => (c.layers = 0),
  (c) => (c.hidden = -20),
  (c) => (c.hidden = 20.5),
  (c) => (c.hidden = "20"),
  (c) => (c.outputScale = -0.1),
  (c) => (c.outputScale = 0),
  (c) => (c.preprocess = { kind: "logSignMomentum", p: 10, betas: Array.from({ length: 1000 }, () => 0.9) }),
  (c) => (c.preprocess = { kind: "logSign", p: 1e9 }),
  (c) => (c.preprocess = "@DEEP@"),
  (c) => (c.extra = 1),
];

export type Mutation = (p: Parts, d: Draw) => Uint8Array;

/** Every mutation by name; the fuzz run picks one per mutant. */
export const MUTATIONS: Readonly<Record<string, Mutation>> = {
  "flip header bits": (p, d) => flip(p.bytes, d, 8, 8 + p.headerLen, 1 + d.int(3)),
  "flip data bits": (p, d) => flip(p.bytes, d, 8 + p.headerLen, p.bytes.length, 1 + d.int(3)),
  "flip length bits": (p, d) => flip(p.bytes, d, 0, 8, 1),
  "flip bits anywhere": (p, d) => flip(p.bytes, d, 0, p.bytes.length, 1 + d.int(8)),
  "truncate": (p, d) => p.bytes.slice(0, d.int(p.bytes.length)),
  "append bytes": (p, d) => {
    const extra = new Uint8Array(1 + d.int(64)).map(() => d.int(256));
    return new Uint8Array([...p.bytes, ...extra]);
  },
  "zero a range": (p, d) => {
    const out = p.bytes.slice();
    const at = d.int(out.length);
    out.fill(0, at, at + 1 + d.int(256));
    return out;
  },
  "header length": (p, d) => {
    const out = p.bytes.slice();
    const n = p.headerLen;
    const v = d.pick([0n, 1n, 2n, BigInt(n - 8), BigInt(n - 1), BigInt(n + 1), BigInt(n + 8), BigInt(p.bytes.length), BigInt(16 * 2 ** 20 + 8), 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, BigInt(d.u32())]);
    Buffer.from(out.buffer).writeBigUInt64LE(v, 0);
    return out;
  },
  "dtype": (p, d) => tensorEdit(p, d, "dtype", ["F16", "F64", "BF16", "I32", "U8", "I64", "f32", "F32 ", "", 5, null, ["F32"], {}, "@DEEP@"]),
  "shape": (p, d) =>
    tensorEdit(p, d, "shape", [
      [], [0], [-1], [1.5], "x", null, [2 ** 53], [1e6, 1e6], [2 ** 30, 2 ** 30, 0], "@DEEP@",
      (t: Record<string, unknown>) => [...(t.shape as number[])].reverse(),
      (t: Record<string, unknown>) => [(t.shape as number[]).reduce((a, b) => a * b, 1)],
      (t: Record<string, unknown>) => [...(t.shape as number[]), 1],
      (t: Record<string, unknown>) => [t.shape],
    ]),
  "data_offsets": (p, d) =>
    tensorEdit(p, d, "data_offsets", [
      [0, 2 ** 60], [-4, 0], "x", null, [0], [0, 4, 8], [1.5, 4], "@DEEP@",
      (t: Record<string, unknown>) => [...(t.data_offsets as number[])].reverse(),
      (t: Record<string, unknown>) => (t.data_offsets as number[]).map((o) => o + 4),
      (t: Record<string, unknown>) => (t.data_offsets as number[]).map((o) => o - 4),
    ]),
  "swap equal-size tensors": (p, d) => {
    const h = clone(p.header);
    const size = (n: string) => ((h[n] as { data_offsets: number[] }).data_offsets[1]! - (h[n] as { data_offsets: number[] }).data_offsets[0]!);
    const names = tensorNames(p);
    const pairs = names.flatMap((a) => names.filter((b) => a < b && size(a) === size(b)).map((b) => [a, b] as const));
    const [a, b] = d.pick(pairs);
    const ta = h[a] as Record<string, unknown>;
    const tb = h[b] as Record<string, unknown>;
    [ta.data_offsets, tb.data_offsets] = [tb.data_offsets, ta.data_offsets];
    return assemble(JSON.stringify(h), p.data);
  },
  "rename, drop or add a tensor": (p, d) => {
    const h = clone(p.header);
    const name = d.pick(tensorNames(p));
    const how = d.int(4);
    let data = p.data;
    if (how === 0) delete h[name];
    if (how === 1) [h[`${name}x`], h[name]] = [h[name], undefined];
    if (how === 2) {
      h["extra\nname"] = { dtype: "F32", shape: [1], data_offsets: [p.data.length, p.data.length + 4] };
      data = new Uint8Array([...p.data, 0, 0, 128, 63]);
    }
    if (how === 3) for (let i = 0; i < 10_000; i++) h[`zero${i}`] = { dtype: "F32", shape: [0], data_offsets: [0, 0] };
    return assemble(JSON.stringify(h), data);
  },
  "metadata types": (p, d) => {
    const h = clone(p.header);
    const how = d.int(3);
    if (how === 0) h.__metadata__ = d.pick([null, 5, "x", [], "@DEEP@"]);
    else if (how === 1) (h.__metadata__ as Record<string, unknown>).l2o = d.pick([5, null, {}, [], true]);
    else return withHeader(h, JSON.stringify({ ...p.l2o, [d.pick([...Object.keys(p.l2o), "extra"])]: d.pick(ODD_VALUES) }), p.data);
    return assemble(deepText(JSON.stringify(h)), p.data);
  },
  "hashes": (p, d) => {
    const l2o = clone(p.l2o);
    const hashes = l2o.sha256 as { tensors: Record<string, string>; metadata: string };
    const name = d.pick(Object.keys(hashes.tensors));
    const how = d.int(6);
    if (how === 0) delete l2o.sha256; // an old file: loads with a warning
    if (how === 1) l2o.sha256 = d.pick(ODD_VALUES);
    if (how === 2) hashes.tensors[name] = hashes.tensors[name]!.toUpperCase();
    if (how === 3) delete hashes.tensors[name];
    if (how === 4) hashes.tensors[`${name}x`] = hashes.tensors[name]!;
    if (how === 5) hashes.metadata = hashes.metadata.slice(0, 63);
    return withHeader(p.header, JSON.stringify(l2o), p.data);
  },
  "config, hashes kept": (p, d) => {
    const l2o = clone(p.l2o);
    const config = l2o.config as Record<string, unknown>;
    if (d.int(2) === 0) d.pick(HOSTILE_CONFIG)(config);
    else config.outputScale = d.pick([0.2, 0.1000001, 1]); // valid, but not what was saved
    return withHeader(p.header, JSON.stringify(l2o), p.data);
  },
  "config, re-signed or hashes stripped": (p, d) => {
    const l2o = clone(p.l2o);
    d.pick(HOSTILE_CONFIG)(l2o.config as Record<string, unknown>);
    if (d.int(2) === 0) delete l2o.sha256;
    const text = JSON.stringify(resign(l2o));
    return withHeader(p.header, text, p.data);
  },
};

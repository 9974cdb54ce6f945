/**
 * Hostile and damaged optimizer files: the SHA-256 of every tensor (by name) and of the
 * metadata, checked on load; files from before the hashes load with a warning; reading is
 * bounded (regular files only, at most OPTIMIZER_FILE_LIMITS, the header before the body);
 * and a loaded file's config is checked against its tensors before phi is assembled.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { L2oError } from "../src/core/errors.ts";
import { MissingFileError } from "../src/io/files.ts";
import { OPTIMIZER_FILE_LIMITS, decodeOptimizerFile, loadOptimizerFile, saveOptimizerFile } from "../src/io/optimizer_file.ts";
import { FileFormatError } from "../src/io/safetensors.ts";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { assemble, parts } from "./fuzz_mutants.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "l2o-integrity-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmpPath = (name = "opt.safetensors"): string => join(dir, `${fileNo++}`, name);
const write = (bytes: Uint8Array): string => {
  const p = tmpPath();
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, bytes);
  return p;
};
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Two tensors of one size (4 floats each) and a third: what a swap of offsets needs. */
const PHI = {
  "a.weight": new Float32Array([1, 2, 3, 4]),
  "b.weight": new Float32Array([5, 6, 7, 8]),
  c: { shape: [2, 3], data: new Float32Array([0.5, -0, 1e-40, -2, 3, 4]) },
};
const META = { kind: "lstm", config: { hidden: 3 }, training: { task: "quadratic" }, validation: { score: 1 }, createdAt: "2025-01-02T03:04:05.000Z" };

function refused(f: () => unknown, cls: typeof FileFormatError | typeof MissingFileError, problem: RegExp, path?: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.match(e.message, problem);
    assert.doesNotMatch(e.message, /\n/);
    if (path !== undefined) assert.ok(e.message.includes(path), e.message);
    return true;
  });
}

describe("optimizer files carry a SHA-256 per tensor and of the metadata", () => {
  const path = tmpPath();
  saveOptimizerFile(path, { phi: PHI, meta: META });
  const p = parts(readFileSync(path));

  it("written by name, as node:crypto computes them over the bytes stored, and the metadata's over its JSON", () => {
    const hashes = p.l2o.sha256 as { tensors: Record<string, string>; metadata: string };
    assert.deepEqual(Object.keys(hashes.tensors).sort(), ["a.weight", "b.weight", "c"]);
    for (const [name, t] of Object.entries(p.header)) {
      if (name === "__metadata__") continue;
      const [begin, end] = (t as { data_offsets: [number, number] }).data_offsets;
      assert.equal(hashes.tensors[name], sha(p.data.subarray(begin, end)), name);
    }
    const { sha256: _, ...rest } = p.l2o;
    assert.equal(hashes.metadata, sha(new TextEncoder().encode(JSON.stringify(rest))));
    const back = loadOptimizerFile(path);
    assert.deepEqual(back.warnings, []);
    assert.ok(!("sha256" in back.meta), "the hashes are the file's business, not the metadata returned");
  });

  it("a flipped bit in a tensor's data is refused, naming the tensor", () => {
    for (const [name, t] of Object.entries(p.header)) {
      if (name === "__metadata__") continue;
      const bytes = p.bytes.slice();
      const at = 8 + p.headerLen + (t as { data_offsets: number[] }).data_offsets[0]! + 1;
      bytes[at] = bytes[at]! ^ 0x10;
      const bad = write(bytes);
      refused(() => loadOptimizerFile(bad), FileFormatError, new RegExp(`tensor '${name.replace(".", "\\.")}' does not match its SHA-256 hash`), bad);
    }
  });

  it("two tensors of one size with their offsets swapped are refused, naming a tensor", () => {
    const h = JSON.parse(JSON.stringify(p.header)) as Record<string, { data_offsets: number[] }>;
    [h["a.weight"]!.data_offsets, h["b.weight"]!.data_offsets] = [h["b.weight"]!.data_offsets, h["a.weight"]!.data_offsets];
    const swapped = write(assemble(JSON.stringify(h), p.data));
    // The file is a valid safetensors file (a hash over the whole data would not notice).
    refused(() => loadOptimizerFile(swapped), FileFormatError, /tensor '[ab]\.weight' does not match its SHA-256 hash/, swapped);
  });

  it("a changed config, or any metadata, is refused; so are malformed, missing or extra hashes", () => {
    const edit = (f: (l2o: Record<string, unknown>) => void): string => {
      const l2o = JSON.parse(JSON.stringify(p.l2o)) as Record<string, unknown>;
      f(l2o);
      return write(assemble(JSON.stringify({ ...p.header, __metadata__: { l2o: JSON.stringify(l2o) } }), p.data));
    };
    const hashes = (l2o: Record<string, unknown>) => l2o.sha256 as { tensors: Record<string, unknown>; metadata: unknown };
    const cases: Array<[string, (l2o: Record<string, unknown>) => void, RegExp]> = [
      ["config", (l) => ((l.config as Record<string, unknown>).hidden = 4), /metadata does not match its SHA-256 hash/],
      ["validation", (l) => ((l.validation as Record<string, unknown>).score = 0.5), /metadata does not match/],
      ["hashes not an object", (l) => (l.sha256 = "abc"), /metadata field 'sha256' is not/],
      ["upper-case hex", (l) => (hashes(l).metadata = String(hashes(l).metadata).toUpperCase()), /64 lowercase hex digits/],
      ["a tensor's hash missing", (l) => delete hashes(l).tensors.c, /tensor 'c' has no SHA-256 hash/],
      ["a hash for no tensor", (l) => (hashes(l).tensors.d = hashes(l).tensors.c), /SHA-256 hash for tensor 'd', which the file does not hold/],
    ];
    for (const [what, f, problem] of cases) {
      const bad = edit(f);
      assert.throws(() => loadOptimizerFile(bad), (e: unknown) => e instanceof FileFormatError && problem.test(e.message) && e.message.includes(bad), what);
    }
  });

  it("a file from before the hashes loads, and says so in its warnings (library code never prints)", () => {
    const l2o = { ...p.l2o };
    delete l2o.sha256;
    const old = write(assemble(JSON.stringify({ ...p.header, __metadata__: { l2o: JSON.stringify(l2o) } }), p.data));
    const back = loadOptimizerFile(old);
    assert.equal(back.warnings.length, 1);
    assert.match(back.warnings[0]!, /has no SHA-256 hashes/);
    assert.ok(back.warnings[0]!.includes(old));
    assert.deepEqual(Array.from(back.phi.c!.data), Array.from(PHI.c.data));
    assert.deepEqual(decodeOptimizerFile(readFileSync(path)).warnings, []);
  });

  it("messages stay on one line whatever names a file holds", () => {
    const h = { ...p.header, "evil\nname": { dtype: "F16", shape: [1], data_offsets: [0, 2] } };
    const bad = write(assemble(JSON.stringify(h), p.data));
    refused(() => loadOptimizerFile(bad), FileFormatError, /tensor 'evil\\u000aname' has unknown or unsupported dtype "F16"/, bad);
  });
});

describe("loading is bounded", () => {
  /** Loads `paths` in a child process (a FIFO that blocked would hang it, not this runner). */
  function loadInChild(paths: string[]): Array<{ path: string; outcome: string; errorClass?: string; message?: string; ms: number }> {
    const r = spawnSync(process.execPath, ["--max-old-space-size=256", "--import", "tsx", "test/fuzz_files.ts", "--load", ...paths], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.error, undefined, `the child did not finish: ${String(r.error)}`);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { path: string; outcome: string; errorClass?: string; message?: string; ms: number });
  }

  it("a device, a directory and a FIFO are refused at once, without reading them", { skip: process.platform === "win32" }, () => {
    const folder = join(dir, "a-folder.safetensors");
    mkdirSync(folder, { recursive: true });
    const fifo = join(dir, "pipe.safetensors");
    const made = spawnSync("mkfifo", [fifo]);
    const paths = ["/dev/zero", folder, ...(made.status === 0 ? [fifo] : [])];
    const results = loadInChild(paths);
    assert.equal(results.length, paths.length);
    const expect = [/\/dev\/zero is a character device, not a regular file/, /is a directory, not a regular file/, /is a FIFO \(named pipe\), not a regular file/];
    results.forEach((r, i) => {
      assert.equal(r.outcome, "refused", JSON.stringify(r));
      assert.equal(r.errorClass, "MissingFileError");
      assert.match(r.message!, expect[i]!);
      assert.ok(r.ms < 2000, `${r.path} took ${r.ms} ms`);
    });
  });

  it("a file over the size limit is refused before it is read", () => {
    const big = tmpPath("big.safetensors");
    mkdirSync(join(big, ".."), { recursive: true });
    const fd = openSync(big, "w");
    ftruncateSync(fd, OPTIMIZER_FILE_LIMITS.fileBytes + 1); // sparse: nothing is written
    closeSync(fd);
    refused(() => loadOptimizerFile(big), FileFormatError, /the file is 256\.0 MiB; optimizer files may be at most 256 MiB/, big);
  });

  it("an oversized or overlong header length is refused before the header is read", () => {
    const p = parts(readFileSync(join(ROOT, "pretrained", "quadratic.safetensors")));
    for (const [n, problem] of [
      [2n ** 64n - 1n, /implausibly large \(limit 16777216 bytes\)/],
      [BigInt(OPTIMIZER_FILE_LIMITS.headerBytes + 8), /implausibly large/],
      [BigInt(p.bytes.length), /runs beyond the end of the file/],
    ] as const) {
      const bytes = p.bytes.slice();
      Buffer.from(bytes.buffer).writeBigUInt64LE(n, 0);
      const bad = write(bytes);
      refused(() => loadOptimizerFile(bad), FileFormatError, problem, bad);
    }
    refused(() => decodeOptimizerFile(new Uint8Array(3), "x.safetensors"), FileFormatError, /truncated/, "x.safetensors");
  });

  it("a config within its kind's limits that the tensors do not fit is refused before phi is assembled", () => {
    // 64 LSTMs of 1,024 units and 16 layers would be 8.6e9 floats; the file holds 14.
    const config = { hidden: 1024, layers: 16, groups: Array.from({ length: 64 }, (_, i) => [`g${i}`]) };
    const path = tmpPath();
    saveOptimizerFile(path, { phi: PHI, meta: { kind: "lstm", config } });
    const t0 = performance.now();
    refused(() => loadLearnedOptimizer(path, { engine: "ref" }), FileFormatError, /tensors a\.weight, b\.weight, c do not belong to its configuration/, path);
    saveOptimizerFile(path, { phi: {}, meta: { kind: "lstm", config } });
    refused(() => loadLearnedOptimizer(path, { engine: "ref" }), FileFormatError, /no tensor 'lstm0\.layer0\.weight' of shape \[1026, 4096\]/, path);
    assert.ok(performance.now() - t0 < 2000);
  });

  it("the command line refuses lstm:/dev/zero with one error line, and shows an old file's warning", { skip: process.platform === "win32" }, () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, "bin", "l2o.js"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    const zero = cli("run", "--task", "quadratic", "--optimizer", "lstm:/dev/zero", "--steps", "2", "--instances", "1");
    assert.equal(zero.status, 2, zero.stderr);
    assert.equal(zero.stderr, "l2o: error: optimizer file /dev/zero is a character device, not a regular file. Check the path, or meta-train an optimizer to create it.\n");
    const p = parts(readFileSync(join(ROOT, "pretrained", "quadratic.safetensors")));
    const l2o = { ...p.l2o };
    delete l2o.sha256;
    const old = write(assemble(JSON.stringify({ ...p.header, __metadata__: { l2o: JSON.stringify(l2o) } }), p.data));
    const run = cli("run", "--task", "quadratic", "--optimizer", old, "--steps", "2", "--instances", "1");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^l2o: warning: ${old.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} has no SHA-256 hashes .*saving it again adds them$`, "m"));
  });

  it("every refusal is an L2oError", () => {
    assert.ok(new FileFormatError("x") instanceof L2oError);
    assert.ok(new MissingFileError("x") instanceof L2oError);
  });
});

describe("the shipped optimizers, re-saved with hashes", () => {
  /**
   * SHA-256 of each shipped file's data section (all its tensors, in file order), computed
   * before the files were re-saved with hashes, and kept through their renames and the lineage
   * added to their metadata: their weights are the very bytes they were. (`mnist` was
   * `mnist-momentum-scratch`, `lineage/mnist-paper` was `mnist`, `lineage/quadratic-100steps`
   * and `-200steps` were `quadratic-h100` and `-h200`; `general`'s is that of the file
   * `l2o train` wrote, before its lineage was added.)
   */
  const DATA_SHA256: Readonly<Record<string, string>> = {
    general: "04230aef2c4ed8f48be74821c319b58d3106986d05a95ccb3ca8e494b3b3ba02",
    "lineage/mnist-damped": "a687b42993660a1684af2b079cc066466e3fb02160db2d7227bb8043d7c68ac1",
    "lineage/mnist-late": "bfeb46c4bea6b1bbc1ae162198394d56ba2dbc84585e46fb11ea30c2d5242fc9",
    mnist: "9ff47f8ce6a5137f35db9fe61eecff02b403b019b2e420881fbc62d8420f6deb",
    "lineage/mnist-momentum": "ae6d338cfafb9b1f35f31307372b92dfe7d9d673f0311377f73c1b86c7a71ec9",
    "lineage/mnist-paper": "6c284dc783d1c0eef743a6c2a6f56716f961a4da9dfc18da6a2f0200df9bd586",
    "lineage/quadratic-100steps": "f0c98567d93fe40433e538bc51935c0a6fde400d776d17c644d81970fa93c7a2",
    "lineage/quadratic-200steps": "c19b1fda1517868c37a0118c75561ba734c190d3598d9fe186c58f5044e617cb",
    quadratic: "542a262dc421329f0219cd17f98f1f735250ab79d1ad3ee1d36e0ec632e143c2",
  };
  for (const [name, want] of Object.entries(DATA_SHA256)) {
    it(`pretrained/${name}: hashes checked, no warning, the tensors it had`, () => {
      const path = join(ROOT, "pretrained", `${name}.safetensors`);
      const file = loadOptimizerFile(path);
      assert.deepEqual(file.warnings, []);
      const p = parts(readFileSync(path));
      const order = Object.entries(p.header)
        .filter(([n]) => n !== "__metadata__")
        .sort(([, a], [, b]) => (a as { data_offsets: number[] }).data_offsets[0]! - (b as { data_offsets: number[] }).data_offsets[0]!)
        .map(([n]) => n);
      const hash = createHash("sha256");
      for (const n of order) {
        const data = file.phi[n]!.data;
        hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      }
      assert.equal(hash.digest("hex"), want);
      assert.deepEqual(Object.keys(p.l2o), ["format", "formatVersion", "l2oVersion", "kind", "config", "training", "validation", "createdAt", "sha256"]);
      assert.equal(loadLearnedOptimizer(path, { engine: "ref" }).warnings.length, 0);
    });
  }
});

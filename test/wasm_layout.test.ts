// The numbers the WebAssembly kernels share with their hosts are written once, in
// assembly/layout.ts: the kernels keep no copies, the host's field tables are that file's
// values, the fixed blocks below HEAP do not overlap, and the binaries in build/ were compiled
// from the current layout.ts and put their constant table and static data where the hosts
// leave room for them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as shared from "../assembly/layout.ts";
import { CONST_TABLE, CONST_TABLE_VECTORS, CTX, F, HEAP, LAYER_FIELDS, LF, MAX_LAYERS, MAX_THREADS } from "../src/kernels/wasm_layout.ts";
import { CTRL, CTRL_BYTES } from "../src/kernels/wasm_worker.ts";
import { wasmEngineAvailable } from "../src/kernels/wasm.ts";
import { wasmApi } from "../src/kernels/wasm_api.ts";
import { BASE as MLP_BASE } from "../src/tasks/mlp_wasm.ts";

const assemblyDir = new URL("../assembly/", import.meta.url);
const buildDir = new URL("../build/", import.meta.url);
const layoutSource = readFileSync(new URL("layout.ts", assemblyDir), "utf8");
const built = existsSync(new URL("lstm.wasm", buildDir));
const noBuild = built ? false : "build/*.wasm missing (npm run build:wasm)";

/** The `export const NAME = <integer>;` lines of layout.ts, the form both compilers and the build script read. */
function layoutExports(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of layoutSource.split(/\r?\n/)) {
    if (/^\s*import\b/.test(line)) assert.fail(`assembly/layout.ts must import nothing: ${line}`);
    if (!/^\s*export\b/.test(line)) continue;
    const m = /^export const (\w+) = (\d+);$/.exec(line);
    assert.ok(m !== null, `assembly/layout.ts: not of the form \`export const NAME = <integer>;\`: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test("assembly/layout.ts is plain integer constants, the values the host imports", () => {
  const parsed = layoutExports();
  assert.deepEqual(Object.fromEntries(parsed), { ...shared });
});

test("the host's field tables are layout.ts's F_* and L_* constants", () => {
  const byPrefix = (p: string): Record<string, number> =>
    Object.fromEntries([...layoutExports()].filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v]));
  assert.deepEqual({ ...F }, byPrefix("F_"));
  assert.deepEqual({ ...LF }, byPrefix("L_"));
  assert.equal(HEAP, shared.HEAP);
  assert.equal(CONST_TABLE, shared.CONST_TABLE);
  assert.equal(LAYER_FIELDS, shared.LAYER_FIELDS);
});

test("context fields are distinct and fit their ranges", () => {
  const { RANGE, LAYER, ...scalars } = F;
  const values = Object.values(scalars);
  assert.equal(new Set(values).size, values.length, "two context fields share an index");
  for (const [k, v] of Object.entries(scalars)) assert.ok(Number.isInteger(v) && v >= 0 && v < RANGE, `F.${k} = ${v} is not below F.RANGE`);
  assert.ok(MAX_THREADS >= 1 && RANGE + 2 * MAX_THREADS <= LAYER, "the per-thread ranges run into the per-layer fields");
  const lf = Object.values(LF).sort((a, b) => a - b);
  assert.deepEqual(lf, Array.from({ length: LAYER_FIELDS }, (_, k) => k), "per-layer fields are not 0 .. LAYER_FIELDS - 1");
});

test("the fixed blocks below HEAP do not overlap", () => {
  const blocks: [string, number, number][] = [
    ["control block", CTRL_BYTES, CTRL_BYTES + 4 * Object.keys(CTRL).length],
    ["constant table", CONST_TABLE, CONST_TABLE + 16 * CONST_TABLE_VECTORS],
    ["context", CTX, CTX + 4 * (F.LAYER + LAYER_FIELDS * MAX_LAYERS)],
  ];
  assert.equal(CONST_TABLE % 16, 0, "the constant table is not 16-byte aligned");
  assert.equal(CTX % 4, 0);
  for (const [name, lo, hi] of blocks) assert.ok(lo >= 0 && hi <= HEAP, `${name} [${lo}, ${hi}) is not below HEAP = ${HEAP}`);
  for (let a = 0; a < blocks.length; a++) {
    for (let b = a + 1; b < blocks.length; b++) {
      const [na, la, ha] = blocks[a]!;
      const [nb, lb, hb] = blocks[b]!;
      assert.ok(ha <= lb || hb <= la, `${na} [${la}, ${ha}) overlaps ${nb} [${lb}, ${hb})`);
    }
  }
});

test("no kernel keeps its own copy of a shared constant", () => {
  const names = new Set(layoutExports().keys());
  // The kernels' former names for shared numbers, besides layout.ts's own.
  const mirror = /^(F_|L_|ACT_)\w+$|^(SIGMOID|RELU|TANH|CT)$/;
  for (const file of readdirSync(assemblyDir).filter((f) => f.endsWith(".ts") && f !== "layout.ts")) {
    const src = readFileSync(new URL(file, assemblyDir), "utf8");
    for (const m of src.matchAll(/^\s*(?:export\s+)?(?:const|let|var)\s+(\w+)\s*(?::\s*\w+\s*)?=\s*([^;]*);/gm)) {
      const [, name, value] = m;
      assert.ok(!names.has(name!), `assembly/${file}: \`${m[0].trim()}\` redefines an export of assembly/layout.ts; import it from "./layout"`);
      // An alias of an imported value is fine (CT = <usize>CONST_TABLE); anything else is a copy.
      const derived = [...names].some((n) => new RegExp(`\\b${n}\\b`).test(value!));
      assert.ok(!mirror.test(name!) || derived, `assembly/${file}: \`${m[0].trim()}\` copies a number of assembly/layout.ts; import it from "./layout"`);
    }
    const used = new Set([...src.matchAll(/\b(?:F|L|ACT)_[A-Z0-9_]+\b/g)].map((m) => m[0]));
    for (const u of used) assert.ok(names.has(u), `assembly/${file} uses ${u}, which assembly/layout.ts does not export`);
    if (used.size > 0) assert.match(src, /from "\.\/layout"/, `assembly/${file} uses shared constants but does not import ./layout`);
  }
});

test("build/ was compiled from the current assembly/layout.ts", { skip: noBuild }, () => {
  const stamp = new URL("layout.sha256", buildDir);
  assert.ok(existsSync(stamp), "build/layout.sha256 missing: run `npm run build:wasm`");
  const want = createHash("sha256").update(layoutSource).digest("hex");
  assert.equal(readFileSync(stamp, "utf8").trim(), want, "assembly/layout.ts changed since build/ was compiled: run `npm run build:wasm`");
});

test("the LSTM kernels' init writes exactly the constant table the host leaves free", { skip: noBuild }, () => {
  const files = ["lstm.wasm", ...(wasmEngineAvailable("fma") ? ["lstm_fma.wasm"] : [])];
  for (const file of files) {
    const memory = new wasmApi.Memory({ initial: 1, maximum: 1, shared: true });
    const bytes = new Uint8Array(memory.buffer);
    bytes.fill(0xa5);
    const mod = new wasmApi.Module(readFileSync(new URL(file, buildDir)));
    const ex = new wasmApi.Instance(mod, { env: { memory } }).exports as { init: () => void };
    ex.init();
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0xa5) continue;
      if (lo < 0) lo = i;
      hi = i + 1;
    }
    assert.deepEqual([lo, hi], [CONST_TABLE, CONST_TABLE + 16 * CONST_TABLE_VECTORS], `${file}: init wrote [${lo}, ${hi})`);
  }
});

/** The active data segments of a module: [offset, length] each (passive ones as [-1, length]). */
function dataSegments(bin: Uint8Array): [number, number][] {
  let p = 8;
  const uleb = (): number => {
    let v = 0;
    let s = 0;
    let b: number;
    do {
      b = bin[p++]!;
      v += (b & 127) * 2 ** s;
      s += 7;
    } while (b & 128);
    return v;
  };
  const sleb32 = (): number => {
    let v = 0;
    let s = 0;
    let b: number;
    do {
      b = bin[p++]!;
      v |= (b & 127) << s;
      s += 7;
    } while (b & 128);
    return s < 32 && b & 64 ? v | (-1 << s) : v;
  };
  const out: [number, number][] = [];
  while (p < bin.length) {
    const id = bin[p++]!;
    const size = uleb();
    const end = p + size;
    if (id === 11) {
      for (let n = uleb(); n > 0; n--) {
        const flags = uleb();
        let offset = -1;
        if (flags !== 1) {
          if (flags === 2) uleb(); // memory index
          assert.equal(bin[p++], 0x41, "data segment offset is not an i32.const");
          offset = sleb32();
          assert.equal(bin[p++], 0x0b);
        }
        const len = uleb();
        out.push([offset, len]);
        p += len;
      }
    }
    p = end;
  }
  return out;
}

test("the kernels' static data stays out of the hosts' regions", { skip: noBuild }, () => {
  const read = (f: string): Uint8Array => new Uint8Array(readFileSync(new URL(f, buildDir)));
  // The LSTM host lays its memory out from HEAP (the kernels' --memoryBase), the rules host
  // from 0: data there would be overwritten, so these modules must have none.
  for (const f of ["lstm.wasm", "lstm_fma.wasm", "rules.wasm"]) assert.deepEqual(dataSegments(read(f)), [], `${f} has static data`);
  // The MLP host keeps the bytes below BASE free for the module's data.
  for (const [offset, len] of dataSegments(read("mlp.wasm"))) {
    assert.ok(offset >= 0 && offset + len <= MLP_BASE, `mlp.wasm: data [${offset}, ${offset + len}) is not below BASE = ${MLP_BASE}`);
  }
});

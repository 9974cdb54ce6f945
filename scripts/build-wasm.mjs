// Compiles the AssemblyScript kernels in assembly/ into build/*.wasm with the local compiler
// (devDependency `assemblyscript`; nothing is downloaded). Run by `postinstall` and by
// `npm run build:wasm`. Pass --text to also write the .wat text beside each binary.
//
// The LSTM module imports one shared memory (env.memory) so that an instance per worker thread
// can work on the same SharedArrayBuffer; the host creates that memory with the size it needs.
// build/web/lstm.wasm is the same source with an unshared memory, for one thread: what a
// browser page runs without the cross-origin isolation that shared memory needs there.
//
// The numbers the kernels share with their hosts live in assembly/layout.ts. After a build,
// build/layout.sha256 records the hash of the layout.ts it was compiled from, so that
// test/wasm_layout.test.ts can tell binaries built before a layout change.
import { createHash } from "node:crypto";
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "build");
const text = process.argv.includes("--text");
const layoutPath = join(root, "assembly", "layout.ts");
const layoutSource = readFileSync(layoutPath, "utf8");

/** An `export const NAME = <integer>;` line of assembly/layout.ts, the one source of its value. */
function layoutConstant(name) {
  const m = new RegExp(`^export const ${name} = (\\d+);\\r?$`, "m").exec(layoutSource);
  if (m === null) throw new Error(`build-wasm: no \`export const ${name} = <integer>;\` in ${relative(root, layoutPath)}`);
  return m[1];
}

/**
 * Entry files in assembly/ and the binaries they become. The LSTM kernels are built twice:
 * with SIMD only (multiply, then add), and with relaxed SIMD as well, where the products in
 * the kernels become fused multiply-adds (`madd` in assembly/lstm.ts). The host picks the
 * second where the runtime accepts it (src/kernels/wasm.ts).
 */
const lstmFlags = [
  "-O3",
  "--noAssert",
  "--runtime", "stub",
  "--use", "abort=",
  "--enable", "simd",
  "--enable", "threads",
  "--importMemory",
  "--noExportMemory",
  "--sharedMemory",
  "--initialMemory", "1",
  "--maximumMemory", "65536",
  // The bytes below HEAP belong to the host (control block, constant table, context fields).
  "--memoryBase", layoutConstant("HEAP"),
];

/**
 * The single-thread build for browsers (build/web/): the plain-SIMD flags without
 * `--sharedMemory`. `--enable threads` stays, for the kernels' atomic chunk counters, which
 * WebAssembly allows on an unshared memory; the numeric code and its bits are the same.
 */
const lstmWebFlags = lstmFlags.filter((f) => f !== "--sharedMemory");

/**
 * The MLP task's kernels (assembly/mlp.ts) run on the calling thread only, on a memory of
 * their own, and without fused multiply-adds so that they give the same bits on every CPU.
 */
const mlpFlags = [
  "-O3",
  "--noAssert",
  "--runtime", "stub",
  "--use", "abort=",
  "--enable", "simd",
  "--importMemory",
  "--noExportMemory",
  "--initialMemory", "1",
  "--maximumMemory", "65536",
];

/**
 * The optimizers' elementwise rules (assembly/rules.ts): float64 lanes with no fused
 * multiply-add, so that they give the bits of the TypeScript reference (src/kernels/rules.ts).
 */
const rulesFlags = mlpFlags;

const targets = [
  { entry: "assembly/lstm.ts", out: "build/lstm.wasm", flags: lstmFlags },
  { entry: "assembly/lstm.ts", out: "build/lstm_fma.wasm", flags: [...lstmFlags, "--enable", "relaxed-simd"] },
  { entry: "assembly/lstm.ts", out: "build/web/lstm.wasm", flags: lstmWebFlags },
  { entry: "assembly/mlp.ts", out: "build/mlp.wasm", flags: mlpFlags },
  { entry: "assembly/rules.ts", out: "build/rules.wasm", flags: rulesFlags },
  // Convolutional layers (src/kernels/conv.ts): one thread, no fused multiply-add, as the MLP's.
  { entry: "assembly/conv.ts", out: "build/conv.wasm", flags: mlpFlags },
  // The hierarchical RNN optimizer's per-parameter GRU (src/kernels/hrnn.ts): one thread, as the MLP's.
  { entry: "assembly/hrnn.ts", out: "build/hrnn.wasm", flags: mlpFlags },
  // The per-coordinate MLP optimizer's network (src/kernels/mlp_opt.ts): one thread, no fused multiply-add.
  { entry: "assembly/mlp_opt.ts", out: "build/mlp_opt.wasm", flags: mlpFlags },
];

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch {
  if (targets.every((t) => existsSync(join(root, t.out)))) process.exit(0);
  console.warn("build-wasm: assemblyscript is not installed; the WebAssembly engine will be unavailable");
  process.exit(0);
}

mkdirSync(join(outDir, "web"), { recursive: true });
const t0 = performance.now();
for (const t of targets) {
  const args = [t.entry, "-o", t.out, ...t.flags];
  if (text) args.push("-t", t.out.replace(/\.wasm$/, ".wat"));
  const res = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (res.error) {
    console.error(`build-wasm: ${t.entry} failed: ${res.error.message}`);
    process.exit(1);
  }
}
writeFileSync(join(outDir, "layout.sha256"), `${createHash("sha256").update(layoutSource).digest("hex")}\n`);
const ms = Math.round(performance.now() - t0);
console.log(`build-wasm: ${targets.map((t) => relative(root, join(root, t.out))).join(", ")} in ${ms} ms`);

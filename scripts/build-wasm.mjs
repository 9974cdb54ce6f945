// Compiles the AssemblyScript kernels in assembly/ into build/*.wasm with the local compiler
// (devDependency `assemblyscript`; nothing is downloaded). Run by `postinstall` and by
// `npm run build:wasm`. Pass --text to also write the .wat text beside each binary.
//
// The module imports one shared memory (env.memory) so that an instance per worker thread can
// work on the same SharedArrayBuffer; the host creates that memory with the size it needs.
import { mkdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "build");
const text = process.argv.includes("--text");

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
  // The first 64 KiB belong to the host (control block, constant table, context fields).
  "--memoryBase", "65536",
];

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
  { entry: "assembly/mlp.ts", out: "build/mlp.wasm", flags: mlpFlags },
  { entry: "assembly/rules.ts", out: "build/rules.wasm", flags: rulesFlags },
];

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch {
  if (targets.every((t) => existsSync(join(root, t.out)))) process.exit(0);
  console.warn("build-wasm: assemblyscript is not installed; the WebAssembly engine will be unavailable");
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
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
const ms = Math.round(performance.now() - t0);
console.log(`build-wasm: ${targets.map((t) => relative(root, join(root, t.out))).join(", ")} in ${ms} ms`);

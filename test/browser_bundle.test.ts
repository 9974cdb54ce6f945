// The entry for browsers (src/browser.ts) bundles for the browser with esbuild, with no
// externals and no Node module reached; the bundle then runs in a bare JavaScript context
// (no process, no require, no Node globals: only what a page has, WebAssembly, URL and the
// text codecs), takes its kernels as bytes, decodes the shipped quadratic optimizer from its
// bytes and runs it on a 2-D function: its losses fall, and are the same bits as in Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { builtinModules } from "node:module";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { build, type Plugin } from "esbuild";
import { key } from "../src/core/rng.ts";
import { runOptimizer } from "../src/eval/evaluate.ts";
import { loadLearnedOptimizer } from "../src/learned/file.ts";
import { FUNCTIONS_2D, function2dTask } from "../src/tasks/functions2d.ts";

const root = new URL("../", import.meta.url);
const NODE_BUILTINS = new Set(builtinModules);

/** Records every import of a Node built-in module (and refuses it) with who imported it. */
function nodeGuard(found: string[]): Plugin {
  return {
    name: "no-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, "").split("/")[0]!;
        if (args.path.startsWith("node:") || NODE_BUILTINS.has(bare)) {
          found.push(`${args.importer} imports "${args.path}"`);
          return { errors: [{ text: `Node module "${args.path}" reached from the browser entry` }] };
        }
        return undefined;
      });
    },
  };
}

async function bundle(): Promise<{ code: string; found: string[]; inputs: string[] }> {
  const found: string[] = [];
  const r = await build({
    entryPoints: [new URL("src/browser.ts", root).pathname],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "l2o",
    write: false,
    metafile: true,
    logLevel: "silent",
    // What a page's module gives: the bundle's own address (kernel paths are computed from it, never fetched).
    define: { "import.meta.url": JSON.stringify("http://127.0.0.1/l2o.js") },
    plugins: [nodeGuard(found)],
  }).catch((e: { errors?: { text: string }[] }) => {
    throw new Error(`the browser entry does not bundle: ${(e.errors ?? []).map((x) => x.text).join("; ") || String(e)}; ${found.join("; ")}`);
  });
  return { code: r.outputFiles[0]!.text, found, inputs: Object.keys(r.metafile.inputs) };
}

test("src/browser.ts bundles for the browser and reaches no Node module", async () => {
  const { found, inputs } = await bundle();
  assert.deepEqual(found, []);
  assert.ok(inputs.some((p) => p.endsWith("src/kernels/wasm.ts")) && inputs.some((p) => p.endsWith("src/learned/decode.ts")), "the bundle holds the kernels' drivers and the decoder");
});

test("the bundle runs the shipped optimizer in a bare context, with the bits Node gives", async () => {
  const { code } = await bundle();
  const sandbox: Record<string, unknown> = { URL, TextEncoder, TextDecoder };
  const ctx = vm.createContext(sandbox);
  assert.equal(vm.runInContext("typeof process + typeof require + typeof Buffer", ctx), "undefinedundefinedundefined");
  vm.runInContext(code, ctx);
  const bytes = (file: string): Uint8Array => {
    const copy = vm.runInContext("(src) => { const u = new Uint8Array(src.length); u.set(src); return u; }", ctx) as (s: Uint8Array) => Uint8Array;
    return copy(readFileSync(new URL(file, root)));
  };
  const run = vm.runInContext(
    `(lstm, rules, file, steps) => {
      l2o.setKernelSource({ "web/lstm.wasm": lstm, "rules.wasm": rules });
      const { optimizer, phi } = l2o.decodeLearnedOptimizer(file, "quadratic.safetensors", { engine: "wasm-simd" });
      const task = l2o.function2dTask({ name: "quadratic" });
      const tx = optimizer.optFn(phi, task.layout);
      const start = new Float32Array(l2o.FUNCTIONS_2D.quadratic.start);
      try {
        return { losses: Array.from(l2o.runOptimizer(task, tx, start, steps, l2o.key(3)).losses), shared: l2o.wasmEngineAvailable("simd", true) };
      } finally {
        tx.dispose();
      }
    }`,
    ctx,
  ) as (l: Uint8Array, r: Uint8Array, f: Uint8Array, steps: number) => { losses: number[]; shared: boolean };
  const steps = 40;
  const got = run(bytes("build/web/lstm.wasm"), bytes("build/rules.wasm"), bytes("pretrained/quadratic.safetensors"), steps);
  assert.equal(got.shared, false, "the bare context had the threaded build");
  assert.equal(got.losses.length, steps + 1);
  assert.ok(got.losses.every(Number.isFinite), `losses ${got.losses}`);
  assert.ok(got.losses[steps]! < got.losses[0]! / 100, `loss ${got.losses[0]} -> ${got.losses[steps]}`);

  const { optimizer, phi } = loadLearnedOptimizer("pretrained/quadratic", { engine: "wasm-simd" });
  const task = function2dTask({ name: "quadratic" });
  const tx = optimizer.optFn(phi, task.layout);
  const want = runOptimizer(task, tx, new Float32Array(FUNCTIONS_2D.quadratic!.start), steps, key(3));
  tx.dispose();
  // Copied into this realm: arrays from the context have its prototypes.
  assert.deepEqual(Array.from(got.losses), Array.from(want.losses), "the bundle in a bare context and Node differ");
});

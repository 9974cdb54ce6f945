/**
 * Where the compiled WebAssembly kernels come from, and the few Node modules the kernels use
 * when they run in Node, so that nothing in `src/kernels/` imports a Node module at load and
 * the library's core runs in a browser too (`src/browser.ts`).
 *
 * - In Node, by default, a kernel is read from `build/` (where `scripts/build-wasm.mjs` puts
 *   it) on first use. `node:fs` and the rest come from `process.getBuiltinModule` (Node
 *   20.16 and later) when they are first needed, never from an `import`.
 * - Elsewhere (a browser page), the host fetches the `.wasm` files itself and hands their
 *   bytes over with `setKernelSource` before it builds an optimizer; a kernel it does not
 *   hand over is unavailable, and the code that would use it says so or runs its
 *   plain-TypeScript reference.
 */

/** The bytes of a compiled kernel, by its file name under `build/` (`lstm.wasm`, `web/lstm.wasm`, `rules.wasm`); undefined when there is none. */
export type KernelSource = (file: string) => Uint8Array | undefined;

let custom: KernelSource | undefined;
let generation = 0;

/**
 * Where the kernels come from from now on: a function, or the bytes by file name
 * (`{ "web/lstm.wasm": bytes, "rules.wasm": bytes }`); `undefined` restores the default
 * (Node: `build/`; elsewhere: none). Kernels compiled from the previous source are dropped.
 */
export function setKernelSource(source: KernelSource | Readonly<Record<string, Uint8Array>> | undefined): void {
  if (source === undefined || typeof source === "function") custom = source;
  else {
    const files = { ...source };
    custom = (file) => (Object.hasOwn(files, file) ? files[file] : undefined);
  }
  generation++;
}

/**
 * Counts the calls of `setKernelSource`: what a caller compiled or found missing under an
 * older count is stale.
 */
export function kernelSourceGeneration(): number {
  return generation;
}

/**
 * A Node built-in module (`node:fs`, ...) when running in Node 20.16 or later, else undefined.
 * Loaded on first use: a bundler for browsers sees no import.
 */
export function nodeBuiltin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(name) as T | undefined;
}

/** Whether this is Node (where the default source reads `build/`). */
function inNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === "string";
}

/** Where `file` is looked for, for messages: its path in Node, else its name. */
export function kernelLocation(file: string): string {
  if (custom !== undefined || !inNode()) return `${file} (from the kernel source)`;
  return new URL(`../../build/${file}`, import.meta.url).pathname;
}

/**
 * The bytes of the kernel `file`, or undefined when the current source has none (not built,
 * or not handed over by the page). In Node without `process.getBuiltinModule` (before
 * 20.16) this throws, saying which Node is needed.
 */
export function kernelBytes(file: string): Uint8Array<ArrayBuffer> | undefined {
  if (custom !== undefined) {
    const bytes = custom(file);
    // WebAssembly compiles from an ArrayBuffer's bytes (not a SharedArrayBuffer's): copy others.
    return bytes === undefined || bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer> | undefined) : new Uint8Array(bytes);
  }
  if (!inNode()) return undefined;
  const fs = nodeBuiltin<typeof import("node:fs")>("node:fs");
  if (fs === undefined) throw new Error("l2o's WebAssembly kernels need Node 20.16 or later (process.getBuiltinModule)");
  try {
    return fs.readFileSync(new URL(`../../build/${file}`, import.meta.url));
  } catch {
    return undefined;
  }
}

/**
 * The parts of WebAssembly's JavaScript API that l2o uses, typed here and taken from the
 * global at run time (it exists in every Node release l2o supports and in every browser).
 *
 * TypeScript declares the global `WebAssembly` only in its DOM library. l2o ships its sources
 * as .ts, so a project that imports it type-checks these files with its own settings: a global
 * declaration of l2o's would be missing where that project leaves the DOM library out (a
 * declaration file that nothing imports is not loaded), and would clash with the DOM
 * library's where it is loaded. Typed through this module, the kernels compile the same
 * either way (test/typecheck_consumer.test.ts).
 */

/** A compiled module: only instantiated, or posted to a worker thread. */
export interface WasmModule {}

export interface WasmMemory {
  /** A SharedArrayBuffer for a memory made with `shared: true`. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `pages` pages of 64 KiB; throws a RangeError past the maximum. */
  grow(pages: number): number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  validate(bytes: Uint8Array): boolean;
  readonly Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  readonly Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
}

/** The global `WebAssembly`, as the kernels use it. */
export const wasmApi: WasmApi = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;
